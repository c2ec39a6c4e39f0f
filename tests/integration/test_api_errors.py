"""Bad input: every failure is a 4xx ``{"error": code, "message": text}``, never a 500, and a
request that fails writes nothing (the server's event log and projections are unchanged)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pydantic import BaseModel, ValidationError

from duragraph_lab.api.routes import Route
from tests.api_cases import (
    BODY_OPS,
    GRAPH,
    NO_BODY,
    ROUTE_OPS,
    Database,
    Ids,
    assert_error,
    ok,
    op_id,
    sample_ids,
    unknown_ids,
    valid_body,
)
from tests.apiserver import ApiServer

MiB = 1024 * 1024
RUN_CREATE_OPS = [(r, m, op) for r, m, op in BODY_OPS if op.body.__name__.startswith("RunCreate")]  # type: ignore[union-attr]
STATEFUL_CREATE_OPS = [(r, m, op) for r, m, op in RUN_CREATE_OPS if "{thread_id}" in r.path]
STATELESS_CREATE_OPS = [(r, m, op) for r, m, op in RUN_CREATE_OPS if "{thread_id}" not in r.path]


@pytest.fixture(scope="module")
def db(api_server: ApiServer) -> Iterator[Database]:
    database = Database(api_server)
    database.quiet(timeout=60)  # runs left by earlier tests of the session have settled
    yield database
    database.close()


@pytest.fixture(scope="module")
def ids(api_server: ApiServer) -> Ids:
    return sample_ids(api_server)


@pytest.fixture(scope="module")
def other(api_server: ApiServer) -> Ids:
    """A second thread, whose checkpoints are not the first one's."""
    return sample_ids(api_server)


def view(server: ApiServer, ids: Ids) -> tuple[Any, ...]:
    """What the API shows of the sample thread: the thread, its runs, its run's event log."""
    thread = ok(server, "GET", f"/threads/{ids.thread_id}")
    runs = ok(server, "GET", f"/threads/{ids.thread_id}/runs")
    events = ok(server, "GET", f"/runs/{ids.run_id}/events")["events"]
    assistant = ok(server, "GET", f"/assistants/{ids.assistant_id}")
    return thread, runs, [(e["seq"], e["type"]) for e in events], assistant


