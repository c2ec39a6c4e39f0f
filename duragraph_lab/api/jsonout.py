"""JSON for API responses: what LangGraph clients expect, from whatever the state holds (see
:mod:`duragraph_lab.domain.plain`, which the control plane uses too)."""

from __future__ import annotations

import json
from typing import Any

from duragraph_lab.domain.plain import iso, plain

__all__ = ["dumps", "iso", "plain"]


def dumps(value: Any) -> str:
    return json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
