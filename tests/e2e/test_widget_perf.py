"""A 10,000-event run streamed into the RunView bundle in a real browser (Playwright + Debian
chromium), in the batches the kernel sends (``RunView.append_events`` + ``flush``, Arrow IPC), with
figures: the time to apply each batch (decode + draw, up to the next painted frame), the longest
main-thread task while streaming, how long a hover and a click take to show, and the DOM size.
The figures go to test-artifacts/widgets-perf/figures.json (docs/benchmarks.md records them).

``DURAGRAPH_WIDGET_BUNDLES=/path/to/static/widgets`` measures another build of the bundles (e.g.
an older commit's, for a before/after figure); the assertions still apply."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.client import Event
from duragraph_lab.notebook.widgets import STATIC, RunView
from tests.e2e.widget_page import write_widget_page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "widgets-perf"

BUNDLES = Path(os.environ.get("DURAGRAPH_WIDGET_BUNDLES") or STATIC)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")

#: Events in the run, and per kernel message (RunView coalesces to 10 messages a second: a fast
#: run producing 1,000 events a second gives batches of about 100).
EVENTS = 10_000
BATCH = 100
#: Generous limits for a slow shared machine that still catch a redraw-everything regression.
MAX_BATCH_MS = 200.0
MAX_DOM_NODES = 3_000
MAX_HOVER_MS = 100.0
MAX_CLICK_MS = 150.0

TOPOLOGY: dict[str, Any] = {
    "graph_id": "perf",
    "nodes": [
        {"id": "__start__", "kind": "start"},
        {"id": "agent", "kind": "node", "data": {"name": "agent"}},
        {"id": "tools", "kind": "node", "data": {"name": "tools"}},
        {"id": "sub:i1", "kind": "node", "data": {"name": "i1"}},
        {"id": "sub:i2", "kind": "node", "data": {"name": "i2"}},
        {"id": "__end__", "kind": "end"},
    ],
    "edges": [
        {"source": "__start__", "target": "agent", "conditional": False, "kind": "static"},
        {"source": "agent", "target": "tools", "conditional": True, "kind": "conditional", "data": "call"},
        {"source": "agent", "target": "sub:i1", "conditional": True, "kind": "conditional", "data": "sub"},
        {"source": "agent", "target": "__end__", "conditional": True, "kind": "conditional", "data": "done"},
        {"source": "tools", "target": "agent", "conditional": False, "kind": "static"},
        {"source": "sub:i1", "target": "sub:i2", "conditional": False, "kind": "static"},
        {"source": "sub:i2", "target": "agent", "conditional": False, "kind": "static"},
    ],
}

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>{css}</style></head>
<body style="width: 1040px; margin: 8px"><div id="root"></div>
<script type="module">
window.errors = [];
window.addEventListener("error", (e) => window.errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.errors.push(String(e.reason)));
window.longtasks = [];
try {{
  new PerformanceObserver((list) => {{
    for (const e of list.getEntries()) window.longtasks.push(e.duration);
  }}).observe({{ type: "longtask", buffered: true }});
}} catch (err) {{ window.longtaskError = String(err); }}
const traits = {traits};
const listeners = {{}};
const sent = (window.sent = []);
const emit = (name, ...args) => (listeners[name] || []).slice().forEach((f) => f(...args));
window.model = {{
  get: (k) => traits[k],
  set(k, v) {{ traits[k] = v; emit("change:" + k); }},
  save_changes() {{ sent.push({{ kind: "save", selected_seq: traits.selected_seq, t: performance.now() }}); }},
  on(name, f) {{ (listeners[name] ||= []).push(f); }},
  off(name, f) {{ if (listeners[name]) listeners[name] = listeners[name].filter((g) => g !== f); }},
  send(msg) {{ sent.push(msg); }},
}};
window.emit = emit;
const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
// One kernel message: decode + apply synchronously, then until the next frame is painted.
window.applyBatch = async (b64, reset) => {{
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const t = performance.now();
  emit("msg:custom", {{ kind: "events", reset }}, [new DataView(bytes.buffer)]);
  const sync = performance.now() - t;
  await frame();
  await frame();
  const total = performance.now() - t;
  const drawn = document.querySelector(".dg-timeline");
  return {{ sync, total, draw: Number(drawn && drawn.dataset.drawMs || 0) }};
}};
const code = {code};
const mod = await import(URL.createObjectURL(new Blob([code], {{ type: "text/javascript" }})));
window.cleanup = mod.default.render({{ model: window.model, el: document.getElementById("root") }});
window.ready = true;
</script></body></html>
"""