def call(
    server: ApiServer,
    db: Database,
    ids: Ids,
    method: str,
    path: str,
    body: Any = NO_BODY,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request that must write nothing: neither the database nor the sample thread change."""
    before = view(server, ids)

    def send() -> tuple[int, Any]:
        status, out, _ = server.request(
            method.upper(), path, None if body is NO_BODY else body, raw=raw, headers=headers
        )
        return status, out

    status, out = db.unchanged(send)
    assert view(server, ids) == before
    return status, out


def with_field(route: Route, method: str, ids: Ids, fields: dict[str, Any]) -> Any:
    """The route's valid body with some fields changed (in the run, for a batch)."""
    body = valid_body(route, method, ids)
    if isinstance(body, list):
        return [{**body[0], **fields}]
    return {**body, **fields}


def params(ops: list[Any]) -> Any:
    return pytest.mark.parametrize(
        ("route", "method"), [(r, m) for r, m, *_ in ops], ids=[op_id(r, m) for r, m, *_ in ops]
    )


# -- malformed bodies ------------------------------------------------------------------------------
MALFORMED = {
    "truncated": b'{"metadata": {"a": ',
    "trailing-garbage": b'{"metadata": {}} {"again": 1}',
    "single-quotes": b"{'metadata': {}}",
    "not-utf8": b'{"metadata": {"a": "\xff\xfe"}}',
    "nan": b'{"metadata": {"a": NaN}}',
    "infinity": b'{"limit": Infinity}',
    "deeply-nested": b"[" * 100_000 + b"]" * 100_000,
}


@params(BODY_OPS)
@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_json_is_400(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str, kind: str
) -> None:
    status, out = call(api_server, db, ids, method, ids.fill(route.path), raw=MALFORMED[kind])
    body = assert_error(status, out, 400, "invalid_json")
    assert "JSON" in body["message"]


SHAPES = [
    (route, method, payload)
    for route, method, op in BODY_OPS
    for payload in (
        ["{}", "[]", "[1, 2]", '"text"', "42", "true"]
        if op.body_is_array
        else ["[1, 2]", '"text"', "42", "true"]
    )
]


@pytest.mark.parametrize(
    ("route", "method", "payload"), SHAPES, ids=[f"{op_id(r, m)}-{p}" for r, m, p in SHAPES]
)
def test_body_of_the_wrong_shape_is_422(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str, payload: str
) -> None:
    status, out = call(api_server, db, ids, method, ids.fill(route.path), raw=payload.encode())
    assert_error(status, out, 422, "validation_error")


@params(BODY_OPS)
def test_unknown_field_is_422(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str
) -> None:
    body = with_field(route, method, ids, {"no_such_field": 1})
    status, out = call(api_server, db, ids, method, ids.fill(route.path), body)
    err = assert_error(status, out, 422, "validation_error")
    assert "no_such_field" in err["message"]
    assert any(d["loc"][-1] == "no_such_field" and d["type"] == "extra_forbidden" for d in err["details"])


def _wrong_values() -> Iterator[tuple[Route, str, str, Any]]:
    """For each field of each request model (on the first route that takes it): the first of a
    few values of the wrong type that the model itself refuses (fields that take anything are
    left out)."""
    candidates: list[Any] = [12345, "not-a-valid-value", {"an": "object"}, [["nested"]], True, 1.5, -7]
    seen: set[type[BaseModel]] = set()
    placeholder = unknown_ids()
    for route, method, op in BODY_OPS:
        assert op.body is not None
        if op.body in seen:
            continue
        seen.add(op.body)
        base = valid_body(route, method, placeholder)
        base = base[0] if isinstance(base, list) else base
        for field in op.body.model_fields:
            for value in candidates:
                try:
                    op.body.model_validate({**base, field: value})
                except ValidationError as err:
                    if any(e["loc"][:1] == (field,) for e in err.errors()):
                        yield route, method, field, value
                        break


WRONG = list(_wrong_values())


@pytest.mark.parametrize(
    ("route", "method", "field", "value"),
    WRONG,
    ids=[f"{op.body.__name__}.{f}" for r, m, f, _ in WRONG for op in [r.ops[m]] if op.body],
)
def test_wrong_type_is_422_naming_the_field(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str, field: str, value: Any
) -> None:
    body = with_field(route, method, ids, {field: value})
    status, out = call(api_server, db, ids, method, ids.fill(route.path), body)
    err = assert_error(status, out, 422, "validation_error")
    assert any(d["loc"][:1] == [field] for d in err["details"]), err


def test_every_request_model_has_wrong_type_cases() -> None:
    covered = {route.ops[method].body for route, method, _, _ in WRONG}
    assert covered == {op.body for _, _, op in BODY_OPS}
    assert len(WRONG) > 60


# -- unknown ids -----------------------------------------------------------------------------------
def _unknown_id_cases() -> Iterator[tuple[Route, str, str, str]]:
    for route, method, _ in ROUTE_OPS:
        for name in route.path_params:
            yield route, method, name, "random"
            if name in ("thread_id", "run_id", "checkpoint_id"):
                yield route, method, name, "not-a-uuid"


UNKNOWN = list(_unknown_id_cases())


@pytest.mark.parametrize(
    ("route", "method", "name", "kind"),
    UNKNOWN,
    ids=[f"{op_id(r, m)}-{n}-{k}" for r, m, n, k in UNKNOWN],
)
def test_unknown_id_in_the_path_is_404(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str, name: str, kind: str
) -> None:
    """Every other id is real and the body valid: only the unknown id is wrong. Ids that are not
    UUIDs name nothing either (404; the official server answers 422 for those)."""
    unknown = getattr(unknown_ids(), name) if kind == "random" else "not-a-uuid"
    target = ids.but(**{name: unknown})
    body = valid_body(route, method, ids)
    status, out = call(api_server, db, ids, method, target.fill(route.path), body)
    assert_error(status, out, 404, "not_found")


@params(RUN_CREATE_OPS)
@pytest.mark.parametrize("assistant", ["no-such-graph", "00000000-0000-4000-8000-000000000000"])
def test_unknown_assistant_in_a_run_request_is_404(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str, assistant: str
) -> None:
    """Not even the temporary thread of a stateless run is created."""
    body = with_field(route, method, ids, {"assistant_id": assistant})
    status, out = call(api_server, db, ids, method, ids.fill(route.path), body)
    assert_error(status, out, 404, "not_found")


def test_a_batch_with_one_bad_run_starts_none(api_server: ApiServer, db: Database, ids: Ids) -> None:
    good = {"assistant_id": GRAPH, "input": {}}
    for bad, expected in (
        ({"assistant_id": GRAPH, "input": {}, "stream_mode": "nope"}, 422),
        ({"assistant_id": "no-such-graph"}, 404),
        ({"assistant_id": GRAPH, "input": {"no_such_key": 1}}, 422),
    ):
        status, out = call(api_server, db, ids, "POST", "/runs/batch", [good, bad])
        assert_error(status, out, expected)


# -- stream modes ----------------------------------------------------------------------------------
@params(RUN_CREATE_OPS)
@pytest.mark.parametrize("mode", ["nope", ["values", "nope"], "lifecycle", "tools", ["VALUES"], 7])
def test_unknown_stream_mode_in_a_run_request_is_422(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str, mode: Any
) -> None:
    body = with_field(route, method, ids, {"stream_mode": mode})
    status, out = call(api_server, db, ids, method, ids.fill(route.path), body)
    err = assert_error(status, out, 422, "validation_error")
    assert "stream_mode" in err["message"]


@pytest.mark.parametrize("path", ["/threads/{thread_id}/runs/{run_id}/stream", "/runs/{run_id}/stream"])
@pytest.mark.parametrize(
    "query",
    [
        "stream_mode=nope",
        "stream_mode=values,nope",
        "stream_mode=values&stream_mode=nope",
        'stream_mode=["values","nope"]',
        "stream_mode=[not-json",
        "stream_mode=lifecycle",
    ],
)
def test_unknown_stream_mode_joining_a_stream_is_422(
    api_server: ApiServer, db: Database, ids: Ids, path: str, query: str
) -> None:
    route = f"{ids.fill(path)}?{urllib.parse.quote(query, safe='=&,')}"
    status, out = call(api_server, db, ids, "GET", route)
    assert_error(status, out, 422, "validation_error")


@pytest.mark.parametrize("query", ["stream_modes=nope", "stream_modes=run_modes,nope", "stream_mode=values"])
def test_unknown_thread_stream_mode_is_422(api_server: ApiServer, db: Database, ids: Ids, query: str) -> None:
    status, out = call(api_server, db, ids, "GET", f"/threads/{ids.thread_id}/stream?{query}")
    assert_error(status, out, 422, "validation_error")


# -- resume ----------------------------------------------------------------------------------------
@params(STATEFUL_CREATE_OPS)
def test_resume_of_a_run_that_is_not_interrupted_is_409(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str
) -> None:
    """The sample thread's run succeeded: there is nothing to resume, and nothing is written."""
    body = {"assistant_id": GRAPH, "command": {"resume": "yes"}}
    status, out = call(api_server, db, ids, method, ids.fill(route.path), body)
    assert_error(status, out, 409)
    assert ok(api_server, "GET", f"/runs/{ids.run_id}")["status"] == "success"


@params(STATEFUL_CREATE_OPS)
def test_resume_on_a_thread_without_runs_is_409(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str
) -> None:
    thread = ok(api_server, "POST", "/threads", {})["thread_id"]
    body = {"assistant_id": GRAPH, "command": {"resume": "yes"}}
    status, out = call(api_server, db, ids, method, route.path.replace("{thread_id}", thread), body)
    assert_error(status, out, 409)
    assert ok(api_server, "GET", f"/threads/{thread}/runs") == []


@params(STATELESS_CREATE_OPS)
def test_resume_without_a_thread_is_422(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str
) -> None:
    body = with_field(route, method, ids, {"command": {"resume": "yes"}, "input": None})
    status, out = call(api_server, db, ids, method, route.path, body)
    err = assert_error(status, out, 422, "validation_error")
    assert "resume" in err["message"]


@params(STATEFUL_CREATE_OPS)
def test_resume_together_with_input_is_422(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str
) -> None:
    body = {"assistant_id": GRAPH, "input": {}, "command": {"resume": "yes"}}
    status, out = call(api_server, db, ids, method, ids.fill(route.path), body)
    assert_error(status, out, 422, "validation_error")


# -- options with a fixed set of values -------------------------------------------------------------
@params(RUN_CREATE_OPS)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("multitask_strategy", "nope"),
        ("multitask_strategy", "REJECT"),
        ("multitask_strategy", 1),
        ("if_not_exists", "maybe"),
        ("on_disconnect", "explode"),
        ("interrupt_before", "some"),
        ("durability", "forever"),
        ("after_seconds", -1),
        ("webhook", "ftp://example.invalid/hook"),
        ("webhook", "not a url"),
    ],
)
def test_invalid_run_option_is_422(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str, field: str, value: Any
) -> None:
    body = with_field(route, method, ids, {field: value})
    status, out = call(api_server, db, ids, method, ids.fill(route.path), body)
    err = assert_error(status, out, 422, "validation_error")
    assert field in err["message"]


