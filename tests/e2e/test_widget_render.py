"""The widget bundles in a real browser (Debian's headless chromium, driven by Playwright in real
time): each bundle is loaded the way anywidget loads it (an ES module from a blob URL) into a plain
page with a minimal stand-in for the anywidget model, fed a real run's traits and Arrow event batch,
and the page reports what it drew. Screenshots go to test-artifacts/."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.client import DuraGraphClient
from duragraph_lab.notebook.widgets import STATIC, RunView, events_to_arrow
from tests.apiserver import ApiServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "widgets"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>{css}</style></head>
<body style="width: 1040px; margin: 8px">
<div id="root"></div>
<pre id="result" hidden>pending</pre>
<script type="module">
const errors = [];
window.addEventListener("error", (e) => errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => errors.push(String(e.reason)));
const traits = {traits};
const events = Uint8Array.from(atob("{events}"), (c) => c.charCodeAt(0));
const listeners = {{}};
const sent = [];
const timings = {{}};
const emit = (name, ...args) => (listeners[name] || []).slice().forEach((f) => f(...args));
const model = {{
  get: (k) => traits[k],
  set(k, v) {{ traits[k] = v; emit("change:" + k); }},
  save_changes() {{ sent.push({{ kind: "save", selected_seq: traits.selected_seq }}); }},
  on(name, f) {{ (listeners[name] ||= []).push(f); }},
  off(name, f) {{ if (listeners[name]) listeners[name] = listeners[name].filter((g) => g !== f); }},
  send(msg) {{
    sent.push(msg);
    if (msg.kind === "ready") setTimeout(() => {{
      const t = performance.now();
      emit("msg:custom", {{ kind: "events", reset: true }}, [new DataView(events.buffer)]);
      timings.decodeMs = performance.now() - t;
      requestAnimationFrame(() => requestAnimationFrame(() => {{ timings.drawnMs = performance.now() - t; }}));
    }}, 0);
  }},
}};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const waitFor = async (cond, ms = 30000) => {{
  for (let waited = 0; !cond() && waited < ms; waited += 20) await sleep(20);
}};
const out = document.getElementById("result");
try {{
  const code = {code};
  const mod = await import(URL.createObjectURL(new Blob([code], {{ type: "text/javascript" }})));
  const el = document.getElementById("root");
  const cleanup = mod.default.render({{ model, el }});
  // Drawn: two animation frames after the event batch arrived (none is sent without a "ready").
  await waitFor(() => timings.drawnMs !== undefined || !sent.some((m) => m.kind === "ready"));
  const result = {{
    nodes: [...el.querySelectorAll("g[data-node]")].map((g) => [g.dataset.node, g.dataset.status]),
    edgeLabels: [...el.querySelectorAll(".dg-edge-label")].map((t) => t.textContent),
    spans: [...el.querySelectorAll(".dg-span")].reduce((n, r) => n + Number(r.dataset.count || 1), 0),
    marks: el.querySelectorAll(".dg-mark").length,
    sliderMax: el.querySelector(".dg-replay-range")?.max ?? null,
    label: el.querySelector(".dg-replay-label")?.textContent ?? null,
    diffRows: el.querySelectorAll(".dg-diff tr").length,
    runStatus: el.querySelector(".dg-run-status")?.textContent ?? null,
  }};
  // The picture is of this drawing: the test takes it now, then lets the page go on to the
  // clicks (which ask a kernel for the state at another event; there is none here to answer).
  out.dataset.drawn = "1";
  await waitFor(() => window.__pictured === true, 60000);
  const slider = el.querySelector(".dg-replay-range");
  if (slider) {{
    slider.value = "2";
    slider.dispatchEvent(new Event("input"));
    await waitFor(() => sent.some((m) => m.kind === "save"));
  }}
  const span = el.querySelector(".dg-span");
  if (span) span.dispatchEvent(new MouseEvent("click", {{ bubbles: true }}));
  result.clickedSeq = span ? Number(span.getAttribute("data-seq")) : null;
  result.sent = sent;
  result.errors = errors;
  result.cleanup = typeof cleanup;
  result.timings = timings;
  out.textContent = JSON.stringify(result);
}} catch (err) {{
  out.textContent = JSON.stringify({{ fatal: String(err && err.stack || err), errors }});
}}
</script></body></html>
"""


