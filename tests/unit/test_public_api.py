"""The top-level package re-exports the graph API lazily; the two name lists must agree."""

from __future__ import annotations

import subprocess
import sys

import pytest

import duragraph_lab
import duragraph_lab.graph


def test_top_level_exports_exactly_the_graph_api() -> None:
    assert set(duragraph_lab.__all__) - {"__version__"} == set(duragraph_lab.graph.__all__)
    for name in duragraph_lab.graph.__all__:
        assert getattr(duragraph_lab, name) is getattr(duragraph_lab.graph, name)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        duragraph_lab.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_does_not_import_the_graph_api() -> None:
    # The Jupyter server imports duragraph_lab to find the extension; that must stay cheap.
    code = "import sys, duragraph_lab; print('duragraph_lab.graph' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"