@params(STATELESS_CREATE_OPS)
def test_invalid_on_completion_is_422(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str
) -> None:
    body = with_field(route, method, ids, {"on_completion": "archive"})
    status, out = call(api_server, db, ids, method, route.path, body)
    assert_error(status, out, 422, "validation_error")


def test_reject_on_a_busy_thread_is_409_and_starts_nothing(api_server: ApiServer) -> None:
    thread = ok(api_server, "POST", "/threads", {})["thread_id"]
    first = ok(
        api_server, "POST", f"/threads/{thread}/runs", {"assistant_id": "slow", "input": {"sleep": 0.4}}
    )
    try:
        for path in ("runs", "runs/wait", "runs/stream"):
            body = {"assistant_id": "slow", "input": {}, "multitask_strategy": "reject"}
            status, out, _ = api_server.request("POST", f"/threads/{thread}/{path}", body)
            assert_error(status, out, 409, "thread_busy")
            runs = ok(api_server, "GET", f"/threads/{thread}/runs")
            assert [r["run_id"] for r in runs] == [first["run_id"]]
    finally:
        api_server.request("POST", f"/threads/{thread}/runs/{first['run_id']}/cancel?wait=1")


@pytest.mark.parametrize("value", ["nope", "RAISE", True, None])
@pytest.mark.parametrize("path", ["/threads", "/assistants"])
def test_invalid_if_exists_is_422(
    api_server: ApiServer, db: Database, ids: Ids, path: str, value: Any
) -> None:
    body = {"graph_id": GRAPH} if path == "/assistants" else {}
    status, out = call(api_server, db, ids, "POST", path, {**body, "if_exists": value})
    err = assert_error(status, out, 422, "validation_error")
    assert "if_exists" in err["message"]


