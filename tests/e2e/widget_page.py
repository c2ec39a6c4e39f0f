"""A plain HTML page that renders one widget bundle with a minimal anywidget model, for the
browser tests that drive the widgets without a kernel."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any


def write_widget_page(
    path: Path, template: str, bundles: Path, traits: dict[str, Any], events: bytes = b""
) -> Path:
    """Fill ``template`` (``{css}``, ``{traits}``, ``{code}`` and, for a page that answers the
    view's "ready" with the run's events, ``{events}``: an Arrow IPC stream as base64) with the
    bundles' CSS, the traits as JSON and the ``run_view`` bundle as a string literal (``</``
    escaped for the script tag)."""
    path.write_text(
        template.format(
            css=(bundles / "widgets.css").read_text(encoding="utf-8"),
            traits=json.dumps(traits),
            code=json.dumps((bundles / "run_view.js").read_text(encoding="utf-8")).replace("</", "<\\/"),
            events=base64.b64encode(events).decode(),
        ),
        encoding="utf-8",
    )
    return path


#: A page for ``write_widget_page`` that renders the ``run_view`` bundle on a stand-in model: the
#: view's "ready" is answered with ``{events}``; ``window.setTrait(name, value)`` is a trait change
#: from the kernel and ``window.sendEvents(base64)`` a live batch of events; ``window.sent`` holds
#: what the view sent, ``window.errors`` what went wrong.
LIVE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>{css}</style></head>
<body style="width: 1040px; margin: 8px"><div id="root"></div>
<script type="module">
window.errors = [];
window.sent = [];
window.addEventListener("error", (e) => window.errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.errors.push(String(e.reason)));
const traits = (window.traits = {traits});
const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const listeners = {{}};
const emit = (name, ...args) => (listeners[name] || []).slice().forEach((f) => f(...args));
window.setTrait = (k, v) => {{ traits[k] = v; emit("change:" + k); }};
window.sendEvents = (b64, reset = false) => emit("msg:custom", {{ kind: "events", reset }}, [new DataView(bytes(b64).buffer)]);
const model = {{
  get: (k) => traits[k],
  set(k, v) {{ traits[k] = v; emit("change:" + k); }},
  save_changes() {{ window.sent.push({{ kind: "save", selected_seq: traits.selected_seq }}); }},
  on(name, f) {{ (listeners[name] ||= []).push(f); }},
  off(name, f) {{ if (listeners[name]) listeners[name] = listeners[name].filter((g) => g !== f); }},
  send(msg) {{
    window.sent.push(msg);
    if (msg.kind === "ready" && "{events}") setTimeout(() => window.sendEvents("{events}", true), 0);
  }},
}};
const code = {code};
const mod = await import(URL.createObjectURL(new Blob([code], {{ type: "text/javascript" }})));
mod.default.render({{ model, el: document.getElementById("root") }});
window.ready = true;
</script></body></html>
"""
