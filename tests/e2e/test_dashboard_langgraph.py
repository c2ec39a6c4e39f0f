"""The dashboard on a LangGraph project served as a user would (`duragraph-lab serve --config
langgraph.json`), in Debian's chromium driven by Playwright: a ``StateGraph`` with conditional
edges drawn from the graph itself (its nodes, its conditional edges dashed), and token usage per
run and per node on the Runs table, the Run view and Traces, for a LangGraph ``create_agent``
run whose chat model reports usage and for a native run (the demo chat on its scripted model),
and a deep agent's run (``deepagents.create_deep_agent``): its drawing, and its subagent's spans
under the ``task`` tool's namespace in the trace. Screenshots go to
test-artifacts/dashboard/langgraph-*.png."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langgraph")
pytest.importorskip("langchain")

from langgraph_sdk import get_sync_client

from tests.devserver import DevServer
from tests.e2e.test_dashboard_page import ARTIFACTS, CHROMIUM, Page
from tests.integration.test_dashboard_handler import ensure_dashboard_built
from tests.integration.test_langgraph_project import make_project

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")

ROUTER = """
from typing import Literal
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END


class State(TypedDict):
    text: str


def draft(state: State) -> dict:
    return {"text": state["text"] + "!"}


def review(state: State) -> dict:
    return {"text": state["text"] + "?"}


def publish(state: State) -> dict:
    return {"text": state["text"].upper()}


def route(state: State) -> Literal["review", "publish"]:
    return "review" if len(state["text"]) < 20 else "publish"


def again(state: State) -> Literal["draft", "__end__"]:
    return "draft" if len(state["text"]) < 8 else END


builder = StateGraph(State)
builder.add_node("draft", draft)
builder.add_node("review", review)
builder.add_node("publish", publish)
builder.add_edge(START, "draft")
builder.add_conditional_edges("draft", route)
builder.add_conditional_edges("review", again)
builder.add_edge("publish", END)
graph = builder.compile()
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    root = tmp_path_factory.mktemp("lgdash")
    config = make_project(
        root / "project",
        {
            "router": "./src/router.py:graph",
            "agent": "tests.lg_graphs:metered_agent",
            "chat": "duragraph_lab.demo.chat:graph",
            "deep": "tests.lg_graphs:deep_agent",
        },
        {"src/router.py": ROUTER, ".env": ""},
    )
    env = {
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
        "DURAGRAPH_LLM_TOKEN_DELAY": "0",
        "DURAGRAPH_LLM_BASE_URL": "",
        "DURAGRAPH_LLM_API_KEY": "",
        "OPENAI_API_KEY": "",
    }
    dev = DevServer(root / "data", command="serve", extra=["--config", str(config)], env=env)
    try:
        dev.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, health = dev.api("health", token=dev.token)
            if status == 200 and len((health.get("worker") or {}).get("graphs", [])) == 4:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"the project's worker did not start:\n{dev.output()[-3000:]}")
        yield dev
    finally:
        dev.kill()


@pytest.fixture(scope="module")
def browser(browser: Any) -> Any:
    """The package's chromium (tests/e2e/conftest.py), once the dashboard is built."""
    ensure_dashboard_built()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return browser


@pytest.fixture
def ui(browser: Any, server: DevServer) -> Iterator[Page]:
    page = Page(browser, server)  # type: ignore[arg-type]  # a DevServer has what Page reads
    yield page
    page.close()


def sdk(server: DevServer) -> Any:
    return get_sync_client(
        url=f"http://127.0.0.1:{server.port}/duragraph/api/v1",
        headers={"Authorization": f"token {server.token}"},
    )


def test_a_langgraph_graph_with_conditional_edges_is_drawn(ui: Page) -> None:
    from playwright.sync_api import expect

    with sdk(ui.server) as client:
        [assistant] = client.assistants.search(graph_id="router")
        drawn = client.assistants.get_graph(assistant["assistant_id"])
    # What the dashboard is given: the graph's own topology, its conditional edges marked.
    conditional = {(e["source"], e["target"]) for e in drawn["edges"] if e.get("conditional")}
    assert {
        ("draft", "review"),
        ("draft", "publish"),
        ("review", "draft"),
        ("review", "__end__"),
    } <= conditional
    page = ui.open("#/assistants")
    page.locator(f"[data-assistant-id='{assistant['assistant_id']}']").click()
    graph = page.locator("[data-dg-page='assistants'] [data-dg-graph]")
    for node in ("draft", "review", "publish"):
        expect(graph.locator(f"g[data-node='{node}']")).to_be_visible()
    for source, target in (("draft", "review"), ("draft", "publish"), ("review", "draft")):
        edge = graph.locator(f"g.dg-conditional[data-source='{source}'][data-target='{target}'] path").first
        expect(edge).to_be_visible()
    assert graph.locator("g.dg-conditional").count() >= 4
    ui.shot("langgraph-router-graph")


