"""Options that ``dev`` and ``serve`` pass through to Jupyter, checked before anything starts.

Importing Jupyter to ask it takes seconds, and a typo must be caught before PostgreSQL and NATS
start, so Jupyter's flags and aliases are listed here (tests/unit/test_cli_options.py checks the
list still covers those of the installed JupyterLab and jupyter_server). Traitlets options
(``--ServerApp.base_url=/x/``, ``--DuraGraphApp.graphs=...``) are passed as they are: Jupyter
reads any class's configuration.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Jupyter's boolean flags (``--no-browser``), of jupyter_server's ServerApp and JupyterLab's LabApp.
JUPYTER_FLAGS = frozenset(
    {
        "allow-root",
        "autoreload",
        "collaborative",
        "core-mode",
        "custom-css",
        "debug",
        "dev-mode",
        "expose-app-in-browser",
        "extensions-in-dev-mode",
        "generate-config",
        "no-browser",
        "no-script",
        "script",
        "show-config",
        "show-config-json",
        "skip-dev-build",
        "splice-source",
        "watch",
        "y",
    }
)
#: Jupyter's aliases, options that take a value (``--notebook-dir /x`` or ``--notebook-dir=/x``).
JUPYTER_ALIASES = frozenset(
    {
        "app-dir",
        "browser",
        "certfile",
        "client-ca",
        "config",
        "gateway-url",
        "ip",
        "keyfile",
        "log-level",
        "notebook-dir",
        "port",
        "port-retries",
        "preferred-dir",
        "pylab",
        "sock",
        "sock-mode",
        "transport",
        "watch",  # both: JupyterLab's --watch flag, and an alias of its own
    }
)
_TRAIT = re.compile(r"^--[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


@dataclass(frozen=True, slots=True)
class BadOption:
    option: str
    suggestion: str | None

    def __str__(self) -> str:
        hint = f" (did you mean {self.suggestion}?)" if self.suggestion else ""
        return f"unknown option {self.option}{hint}"


def unknown_options(extra: Sequence[str], own: Iterable[str], *, positionals: bool) -> list[BadOption]:
    """What in ``extra`` (the arguments our parser did not take) neither Jupyter nor we know."""
    own_names = sorted(own)
    known = [
        *own_names,
        *(f"--{f}" for f in sorted(JUPYTER_FLAGS)),
        *(f"--{a}" for a in sorted(JUPYTER_ALIASES)),
    ]
    bad: list[BadOption] = []
    i = 0
    while i < len(extra):
        arg = extra[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            if not positionals:
                bad.append(BadOption(arg, None))
            continue
        name, has_value, _ = arg.partition("=")
        bare = name.lstrip("-")
        if _TRAIT.match(name):
            if not has_value and i < len(extra) and not extra[i].startswith("-"):
                i += 1  # `--Class.trait value`
            continue
        if bare in JUPYTER_FLAGS and not has_value:
            continue
        if bare in JUPYTER_ALIASES:
            if not has_value and i < len(extra):
                i += 1  # `--alias value`
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        bad.append(BadOption(name, close[0] if close else None))
    return bad
