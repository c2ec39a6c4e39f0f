"""The official ``langgraph-sdk`` client pointed at the session's API server (``api_server``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient

from tests.apiserver import ApiServer


@pytest.fixture
async def client(api_server: ApiServer) -> AsyncIterator[LangGraphClient]:
    async with get_client(url=api_server.base, headers=api_server.headers, timeout=60) as sdk:
        yield sdk


@pytest.fixture
def sync_client(api_server: ApiServer) -> Iterator[SyncLangGraphClient]:
    with get_sync_client(url=api_server.base, headers=api_server.headers, timeout=60) as sdk:
        yield sdk


# --- capability report (tests/conformance/report.py) -------------------------------------------------
_OUTCOMES: dict[str, list[list[str]]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        for marker in item.iter_markers("sdk"):
            for sdk_call in marker.args:
                _OUTCOMES.setdefault(sdk_call, []).append([item.nodeid, report.outcome])


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _OUTCOMES:
        return
    import json
    from importlib.metadata import version

    from tests.conformance.report import results_path

    data = {"calls": _OUTCOMES, "versions": {"langgraph-sdk": version("langgraph-sdk")}}
    results_path().write_text(json.dumps(data, indent=1))
