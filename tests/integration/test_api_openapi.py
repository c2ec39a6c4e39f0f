"""The OpenAPI document describes exactly the routes the server serves, and is a valid OpenAPI
3.1 document; ``/metrics`` is Prometheus text with the metrics the issue asks for."""

from __future__ import annotations

import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from tornado.websocket import WebSocketHandler

from duragraph_lab.api.handlers.base import API_PREFIX, DuraGraphHandler
from duragraph_lab.api.openapi import document
from duragraph_lab.api.routes import ACTIONS, ROUTES, handlers
from tests.api_cases import ROUTE_OPS, assert_error, ok, op_id, unknown_ids
from tests.apiserver import ApiServer

METHODS = ("get", "post", "put", "patch", "delete")
DOC = document("/")


@pytest.fixture(scope="module")
def served(api_server: ApiServer) -> dict[str, Any]:
    status, doc, headers = api_server.request("GET", "/openapi.json")
    assert status == 200, doc
    assert headers["Content-Type"].startswith("application/json")
    assert isinstance(doc, dict)
    return doc


def implemented(handler: type[DuraGraphHandler]) -> set[str]:
    """The HTTP methods a handler class (not tornado's or Jupyter's base classes) implements."""
    ours = [c for c in handler.__mro__ if issubclass(c, DuraGraphHandler) and c is not DuraGraphHandler]
    return {m for m in METHODS if any(m in c.__dict__ for c in ours)}


# -- the route table, the tornado app and the document agree -------------------------------------
def test_route_table_has_no_duplicates() -> None:
    paths = [r.path for r in ROUTES]
    assert sorted(p for p in paths if paths.count(p) > 1) == []


def test_document_paths_and_methods_are_the_route_table() -> None:
    table = {(r.path, m) for r in ROUTES for m in r.ops}
    documented = {(path, m) for path, item in DOC["paths"].items() for m in item if m in METHODS}
    assert documented == table


def test_tornado_serves_every_documented_path_with_its_handler() -> None:
    specs = handlers()
    assert len(specs) == len(ROUTES)
    for (pattern, handler), route in zip(specs, ROUTES, strict=True):
        assert pattern == route.pattern
        assert issubclass(handler, route.handler) and handler.route == route.path
        # The handler implements exactly the documented methods (and GET for a WebSocket
        # upgrade, which is no OpenAPI operation).
        upgrade = {"get"} if issubclass(handler, WebSocketHandler) else set()
        assert implemented(handler) == set(route.ops) | upgrade, route.path


def test_no_route_is_shadowed_by_an_earlier_one() -> None:
    """Tornado takes the first pattern that matches: each route's own URLs must reach it."""
    compiled = [re.compile(pattern + "$") for pattern, _ in handlers()]
    for index, route in enumerate(ROUTES):
        url = "/" + API_PREFIX + unknown_ids().fill(route.path)
        first = next(i for i, rx in enumerate(compiled) if rx.match(url))
        assert first == index, f"{url} is served by {ROUTES[first].path}, not {route.path}"


def test_the_served_document_is_the_route_table(served: dict[str, Any]) -> None:
    assert served["paths"].keys() == DOC["paths"].keys()
    for path, item in served["paths"].items():
        assert item.keys() == DOC["paths"][path].keys(), path
    assert served["servers"] == [{"url": f"/{API_PREFIX}"}]
    assert served["components"] == DOC["components"]


def probe_body(method: str) -> Any:
    """A body every operation refuses or ignores: nothing is written by the probes."""
    return {"no_such_field": 1} if method in ("post", "patch", "put") else None


@pytest.mark.parametrize(
    ("path", "method"),
    [(r.path, m) for r, m, _ in ROUTE_OPS],
    ids=[op_id(r, m) for r, m, _ in ROUTE_OPS],
)
def test_every_documented_operation_is_served(api_server: ApiServer, path: str, method: str) -> None:
    """Unknown ids and a refused body: a JSON answer of ours (not tornado's 404 page or 405)."""
    status, body, _ = api_server.request(method.upper(), unknown_ids().fill(path), probe_body(method))
    assert status < 500 and status != 405, (status, body)
    if status >= 400:
        assert_error(status, body, status)
    documented = DOC["paths"][path][method]["responses"]
    assert str(status) in documented, (status, sorted(documented))


UNDOCUMENTED = [(r.path, m) for r in ROUTES for m in METHODS if m not in r.ops]


@pytest.mark.parametrize(("path", "method"), UNDOCUMENTED, ids=[f"{m.upper()} {p}" for p, m in UNDOCUMENTED])
def test_an_undocumented_method_is_405(api_server: ApiServer, path: str, method: str) -> None:
    status, body, _ = api_server.request(method.upper(), unknown_ids().fill(path), probe_body(method))
    assert_error(status, body, 405, "method_not_allowed")


