"""The official ``langgraph-sdk`` client pointed at the session's API server (``api_server``)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient

from tests.apiserver import ApiServer
from tests.conformance.langgraph_server import LANGGRAPH_GRAPHS, serving
from tests.devserver import DevServer


@pytest.fixture
async def client(api_server: ApiServer) -> AsyncIterator[LangGraphClient]:
    async with get_client(url=api_server.base, headers=api_server.headers, timeout=60) as sdk:
        yield sdk


@pytest.fixture
def sync_client(api_server: ApiServer) -> Iterator[SyncLangGraphClient]:
    with get_sync_client(url=api_server.base, headers=api_server.headers, timeout=60) as sdk:
        yield sdk


@pytest.fixture(scope="package")
def lg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """One `serve` whose worker runs the LangGraph graphs of tests/lg_graphs.py, for the
    test_sdk_langgraph_* modules (each test uses its own threads; one start instead of one per
    module: a server start is seconds of CPU)."""
    with serving(tmp_path_factory.mktemp("lg") / "data", LANGGRAPH_GRAPHS) as dev:
        yield dev


# --- capability report (tests/conformance/report.py) -------------------------------------------------
#: call → [[test node id, outcome, client]] of every test that declares the call with ``sdk(...)``.
_OUTCOMES: dict[str, list[list[str]]] = {}


def _client_of(item: pytest.Item, call: str) -> str:
    """Which client a test drove: ``js`` for the JavaScript SDK, else its marker's ``client=``, else
    ``async`` for a coroutine test and ``sync`` for a plain one (the conformance tests use the async
    client in coroutines and the sync client, or RemoteGraph's sync methods, in plain functions)."""
    if call.startswith("js:"):
        return "js"
    for marker in item.iter_markers("sdk"):
        if "client" in marker.kwargs:
            return str(marker.kwargs["client"])
    return "async" if inspect.iscoroutinefunction(getattr(item, "obj", None)) else "sync"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    # One outcome per test: the call phase's, or the setup's when the test never ran.
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        for marker in item.iter_markers("sdk"):
            for sdk_call in marker.args:
                # An expected failure (xfail) is told apart from a skip: its row says it fails.
                result = "xfailed" if hasattr(report, "wasxfail") and report.skipped else report.outcome
                entry = [item.nodeid, result, _client_of(item, sdk_call)]
                _OUTCOMES.setdefault(sdk_call, []).append(entry)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _OUTCOMES:
        return
    import datetime
    import json

    from tests.conformance.report import results_path, versions

    data = {"calls": _OUTCOMES, "versions": versions(), "date": datetime.date.today().isoformat()}
    results_path().write_text(json.dumps(data, indent=1))