def test_creating_what_exists_is_409(api_server: ApiServer, db: Database, ids: Ids) -> None:
    status, out = call(
        api_server, db, ids, "POST", "/threads", {"thread_id": ids.thread_id, "metadata": {"x": 1}}
    )
    assert_error(status, out, 409)
    body = {"graph_id": GRAPH, "assistant_id": ids.assistant_id, "name": "other"}
    status, out = call(api_server, db, ids, "POST", "/assistants", body)
    assert_error(status, out, 409)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/threads", {"thread_id": "not-a-uuid"}, "thread_id"),
        ("/threads", {"thread_id": "1234"}, "thread_id"),
        ("/assistants", {"graph_id": GRAPH, "assistant_id": "not-a-uuid"}, "assistant_id"),
    ],
)
def test_an_id_that_is_not_a_uuid_in_a_body_is_422(
    api_server: ApiServer, db: Database, ids: Ids, path: str, body: dict[str, Any], field: str
) -> None:
    status, out = call(api_server, db, ids, "POST", path, body)
    err = assert_error(status, out, 422, "validation_error")
    assert field in err["message"]


# -- checkpoints -----------------------------------------------------------------------------------
CHECKPOINTS = ["random", "not-a-uuid", "other-thread", "run-id"]


def checkpoint(kind: str, ids: Ids, other: Ids) -> str:
    return {
        "random": unknown_ids().checkpoint_id,
        "not-a-uuid": "not-a-uuid",
        "other-thread": other.checkpoint_id,
        "run-id": ids.run_id,  # an id, but not of an event
    }[kind]