# -- the document is valid OpenAPI 3.1 -----------------------------------------------------------
def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_document_is_openapi_3_1(served: dict[str, Any]) -> None:
    """A structural check (openapi-spec-validator is not a dependency): the required fields of
    OpenAPI 3.1, every schema a valid JSON Schema 2020-12 (the dialect of OpenAPI 3.1), every
    ``$ref`` resolves, path parameters match the path templates."""
    doc = served
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    schemas = doc["components"]["schemas"]
    for name, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    schemes = doc["components"]["securitySchemes"]
    assert all(name in schemes for req in doc["security"] for name in req)
    operation_ids: list[str] = []
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        templated = set(re.findall(r"\{([^}]+)\}", path))
        for method, op in item.items():
            assert method in METHODS, (path, method)
            operation_ids.append(op["operationId"])
            assert op["summary"] and op["tags"]
            params = op.get("parameters", [])
            keys = [(p["name"], p["in"]) for p in params]
            assert len(keys) == len(set(keys)), (path, method, keys)
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == templated, (path, method)
            for p in params:
                assert p["in"] in ("path", "query", "header", "cookie")
                assert p["required"] is True or p["in"] != "path"
                jsonschema.Draft202012Validator.check_schema(p["schema"])
            if "requestBody" in op:
                content = op["requestBody"]["content"]
                assert content and all("schema" in media for media in content.values())
            responses = op["responses"]
            assert responses
            for code, response in responses.items():
                assert re.fullmatch(r"[1-5]\d\d|[1-5]XX|default", code), (path, method, code)
                assert isinstance(response["description"], str) and response["description"]
                for media in response.get("content", {}).values():
                    jsonschema.Draft202012Validator.check_schema(media["schema"])
    assert len(operation_ids) == len(set(operation_ids)), "operationIds are not unique"
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", oid) for oid in operation_ids)


@pytest.mark.parametrize(
    ("path", "method"),
    [(r.path, m) for r, m, _ in ROUTE_OPS],
    ids=[op_id(r, m) for r, m, _ in ROUTE_OPS],
)
def test_each_operation_documents_its_answers(path: str, method: str) -> None:
    route = next(r for r in ROUTES if r.path == path)
    op, spec = route.ops[method], DOC["paths"][path][method]
    assert spec["operationId"]
    responses = spec["responses"]
    assert str(op.status) in responses
    for code in ("400", "401", "403", "404", "409", "413", "422", "503"):
        content = responses[code]["content"]["application/json"]["schema"]
        probe = [{"$ref": f"#/components/schemas/{op.response}"}] if op.public and code == "503" else []
        assert content in (
            {"$ref": "#/components/schemas/Error"},
            {"$ref": "#/components/schemas/Health"},
            *probe,
        )
    if op.body is not None:
        assert spec["requestBody"]["required"] is True
    if op.sse:  # the schema of one event, as schemathesis validates each event of a stream
        event = responses[str(op.status)]["content"]["text/event-stream"]["schema"]
        assert event == {"$ref": "#/components/schemas/EventStream"}
    declared = {p.name for p in op.params}
    assert declared <= {p["name"] for p in spec["parameters"]}


@pytest.mark.parametrize(
    ("path", "method"),
    [(r.path, m) for r, m, _ in ROUTE_OPS],
    ids=[op_id(r, m) for r, m, _ in ROUTE_OPS],
)
def test_each_operation_states_what_it_must_be_authorized_for(
    served: dict[str, Any], path: str, method: str
) -> None:
    """The action the server asks Jupyter's Authorizer for (tests/integration/test_api_authz.py
    checks the server against the same table)."""
    route = next(r for r in ROUTES if r.path == path)
    stated = served["paths"][path][method]["x-jupyter-authorization"]
    if route.ops[method].public:
        assert stated == {"public": True} and served["paths"][path][method]["security"] == []
        return
    assert stated["resource"] == "duragraph"
    assert stated["action"] == route.action(method) and stated["action"] in ACTIONS
    assert stated.get("also", {}) == dict(route.ops[method].escalations)
    assert f"`{stated['action']}`" in served["paths"][path][method]["responses"]["403"]["description"]


# -- /metrics --------------------------------------------------------------------------------------
Families = dict[str, list[Sample]]


