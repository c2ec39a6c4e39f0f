"""The server defers ``rfc3987_syntax`` (an Earley parser built at import, 1.5-2 s of CPU per
start) until something uses it; what uses it still gets the real thing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("rfc3987_syntax")

PROBE = textwrap.dedent(
    """
    import sys
    from duragraph_lab.runtime.deferred_imports import defer_rfc3987_syntax

    defer_rfc3987_syntax()
    import jsonschema  # what Jupyter Server imports through jupyter_events
    import duragraph_lab.api.extension  # the whole server side

    print("lark" in sys.modules, "rfc3987_syntax.syntax_helpers" in sys.modules)
    checker = jsonschema.FormatChecker()
    print(checker.conforms("http://example.com/\u00e4", "iri"), checker.conforms("not an iri", "iri"))
    print(sys.modules["rfc3987_syntax"].is_valid_syntax("iri", "urn:x"), "lark" in sys.modules)
    """
)


def test_the_parser_is_built_only_when_an_iri_is_checked() -> None:
    # A fresh interpreter: this one may have imported jsonschema already (schemathesis does).
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["False False", "True False", "True True"], out
