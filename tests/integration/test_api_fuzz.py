"""Schemathesis over the OpenAPI document the server serves: for every operation, generated
requests (valid and invalid ones) never get a 5xx, and every answer has a documented status and
matches its documented schema.

Each operation is fuzzed twice: with made-up path ids (the not-found and validation paths) and
with the ids of a real thread, run, checkpoint and assistant created for it (so that bodies and
query parameters reach the services). Generation is derandomized, so a failure reproduces.

Schemathesis' own pytest integration (``schemathesis.pytest.from_fixture``) does not work with
pytest 9 (it sets ``request.node._nodeid``), so each operation is a plain parametrized test that
draws cases from ``operation.as_strategy()`` with Hypothesis.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_cases import ROUTE_OPS, op_id, sample_ids
from tests.apiserver import ApiServer

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
#: Operations not fuzzed with real ids, and why.
NOT_WITH_REAL_IDS = {
    ("/threads/{thread_id}/stream", "get"): (
        "the thread stream follows the thread's future runs and never ends by design: a valid "
        "request for a real thread would only hit the client's timeout (it is fuzzed with made-up "
        "ids, and its stream_modes validation is covered by test_api_errors)"
    ),
    ("/threads/{thread_id}/stream/events", "post"): (
        "the protocol's event stream also stays open across the thread's runs by design (fuzzed "
        "with made-up ids; its body validation is covered by test_api_errors and "
        "tests/conformance/test_sdk_thread_protocol.py)"
    ),
}
CASES = [
    pytest.param(route.path, method, ids, id=f"{op_id(route, method)}-{ids}")
    for route, method, _ in ROUTE_OPS
    for ids in ("unknown-ids", "real-ids")
    if not (ids == "real-ids" and (route.path, method) in NOT_WITH_REAL_IDS)
]


@pytest.fixture(scope="module")
def schema(api_server: ApiServer) -> Any:
    return schemathesis.openapi.from_url(
        f"{api_server.base}/openapi.json", headers=api_server.headers, timeout=30
    )


def test_every_operation_is_fuzzed(schema: Any) -> None:
    table = {(route.path, method) for route, method, _ in ROUTE_OPS}
    for path, method in table:
        assert schema[path][method.upper()].path == path
    # Schemathesis leaves out the document's own URL when it lists operations; it is fuzzed here.
    listed = {(op.path, op.method.lower()) for op in (r.ok() for r in schema.get_all_operations())}
    assert table - listed <= {("/openapi.json", "get")} and listed <= table
    assert {(path, method) for path, method, _ in (c.values for c in CASES)} == table


@pytest.mark.parametrize(("path", "method", "ids"), CASES)
def test_fuzz(api_server: ApiServer, schema: Any, path: str, method: str, ids: str) -> None:
    operation = schema[path][method.upper()]
    fixed: dict[str, Any] | None = None
    if ids == "real-ids":
        real = sample_ids(api_server)
        fixed = {p.name: getattr(real, p.name) for p in operation.path_parameters} or None
    strategy = st.one_of(
        *(
            operation.as_strategy(generation_mode=mode, headers=api_server.headers, path_parameters=fixed)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        )
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        case.call_and_validate(
            base_url=api_server.base, headers=api_server.headers, timeout=30, checks=CHECKS
        )

    check()