def render(
    browser: Any, tmp_path: Path, name: str, traits: dict[str, Any], events: bytes, bundle: str | None = None
) -> dict[str, Any]:
    page_html = PAGE.format(
        css=(STATIC / "widgets.css").read_text(encoding="utf-8"),
        traits=json.dumps(traits),
        events=base64.b64encode(events).decode(),
        code=json.dumps((STATIC / f"{bundle or name}.js").read_text(encoding="utf-8")).replace("</", "<\\/"),
    )
    html = tmp_path / f"{name}.html"
    html.write_text(page_html, encoding="utf-8")
    # Real time, not chromium's --virtual-time-budget: under virtual time the timers race ahead and
    # animation frames barely come (two in a whole minute of virtual time), so what the widgets draw
    # on a frame was read undrawn whenever the machine was loaded.
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.goto(html.as_uri())
        page.wait_for_function(
            "document.getElementById('result').dataset.drawn === '1'"
            " || document.getElementById('result').textContent !== 'pending'",
            timeout=60_000,
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        page.evaluate("window.__pictured = true")
        page.wait_for_function("document.getElementById('result').textContent !== 'pending'", timeout=60_000)
        text = page.locator("#result").text_content() or ""
    finally:
        page.close()
    result: dict[str, Any] = json.loads(text)
    assert "fatal" not in result, result
    assert result["errors"] == []
    return result


@pytest.fixture(scope="module")
def chat_view(api_server: ApiServer) -> Iterator[RunView]:
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as client:
        result = client.runs.wait(
            None,
            "chat",
            input={"messages": [{"role": "user", "content": "what is 6 * 7"}]},
            on_completion="keep",
        )
        assert result.run_id is not None
        yield RunView.for_run(client, result.run_id)


def _traits(view: RunView) -> dict[str, Any]:
    keep = ("topology", "selected_node", "selected_seq", "state", "prev_state", "state_at", "run", "message")
    state = view.get_state()
    return {k: state[k] for k in keep}


def test_run_view_renders_graph_timeline_and_replay(browser: Any, chat_view: RunView, tmp_path: Path) -> None:
    events = chat_view.events
    # Selected: the last node's completion, where the state is the one after that node.
    last_node = [e for e in events if e.type == "node_completed"][-1]
    chat_view.selected_seq = last_node.seq
    assert chat_view.state_at["seq"] == last_node.seq and chat_view.state != chat_view.prev_state
    result = render(browser, tmp_path, "run_view", _traits(chat_view), events_to_arrow(events))
    chat_view.selected_seq = -1
    drawn = dict(result["nodes"])
    assert set(drawn) == {n["id"] for n in chat_view.topology["nodes"]}
    executed = {e.node for e in events if e.type == "node_completed"}
    # At the last node's completion: every node that ran is done, END not reached yet.
    assert {drawn[n] for n in executed | {"__start__"}} == {"done"} and drawn["__end__"] == "pending"
    labels = [e.get("data") for e in chat_view.topology["edges"] if e.get("conditional") and e.get("data")]
    assert all(label in result["edgeLabels"] for label in labels if label not in drawn)
    assert result["spans"] == sum(1 for e in events if e.type in ("node_completed", "node_failed"))
    assert result["marks"] > 0
    assert int(result["sliderMax"]) == len(events) - 1
    assert result["label"].startswith(f"#{last_node.seq} node_completed")
    assert result["runStatus"] == "success"
    assert result["diffRows"] > 0  # the node changed the state
    assert result["sent"][0] == {"kind": "ready"}
    saved = [m["selected_seq"] for m in result["sent"] if m.get("kind") == "save"]
    assert saved == [events[2].seq, result["clickedSeq"]]  # the slider, then a click on a span
    assert result["cleanup"] == "function"


def test_graph_view_alone(browser: Any, chat_view: RunView, tmp_path: Path) -> None:
    traits = {"topology": chat_view.topology, "status": {"__start__": "done"}, "selected_node": ""}
    result = render(browser, tmp_path, "graph_view", traits, events_to_arrow([]))
    drawn = dict(result["nodes"])
    assert drawn["__start__"] == "done"
    assert {s for n, s in drawn.items() if n != "__start__"} == {"pending"}
    assert result["spans"] == 0 and result["sliderMax"] is None


def test_ten_thousand_events_stay_responsive(browser: Any, chat_view: RunView, tmp_path: Path) -> None:
    """A 10,000-event run: one Arrow batch, decoded and drawn (graph, 5,000 spans, slider)."""
    import datetime as dt

    from duragraph_lab.client import Event

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    events = []
    for i in range(1, 10_001):
        node = "agent" if i % 4 in (1, 2) else "tools"
        kind = "step_planned" if i % 2 else "node_completed"
        data: dict[str, Any] = {"step": i // 2, "node": node, "update": {"messages": [{"content": "x" * 40}]}}
        if kind == "node_completed":
            data |= {
                "task": f"{i // 2}.0",
                "attempt": 1,
                # Each node ran for the 4 ms before its event was recorded (as a real run's).
                "started_at": t0.timestamp() + i / 100 - 0.004,
                "finished_at": t0.timestamp() + i / 100,
            }
        else:
            data = {"step": i // 2, "tasks": [{"id": f"{i // 2}.0", "node": node}]}
        events.append(
            Event(
                i,
                str(i),
                "run:r",
                "r",
                i,
                kind,
                t0 + dt.timedelta(milliseconds=10 * i),
                data,
                {},
                node=node if kind == "node_completed" else None,
                step=i // 2,
                attempt=1,
                task=data.get("task"),
            )
        )
    buf = events_to_arrow(events)
    # The header and the replay's state are this run's: no state read for it (no kernel here).
    traits = _traits(chat_view) | {
        "run": {"run_id": "r", "thread_id": "t", "graph_id": "chat", "status": "success", "input": None},
        "state": {},
        "prev_state": {},
        "state_at": {},
    }
    result = render(browser, tmp_path, "run_view_10k", traits, buf, bundle="run_view")
    assert result["spans"] == 5_000
    assert int(result["sliderMax"]) == 9_999
    assert result["timings"]["drawnMs"] is not None  # drawn: two frames after the batch arrived
