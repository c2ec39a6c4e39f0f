"""The sync client, generated from the async one: ``duragraph_lab/client/_async/*.py`` rewritten
into ``duragraph_lab/client/_sync/``.

    python duragraph_lab/client/_unasync.py           # (re)write _sync/
    python duragraph_lab/client/_unasync.py --check   # exit 1, naming the files, when _sync/ is stale

Why generate rather than share a core and write two thin transports by hand: the logic is shared
already, without I/O (``_calls``, ``_common``, ``_stream``); what stayed twice was every public
method, its signature and docstring, about sixty of them, and the few lines of glue that send a
call and follow a stream. A mechanical rewrite keeps those in one place, and a signature fixed or a
method added in ``_async/`` reaches ``DuraGraphClient`` by running this. Async is the source
because removing ``async``/``await`` is mechanical and adding them is not. The one step that
differs by more than syntax, decoding a body in a thread so the event loop keeps running, is
written twice by hand in ``_chunks.py`` and mapped by name.

The rewrite is the table of replacements below, then ruff's import sorting and formatter (the
ruff the test suite checks the code with). Whatever the table does not know (``asyncio.gather``,
an async context manager without a sync twin) would leave ``async``, ``await``, ``asyncio`` or an
``Async...`` name behind: generation then fails, naming the line, instead of writing a sync client
that would block or not run. tests/unit/test_client_generated.py fails when ``_sync/`` is not
what this writes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASYNC = HERE / "_async"
SYNC = HERE / "_sync"

#: (pattern, replacement), applied in order, line by line.
RULES: tuple[tuple[str, str], ...] = (
    # Docstrings that say how to use the client.
    (r"\bAn asyncio client\b", "A client"),
    (r"\ban async context manager, or await :meth:`close`", "a context manager, or call :meth:`close`"),
    # Syntax.
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"^import asyncio$", "import time"),
    (r"\basyncio\.sleep\(", "time.sleep("),
    # httpx's twins.
    (r"\bhttpx\.AsyncClient\b", "httpx.Client"),
    (r"\bhttpx\.AsyncBaseTransport\b", "httpx.BaseTransport"),
    (r"\.aclose\(", ".close("),
    (r"\.aread\(", ".read("),
    (r"\.aiter_bytes\(", ".iter_bytes("),
    # Ours.
    (r"\bduragraph_lab\.client\._async\b", "duragraph_lab.client._sync"),
    (r"\bAsyncDuraGraphClient\b", "DuraGraphClient"),
    (r"\baread_chunked\b", "read_chunked"),
)
_RULES = [(re.compile(pattern), replacement) for pattern, replacement in RULES]
#: What must not survive the rewrite.
_LEFT_BEHIND = re.compile(r"\basync\b|\bawait\b|\basyncio\b|\bAsync[A-Z]\w*|\ba(?:read|iter|close)\w*\(")

_PACKAGE_DOC = '''"""The sync client, generated from ``duragraph_lab.client._async`` by
``python duragraph_lab/client/_unasync.py``: edit the async files, then run that."""
'''


class GenerationError(Exception):
    """The async source holds something the rewrite does not know how to make sync."""


def _header(source: Path) -> str:
    relative = source.relative_to(HERE.parents[1]).as_posix()
    return f"# Generated from {relative} by `python duragraph_lab/client/_unasync.py`: do not edit.\n"


def unasync(text: str, *, name: str = "<source>") -> str:
    """The sync rewrite of async source ``text`` (before sorting imports and formatting)."""
    out = []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        for pattern, replacement in _RULES:
            line = pattern.sub(replacement, line)
        left = _LEFT_BEHIND.search(line)
        if left:
            raise GenerationError(f"{name}:{number}: no sync rewrite for {left.group(0)!r}: {line.strip()}")
        out.append(line)
    return "".join(out)


def _ruff(args: list[str], text: str, target: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(target), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise GenerationError(f"ruff {' '.join(args)} failed on {target}:\n{done.stderr}{done.stdout}")
    return done.stdout


def render(source: Path) -> str:
    """The generated twin of ``_async/<name>`` (for ``_sync/<name>``), formatted."""
    target = SYNC / source.name
    text = _header(source) + unasync(source.read_text(), name=str(source))
    # Imports sorted (first-party said outright: ruff would guess from the files on disk, and
    # _sync/ may not exist yet), and ``for x in xs: yield x`` (async generators cannot
    # ``yield from``) made ``yield from xs``, as the lint rules want it in sync code.
    fixes = ["--select", "I,UP028", "--fix", "--unsafe-fixes"]
    first_party = ["--config", "lint.isort.known-first-party = ['duragraph_lab']"]
    text = _ruff(["check", *fixes, *first_party, "--quiet"], text, target)
    return _ruff(["format", "--quiet"], text, target)


def expected() -> dict[str, str]:
    """Every file of ``_sync/`` and what it should hold."""
    out = {"__init__.py": _PACKAGE_DOC}
    for source in sorted(ASYNC.glob("*.py")):
        if source.name != "__init__.py":
            out[source.name] = render(source)
    return out


def _read(sync_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sync_dir.glob("*.py")} if sync_dir.is_dir() else {}


def _differ(want: dict[str, str], have: dict[str, str]) -> list[str]:
    return sorted(name for name in want.keys() | have.keys() if want.get(name) != have.get(name))


def stale(sync_dir: Path = SYNC) -> list[str]:
    """The files of ``sync_dir`` that differ from what would be generated (or are missing, or
    extra)."""
    return _differ(expected(), _read(sync_dir))


def write(sync_dir: Path = SYNC) -> list[str]:
    """Rewrite ``sync_dir``; the names of the files that changed."""
    want = expected()
    changed = _differ(want, _read(sync_dir))
    sync_dir.mkdir(exist_ok=True)
    for name in changed:
        if name in want:
            (sync_dir / name).write_text(want[name])
        else:
            (sync_dir / name).unlink()
    return changed


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        files = stale()
        for name in files:
            print(f"stale: {(SYNC / name).relative_to(HERE.parents[1])}")
        return 1 if files else 0
    if argv:
        print("usage: python duragraph_lab/client/_unasync.py [--check]", file=sys.stderr)
        return 2
    for name in write():
        print(f"wrote {(SYNC / name).relative_to(HERE.parents[1])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
