"""The issue's screenshots 42/43 in a real browser: a RunView shown while its run waited for a
human, the run then resumed from code. Clicking the view's Resume must not leave "resuming…"
forever: the kernel side (the real RunView against a real server) answers with why it failed and
the run as it is now, and the page shows both. Chromium via Playwright; the page holds the
``run_view`` bundle with a stand-in anywidget model that relays the kernel's real answer.
Screenshots: test-artifacts/widgets/stale-resume-{before,after}.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.client import DuraGraphClient
from duragraph_lab.notebook.widgets import STATIC, RunView
from tests.apiserver import ApiServer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "widgets"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>{css}</style></head>
<body style="width: 1040px; margin: 8px"><div id="root"></div>
<script type="module">
const traits = {traits};
const answer = {answer};
const listeners = {{}};
window.sent = [];
const emit = (name, ...args) => (listeners[name] || []).slice().forEach((f) => f(...args));
const model = {{
  get: (k) => traits[k],
  set(k, v) {{ traits[k] = v; emit("change:" + k); }},
  save_changes() {{}},
  on(name, f) {{ (listeners[name] ||= []).push(f); }},
  off(name, f) {{ if (listeners[name]) listeners[name] = listeners[name].filter((g) => g !== f); }},
  send(msg) {{
    window.sent.push(msg);
    // The kernel's answer to a resume, as the real RunView gave it (after a short while).
    if (msg.kind === "resume") setTimeout(() => {{
      traits.message = answer.message; emit("change:message");
      setTimeout(() => {{ traits.run = answer.run; emit("change:run"); }}, 1500);
    }}, 300);
  }},
}};
const code = {code};
const mod = await import(URL.createObjectURL(new Blob([code], {{ type: "text/javascript" }})));
mod.default.render({{ model, el: document.getElementById("root") }});
document.body.dataset.ready = "1";
</script></body></html>
"""


def test_resume_on_a_stale_view_says_why_and_shows_the_run_as_it_is(
    browser: Any, api_server: ApiServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as client:
        paused = client.runs.wait(
            None, "approval", input={"messages": [{"role": "user", "content": "Can we meet on Friday?"}]}
        )
        assert paused.run_id is not None and paused.thread_id is not None
        view = RunView.for_run(client, paused.run_id)  # shown while the run waited
        stale = {k: view.get_state()[k] for k in ("topology", "selected_seq", "state", "prev_state", "run")}
        stale["message"] = ""
        client.runs.create(paused.thread_id, "approval", command={"resume": True})  # from code
        client.runs.join(paused.run_id)
        view._handle_custom_msg({"kind": "resume", "value": True}, [])  # the click, kernel side
        answer = {"message": view.message, "run": view.get_state()["run"]}
    assert answer["message"].startswith("resume failed: the run no longer waits"), answer["message"]
    assert answer["run"]["status"] == "success"

    page_file = tmp_path / "stale.html"
    page_file.write_text(
        PAGE.format(
            css=(STATIC / "widgets.css").read_text(encoding="utf-8"),
            traits=json.dumps(stale),
            answer=json.dumps(answer),
            code=json.dumps((STATIC / "run_view.js").read_text(encoding="utf-8")).replace("</", "<\\/"),
        ),
        encoding="utf-8",
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page: Any = browser.new_page(viewport={"width": 1060, "height": 900})
    try:
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(page_file.as_uri())
        page.wait_for_selector("body[data-ready='1']")
        expect(page.locator(".dg-run-status")).to_have_text("interrupted")
        page.screenshot(path=str(ARTIFACTS / "stale-resume-before.png"))
        page.locator(".dg-resume").click()
        note = page.locator(".dg-interrupt .dg-replay-note")
        expect(note).to_contain_text("no longer waits for an answer")  # not "resuming…" forever
        expect(page.locator(".dg-run-status")).to_have_text("success")
        expect(page.locator(".dg-interrupt")).to_have_count(0)  # nothing left to resume
        page.screenshot(path=str(ARTIFACTS / "stale-resume-after.png"))
        assert [m for m in page.evaluate("window.sent") if m.get("kind") == "resume"] == [
            {"kind": "resume", "value": True}
        ]
    finally:
        page.close()
    assert errors == []
