"""The DuraGraph dashboard docked in a real JupyterLab (the prebuilt extension ``duragraph-lab``),
driven by Playwright in Debian's chromium against a real ``duragraph-lab dev`` served under a
JupyterHub-style base URL (``/user/dg/``).

The DuraGraph panel of the left sidebar lists the demo assistants and the recent runs; a run
started through the REST API appears there without a reload and its status follows the run. The
launcher's "DuraGraph" cards and the command palette open the Playground tab; clicking a run opens
its Run view tab (one tab per run), which comes back after a reload (layout restorer). Switching to
the dark theme changes the panel's colours and keeps its text readable. No uncaught exception, and
no console error mentioning our extension. Screenshots go to test-artifacts/lab-dashboard/."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.runtime.jupyter_config import labextensions_dir
from tests.devserver import DevServer
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PAGE_OPTIONS

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "lab-dashboard"
BASE = "/user/dg/"
STOPPED = "--- the server was stopped ---"

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
    pytest.mark.skipif(
        labextensions_dir() is None,
        reason="the JupyterLab extension is not built (npm run build in extension/lab, or pip install -e .)",
    ),
]

# WCAG relative luminance and contrast ratio of two computed CSS colours ("rgb(r, g, b)").
CONTRAST = """
([fg, bg]) => {
  const lum = (css) => {
    const [r, g, b] = css.match(/[0-9.]+/g).slice(0, 3).map(Number).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}
"""
# The text colour of the first element matching a selector inside the panel and a background
# colour (the element's own, or the panel's), read in one go: the panel re-renders its lists on
# every refresh, and a detached element has no computed style.
COLOURS = """
([panel, selector, own]) => {
  const el = panel.querySelector(selector);
  if (!el || !el.isConnected) return null;
  const bg = getComputedStyle(own ? el : panel).backgroundColor;
  const fg = getComputedStyle(el).color;
  return /[0-9]/.test(fg) && /[0-9]/.test(bg) ? [fg, bg] : null;
}
"""


def _colours(page: Any, panel: Any, selector: str, own: bool = False) -> list[str]:
    got = page.wait_for_function(COLOURS, arg=[panel.element_handle(), selector, own])
    return list(got.json_value())


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    base = tmp_path_factory.mktemp("lab-dashboard")
    root = base / "root"
    root.mkdir()
    # Lab's user settings (the theme) and workspaces (the restored tabs) of this test stay in it.
    env = {
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
    }
    server = DevServer(
        base / "data", extra=[f"--ServerApp.root_dir={root}", f"--ServerApp.base_url={BASE}"], env=env
    )
    try:
        server.start()
        yield server
    finally:
        server.kill()


def _post(server: DevServer, route: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{BASE}duragraph/api/v1/{route}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _start_run(server: DevServer, text: str) -> tuple[str, str]:
    thread = _post(server, "threads", {})
    run = _post(
        server,
        f"threads/{thread['thread_id']}/runs",
        {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": text}]}},
    )
    return run["run_id"], thread["thread_id"]


def test_extension_is_listed(lab: DevServer) -> None:
    # The server's page config (what Lab loads) names our prebuilt extension, served from the base URL.
    status, _ = lab.api("info", token=lab.token, base=BASE)
    assert status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{lab.port}{BASE}lab?token={lab.token}", timeout=30) as r:
        html = r.read().decode()
    config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    names = {e["name"]: e for e in config["federated_extensions"]}
    assert "duragraph-lab" in names, sorted(names)
    load = names["duragraph-lab"]["load"]
    # `duragraph-lab dev` serves this checkout's build, not an older copy an install left behind.
    built = labextensions_dir()
    assert built is not None
    assert (
        load
        == json.loads((built / "duragraph-lab" / "package.json").read_text())["jupyterlab"]["_build"]["load"]
    )
    url = f"http://127.0.0.1:{lab.port}{BASE}lab/extensions/duragraph-lab/{load}"
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200
        assert b"duragraph-lab" in r.read()


def test_dashboard_in_jupyterlab(browser: Any, lab: DevServer) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    # A browser of its own, launched by the package's Playwright (a second Playwright cannot run
    # beside it): in the shared browser, Lab's command palette closed again before the test could
    # type into it (3 runs out of 3, not understood), never in a fresh one.
    own = browser.browser_type.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    page = own.new_page(viewport={"width": 1400, "height": 900}, **PAGE_OPTIONS)
    try:
        page.on("console", lambda msg: msg.type == "error" and errors.append(f"{msg.text} @ {msg.location}"))
        page.on("pageerror", lambda err: errors.append(f"pageerror: {err} {err.stack}"))
        # e.g. webpack's "Unsatisfied version" of a shared module our extension asks for.
        page.on(
            "console",
            lambda msg: msg.type == "warning" and "duragraph-lab" in msg.text and errors.append(msg.text),
        )
        try:
            _drive(page, expect, lab, errors)
        finally:
            page.screenshot(path=str(ARTIFACTS / "final.png"))
    finally:
        own.close()
    up = errors[: errors.index(STOPPED)] if STOPPED in errors else errors
    down = errors[len(up) :]
    ours = [e for e in up if e.startswith("pageerror") or re.search(r"duragraph|dg-|dashboard", e, re.I)]
    ours += [e for e in down if e.startswith("pageerror") and re.search(r"duragraph|dg-|dashboard", e, re.I)]
    assert ours == [], "\n".join(errors)


def _open_palette(page: Any) -> None:
    """Open Lab's command palette (Ctrl+Shift+C toggles it; a loaded page may miss the first press)."""
    field = page.locator(".lm-CommandPalette input")
    for _ in range(6):
        if field.is_visible():
            return
        page.keyboard.press("Control+Shift+C")
        try:
            field.wait_for(state="visible", timeout=5_000)
            return
        except Exception:  # playwright's TimeoutError: press again
            continue
    raise AssertionError("the command palette did not open")


def _run_command(page: Any, expect: Any, label: str) -> None:
    """Run Lab's command ``label`` from the palette. The palette closes when another widget takes
    the focus (after a reload, the layout restorer activates the restored tabs for a while), so it
    is opened and filled again until the command shows, then Enter runs the first match."""
    palette = page.locator(".lm-CommandPalette")
    item = palette.locator(".lm-CommandPalette-item", has_text=label).first
    for _ in range(6):
        _open_palette(page)
        try:
            palette.locator("input").fill(label, timeout=5_000)
            expect(item).to_be_visible(timeout=10_000)
        except Exception:  # the palette closed under us (playwright's TimeoutError or expect's): again
            continue
        palette.locator("input").press("Enter")
        return
    raise AssertionError(f"the command palette never showed {label!r}")


def _drive(page: Any, expect: Any, server: DevServer, errors: list[str]) -> None:
    page.set_default_timeout(30_000)
    page.add_locator_handler(
        page.get_by_role("alert").filter(has_text="official Jupyter news"),
        lambda toast: toast.get_by_role("button", name="No").click(),
    )
    page.goto(f"http://127.0.0.1:{server.port}{BASE}lab?token={server.token}")

    # The DuraGraph panel: a tab in the left sidebar.
    tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='duragraph-sidebar']")
    expect(tab).to_have_count(1, timeout=60_000)
    tab.click()
    panel = page.locator("#duragraph-sidebar")
    expect(panel).to_be_visible()
    # The demo assistants.
    assistants = panel.locator(".dg-lab-assistant")
    for graph in ("chat", "approval", "map_reduce"):
        expect(assistants.filter(has_text=graph).first).to_be_visible()
    expect(panel.locator(".dg-lab-sidebar-message")).to_be_hidden()

    # A run started through the REST API shows up live (no reload) and its status follows it.
    run_id, thread_id = _start_run(server, "hello from the lab test")
    row = panel.locator(f".dg-lab-run[data-run-id='{run_id}']")
    expect(row).to_be_visible(timeout=15_000)
    expect(row).to_have_attribute("data-status", "success", timeout=30_000)
    expect(row.locator(".dg-lab-run-status")).to_have_text("success")
    expect(row).to_contain_text("chat")
    panel.screenshot(path=str(ARTIFACTS / "sidebar-light.png"))

    # The launcher's DuraGraph section opens the Playground in a main-area tab.
    launcher = page.locator(".jp-Launcher-section").filter(
        has=page.locator(".jp-Launcher-sectionTitle", has_text=re.compile(r"^DuraGraph$"))
    )
    expect(launcher.locator(".jp-LauncherCard")).to_have_count(7)  # + Datasets, Crons
    page.screenshot(path=str(ARTIFACTS / "launcher.png"))
    launcher.locator(".jp-LauncherCard", has_text=re.compile(r"^\s*Playground\s*$")).click()
    playground = page.locator(".jp-MainAreaWidget.dg-lab-tab [data-dg-page='playground']")
    expect(playground).to_have_count(1)
    expect(playground).to_be_visible()
    main_tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="DuraGraph Playground")
    expect(main_tab).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "playground.png"))
    # Closing the tab disposes the page.
    main_tab.locator(".lm-TabBar-tabCloseIcon").click()
    expect(page.locator("[data-dg-page='playground']")).to_have_count(0)

    # The command palette opens it again.
    _open_palette(page)
    palette = page.locator(".lm-CommandPalette")
    expect(palette).to_be_visible()
    palette.locator("input").fill("Open DuraGraph Playground")
    item = palette.locator(".lm-CommandPalette-item", has_text="Open DuraGraph Playground")
    expect(item).to_have_count(1)
    for name in ("Runs", "Datasets", "Crons", "Threads", "Assistants", "Traces"):
        palette.locator("input").fill(f"Open DuraGraph {name}")
        expect(palette.locator(".lm-CommandPalette-item", has_text=f"Open DuraGraph {name}")).to_have_count(1)
    # The Crons page, from the palette like the others.
    palette.locator("input").fill("Open DuraGraph Crons")
    expect(palette.locator(".lm-CommandPalette-item", has_text="Open DuraGraph Crons").first).to_be_visible()
    palette.locator("input").press("Enter")
    crons = page.locator(".jp-MainAreaWidget.dg-lab-tab [data-dg-page='crons']")
    expect(crons).to_be_visible()
    crons_tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="DuraGraph Crons")
    expect(crons_tab).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "crons.png"))
    crons_tab.locator(".lm-TabBar-tabCloseIcon").click()
    expect(page.locator("[data-dg-page='crons']")).to_have_count(0)
    _run_command(page, expect, "Open DuraGraph Playground")
    playground = page.locator(".jp-MainAreaWidget.dg-lab-tab [data-dg-page='playground']")
    expect(playground).to_be_visible()
    # The page talks to the API through the Lab transport (ServerConnection, under the base URL):
    # a message to the demo chat assistant is answered, and its run shows up in the panel.
    known = set(panel.locator(".dg-lab-run").evaluate_all("(els) => els.map((e) => e.dataset.runId)"))
    message = playground.get_by_role("textbox", name=re.compile("message", re.I))
    # (Sent before the assistants are loaded, the page would say "pick an assistant first".)
    expect(playground.locator("[data-dg-graph] g[data-node='agent']")).to_have_count(1, timeout=30_000)
    message.fill("ping from the lab tab")
    message.press("Enter")
    expect(playground).to_contain_text("You said: ping from the lab tab", timeout=30_000)
    expect(panel.locator(".dg-lab-run")).to_have_count(len(known) + 1, timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "playground-chat.png"))

    # The approval assistant pauses for a human: its question appears in the tab, and approving
    # it there resumes the run to the end (its last node lights up as done).
    approval = playground.locator("[data-dg-assistant] option", has_text=re.compile(r"^approval$"))
    playground.locator("[data-dg-assistant]").select_option(approval.get_attribute("value"))
    expect(playground.locator("[data-dg-graph] g[data-node='review']")).to_have_count(1, timeout=15_000)
    playground.locator("[data-action=new-thread]").click()
    message.fill("tell Bob the build is green")
    message.press("Enter")
    box = playground.locator("[data-dg-interrupt]")
    expect(box).to_be_visible(timeout=30_000)
    expect(box).to_contain_text("Approve this reply?")
    page.screenshot(path=str(ARTIFACTS / "playground-interrupt.png"))
    box.locator("[data-action=approve]").click()
    expect(box).to_be_hidden(timeout=15_000)
    expect(playground.locator("[data-dg-graph] g[data-node='publish']")).to_have_attribute(
        "data-status", "done", timeout=30_000
    )

    # Clicking an assistant opens the Assistants page on it; another one reuses that tab.
    panel.locator(".dg-lab-assistant[data-assistant-id]", has_text=re.compile(r"^chat$")).click()
    assistants_page = page.locator(".jp-MainAreaWidget.dg-lab-tab [data-dg-page='assistants']")
    expect(assistants_page).to_be_visible()
    panel.locator(".dg-lab-assistant[data-assistant-id]", has_text=re.compile(r"^approval$")).click()
    expect(assistants_page).to_have_count(1)
    expect(assistants_page).to_be_visible()
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="DuraGraph Assistants")).to_have_count(
        1
    )
    page.screenshot(path=str(ARTIFACTS / "assistants.png"))

    # Clicking a run opens its Run view; clicking it again focuses the same tab.
    row.click()
    run_page = page.locator(".jp-MainAreaWidget.dg-lab-tab [data-dg-page='run']")
    expect(run_page).to_have_count(1)
    expect(run_page).to_be_visible()
    run_tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=f"Run {run_id[:8]}")
    expect(run_tab).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "run.png"))
    # Links look like links inside JupyterLab too (its own CSS makes <a> plain text), and the
    # tabs' titles are whole, not cut.
    thread_link = run_page.locator(".dg-run-meta a.dg-link").first
    link_colour, text_colour = thread_link.evaluate(
        "(a) => [getComputedStyle(a).color, getComputedStyle(a.closest('.dg-run-meta')).color]"
    )
    assert link_colour != text_colour, (link_colour, text_colour)
    for title in ("DuraGraph Playground", "DuraGraph Assistants", f"Run {run_id[:8]}"):
        label = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=title).locator(
            ".lm-TabBar-tabLabel"
        )
        assert label.evaluate("(el) => el.scrollWidth <= el.clientWidth"), f"the tab title {title!r} is cut"
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="DuraGraph Playground").click()
    expect(run_page).to_be_hidden()
    row.click()
    expect(run_page).to_be_visible()
    expect(page.locator("[data-dg-page='run']")).to_have_count(1)
    # A second run gets a tab of its own.
    other_id, _ = _start_run(server, "a second run")
    other = panel.locator(f".dg-lab-run[data-run-id='{other_id}']")
    expect(other).to_be_visible(timeout=15_000)
    other.click()
    expect(page.locator("[data-dg-page='run']")).to_have_count(2)
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=f"Run {other_id[:8]}")).to_have_count(
        1
    )

    # In a Run tab the replay slider scrubs the state, and "Fork from here" opens the fork in a
    # tab of its own, which runs to the end.
    row.click()
    run_page = page.locator(".jp-MainAreaWidget.dg-lab-tab:visible [data-dg-page='run']")
    expect(run_page).to_have_count(1)
    slider = run_page.locator("[data-dg-replay]")
    expect(run_page.locator("[data-dg-state]")).to_contain_text(
        "You said: hello from the lab test", timeout=15_000
    )
    slider.focus()
    page.keyboard.press("Home")
    expect(run_page.locator("[data-dg-replay-label]")).to_contain_text("run_created (1/")
    expect(run_page.locator("[data-dg-state]")).not_to_contain_text("You said")
    # At the node's completion: the state after it, with the answer, and the change it made (the
    # evidence's screenshot 12, taken here in Lab, showed the state before it and "no change").
    run_page.locator("[data-dg-eventlog] .dg-event-row", has_text="node_completed").first.click()
    expect(run_page.locator("[data-dg-change-title]")).to_have_text("Change made by agent")
    expect(run_page.locator("[data-dg-diff]")).to_contain_text("You said: hello from the lab test")
    page.screenshot(path=str(ARTIFACTS / "run-replay-node-completed.png"))
    slider.focus()
    page.keyboard.press("Home")
    expect(run_page.locator("[data-dg-replay-label]")).to_contain_text("run_created (1/")
    run_page.locator("[data-action=fork]").click()
    expect(run_page.locator("[data-dg-fork-dialog]")).to_be_visible()
    run_page.locator("[data-action=fork-confirm]").click()
    expect(page.locator("[data-dg-page='run']")).to_have_count(3, timeout=15_000)
    forked = page.locator(".jp-MainAreaWidget.dg-lab-tab:visible [data-dg-page='run'] .dg-run-meta")
    expect(forked).to_have_attribute("data-status", "success", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "run-forked.png"))

    # The layout restorer brings the tabs back after a reload.
    page.wait_for_timeout(1500)  # the restorer saves the layout on a debounce
    page.reload()
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=f"Run {run_id[:8]}")).to_have_count(
        1, timeout=60_000
    )
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="DuraGraph Playground")).to_have_count(
        1
    )
    expect(page.locator("#duragraph-sidebar")).to_be_visible()

    # Dark theme: the panel's colours change and its text stays readable.
    panel = page.locator("#duragraph-sidebar")
    expect(panel.locator(f".dg-lab-run[data-run-id='{run_id}']")).to_be_visible(timeout=15_000)
    light = _colours(page, panel, ".dg-lab-assistant-name")
    assert page.evaluate(CONTRAST, light) >= 4.5, light
    # Enter runs the active (first) match: Lab re-renders the palette's items whenever a command
    # changes, so a click can keep landing on a detached element.
    _run_command(page, expect, "Use Theme: JupyterLab Dark")
    expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1, timeout=30_000)
    page.wait_for_function(
        "([el, before]) => getComputedStyle(el).backgroundColor !== before",
        arg=[panel.element_handle(), light[1]],
    )
    dark = _colours(page, panel, ".dg-lab-assistant-name")
    assert dark != light, (light, dark)
    assert page.evaluate(CONTRAST, dark) >= 4.5, dark
    badge = _colours(page, panel, f".dg-lab-run[data-run-id='{run_id}'] .dg-lab-run-status", own=True)
    assert page.evaluate(CONTRAST, badge) >= 3, badge
    panel.screenshot(path=str(ARTIFACTS / "sidebar-dark.png"))
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=f"Run {run_id[:8]}").click()
    page.screenshot(path=str(ARTIFACTS / "run-dark.png"))
    assert thread_id

    # The server goes away: the panel says so (no blank panel, no uncaught exception). The
    # browser's own "connection refused" console lines from here on are expected.
    errors.append(STOPPED)
    server.kill()
    message = panel.locator(".dg-lab-sidebar-message")
    expect(message).to_be_visible(timeout=15_000)
    expect(message).to_contain_text("Cannot reach the DuraGraph API")
    panel.screenshot(path=str(ARTIFACTS / "sidebar-unreachable.png"))
