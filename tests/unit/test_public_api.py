"""The top-level package re-exports the graph API and the notebook's DataFrame views lazily; the
name lists must agree."""

from __future__ import annotations

import subprocess
import sys

import pytest

import duragraph_lab
import duragraph_lab.graph

FRAMES_API = {"events_frame", "spans_frame"}


def test_top_level_exports_exactly_the_graph_api_and_the_frames() -> None:
    assert set(duragraph_lab.__all__) - {"__version__"} == set(duragraph_lab.graph.__all__) | FRAMES_API
    for name in duragraph_lab.graph.__all__:
        assert getattr(duragraph_lab, name) is getattr(duragraph_lab.graph, name)


def test_top_level_frames_are_the_notebook_ones() -> None:
    import duragraph_lab.notebook.frames

    for name in FRAMES_API:
        assert getattr(duragraph_lab, name) is getattr(duragraph_lab.notebook.frames, name)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        duragraph_lab.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_does_not_import_the_graph_api() -> None:
    # The Jupyter server imports duragraph_lab to find the extension; that must stay cheap.
    heavy = (
        "duragraph_lab.graph",
        "duragraph_lab.notebook.frames",
        "duragraph_lab.client",
        "pandas",
        "pyarrow",
    )
    code = f"import sys, duragraph_lab; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
