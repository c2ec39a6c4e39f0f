"""The Playground for any graph inside a real JupyterLab (``duragraph-lab dev`` under a
JupyterHub-style base URL, the prebuilt extension, Debian's chromium driven by Playwright): a
graph that is not a chat run from its schema's form, a schema a form cannot edit refused in the
JSON editor with its errors, a tool call shown as a card, a run replayed on the graph, and the
last assistant and thread back after a reload. Screenshots go to test-artifacts/lab-playground/."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.runtime.jupyter_config import labextensions_dir
from tests.api_graphs import DEMOS
from tests.devserver import DevServer
from tests.playground_graphs import REFS

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "lab-playground"
BASE = "/user/dg/"
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
    pytest.mark.skipif(
        labextensions_dir() is None,
        reason="the JupyterLab extension is not built (npm run build in extension/lab, or pip install -e .)",
    ),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    base = tmp_path_factory.mktemp("lab-playground")
    root = base / "root"
    root.mkdir()
    env = {
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
    }
    graphs = [f"--DuraGraphApp.graphs={ref}" for ref in (*DEMOS, *REFS)]
    server = DevServer(
        base / "data",
        extra=[f"--ServerApp.root_dir={root}", f"--ServerApp.base_url={BASE}", *graphs],
        env=env,
    )
    # The offline model paced as a user gets it (tests/conftest.py turns that off elsewhere).
    server.env.pop("DURAGRAPH_LLM_FIRST_TOKEN_DELAY", None)
    server.env.pop("DURAGRAPH_LLM_TOKEN_DELAY", None)
    try:
        server.start()
        yield server
    finally:
        server.kill()


def _select(playground: Any, graph_id: str) -> None:
    option = playground.locator("[data-dg-assistant] option", has_text=re.compile(f"^{graph_id}$"))
    playground.locator("[data-dg-assistant]").select_option(option.get_attribute("value"))


def test_the_playground_runs_any_graph_inside_jupyterlab(browser: Any, lab: DevServer) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.on("pageerror", lambda err: errors.append(f"pageerror: {err}"))
        page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                and re.search(r"duragraph|dg-|dashboard", msg.text, re.I)
                and errors.append(msg.text)
            ),
        )
        try:
            _drive(page, expect, lab)
        finally:
            page.screenshot(path=str(ARTIFACTS / "final.png"))
    finally:
        page.close()
    assert errors == [], "\n".join(errors)


def _open_playground(page: Any, expect: Any) -> Any:
    launcher = page.locator(".jp-Launcher-section").filter(
        has=page.locator(".jp-Launcher-sectionTitle", has_text=re.compile(r"^DuraGraph$"))
    )
    launcher.locator(".jp-LauncherCard", has_text=re.compile(r"^\s*Playground\s*$")).click()
    playground = page.locator(".jp-MainAreaWidget.dg-lab-tab [data-dg-page='playground']")
    expect(playground).to_be_visible()
    return playground


def _drive(page: Any, expect: Any, server: DevServer) -> None:
    page.set_default_timeout(30_000)
    page.add_locator_handler(
        page.get_by_role("alert").filter(has_text="official Jupyter news"),
        lambda toast: toast.get_by_role("button", name="No").click(),
    )
    page.goto(f"http://127.0.0.1:{server.port}{BASE}lab?token={server.token}")
    expect(page.locator(".jp-Launcher-section")).not_to_have_count(0, timeout=60_000)
    playground = _open_playground(page, expect)

    # A native graph that is not a chat: a form from its input schema, no chat box, no 422.
    expect(playground.locator("[data-dg-graph] g")).not_to_have_count(0)
    _select(playground, "order")
    form = playground.locator("[data-dg-input-form]")
    expect(form).to_be_visible()
    expect(playground.locator("[data-dg-composer]")).to_be_hidden()
    playground.locator("[data-dg-field='customer']").fill("Lab")
    playground.locator("[data-dg-field='quantity']").fill("3")
    playground.locator("[data-dg-field='price']").fill("1.5")
    playground.locator("[data-dg-field='size']").select_option("small")
    playground.locator("[data-action='run-input']").click()
    state = playground.locator("[data-dg-playground-state]")
    expect(state.locator("dd[data-key='total']")).to_have_text("4.5", timeout=30_000)
    expect(playground.locator("[data-dg-graph] g[data-node='confirm']")).to_have_attribute(
        "data-status", "done"
    )
    expect(playground.locator("[data-dg-thread] option:checked")).to_have_text(
        re.compile(r"^customer: Lab, quantity: 3, price: 1\.5, size: s")  # (cut at 48 characters)
    )
    page.screenshot(path=str(ARTIFACTS / "form-done.png"))

    # A schema a form cannot edit (map_reduce): the JSON editor refuses a wrong input, inline.
    _select(playground, "map_reduce")
    editor = playground.locator("[data-dg-json-input]")
    expect(editor).to_be_visible()
    editor.fill('{"topic": 42}')
    playground.locator("[data-action='run-input']").click()
    expect(playground.locator("[data-dg-json-errors] li")).to_have_text(
        ["topic: must be a string or an array as the schema describes"]
    )
    page.screenshot(path=str(ARTIFACTS / "json-invalid.png"))

    # The chat: a tool call as a card, then the run replayed on the graph.
    _select(playground, "chat")
    message = playground.locator("[data-dg-chat-input]")
    expect(message).to_be_visible()
    message.fill("what is 12 * 12")
    message.press("Enter")
    card = playground.locator("[data-tool-card='calculator']")
    expect(card.locator("[data-tool-result='done'] .dg-tool-output")).to_have_text("144", timeout=30_000)
    expect(card.locator("dd[data-arg='expression']")).to_have_text("12 * 12")
    expect(playground.locator("[data-action='replay']")).to_be_enabled(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "tool-card.png"))
    playground.locator("[data-action='replay']").click()
    page.wait_for_function(
        "document.querySelector(\".dg-lab-tab [data-dg-graph] g[data-node='tools']\")?.dataset.status === 'running'",
        timeout=10_000,
        polling=50,
    )
    page.screenshot(path=str(ARTIFACTS / "replay-mid.png"))
    expect(playground.locator("[data-dg-replay-step]")).to_contain_text("END done", timeout=20_000)
    thread_id = playground.locator("[data-dg-thread]").input_value()

    # After a reload, the Playground (restored, or opened again) is back on chat and its thread.
    page.wait_for_timeout(1500)  # the layout restorer saves on a debounce
    page.reload()
    playground = page.locator(".jp-MainAreaWidget.dg-lab-tab [data-dg-page='playground']")
    try:
        expect(playground).to_be_visible(timeout=30_000)
    except AssertionError:
        playground = _open_playground(page, expect)
    assistant = playground.locator("[data-dg-assistant] option:checked")
    expect(assistant).to_have_text("chat", timeout=30_000)
    expect(playground.locator("[data-dg-thread]")).to_have_value(thread_id, timeout=30_000)
    expect(playground.locator("[data-dg-thread] option:checked")).to_have_text("what is 12 * 12")
    expect(playground.locator("[data-tool-card='calculator']")).to_have_count(1)
    # The graph shows how the thread's last run ended.
    expect(playground.locator("[data-dg-graph] g[data-node='__end__']")).to_have_attribute(
        "data-status", "done"
    )
    expect(playground.locator("[data-dg-graph] g[data-node='tools']")).to_have_attribute(
        "data-status", "done"
    )
    page.screenshot(path=str(ARTIFACTS / "remembered.png"))
