"""The capability report in docs/api.md names every method of the installed SDK's async client."""

from __future__ import annotations

import inspect
from pathlib import Path

from langgraph_sdk.client import AssistantsClient, CronClient, RunsClient, StoreClient, ThreadsClient

from tests.conformance.report import BEGIN, END

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
CLIENTS = {
    "assistants": AssistantsClient,
    "threads": ThreadsClient,
    "runs": RunsClient,
    "crons": CronClient,
    "store": StoreClient,
}


def sdk_methods() -> set[str]:
    return {
        f"{group}.{name}"
        for group, cls in CLIENTS.items()
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_every_sdk_method_appears_in_the_report() -> None:
    section = DOCS.read_text().split(BEGIN, 1)[1].split(END, 1)[0]
    # A row names a method as `group.method` or, after the first, as `method` (plain or with arguments).
    missing = sorted(
        m
        for m in sdk_methods()
        if not any(
            form in section
            for form in (f"`{m}", f"`{m.split('.')[1]}`", f"`{m.split('.')[1]}(", f", {m.split('.')[1]}")
        )
    )
    assert not missing, f"SDK methods the capability report does not name: {missing}"
