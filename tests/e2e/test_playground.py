"""The Playground for any graph (issue 19 item 3) on the standalone page, in Debian's chromium
driven by Playwright, against a real ``duragraph-lab serve`` whose offline model is paced as it is
by default (no test setting): a native graph that is not a chat run from a form built from its
input schema (bad values said inline, nothing sent), a graph whose input a form cannot edit run
from a JSON editor checked against the schema, a LangGraph ``StateGraph`` run the same way, tool
calls as cards, threads titled by their first input and filtered by assistant, the last assistant
and thread remembered across reloads, nodes seen running while the paced chat runs, and a
finished run replayed on the graph. Screenshots go to test-artifacts/playground/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import ApiServer
from tests.e2e.test_dashboard_page import CHROMIUM, Page, api, browser, starts_a_run  # noqa: F401 (fixture)
from tests.playground_graphs import REFS

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "playground"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")

# Each status a graph node shows, with when (ms since the page's time origin) it was first seen.
TIMES = """
window.__dgTimes = {};
window.__dgSteps = [];
new MutationObserver(() => {
  const step = document.querySelector("[data-dg-replay-step]")?.textContent;
  if (step && window.__dgSteps[window.__dgSteps.length - 1] !== step) window.__dgSteps.push(step);
  for (const g of document.querySelectorAll("[data-dg-graph] g[data-node]")) {
    const key = g.dataset.node + ":" + g.dataset.status;
    if (!(key in window.__dgTimes)) window.__dgTimes[key] = performance.now();
  }
}).observe(document, { subtree: true, childList: true, attributes: true, characterData: true, attributeFilter: ["data-status"] });
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    s = ApiServer(
        Path(tmp_path_factory.mktemp("playground")) / "data", more_graphs=(*REFS, "tests.lg_graphs:agent")
    )
    # The model as a user gets it: tests/conftest.py turns its pacing off for every other test.
    s.env.pop("DURAGRAPH_LLM_FIRST_TOKEN_DELAY", None)
    s.env.pop("DURAGRAPH_LLM_TOKEN_DELAY", None)
    s.start()
    try:
        yield s
    finally:
        s.kill()