@pytest.mark.parametrize("kind", CHECKPOINTS)
def test_invalid_checkpoint_id_is_404(
    api_server: ApiServer, db: Database, ids: Ids, other: Ids, kind: str
) -> None:
    cid = checkpoint(kind, ids, other)
    t = ids.thread_id
    requests: list[tuple[str, str, Any]] = [
        ("GET", f"/threads/{t}/state/{cid}", NO_BODY),
        ("POST", f"/threads/{t}/state/checkpoint", {"checkpoint": {"checkpoint_id": cid}}),
        ("GET", f"/threads/{t}/history?before={cid}", NO_BODY),
        ("POST", f"/threads/{t}/history", {"before": cid}),
        ("POST", f"/threads/{t}/history", {"before": {"checkpoint_id": cid}}),
        ("POST", f"/threads/{t}/state", {"values": {"n": 1}, "checkpoint_id": cid}),
        ("POST", f"/threads/{t}/state", {"values": {"n": 1}, "checkpoint": {"checkpoint_id": cid}}),
        ("POST", f"/threads/{t}/runs", {"assistant_id": GRAPH, "input": {}, "checkpoint_id": cid}),
        ("POST", f"/threads/{t}/runs/wait", {"assistant_id": GRAPH, "checkpoint": {"checkpoint_id": cid}}),
    ]
    for method, path, body in requests:
        status, out = call(api_server, db, ids, method, path, body)
        assert_error(status, out, 404, "not_found")


def test_a_checkpoint_reference_without_an_id(api_server: ApiServer, db: Database, ids: Ids) -> None:
    # As on LangGraph Platform (and as RemoteGraph.get_state sends it): no id is the latest state.
    path = f"/threads/{ids.thread_id}/state/checkpoint"
    latest = api_server.request("GET", f"/threads/{ids.thread_id}/state")[1]
    for body in ({"checkpoint": {}}, {"checkpoint": {"checkpoint_ns": "", "thread_id": ids.thread_id}}):
        assert call(api_server, db, ids, "POST", path, body) == (200, latest)
    # No checkpoint at all, or a subgraph's namespace without the checkpoint in it: refused.
    for body in ({"checkpoint": {"checkpoint_ns": "sub:1"}}, {}):
        status, out = call(api_server, db, ids, "POST", path, body)
        assert_error(status, out, 422, "validation_error")