def _events() -> list[Event]:
    """A long agent loop: step_planned / node_completed pairs over agent, tools and a subgraph
    (namespaced events), a failed attempt retried every 50 steps, state updates."""
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    out: list[Event] = []
    cycle = ["agent", "tools", "agent", "sub:i1", "sub:i2"]
    seq = 0
    step = 0

    def add(kind: str, data: dict[str, Any], node: str | None = None, attempt: int = 1) -> None:
        nonlocal seq
        seq += 1
        out.append(
            Event(
                seq,
                str(seq),
                "run:perf",
                "perf",
                seq,
                kind,
                t0 + dt.timedelta(milliseconds=5 * seq),
                data,
                {},
                node=node,
                step=step,
                attempt=attempt,
                task=data.get("task"),
            )
        )

    add("run_started", {})
    while seq < EVENTS - 1:
        step += 1
        drawn = cycle[step % len(cycle)]
        outer, _, inner = drawn.rpartition(":")
        node = inner or drawn
        ns = f"{outer}:t{step}:1|" if outer else ""
        task = f"{step}.0"
        add("step_planned", {"step": step, "tasks": [{"id": task, "node": node}], "ns": ns})
        start = t0.timestamp() + seq * 0.005  # node runs after it was planned, before it is recorded
        payload = {"task": task, "ns": ns, "update": {"messages": [{"content": "x" * 60}]}}
        if step % 50 == 0:
            add(
                "node_failed",
                {
                    **payload,
                    "error": "boom",
                    "will_retry": True,
                    "started_at": start,
                    "finished_at": start + 0.002,
                },
                node,
            )
        add(
            "node_completed",
            {**payload, "started_at": start, "finished_at": start + 0.004},
            node,
            attempt=2 if step % 50 == 0 else 1,
        )
    add("run_completed", {})
    return out[:EVENTS]


def _kernel_batches(events: list[Event]) -> list[bytes]:
    """What a RunView sends while a run streams: ``append_events`` per batch, ``flush`` per message."""
    view = RunView(TOPOLOGY, [], [], {"run_id": "perf", "status": "running"})
    sent: list[bytes] = []

    def capture(content: Any, buffers: Any = None) -> None:
        sent.extend(bytes(b) for b in buffers or [])

    view.send = capture  # type: ignore[method-assign]  # the comm's transport, not our API
    for i in range(0, len(events), BATCH):
        view.append_events(events[i : i + BATCH])
        view.flush()
    assert view.messages_sent == len(sent) == len(events) // BATCH
    return sent


