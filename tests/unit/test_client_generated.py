"""The sync client is generated from the async one (duragraph_lab/client/_unasync.py): _sync/ holds
exactly what the generator writes, the generator refuses what it cannot make sync, and the two
clients end up with the same methods, signatures and docstrings."""

from __future__ import annotations

import asyncio
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab.client import AsyncDuraGraphClient, DuraGraphClient, _unasync
from duragraph_lab.client._unasync import GenerationError, unasync

RESOURCES = ("assistants", "threads", "runs", "datasets", "experiments")


def test_the_sync_client_is_what_the_generator_writes() -> None:
    assert _unasync.stale() == [], "_sync/ is stale: run python duragraph_lab/client/_unasync.py"


def test_a_stale_file_is_found_and_rewritten(tmp_path: Path) -> None:
    copy = tmp_path / "_sync"
    assert _unasync.write(copy) == sorted(p.name for p in _unasync.SYNC.glob("*.py"))
    assert _unasync.stale(copy) == []
    runs = copy / "runs.py"
    runs.write_text(runs.read_text().replace("page by page", "a page at a time"))
    (copy / "threads.py").unlink()
    (copy / "leftover.py").write_text("")
    assert _unasync.stale(copy) == ["leftover.py", "runs.py", "threads.py"]
    assert _unasync.write(copy) == ["leftover.py", "runs.py", "threads.py"]
    assert _unasync.stale(copy) == [] and not (copy / "leftover.py").exists()


def test_the_rewrite() -> None:
    source = (
        "import asyncio\n"
        "from duragraph_lab.client._async.runs import Runs\n"
        "class C:\n"
        '    """An asyncio client. Use it as an async context manager, or await :meth:`close`."""\n'
        "    async def parts(self, client: AsyncDuraGraphClient) -> AsyncIterator[bytes]:\n"
        "        async with client._http.stream('GET', 'x') as response:\n"
        "            await response.aread()\n"
        "            async for chunk in response.aiter_bytes():\n"
        "                yield chunk\n"
        "        await asyncio.sleep(await aread_chunked(response, list))\n"
        "    async def __aexit__(self) -> None:\n"
        "        await self._http.aclose()\n"
    )
    assert unasync(source) == (
        "import time\n"
        "from duragraph_lab.client._sync.runs import Runs\n"
        "class C:\n"
        '    """A client. Use it as a context manager, or call :meth:`close`."""\n'
        "    def parts(self, client: DuraGraphClient) -> Iterator[bytes]:\n"
        "        with client._http.stream('GET', 'x') as response:\n"
        "            response.read()\n"
        "            for chunk in response.iter_bytes():\n"
        "                yield chunk\n"
        "        time.sleep(read_chunked(response, list))\n"
        "    def __exit__(self) -> None:\n"
        "        self._http.close()\n"
    )


@pytest.mark.parametrize(
    "line",
    [
        "results = await asyncio.gather(a(), b())",
        "async with asyncio.timeout(1):",
        "transport = httpx.AsyncHTTPTransport()",
        "await response.aiter_lines()",
        '"""Await the answer in an async test."""',
    ],
)
def test_the_rewrite_refuses_what_it_cannot_make_sync(line: str) -> None:
    with pytest.raises(GenerationError, match=r"<source>:2: no sync rewrite"):
        unasync(f"x = 1\n{line}\n")


def _kind(function: Any) -> str:
    if inspect.isasyncgenfunction(function) or inspect.isgeneratorfunction(function):
        return "generator"
    return "call"


def _surface(obj: Any) -> dict[str, tuple[str, str, str]]:
    """Every public method of ``obj``: its kind, signature and docstring, in sync terms."""

    def sync_terms(text: str) -> str:
        for pattern, replacement in _unasync.RULES:
            text = re.sub(pattern, replacement, text, flags=re.M)
        return text

    out = {}
    for name, function in inspect.getmembers(type(obj), inspect.isfunction):
        if name.startswith("_") and name not in (
            "__init__",
            "__aenter__",
            "__aexit__",
            "__enter__",
            "__exit__",
        ):
            continue
        signature, doc = str(inspect.signature(function)), inspect.getdoc(function) or ""
        out[sync_terms(name)] = (_kind(function), sync_terms(signature), sync_terms(doc))
    return out


def test_both_clients_have_the_same_api() -> None:
    sync, aio = DuraGraphClient("http://127.0.0.1:9/"), AsyncDuraGraphClient("http://127.0.0.1:9/")
    pairs = [(sync, aio), *((getattr(sync, r), getattr(aio, r)) for r in RESOURCES)]
    for plain, awaited in pairs:
        assert type(plain).__name__ == type(awaited).__name__.removeprefix("Async")
        assert _surface(plain) == _surface(awaited), type(plain).__name__
        doc = inspect.getdoc(type(awaited)) or ""
        for pattern, replacement in _unasync.RULES:
            doc = re.sub(pattern, replacement, doc)
        assert (inspect.getdoc(type(plain)) or "") == doc
    assert len(_surface(sync)) == 12 and len(_surface(sync.runs)) == 22
    sync.close()
    asyncio.run(aio.close())
