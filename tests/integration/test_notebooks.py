"""Every example notebook (notebooks/*.ipynb) executed headless with nbclient, in a python3 kernel
of this venv, against a real server (``api_server``: its worker serves the demo assistants)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.apiserver import ApiServer
from tests.node import fold_rows

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def kernel_env(api_server: ApiServer) -> dict[str, str]:
    """The kernel finds the server through DURAGRAPH_URL / DURAGRAPH_TOKEN (`%duragraph connect`
    with no URL): it was not started by a Jupyter server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DURAGRAPH_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["DURAGRAPH_URL"] = f"http://127.0.0.1:{api_server.port}/"
    env["DURAGRAPH_TOKEN"] = api_server.token
    return env


# Appended to the quickstart (not stored): the RunView displayed while the run ran followed it
# live, in the kernel: its run and the events it holds for the browser, which folds the node
# statuses from them (the test folds them with that code, in Node). (nbclient does not record a
# widget's later updates: they belong to a cell that has finished.)
LIVE_CHECK = """
import json
from ipywidgets.widgets.widget import _instances
from duragraph_lab.notebook.widget_events import EVENT_COLUMNS, event_rows

views = [w for w in list(_instances.values()) if type(w).__name__ == "RunView"]
followed = [w for w in views if w.run.get("run_id") == run.run_id]
print("followed:", [w.run.get("status") for w in followed])
rows = [[dict(zip(EVENT_COLUMNS, v)) for v in zip(*event_rows(w.events).values())] for w in followed]
# The view shown while `pending` waited for a human followed it through the resume to its end.
asked = [w for w in views if w.run.get("run_id") == pending.run_id]
for w in asked:
    await w.wait(30)
print("asked:", [(w.run.get("status"), w.run.get("interrupts")) for w in asked])
print("rows:", json.dumps(rows))
"""


