"""Errors the engine raises or records. Recorded errors become ``run_failed.error``."""

from __future__ import annotations

import traceback
from typing import Any

from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.domain.reducers import InvalidUpdate


class LeaseLost(DuraGraphError):
    """This worker no longer holds the run's lease; it must stop without writing anything."""

    code = "lease_lost"


class GraphRecursionError(DuraGraphError):
    code = "recursion_limit"


class NodeTimeoutError(TimeoutError):
    """A node ran longer than its ``timeout``."""


class InvalidUpdateError(InvalidUpdate):
    """A node returned something that is not a valid state update, or a router an unknown node."""


class RunNotFound(DuraGraphError):
    code = "run_not_found"


def error_record(err: BaseException, **where: Any) -> dict[str, Any]:
    """What a failure looks like in the event log: type, message, where, and a short traceback."""
    tb = "".join(traceback.format_exception(type(err), err, err.__traceback__, limit=8))
    return {"type": type(err).__name__, "message": str(err), **where, "traceback": tb[-4000:]}
