"""A ``.env`` file as ``langgraph.json``'s ``env`` names one: ``KEY=VALUE`` lines.

The dialect LangGraph's tooling reads (python-dotenv's): blank lines and ``#`` comments are
skipped, ``export KEY=VALUE`` is ``KEY=VALUE``, values may be single-quoted (literal) or
double-quoted (``\\n``, ``\\t``, ``\\"`` and ``\\\\`` escapes), an unquoted value ends at `` #``,
and ``${NAME}`` / ``${NAME:-default}`` in unquoted and double-quoted values expand to a variable
set earlier in the file or in the process environment. A line that is none of these is an
error naming its number, never skipped silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$")
_EXPAND = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


class EnvFileError(ValueError):
    """A line of the file is not ``KEY=VALUE``."""


def read_env_file(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables ``path`` sets, in file order (``environ``: where ``${NAME}`` looks after the
    file's own earlier variables; default ``os.environ``)."""
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise EnvFileError(f"{path}, line {number}: expected KEY=VALUE, got {line.strip()[:40]!r}")
        key, raw = match.groups()
        found[key] = _value(raw, path, number, {**environ, **found})
    return found


def _value(raw: str, path: Path, number: int, known: Mapping[str, str]) -> str:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = _closing(raw, quote)
        if end < 0:
            raise EnvFileError(f"{path}, line {number}: the value's {quote} is never closed")
        rest = raw[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise EnvFileError(f"{path}, line {number}: unexpected {rest[:20]!r} after the quoted value")
        inner = raw[1:end]
        if quote == "'":
            return inner
        return _expand(re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), inner), known)
    value = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
    return _expand(value, known)


def _closing(raw: str, quote: str) -> int:
    i = 1
    while i < len(raw):
        if raw[i] == "\\" and quote == '"':
            i += 2
            continue
        if raw[i] == quote:
            return i
        i += 1
    return -1


def _expand(value: str, known: Mapping[str, str]) -> str:
    return _EXPAND.sub(lambda m: known.get(m.group(1)) or (m.group(2) or ""), value)
