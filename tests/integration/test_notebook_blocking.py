"""A notebook that serves its own graph and uses only blocking calls (``run.wait()``,
``run.resume()``, ``run.fork()``, magics inside blocks), executed headless by nbclient in a real
python3 kernel against a real server: nothing deadlocks, and each handle follows its run."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.apiserver import ApiServer
from tests.integration.test_notebooks import Outputs, kernel_env

GRAPH = """
import operator, uuid
from typing import Annotated, TypedDict
from duragraph_lab import END, START, StateGraph, interrupt

class State(TypedDict, total=False):
    n: int
    log: Annotated[list[str], operator.add]

def double(state: State) -> State:
    return {"n": state["n"] * 2, "log": [f"double {state['n']}"]}

def ask(state: State) -> State:
    ok = interrupt({"question": f"publish {state['n']}?"})
    return {"n": state["n"] + (1 if ok else 0), "log": [f"ask {ok}"]}

graph = StateGraph(State)
graph.add_node("double", double)
graph.add_node("ask", ask)
graph.add_edge(START, "double")
graph.add_edge("double", "ask")
graph.add_edge("ask", END)
name = f"blocking_{uuid.uuid4().hex[:8]}"
"""

CELLS = {
    "load": "%load_ext duragraph_lab\n%duragraph connect",
    "graph": GRAPH,
    "serve": "from duragraph_lab.notebook.session import current\nserved = current().serve({name: graph})\nprint(served)",
    "wait": "run = current().run(name, input={'n': 20})\nrun.wait(60)\nprint('first:', run.status, run.values['n'])",
    # The sequence: values read at the interrupt, resumed, status polled (no wait()).
    "resume": (
        "import time\n"
        "print('asked:', run.values['log'], run.interrupts[0].value)\n"
        "assert run.resume(True) is run\n"
        "deadline = time.monotonic() + 60\n"
        "while run.status != 'success' and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print('resumed:', run.status, run.values['n'], run.values['log'])"
    ),
    "history": (
        "events = run.events()\n"
        "at = int(events.index[(events['type'] == 'step_planned') & (events['step'] == 1)][0])  # ask planned\n"
        "print('state at', events['type'][at], run.state(at=at).values)\n"
        "fork = run.fork(at=at, update={'n': 100}).wait(60)\n"
        "forked = current().handle(fork.run_id)\n"
        "print('forked:', forked.status, forked.values['n'])\n"
        "origin = forked.forked_from\n"
        "print('origin:', origin['run_id'] == run.run_id, origin['position'] == at, origin['edited'])\n"
        "forked.resume(False).wait(60)\n"
        "print('fork resumed:', forked.status, forked.values['n'], forked.values['log'])\n"
        "print('replay identical:', run.replay().identical)\n"
        "cp = run.state().checkpoint_id\n"
        "print('by checkpoint:', run.state(at=cp).values['n'])"
    ),
    "messages": (
        "import json\n"
        "chat = current().run('chat', input={'messages': [{'role': 'user', 'content': 'hello there'}]})\n"
        "chat.wait(60)\n"
        "last = chat.values['messages'][-1]\n"
        "print('message:', last.type, repr(last.content), last.tool_calls, isinstance(last, dict))\n"
        "print('json:', len(json.dumps(chat.values)) > 0)"
    ),
    "block": (
        "for i in range(2):\n"
        # (braces doubled: IPython expands {expr} and $name in a magic's line)
        "    r = %duragraph run {name} --input '{{\"n\": 1}}' --wait\n"
        "    print('block:', r.status)"
    ),
}


def test_a_notebook_serving_its_graph_uses_only_blocking_calls(api_server: ApiServer, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    for cell_id, source in CELLS.items():
        cell = nbformat.v4.new_code_cell(source)
        cell.id = cell_id
        nb.cells.append(cell)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    begin = time.monotonic()
    try:
        client.execute(env=kernel_env(api_server))
    finally:
        nbformat.write(nb, tmp_path / "blocking.ipynb")
    out = Outputs(nb)
    assert out.stderr() == "", out.stderr()
    assert "KernelWorker serving" in out.stdout("serve")
    assert "first: interrupted 40" in out.stdout("wait"), out.stdout("wait")
    resumed = out.stdout("resume")
    assert "asked: ['double 20'] {'question': 'publish 40?'}" in resumed, resumed
    assert "resumed: success 41 ['double 20', 'ask True']" in resumed, resumed
    history = out.stdout("history")
    assert "state at step_planned {'n': 40, 'log': ['double 20']}" in history, history
    assert "forked: interrupted 100" in history, history
    assert "origin: True True ['n']" in history, history
    assert "fork resumed: success 100 ['double 20', 'ask False']" in history, history
    assert "replay identical: True" in history and "by checkpoint: 41" in history, history
    messages = out.stdout("messages")
    assert "message: ai 'You said: hello there' [] True" in messages, messages
    assert "json: True" in messages
    assert out.stdout("block").count("block: interrupted") == 2, out.stdout("block")
    print(f"executed in {time.monotonic() - begin:.1f}s")
