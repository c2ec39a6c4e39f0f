"""Deferring an import the Jupyter server makes at start-up for a check it never runs.

Jupyter Server imports ``jupyter_events``, which imports ``jsonschema``; when ``rfc3987_syntax`` is
installed (``jsonschema[format-nongpl]``, which ``jupyter_events`` requires), ``jsonschema``
imports it for its ``iri`` format checks, and importing it builds an Earley parser of RFC 3987's
grammar: 1.5-2 s of CPU at every ``dev``/``serve`` start, for a format no schema of ours or
Jupyter's uses. A stand-in module takes its place until something calls it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_NAME = "rfc3987_syntax"


def defer_rfc3987_syntax() -> None:
    """Put a stand-in for ``rfc3987_syntax`` in ``sys.modules`` that imports the real module
    the first time it is used (a call of ``is_valid_syntax``, or any other attribute). Does
    nothing when the module is already imported or not installed."""
    if _NAME in sys.modules or importlib.util.find_spec(_NAME) is None:
        return
    stand_in = types.ModuleType(_NAME, "Stand-in: imports rfc3987_syntax on first use.")

    def real() -> types.ModuleType:
        if sys.modules.get(_NAME) is stand_in:
            del sys.modules[_NAME]
        return importlib.import_module(_NAME)

    def is_valid_syntax(term: str, value: str) -> Any:
        # What jsonschema imports by name (``from rfc3987_syntax import is_valid_syntax``).
        return real().is_valid_syntax(term, value)

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            # The import system and repr() probe for __path__, __file__, ...: not a use.
            raise AttributeError(name)
        return getattr(real(), name)

    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    stand_in.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[_NAME] = stand_in
