"""Optional parts of the install: what each extra brings, and one clear error when it is missing.

``pip install duragraph-lab`` is the engine, the worker and the client; the extras add the rest
(see pyproject.toml): ``notebook`` (widgets, DataFrames, eval notebooks), ``server``
(``duragraph-lab serve``, embedded PostgreSQL and NATS), ``lab`` (``duragraph-lab dev``) and
``all``. Code that needs an extra imports through :func:`require`, so a lighter install says
what to add instead of failing with a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from duragraph_lab.domain.errors import DuraGraphError


class MissingExtra(DuraGraphError, ImportError):
    """A feature needs a package of an extra that is not installed."""

    code = "missing_extra"

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs {module.split('.')[0]}, which this install lacks: "
            f"pip install 'duragraph-lab[{extra}]'"
        )
        self.module = module
        self.extra = extra


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtra` naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is not None and module.split(".")[0] != err.name.split(".")[0]:
            raise  # the module is there but one of its own imports is broken: not ours to explain
        raise MissingExtra(module, extra, purpose) from None


def check(modules: tuple[str, ...], extra: str, purpose: str) -> None:
    """Raise :class:`MissingExtra` unless every module can be found (none is imported)."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(module, extra, purpose)