def test_tokens_per_run_and_per_node(ui: Page) -> None:
    from playwright.sync_api import expect

    with sdk(ui.server) as client:
        agent_thread = client.threads.create()["thread_id"]
        client.runs.wait(
            agent_thread, "agent", input={"messages": [{"role": "user", "content": "add 1 and 2"}]}
        )
        [agent_run] = client.runs.list(agent_thread)
        chat_thread = client.threads.create()["thread_id"]
        client.runs.wait(
            chat_thread, "chat", input={"messages": [{"role": "user", "content": "what is 2 + 3"}]}
        )
        [chat_run] = client.runs.list(chat_thread)
    assert agent_run["status"] == "success" and chat_run["status"] == "success"
    assert agent_run["usage"] == {"input_tokens": 40, "output_tokens": 12}
    assert chat_run["usage"] and chat_run["usage"]["input_tokens"] > 0

    page = ui.open("#/runs")
    agent_row = page.locator(f"tr[data-run-id='{agent_run['run_id']}']")
    expect(agent_row.locator("[data-dg-tokens]")).to_have_text("40 in · 12 out")
    chat_usage = chat_run["usage"]
    chat_text = f"{chat_usage['input_tokens']:,} in · {chat_usage['output_tokens']:,} out"
    expect(page.locator(f"tr[data-run-id='{chat_run['run_id']}'] [data-dg-tokens]")).to_have_text(chat_text)
    ui.shot("langgraph-runs-tokens")

    ui.go(f"#/run/{agent_run['run_id']}?thread_id={agent_thread}")
    tokens = page.locator("[data-dg-run-tokens]")
    expect(tokens).to_be_visible(timeout=15000)
    expect(tokens).to_contain_text("Tokens: 40 in · 12 out")
    model = tokens.locator("tr[data-node='model'] td")
    expect(model).to_have_text(["model", "2", "40", "12"])
    expect(tokens.locator("tr[data-node='tools']")).to_have_count(0)  # a tool call reports no tokens
    expect(page.locator(".dg-run-meta [data-dg-tokens]")).to_contain_text("40 in · 12 out tokens")
    # The rest of the run view (drawn after the tokens): the graph and the whole event log, up to
    # the run's end, so that the picture shows the run and not a page still loading.
    expect(page.locator("[data-dg-graph] g[data-node='model']")).to_have_count(1, timeout=15000)
    expect(page.locator("[data-dg-eventlog] .dg-event-row").last).to_contain_text(
        "run_completed", timeout=15000
    )
    ui.shot("langgraph-run-tokens")

    ui.go(f"#/run/{chat_run['run_id']}?thread_id={chat_thread}")
    expect(page.locator("[data-dg-run-tokens] tr[data-node='agent'] td").nth(0)).to_have_text(
        "agent", timeout=15000
    )
    ui.shot("native-run-tokens")

    ui.go(f"#/traces/{agent_thread}")
    trace = page.locator(f".dg-trace[data-run-id='{agent_run['run_id']}']")
    expect(trace.locator(".dg-trace-head [data-dg-tokens]")).to_contain_text("40 in · 12 out")
    per_span = trace.locator(".dg-span-row[data-node='model'] [data-dg-tokens]")
    expect(per_span).to_have_text(["10 in · 7 out", "30 in · 5 out"])
    ui.shot("langgraph-traces-tokens")


def test_a_deep_agents_run_and_its_subagents_spans(ui: Page) -> None:
    from playwright.sync_api import expect

    with sdk(ui.server) as client:
        thread = client.threads.create()["thread_id"]
        out = client.runs.wait(thread, "deep", input={"messages": [{"role": "user", "content": "7 * 6?"}]})
        [run] = client.runs.list(thread)
        spans = client.http.get(f"/runs/{run['run_id']}/spans")
    assert run["status"] == "success" and out["messages"][-1]["content"] == "the answer is 42 (turn 1)"
    # The subagent's model call is a span of the run, under the tools task that ran it.
    sub = [s for s in spans if s["ns"]]
    assert [s["node"] for s in sub if s["node"] == "model"] == ["model"], spans
    assert all(s["ns"].startswith("tools:") for s in sub), sub
    assert [s["node"] for s in spans if not s["ns"]].count("model") == 4

    page = ui.open(f"#/traces/{thread}")
    trace = page.locator(f".dg-trace[data-run-id='{run['run_id']}']")
    expect(trace.locator(".dg-span-row[data-node='model']")).to_have_count(5, timeout=15000)
    expect(trace.locator(".dg-span-row .dg-span-label", has_text="tools:")).not_to_have_count(0)
    ui.shot("langgraph-deep-agent-trace")

    ui.go(f"#/run/{run['run_id']}?thread_id={thread}")
    graph = page.locator("[data-dg-graph]")
    for node in ("model", "tools", "PatchToolCallsMiddleware.before_agent"):
        expect(graph.locator(f"g[data-node='{node}']").first).to_be_visible(timeout=15000)
    expect(page.locator("[data-dg-eventlog] .dg-event-row").last).to_contain_text(
        "run_completed", timeout=15000
    )
    ui.shot("langgraph-deep-agent-run")
