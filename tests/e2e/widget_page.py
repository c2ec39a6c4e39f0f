"""A plain HTML page that renders one widget bundle with a minimal anywidget model, for the
browser tests that drive the widgets without a kernel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_widget_page(path: Path, template: str, bundles: Path, traits: dict[str, Any]) -> Path:
    """Fill ``template`` (``{css}``, ``{traits}``, ``{code}``) with the bundles' CSS, the traits as
    JSON and the ``run_view`` bundle as a string literal (``</`` escaped for the script tag)."""
    path.write_text(
        template.format(
            css=(bundles / "widgets.css").read_text(encoding="utf-8"),
            traits=json.dumps(traits),
            code=json.dumps((bundles / "run_view.js").read_text(encoding="utf-8")).replace("</", "<\\/"),
        ),
        encoding="utf-8",
    )
    return path