# -- query parameters and paging -------------------------------------------------------------------
QUERIES = [
    ("/threads/{thread_id}/runs", "limit=-1"),
    ("/threads/{thread_id}/runs", "limit=0"),
    ("/threads/{thread_id}/runs", "limit=1001"),
    ("/threads/{thread_id}/runs", "limit=abc"),
    ("/threads/{thread_id}/runs", "limit=1.5"),
    ("/threads/{thread_id}/runs", "limit=99999999999999999999999"),
    ("/threads/{thread_id}/runs", "offset=-1"),
    ("/threads/{thread_id}/runs", "offset=abc"),
    ("/threads/{thread_id}/runs", "status=nope"),
    ("/threads/{thread_id}/history", "limit=0"),
    ("/threads/{thread_id}/history", "limit=-3"),
    ("/threads/{thread_id}/history", "limit=1001"),
    ("/threads/{thread_id}/history", "limit=ten"),
    ("/runs/{run_id}/events", "limit=0"),
    ("/runs/{run_id}/events", "limit=10001"),
    ("/runs/{run_id}/events", "limit=x"),
    ("/runs/{run_id}/events", "after=-1"),
    ("/runs/{run_id}/events", "after=x"),
    ("/runs/{run_id}/events", "after=99999999999999999999999"),
    ("/ok", "check_db=maybe"),
    ("/threads/{thread_id}/state", "subgraphs=maybe"),
    ("/threads/{thread_id}/state/{checkpoint_id}", "subgraphs=2"),
    ("/assistants/{assistant_id}/graph", "xray=maybe"),
    ("/assistants/{assistant_id}/graph", "xray=-1"),
    ("/assistants/{assistant_id}/graph", "details=yes"),
    ("/assistants/{assistant_id}/subgraphs", "recurse=maybe"),
    ("/threads/{thread_id}/runs/{run_id}/join", "cancel_on_disconnect=maybe"),
    ("/runs/{run_id}/stream", "cancel_on_disconnect=maybe"),
]


@pytest.mark.parametrize(("path", "query"), QUERIES, ids=[f"{p}?{q}" for p, q in QUERIES])
def test_invalid_query_parameter_is_422(
    api_server: ApiServer, db: Database, ids: Ids, path: str, query: str
) -> None:
    status, out = call(api_server, db, ids, "GET", f"{ids.fill(path)}?{query}")
    err = assert_error(status, out, 422, "validation_error")
    assert query.split("=")[0] in err["message"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/threads/{thread_id}/runs/{run_id}/cancel", "action=explode"),
        ("/threads/{thread_id}/runs/{run_id}/cancel", "wait=maybe"),
        ("/runs/cancel", "action=explode"),
    ],
)
def test_invalid_cancel_option_is_422(
    api_server: ApiServer, db: Database, ids: Ids, path: str, query: str
) -> None:
    """(The official server takes an unknown action as ``interrupt``.)"""
    body = {"run_ids": [ids.run_id], "thread_id": ids.thread_id} if path == "/runs/cancel" else NO_BODY
    status, out = call(api_server, db, ids, "POST", f"{ids.fill(path)}?{query}", body)
    assert_error(status, out, 422, "validation_error")


PAGES = [
    ("/assistants/search", {"limit": 0}),
    ("/assistants/search", {"limit": -1}),
    ("/assistants/search", {"limit": 1001}),
    ("/assistants/search", {"limit": 1.5}),
    ("/assistants/search", {"offset": -1}),
    ("/threads/search", {"limit": 0}),
    ("/threads/search", {"offset": -5}),
    ("/threads/search", {"limit": "many"}),
    ("/assistants/{assistant_id}/versions", {"limit": 0}),
    ("/assistants/{assistant_id}/versions", {"offset": -1}),
    ("/threads/{thread_id}/history", {"limit": 0}),
    ("/threads/{thread_id}/history", {"limit": 100000}),
]


@pytest.mark.parametrize(("path", "body"), PAGES, ids=[f"{p}-{json.dumps(b)}" for p, b in PAGES])
def test_invalid_paging_in_a_body_is_422(
    api_server: ApiServer, db: Database, ids: Ids, path: str, body: dict[str, Any]
) -> None:
    status, out = call(api_server, db, ids, "POST", ids.fill(path), body)
    err = assert_error(status, out, 422, "validation_error")
    assert next(iter(body)) in err["message"]