def metrics(server: ApiServer) -> Families:
    request = urllib.request.Request(f"{server.base}/metrics", headers=server.headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    families: Families = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = list(family.samples)
        types[family.name] = family.type
    expected = {
        "duragraph_runs": "gauge",
        "duragraph_node_executions": "counter",
        "duragraph_node_duration_seconds": "histogram",
        "duragraph_outbox_lag_seconds": "gauge",
        "duragraph_outbox_backlog": "gauge",
        "duragraph_lease_expiries": "counter",
        "duragraph_sse_clients": "gauge",
        "duragraph_http_requests": "counter",
        "duragraph_http_request_duration_seconds": "histogram",
    }
    for name, kind in expected.items():
        assert types.get(name) == kind, (name, types.get(name))
    return families


def value(families: Families, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    family = re.sub(r"_(total|count|sum|bucket)$", "", name)
    return sum(
        s.value
        for s in families.get(family, [])
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_metrics_after_runs(api_server: ApiServer) -> None:
    before = metrics(api_server)
    thread = ok(api_server, "POST", "/threads", {})["thread_id"]
    ok(api_server, "POST", f"/threads/{thread}/runs/wait", {"assistant_id": "slow", "input": {"sleep": 0.05}})
    status, failed, _ = api_server.request(
        "POST", f"/threads/{thread}/runs/wait", {"assistant_id": "slow", "input": {"fail": True, "sleep": 0}}
    )
    assert status == 200 and "__error__" in failed, failed

    def counted() -> bool:
        now = metrics(api_server)
        return value(now, "duragraph_node_executions_total", node="s4", status="ok") > value(
            before, "duragraph_node_executions_total", node="s4", status="ok"
        ) and value(now, "duragraph_node_executions_total", node="s2", status="error") > value(
            before, "duragraph_node_executions_total", node="s2", status="error"
        )

    wait_for(counted)
    after = metrics(api_server)
    # Runs by status: every status has a series; ours are among them.
    statuses = {s.labels["status"] for s in after["duragraph_runs"]}
    assert {"pending", "running", "success", "error", "interrupted", "cancelled"} <= statuses
    assert value(after, "duragraph_runs", status="success") >= 1
    assert value(after, "duragraph_runs", status="error") >= 1
    # Node durations: s0 slept 0.05 s.
    count = "duragraph_node_duration_seconds_count"
    assert value(after, count, node="s0") > value(before, count, node="s0")
    grown = value(after, "duragraph_node_duration_seconds_sum", node="s0") - value(
        before, "duragraph_node_duration_seconds_sum", node="s0"
    )
    assert grown >= 0.05
    buckets = [s for s in after["duragraph_node_duration_seconds"] if s.name.endswith("_bucket")]
    assert any(s.labels.get("le") == "+Inf" for s in buckets)
    # Outbox and leases: present, and sane.
    assert value(after, "duragraph_outbox_lag_seconds") >= 0
    assert value(after, "duragraph_outbox_backlog") >= 0
    assert value(after, "duragraph_lease_expiries_total") >= 0
    # HTTP requests by method, route (the template, not the URL) and status.
    route = "/threads/{thread_id}/runs/wait"
    grew = value(after, "duragraph_http_requests_total", method="POST", route=route, status="200") - value(
        before, "duragraph_http_requests_total", method="POST", route=route, status="200"
    )
    assert grew >= 2
    assert not any(thread in str(s.labels) for s in after["duragraph_http_requests"])
    seconds = "duragraph_http_request_duration_seconds_count"
    assert value(after, seconds, method="POST", route=route) >= 2


def test_metrics_count_open_streams(api_server: ApiServer) -> None:
    thread = ok(api_server, "POST", "/threads", {})["thread_id"]
    run = ok(api_server, "POST", f"/threads/{thread}/runs", {"assistant_id": "slow", "input": {"sleep": 0.3}})
    base = value(metrics(api_server), "duragraph_sse_clients")
    request = urllib.request.Request(
        f"{api_server.base}/threads/{thread}/runs/{run['run_id']}/stream", headers=api_server.headers
    )
    opened = threading.Event()
    lines: list[bytes] = []

    def read() -> None:
        with urllib.request.urlopen(request, timeout=60) as response:
            opened.set()
            lines.extend(response)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert opened.wait(10)
        wait_for(lambda: value(metrics(api_server), "duragraph_sse_clients") >= base + 1)
    finally:
        reader.join(30)
    assert any(line.startswith(b"event: metadata") for line in lines)
    wait_for(lambda: value(metrics(api_server), "duragraph_sse_clients") == base)


def test_metrics_label_unknown_urls_by_route_template(api_server: ApiServer) -> None:
    """404s for made-up ids do not create one series per URL."""
    run_id = str(uuid.uuid4())
    status, _, _ = api_server.request("GET", f"/runs/{run_id}")
    assert status == 404
    now = metrics(api_server)
    assert (
        value(now, "duragraph_http_requests_total", method="GET", route="/runs/{run_id}", status="404") >= 1
    )
    assert not any(run_id in str(s.labels) for s in now["duragraph_http_requests"])