def test_ten_thousand_event_run_streams_responsively(browser: Any, tmp_path: Path) -> None:
    events = _events()
    assert len(events) == EVENTS
    batches = _kernel_batches(events)
    traits = {
        "topology": TOPOLOGY,
        "status": {},
        "selected_node": "",
        "selected_seq": -1,
        "state": {},
        "prev_state": {},
        "run": {"run_id": "perf", "status": "running"},
        "message": "",
    }
    html = write_widget_page(tmp_path / "perf.html", PAGE, BUNDLES, traits)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.goto(html.as_uri())
        page.wait_for_function("() => window.ready === true", timeout=30_000)
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r()))")
        page.evaluate("() => { window.longtasks.length = 0; }")
        applied: list[dict[str, float]] = []
        for i, buf in enumerate(batches):
            applied.append(
                page.evaluate("([b, r]) => window.applyBatch(b, r)", [base64.b64encode(buf).decode(), i == 0])
            )
        longtasks: list[float] = page.evaluate("() => window.longtasks.slice()")
        dom_nodes = page.evaluate("() => document.getElementById('root').querySelectorAll('*').length")
        drawn = page.evaluate(
            """() => {
              const el = document.getElementById('root');
              const count = (sel) => [...el.querySelectorAll(sel)]
                .reduce((n, r) => n + Number(r.getAttribute('data-count') || 1), 0);
              return { spans: count('.dg-span'), sliderMax: Number(el.querySelector('.dg-replay-range').max) };
            }"""
        )
        # A hover over the middle of the first timeline row: until its payload is shown.
        bar = page.locator(".dg-timeline .dg-span").first
        box = bar.bounding_box()
        assert box is not None
        hover_ms = page.evaluate(
            """([x, y]) => new Promise((resolve) => {
              const t = performance.now();
              const target = document.elementFromPoint(x, y);
              target.dispatchEvent(new MouseEvent('mouseover', { bubbles: true, clientX: x, clientY: y }));
              target.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: x, clientY: y }));
              const shown = () => {
                const tip = document.querySelector('.dg-tooltip');
                const title = target.querySelector('title');
                return (tip && tip.style.display !== 'none' && tip.textContent) || (title && title.textContent);
              };
              const check = () => shown() ? resolve(performance.now() - t) : requestAnimationFrame(check);
              requestAnimationFrame(check);
            })""",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        # A click on it: until the kernel is told and the selection is painted.
        click_ms = page.evaluate(
            """([x, y]) => new Promise((resolve) => {
              const t = performance.now();
              const before = window.sent.length;
              document.elementFromPoint(x, y).dispatchEvent(
                new MouseEvent('click', { bubbles: true, clientX: x, clientY: y }));
              const check = () => (window.sent.length > before
                  && document.querySelector('.dg-timeline .dg-selected'))
                ? resolve(performance.now() - t) : requestAnimationFrame(check);
              requestAnimationFrame(check);
            })""",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        errors = page.evaluate("() => window.errors")
        page.screenshot(path=str(ARTIFACTS / "run_view_10k_streamed.png"), full_page=True)
    finally:
        page.close()

    totals = [a["total"] for a in applied]
    syncs = [a["sync"] for a in applied]
    draws = [a["draw"] for a in applied]
    figures = {
        "events": EVENTS,
        "batches": len(batches),
        "batch_total_ms": {
            "median": statistics.median(totals),
            "p95": sorted(totals)[int(len(totals) * 0.95)],
            "max": max(totals),
            "last": totals[-1],
        },
        "batch_sync_ms": {"median": statistics.median(syncs), "max": max(syncs)},
        "timeline_draw_ms": {"median": statistics.median(draws), "max": max(draws)},
        "slowest_batches": sorted(((round(t, 1), i) for i, t in enumerate(totals)), reverse=True)[:5],
        "longtasks": {"count": len(longtasks), "max_ms": max(longtasks, default=0.0)},
        "hover_ms": hover_ms,
        "click_ms": click_ms,
        "dom_nodes": dom_nodes,
        "spans": drawn["spans"],
    }
    (ARTIFACTS / "figures.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(json.dumps(figures, indent=2))
    assert errors == []
    assert drawn["sliderMax"] == EVENTS - 1
    assert drawn["spans"] == sum(1 for e in events if e.type in ("node_completed", "node_failed"))
    assert dom_nodes < MAX_DOM_NODES, figures
    # Per batch: the typical one well under a frame budget; none more than MAX_BATCH_MS of
    # main-thread work (decode + draw); with waiting for two painted frames on a machine other
    # jobs load (load average 8 on 2 cores seen), p95 under MAX_BATCH_MS and no batch over 2.5x.
    assert statistics.median(totals) < MAX_BATCH_MS / 2, figures
    assert sorted(totals)[int(len(totals) * 0.95)] < MAX_BATCH_MS, figures
    assert max(totals) < 2.5 * MAX_BATCH_MS, figures
    assert max(s + d for s, d in zip(syncs, draws, strict=True)) < MAX_BATCH_MS, figures
    assert hover_ms < MAX_HOVER_MS, figures
    assert click_ms < MAX_CLICK_MS, figures