def execute(path: Path, api_server: ApiServer, workdir: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    if path.stem == "quickstart":
        check = nbformat.v4.new_code_cell(LIVE_CHECK.strip())
        check.id = "test-live-check"
        nb.cells.append(check)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": workdir}})
    try:
        client.execute(env=kernel_env(api_server))  # raises CellExecutionError on a failing cell
    finally:
        nbformat.write(nb, workdir / path.name)  # the executed notebook, to look at when a test fails
    return nb


class Outputs:
    """An executed notebook's outputs, by cell id."""

    def __init__(self, nb: nbformat.NotebookNode) -> None:
        self.cells = {c.id: c for c in nb.cells if c.cell_type == "code"}

    def of(self, cell_id: str) -> list[Any]:
        return list(self.cells[cell_id].outputs)

    def stdout(self, cell_id: str) -> str:
        return "".join(o.text for o in self.of(cell_id) if o.output_type == "stream" and o.name == "stdout")

    def stderr(self) -> str:
        return "".join(
            o.text
            for c in self.cells.values()
            for o in c.outputs
            if o.output_type == "stream" and o.name == "stderr"
        )

    def data(self, cell_id: str) -> dict[str, Any]:
        found = [o.data for o in self.of(cell_id) if o.output_type in ("execute_result", "display_data")]
        assert found, f"cell {cell_id} displayed nothing: {self.of(cell_id)}"
        return dict(found[-1])

    def widget(self, cell_id: str) -> None:
        """The cell displays a widget (the live RunView), with a text fallback."""
        data = self.data(cell_id)
        assert WIDGET_MIME in data, data.keys()
        assert data[WIDGET_MIME]["model_id"]
        assert "<RunHandle" in data["text/plain"]

    def frame_rows(self, cell_id: str) -> int:
        """Rows of the DataFrame a cell displays (from its HTML)."""
        html = self.data(cell_id)["text/html"]
        return html.split("<tbody>")[1].split("</tbody>")[0].count("<tr")


def check_quickstart(out: Outputs) -> None:
    assert "DuraGraph connection" in out.data("quickstart-04")["text/plain"]
    assert "graph" in out.data("quickstart-08")["text/plain"]
    out.widget("quickstart-10")  # displayed while the run runs
    printed = out.stdout("quickstart-13")
    assert "status: success" in printed and "answer: 42" in printed, printed
    assert "double: 20 -> 40" in printed and "add_two: 40 -> 42" in printed
    events = out.stdout("quickstart-15")
    assert int(events.split("events:")[1].split()[0]) > 0
    assert out.frame_rows("quickstart-15") > 0
    assert "spans: 2" in out.stdout("quickstart-16")
    assert out.frame_rows("quickstart-16") == 2
    assert "identical: True" in out.stdout("quickstart-18"), out.stdout("quickstart-18")
    out.widget("quickstart-21")
    forked = out.stdout("quickstart-22")
    assert "forked: success 102" in forked, forked
    assert "add_two: 100 -> 102" in forked
    runs = out.data("quickstart-24")["text/plain"].splitlines()[1:-1]  # run_id / count rows
    assert len(runs) == 2, runs  # the run and its fork, on one thread
    # A human in the loop: `ask` interrupted the run (the view shows it), the notebook resumed it.
    out.widget("quickstart-28")
    asked = out.stdout("quickstart-30")
    assert "status: interrupted" in asked and "question: publish n = 42?" in asked, asked
    resumed = out.stdout("quickstart-32")
    assert "resumed: success 42" in resumed, resumed  # the same handle, its values current
    assert "double: 21 -> 42" in resumed and "ask: approved n = 42" in resumed, resumed
    live = out.stdout("test-live-check")
    assert "followed: ['success']" in live, live
    assert "asked: [('success', [])]" in live, live
    [rows] = json.loads(live.split("rows: ", 1)[1])
    done = {"__end__": "done", "__start__": "done", "add_two": "done", "double": "done"}
    assert fold_rows(rows) == [done], rows


def check_hitl_approval(out: Outputs) -> None:
    out.widget("hitl-approval-04")
    asked = out.stdout("hitl-approval-06")
    assert "status: interrupted" in asked and "Approve this reply?" in asked and "draft: " in asked, asked
    revised = out.stdout("hitl-approval-08")
    assert "status: interrupted" in revised and "revision: 1" in revised, revised
    approved = out.stdout("hitl-approval-10")
    assert "status: success" in approved and "approved: True" in approved, approved
    assert out.frame_rows("hitl-approval-12") >= 4  # two interrupts, two resumes, a completion


def check_tool_agent(out: Outputs) -> None:
    out.widget("tool-agent-04")
    printed = out.stdout("tool-agent-05")
    assert "status: success" in printed and "42" in printed.split("answer:")[1], printed
    calls = out.stdout("tool-agent-07")
    assert "agent: calls calculator(" in calls and "tools: calculator returned '42'" in calls, calls
    assert out.frame_rows("tool-agent-08") == 3  # agent, tools, agent


def check_map_reduce(out: Outputs) -> None:
    out.widget("map-reduce-04")
    printed = out.stdout("map-reduce-05")
    assert "status: success" in printed and "summary: " in printed, printed
    subtopics = int(printed.split("subtopics:")[1].split()[0])
    assert 3 <= subtopics <= 5
    fanout = out.stdout("map-reduce-08")
    assert f"research tasks: {subtopics} in steps [1]" in fanout, fanout
    assert out.frame_rows("map-reduce-07") == subtopics + 2  # plan, the research tasks, summarize


def check_evals(out: Outputs) -> None:
    assert "DuraGraph connection" in out.data("evals-04")["text/plain"]
    runs = out.stdout("evals-06")
    assert "'what is 6 * 7'" in runs and "-> 'The result is 42.'" in runs, runs
    assert "-> 'The result is 35.'" in runs and "-> 'You said: hello there'" in runs, runs
    # Only this execution's four runs (its batch tag), frozen into version 1.
    assert "version 1, 4 examples" in out.stdout("evals-08"), out.stdout("evals-08")
    assert out.frame_rows("evals-08") == 4
    # The unchanged agent passes every example; five evaluators plus the verdicts' row.
    assert "4/4 examples, 4 passed, 0 failed, 0 errors" in out.data("evals-12")["text/html"]
    assert out.frame_rows("evals-13") == 6
    assert "serving ['chat_v2']" in out.data("evals-16")["text/plain"]
    # Without its calculator the variant fails the three arithmetic examples, not the greeting.
    assert "4/4 examples, 1 passed, 3 failed, 0 errors" in out.data("evals-18")["text/html"]
    assert out.frame_rows("evals-19") == 4
    summary = out.data("evals-21")["text/plain"]
    assert "'regressed': 3" in summary and "'improved': 0" in summary and "'unchanged': 1" in summary
    assert "'right_number': -1.0" in summary, summary  # the notebook's own evaluator was recorded
    assert out.frame_rows("evals-22") == 4
    why = out.stdout("evals-24")
    assert "right_number: 1.0 -> 0.0" in why and "first divergence: step 0, reason 'update'" in why, why
    assert "tool_calls" in why.split("base      agent:")[1].split("\n")[0], why
    assert "You said: what is" in why.split("candidate agent:")[1], why
    assert out.frame_rows("evals-24") > 0  # the final states' differences
    assert "3 regressed, 0 improved, 1 unchanged, 0 errors" in out.data("evals-26")["text/html"]
    exported = out.stdout("evals-28")
    cells = int(exported.split("bytes, ")[1].split(" cells")[0])
    assert "wrote exported/support-bot-eval.ipynb" in exported and cells > 10, exported
    assert 'ASSISTANT = "chat_v2"' in exported and 'BASELINE = "' in exported, exported
    magic = out.data("evals-30")["text/plain"]
    assert "exported/support-bot-eval-magic.ipynb (assistant chat_v2" in magic, magic


CHECKS: dict[str, Callable[[Outputs], None]] = {
    "quickstart": check_quickstart,
    "hitl_approval": check_hitl_approval,
    "tool_agent": check_tool_agent,
    "map_reduce": check_map_reduce,
    "evals": check_evals,
}


def test_every_notebook_has_a_check() -> None:
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(CHECKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_is_stored_clean(path: Path) -> None:
    """No outputs nor execution counts in the repository; stable cell ids; the python3 kernel."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    prefix = path.stem.replace("_", "-")
    assert [c.id for c in nb.cells] == [f"{prefix}-{i:02d}" for i in range(1, len(nb.cells) + 1)]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
    assert "widgets" not in nb.metadata
    json.loads(path.read_text())  # plain JSON


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_headless(path: Path, api_server: ApiServer, tmp_path: Path) -> None:
    api_server.wait_for_worker()
    begin = time.monotonic()
    nb = execute(path, api_server, tmp_path)
    took = time.monotonic() - begin
    out = Outputs(nb)
    assert out.stderr() == "", out.stderr()  # no `%duragraph: ...` user error either
    CHECKS[path.stem](out)
    print(f"{path.name}: {took:.1f}s")