class PlaygroundPage(Page):
    def __init__(
        self,
        browser: Any,  # noqa: F811
        server: ApiServer,
        context: Any = None,
        color_scheme: str = "light",
    ) -> None:
        super().__init__(browser, server, color_scheme)
        if context is not None:  # the same browser profile (its localStorage) in a new page
            self.context.close()
            self.context = context
            self.page = context.new_page()
            self.page.on("console", self._console)
            self.page.on("pageerror", lambda err: self.errors.append(f"uncaught: {err}"))
        self.page.add_init_script(TIMES)
        self.runs_started: list[str] = []
        self.page.on("request", self._request)

    def _request(self, request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/runs/stream"):
            self.runs_started.append(request.post_data or "")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def ui(browser: Any, server: ApiServer) -> Iterator[PlaygroundPage]:  # noqa: F811
    page = PlaygroundPage(browser, server)
    yield page
    page.close()


def test_a_graph_that_is_not_a_chat_runs_from_a_form(ui: PlaygroundPage) -> None:
    from playwright.sync_api import expect

    page = ui.open("#/playground?assistant=order")
    form = page.locator("[data-dg-input-form]")
    expect(form).to_be_visible(timeout=20000)
    # No chat box for a graph without messages; one field per key of its input schema.
    expect(page.locator("[data-dg-composer]")).to_be_hidden()
    fields = page.locator("[data-dg-field]").evaluate_all(
        "(els) => els.map((e) => [e.dataset.dgField, e.tagName])"
    )
    assert dict(fields) == {
        "customer": "INPUT",
        "quantity": "INPUT",
        "price": "INPUT",
        "express": "SELECT",
        "size": "SELECT",
        "tags": "TEXTAREA",
        "total": "INPUT",
        "log": "TEXTAREA",
    }, fields
    expect(page.locator("[data-dg-field='size'] option")).to_have_text(
        ["— not set —", "small", "medium", "large"]
    )

    # A value of the wrong type is said next to its field and nothing is sent.
    page.fill("[data-dg-field='customer']", "Ada")
    page.fill("[data-dg-field='quantity']", "two")
    page.fill("[data-dg-field='price']", "3.5")
    page.click("[data-action='run-input']")
    error = page.locator("[data-dg-field-error='quantity']")
    expect(error).to_be_visible()
    expect(error).to_have_text("must be a whole number")
    expect(page.locator("[data-dg-field='quantity']")).to_have_attribute("aria-invalid", "true")
    ui.shot("form-invalid")
    page.wait_for_timeout(300)
    assert ui.runs_started == []

    page.fill("[data-dg-field='quantity']", "2")
    expect(error).to_be_hidden()
    page.select_option("[data-dg-field='express']", "true")
    page.select_option("[data-dg-field='size']", "large")
    page.fill("[data-dg-field='tags']", "gift\nfragile")
    with page.expect_response(starts_a_run) as sent:
        page.click("[data-action='run-input']")
    assert sent.value.status == 200
    assert len(ui.runs_started) == 1 and json.loads(ui.runs_started[0])["input"] == {
        "customer": "Ada",
        "quantity": 2,
        "price": 3.5,
        "express": True,
        "size": "large",
        "tags": ["gift", "fragile"],
    }
    state = page.locator("[data-dg-playground-state]")
    expect(state.locator("dd[data-key='total']")).to_have_text("12", timeout=20000)
    expect(state.locator("dd[data-key='log']")).to_contain_text("confirmed for Ada (gift, fragile)")
    expect(page.locator("[data-dg-page='playground'][data-dg-last-run]")).to_have_count(1, timeout=10000)
    expect(page.locator("[data-dg-transcript] [data-role='input']")).to_have_count(1)
    expect(page.locator("[data-dg-message='error']")).to_have_count(0)  # no 422
    times = page.evaluate("window.__dgTimes")
    assert {"price:running", "price:done", "confirm:running", "confirm:done"} <= set(times), times
    # The thread is titled by its first input.
    expect(page.locator("[data-dg-thread] option:checked")).to_contain_text("customer: Ada, quantity: 2")
    ui.shot("form-done")


def test_a_schema_a_form_cannot_edit_gets_a_checked_json_editor(ui: PlaygroundPage) -> None:
    from playwright.sync_api import expect

    page = ui.open("#/playground?assistant=map_reduce")
    editor = page.locator("[data-dg-json-input]")
    expect(editor).to_be_visible(timeout=20000)
    # topic is a string or a list of strings, notes a list of objects: no form, JSON it is.
    expect(page.locator("[data-input-mode='form']")).to_be_disabled()
    assert editor.input_value().replace(" ", "").replace("\n", "") == '{"topic":""}'
    errors = page.locator("[data-dg-json-errors]")

    editor.fill('{"topic": 5, "subtopics": "one"}')
    page.click("[data-action='run-input']")
    expect(errors).to_be_visible()
    expect(errors.locator("li")).to_have_text(
        [
            "topic: must be a string or an array as the schema describes",
            "subtopics: must be an array, not a string",
        ]
    )
    editor.fill('{"topic": "solar",}')
    page.click("[data-action='run-input']")
    expect(errors.locator("li")).to_have_count(1)
    expect(errors.locator("li")).to_contain_text("not valid JSON at line 1")
    editor.fill('{"topic": "solar", "colour": "red"}')
    page.click("[data-action='run-input']")
    expect(errors.locator("li")).to_contain_text('unknown key "colour"')
    ui.shot("json-invalid")
    page.wait_for_timeout(300)
    assert ui.runs_started == []

    editor.fill('{"topic": ["wind", "tides", "sun"]}')
    expect(errors).to_be_hidden()
    page.keyboard.press("Control+Enter")
    state = page.locator("[data-dg-playground-state]")
    expect(state.locator("dd[data-key='summary']")).not_to_be_empty(timeout=30000)
    expect(state.locator("dd[data-key='subtopics']")).to_contain_text("tides")
    assert len(ui.runs_started) == 1
    expect(page.locator("[data-dg-graph] g[data-node='summarize']")).to_have_attribute("data-status", "done")
    ui.shot("json-done")


def test_a_langgraph_state_graph_runs_from_its_form(ui: PlaygroundPage) -> None:
    from playwright.sync_api import expect

    page = ui.open("#/playground?assistant=lg_shout")
    expect(page.locator("[data-dg-input-form]")).to_be_visible(timeout=20000)
    page.fill("[data-dg-field='text']", "hello")
    page.fill("[data-dg-field='times']", "3")
    page.click("[data-action='run-input']")
    expect(page.locator("[data-dg-playground-state] dd[data-key='result']")).to_have_text(
        "HELLO HELLO HELLO", timeout=20000
    )
    expect(page.locator("[data-dg-graph] g[data-node='shout']")).to_have_attribute("data-status", "done")
    expect(page.locator("[data-dg-message='error']")).to_have_count(0)
    ui.shot("langgraph-form-done")


def test_tool_calls_are_cards_and_a_paced_run_can_be_watched_and_replayed(ui: PlaygroundPage) -> None:
    from playwright.sync_api import expect

    page = ui.open("#/playground?assistant=chat")
    page.wait_for_selector("[data-dg-graph] g[data-node='agent']")
    expect(page.locator("[data-dg-composer]")).to_be_visible()
    expect(page.locator("[data-dg-input-editor]")).to_have_count(0)  # messages only: the chat box
    page.fill("[data-dg-chat-input]", "what is 6 * 7")
    started = time.monotonic()
    page.press("[data-dg-chat-input]", "Enter")
    answer = page.locator("[data-dg-transcript] .dg-msg[data-role='assistant']")
    expect(answer.last).to_have_text("assistantThe result is 42.", timeout=20000)
    expect(page.locator("[data-dg-page='playground'][data-dg-last-run]")).to_have_count(1, timeout=10000)
    took = time.monotonic() - started
    # Paced like a real model: the run takes about a second, and the agent is seen running
    # for a moment each time it thinks.
    assert 1.0 <= took <= 20.0, took  # (the upper end only says it finished: the machine may be loaded)
    times = page.evaluate("window.__dgTimes")
    assert times["agent:done"] - times["agent:running"] >= 400, times
    assert "tools:done" in times, times  # the calculator is instant: its running may not be painted

    # At the end, the graph shows the stored log's statuses: START and END done too.
    expect(page.locator("[data-dg-graph] g[data-node='__end__']")).to_have_attribute("data-status", "done")
    card = page.locator("[data-dg-transcript] [data-tool-card='calculator']")
    expect(card).to_have_count(1)
    expect(card.locator(".dg-tool-name")).to_have_text("calculator")
    expect(card.locator("dd[data-arg='expression']")).to_have_text("6 * 7")
    expect(card.locator("[data-tool-result='done'] .dg-tool-output")).to_have_text("42")
    # No raw JSON of the calls, and the tool's message is the card's result, not a bubble.
    expect(page.locator("[data-dg-transcript]")).not_to_contain_text("tool calls:")
    expect(page.locator("[data-dg-transcript] .dg-msg[data-role='tool']")).to_have_count(0)
    ui.shot("tool-card")
    # The Threads page draws the conversation the same way.
    thread_id = page.locator("[data-dg-thread]").input_value()
    ui.go(f"#/threads/{thread_id}")
    threads_card = page.locator("[data-dg-page='threads'] [data-tool-card='calculator']")
    expect(threads_card.locator(".dg-tool-output")).to_have_text("42", timeout=20000)
    expect(page.locator("[data-dg-page='threads'] .dg-msg[data-role='tool']")).to_have_count(0)
    ui.shot("threads-page-tool-card")
    ui.go("#/playground")
    page.wait_for_selector("[data-dg-page='playground'] [data-dg-graph] g[data-node='agent']")
    expect(page.locator("[data-dg-thread]")).to_have_value(thread_id, timeout=20000)  # remembered

    # Replay: the finished run's steps again on the graph, one status change at a time.
    replay = page.locator("[data-action='replay']")
    expect(replay).to_be_enabled()
    replay.click()
    expect(page.locator("[data-dg-page='playground'][data-dg-replaying]")).to_have_count(1)
    # Caught while the tools node runs again (each frame shows for 450 ms).
    page.wait_for_function(
        "document.querySelector(\"[data-dg-graph] g[data-node='tools']\")?.dataset.status === 'running'",
        timeout=10000,
        polling=50,
    )
    expect(page.locator("[data-dg-replay-step]")).to_contain_text("tools running")
    expect(page.locator("[data-dg-graph] g[data-node='__end__']")).not_to_have_attribute(
        "data-status", "done"
    )
    ui.shot("replay-mid")
    expect(page.locator("[data-dg-page='playground'][data-dg-replaying]")).to_have_count(0, timeout=20000)
    steps = [re.sub(r"^step \d+/\d+ · ", "", s) for s in page.evaluate("window.__dgSteps")]
    assert steps == [
        "START done",
        "agent running",
        "agent done",
        "tools running",
        "tools done",
        "agent running",
        "agent done",
        "END done",
    ], steps
    expect(page.locator("[data-dg-graph] g[data-node='__end__']")).to_have_attribute("data-status", "done")


def test_a_langgraph_agent_s_tool_calls_are_cards_too(ui: PlaygroundPage) -> None:
    from playwright.sync_api import expect

    page = ui.open("#/playground?assistant=lg_agent")
    expect(page.locator("[data-dg-composer]")).to_be_visible(timeout=20000)  # create_agent: a chat
    page.fill("[data-dg-chat-input]", "add one and two")
    page.press("[data-dg-chat-input]", "Enter")
    card = page.locator("[data-dg-transcript] [data-tool-card='add']")
    expect(card.locator("[data-tool-result='done'] .dg-tool-output")).to_have_text("3", timeout=20000)
    expect(card.locator("dd[data-arg='a']")).to_have_text("1")
    expect(card.locator("dd[data-arg='b']")).to_have_text("2")
    expect(page.locator("[data-dg-transcript] .dg-msg[data-role='assistant']").last).to_contain_text(
        "the sum is 3"
    )
    expect(page.locator("[data-dg-transcript] .dg-msg[data-role='tool']")).to_have_count(0)
    ui.shot("langgraph-tool-card")


def test_threads_are_titled_filtered_and_remembered(browser: Any, server: ApiServer) -> None:  # noqa: F811
    from playwright.sync_api import expect

    chat = api(server, "GET", "/assistants/chat")
    order = api(server, "GET", "/assistants/order")
    # A thread of each assistant, made through the API as a notebook would.
    chat_thread = api(server, "POST", "/threads", {})["thread_id"]
    api(
        server,
        "POST",
        f"/threads/{chat_thread}/runs/wait",
        {
            "assistant_id": "chat",
            "input": {"messages": [{"role": "user", "content": "remember this thread"}]},
        },
    )
    order_thread = api(server, "POST", "/threads", {})["thread_id"]
    api(
        server,
        "POST",
        f"/threads/{order_thread}/runs/wait",
        {"assistant_id": "order", "input": {"customer": "Bo"}},
    )

    ui = PlaygroundPage(browser, server)
    try:
        page = ui.open(f"#/playground?assistant=chat&thread_id={chat_thread}")
        threads = page.locator("[data-dg-thread]")
        expect(threads).to_have_value(chat_thread, timeout=20000)
        expect(threads.locator("option:checked")).to_have_text("remember this thread")
        titles = threads.locator("option").all_inner_texts()
        values = threads.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
        # Only the chat assistant's threads, each by its first message; none of order's.
        assert order_thread not in values and chat_thread in values, values
        assert all(not t.startswith("thread ") for t in titles[1:]), titles
        expect(page.locator("[data-dg-transcript] [data-role='user']").first).to_have_text(
            "userremember this thread"
        )
        ui.shot("threads-chat")

        page.select_option("[data-dg-assistant]", order["assistant_id"])
        expect(threads.locator(f"option[value='{order_thread}']")).to_have_text("customer: Bo", timeout=20000)
        assert chat_thread not in threads.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
        page.select_option("[data-dg-thread]", order_thread)
        expect(page.locator("[data-dg-playground-state] dd[data-key='log']")).to_contain_text(
            "confirmed for Bo"
        )
        # The form shows the thread's last input.
        expect(page.locator("[data-dg-field='customer']")).to_have_value("Bo")

        # A reload without parameters reopens the last assistant and its thread...
        page.goto(f"{ui.root}/duragraph/ui/#/playground")
        expect(page.locator("[data-dg-assistant]")).to_have_value(order["assistant_id"], timeout=20000)
        expect(threads).to_have_value(order_thread, timeout=20000)
        expect(page.locator("[data-dg-playground-state] dd[data-key='log']")).to_contain_text(
            "confirmed for Bo"
        )
        # ...and each assistant keeps its own last thread.
        page.select_option("[data-dg-assistant]", chat["assistant_id"])
        expect(threads).to_have_value(chat_thread, timeout=20000)
        page.reload()
        expect(page.locator("[data-dg-assistant]")).to_have_value(chat["assistant_id"], timeout=20000)
        expect(threads).to_have_value(chat_thread, timeout=20000)
        ui.shot("threads-remembered")
    finally:
        ui.close()


def test_the_form_and_the_cards_follow_the_dark_theme(browser: Any, server: ApiServer) -> None:  # noqa: F811
    from playwright.sync_api import expect

    ui = PlaygroundPage(browser, server, color_scheme="dark")
    try:
        page = ui.open("#/playground?assistant=order")
        editor = page.locator("[data-dg-input-editor]")
        expect(editor).to_be_visible(timeout=20000)
        page.fill("[data-dg-field='price']", "cheap")
        page.click("[data-action='run-input']")
        expect(page.locator("[data-dg-field-error='price']")).to_have_text("must be a number")
        # Dark backgrounds, light text: the page's palette, not white boxes.
        colours = editor.evaluate(
            "(e) => [getComputedStyle(e).backgroundColor, getComputedStyle(e.querySelector('.dg-field-label')).color]"
        )
        lum = [sum(int(v) for v in re.findall(r"\d+", c)[:3]) / 3 for c in colours]
        assert lum[0] < 80 and lum[1] > 150, colours
        ui.shot("dark-form")
    finally:
        ui.close()