# -- values PostgreSQL cannot take -----------------------------------------------------------------
VALUES = [
    ("/threads/search", {"metadata": {"k": "a\u0000b"}}),
    ("/threads/count", {"metadata": {"k": "a\u0000b"}}),
    ("/assistants/search", {"metadata": {"k": "a\u0000b"}}),
    ("/assistants/search", {"graph_id": "a\u0000b"}),
    ("/assistants/count", {"name": "a\u0000b"}),
    ("/threads", {"metadata": {"k": "a\u0000b"}}),
    ("/threads", {"metadata": {"k": "\ud800"}}),
    ("/assistants", {"graph_id": "a\u0000b"}),
    ("/assistants/{assistant_id}", {"name": "a\u0000b"}),
    ("/threads/search", {"offset": 2**63}),
    ("/assistants/search", {"offset": 10**30}),
    ("/threads/{thread_id}/runs", {"assistant_id": GRAPH, "input": {}, "after_seconds": 1e308}),
    ("/threads/{thread_id}/runs", {"assistant_id": GRAPH, "input": {}, "metadata": {"k": "a\u0000b"}}),
]


@pytest.mark.parametrize(("path", "body"), VALUES, ids=[f"{p}-{i}" for i, (p, _) in enumerate(VALUES)])
def test_a_value_postgresql_cannot_take_is_422(
    api_server: ApiServer, db: Database, ids: Ids, path: str, body: dict[str, Any]
) -> None:
    method = "PATCH" if path == "/assistants/{assistant_id}" else "POST"
    raw = json.dumps(body).encode()  # lone surrogates are escaped, as a client would send them
    status, out = call(api_server, db, ids, method, ids.fill(path), raw=raw)
    assert status == 422, (status, out)
    assert_error(status, out, 422)


# -- size limit ------------------------------------------------------------------------------------
def big_body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    head, tail = b'{"metadata": {"pad": "', b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


OVERSIZED = big_body(11 * MiB)
WRITE_OPS = [(r, m, op) for r, m, op in ROUTE_OPS if m in ("post", "patch")]


def send_body(server: ApiServer, method: str, path: str, data: bytes | Iterator[bytes]) -> tuple[int, Any]:
    """A request whose answer is read even when the server answers before the body is sent:
    an oversized body is refused from its headers and the connection closed, which a client
    that writes the whole body before reading (urllib) sees as a reset; requests (urllib3 2)
    reads the answer. A generator is sent chunked, without Content-Length."""
    response = requests.request(
        method.upper(),
        f"{server.base}{path}",
        data=data,
        headers={**server.headers, "Content-Type": "application/json"},
        timeout=60,
    )
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


@params(WRITE_OPS)
def test_oversized_body_is_413(
    api_server: ApiServer, db: Database, ids: Ids, route: Route, method: str
) -> None:
    """The server runs with the default limit, 10 MiB."""
    before = view(api_server, ids)
    status, out = db.unchanged(lambda: send_body(api_server, method, ids.fill(route.path), OVERSIZED))
    assert view(api_server, ids) == before
    err = assert_error(status, out, 413, "body_too_large")
    assert str(10 * MiB) in err["message"]


def test_oversized_body_without_content_length_is_413(api_server: ApiServer, db: Database, ids: Ids) -> None:
    """A chunked body is measured too."""

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(OVERSIZED), MiB):
            yield OVERSIZED[start : start + MiB]

    before = view(api_server, ids)
    status, out = db.unchanged(lambda: send_body(api_server, "POST", "/threads", chunks()))
    assert view(api_server, ids) == before
    assert_error(status, out, 413, "body_too_large")


def test_a_body_of_exactly_the_limit_is_accepted(api_server: ApiServer, ids: Ids) -> None:
    body = big_body(10 * MiB)
    status, out, _ = api_server.request("POST", "/threads/count", raw=body)
    assert status == 200, out
    assert out == 0
    status, out = send_body(api_server, "POST", "/threads/count", body + b" ")
    assert_error(status, out, 413, "body_too_large")
