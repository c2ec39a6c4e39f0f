"""Authentication: a server started with ``ServerApp.allow_unauthenticated_access=False`` refuses
every route without credentials (and writes nothing); a token (header or ``?token=``) or the
Jupyter login cookie (plus the XSRF header on writes) lets requests through.

How the dashboard authenticates its streams (EventSource sends no custom headers): same-origin
``EventSource`` requests carry the Jupyter login cookie, which is all a GET needs (XSRF applies to
writes only), and reconnects send ``Last-Event-ID`` with the cookie. Outside a logged-in page,
``?token=<token>`` works on the stream URLs too (Jupyter scrubs it from its logs, and answers with
the login cookie). Runs are created with ``fetch`` POSTs carrying ``X-XSRFToken``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from jupyter_server.serverapp import ServerApp
from tornado import web

from duragraph_lab.api.routes import Route, handlers
from tests.api_cases import (
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

TRAIT = "allow_unauthenticated_access"
SSE_GETS = [(r, m) for r, m, op in ROUTE_OPS if op.sse and m == "get"]
WRITES = [(r, m) for r, m, _ in ROUTE_OPS if m != "get"]


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server of its own, refusing anonymous access to anything not explicitly public."""
    assert TRAIT in ServerApp.class_traits(config=True), "jupyter_server lost the trait"
    server = ApiServer(tmp_path_factory.mktemp("auth") / "data", extra=[f"--ServerApp.{TRAIT}=False"])
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def db(secure: ApiServer) -> Iterator[Database]:
    database = Database(secure)
    yield database
    database.close()


@pytest.fixture(scope="module")
def ids(secure: ApiServer) -> Ids:
    return sample_ids(secure)


def url(server: ApiServer, path: str) -> str:
    return f"{server.base}{path}"


def send(
    server: ApiServer,
    method: str,
    path: str,
    body: Any = NO_BODY,
    *,
    session: requests.Session | None = None,
    **kwargs: Any,
) -> requests.Response:
    """A request through ``requests`` (no credentials unless given)."""
    http = session or requests.Session()
    json_body = None if body is NO_BODY else body
    return http.request(
        method.upper(), url(server, path), json=json_body, timeout=60, allow_redirects=False, **kwargs
    )


def json_of(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def login(server: ApiServer) -> requests.Session:
    """Log in the way a browser does: the login form with the token as password."""
    session = requests.Session()
    root = f"http://127.0.0.1:{server.port}"
    assert session.get(f"{root}/login", timeout=30).status_code == 200
    response = session.post(
        f"{root}/login",
        data={"password": server.token, "_xsrf": session.cookies["_xsrf"]},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text
    assert any(name.startswith("username-") for name in session.cookies.get_dict()), session.cookies
    return session


def xsrf(session: requests.Session) -> dict[str, str]:
    return {"X-XSRFToken": session.cookies["_xsrf"]}


def test_the_server_runs_with_anonymous_access_off(secure: ApiServer) -> None:
    """With the trait off, Jupyter sends an anonymous visitor of any page (even a missing one)
    to the login page; with its default (on) a missing page is a plain 404."""
    response = requests.get(f"http://127.0.0.1:{secure.port}/no-such-page", allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].startswith("/login")


def test_every_handler_method_requires_authentication() -> None:
    """Each method a route serves is wrapped by ``@web.authenticated`` (Jupyter's own test for it),
    so it is refused without credentials whatever ``allow_unauthenticated_access`` says."""
    unimplemented = web.RequestHandler._unimplemented_method
    for pattern, handler in handlers():
        for name in handler.SUPPORTED_METHODS:
            method = getattr(handler, name.lower())
            if method is unimplemented or hasattr(method, "__allow_unauthenticated"):
                continue  # HEAD, PUT (none of ours); OPTIONS is Jupyter's CORS preflight
            wrapped = hasattr(method, "__wrapped__") and method.__code__.co_qualname.startswith(
                "authenticated"
            )
            assert wrapped, f"{name} of {handler.__name__} ({pattern}) is not @web.authenticated"


def test_jupyter_reports_no_unauthenticated_endpoint(secure: ApiServer) -> None:
    assert "without @allow_unauthenticated" not in secure.output()


# -- no credentials: refused, and nothing written --------------------------------------------------
CREDENTIALS = {
    "none": ({}, ""),
    "wrong-token": ({"Authorization": "token not-the-token"}, ""),
    "wrong-bearer": ({"Authorization": "Bearer not-the-token"}, ""),
    "wrong-query-token": ({}, "?token=not-the-token"),
    "empty-token": ({"Authorization": "token "}, "?token="),
}


PRIVATE = [(r, m) for r, m, op in ROUTE_OPS if not op.public]
PUBLIC = [(r, m) for r, m, op in ROUTE_OPS if op.public]


def test_only_the_probes_are_public() -> None:
    assert {(r.path, m) for r, m in PUBLIC} == {("/ok", "get"), ("/ready", "get")}


@pytest.mark.parametrize(("route", "method"), PRIVATE, ids=[op_id(r, m) for r, m in PRIVATE])
@pytest.mark.parametrize("credentials", list(CREDENTIALS))
def test_every_route_refuses_requests_without_valid_credentials(
    secure: ApiServer, db: Database, ids: Ids, route: Route, method: str, credentials: str
) -> None:
    """Real ids and a valid body: had the request gone through, it would have written."""
    headers, query = CREDENTIALS[credentials]
    path = ids.fill(route.path) + query
    response = db.unchanged(
        lambda: send(secure, method, path, valid_body(route, method, ids), headers=headers)
    )
    # An API client (a token, or nothing and no cookie): a 401 that says how to pass the token.
    body = assert_error(response.status_code, json_of(response), 401, "unauthorized")
    assert "Authorization: token <token>" in body["message"] and "?token=" in body["message"], body
    sent = "no token was sent" if credentials == "none" else "the token sent is not this server's"
    if credentials == "empty-token":
        sent = "the token sent is not this server's"
    assert body["message"].startswith(sent), body
    assert response.headers["WWW-Authenticate"].startswith("token")
    assert "text/event-stream" not in response.headers.get("Content-Type", "")


@pytest.mark.parametrize(
    ("route", "method"), [(r, m) for r, m, _ in ROUTE_OPS], ids=[op_id(r, m) for r, m, _ in ROUTE_OPS]
)
@pytest.mark.parametrize("where", ["header", "query"])
def test_every_route_accepts_the_token(secure: ApiServer, route: Route, method: str, where: str) -> None:
    """Unknown ids (a 404 is fine): only authentication is under test."""
    fake = unknown_ids()
    path = fake.fill(route.path)
    if where == "header":
        response = send(secure, method, path, valid_body(route, method, fake), headers=secure.headers)
    else:
        response = send(secure, method, f"{path}?token={secure.token}", valid_body(route, method, fake))
    assert response.status_code not in (401, 403), (response.status_code, response.text)
    assert response.status_code < 500, response.text


@pytest.mark.parametrize(("route", "method"), PUBLIC, ids=[op_id(r, m) for r, m in PUBLIC])
@pytest.mark.parametrize("credentials", list(CREDENTIALS))
def test_the_probes_answer_without_credentials(
    secure: ApiServer, db: Database, route: Route, method: str, credentials: str
) -> None:
    """Liveness and readiness for load balancers and Kubernetes, which hold no token: the
    server's own answer (not Jupyter's login redirect), saying nothing but up or down."""
    headers, query = CREDENTIALS[credentials]
    for extra in ("", "check_db=1"):
        path = route.path + (query or ("?" if extra else "")) + ("&" if query and extra else "") + extra
        response = db.unchanged(lambda path=path: send(secure, method, path, headers=headers))
        assert response.status_code == 200, (path, response.status_code, response.text)
        body = response.json()
        assert body["ok"] is True
        assert set(body) <= {"ok", "services"}
        assert set(body.get("services", {}).values()) <= {"healthy"}


def test_the_sample_data_survived_the_refused_requests(secure: ApiServer, ids: Ids) -> None:
    assert ok(secure, "GET", f"/threads/{ids.thread_id}")["metadata"] == {"sample": True}
    assert ok(secure, "GET", f"/runs/{ids.run_id}")["status"] == "success"
    assert ok(secure, "GET", f"/assistants/{ids.assistant_id}")["version"] == 1


# -- browser-style: cookie + XSRF ------------------------------------------------------------------
def test_cookie_login_reads_without_xsrf(secure: ApiServer) -> None:
    session = login(secure)
    response = send(secure, "GET", "/info", session=session)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "duragraph-lab"


@pytest.mark.parametrize(("route", "method"), WRITES, ids=[op_id(r, m) for r, m in WRITES])
def test_cookie_without_xsrf_header_cannot_write(
    secure: ApiServer, db: Database, ids: Ids, route: Route, method: str
) -> None:
    session = login(secure)
    path = ids.fill(route.path)
    body = valid_body(route, method, ids)
    for headers in ({}, {"X-XSRFToken": "not-the-xsrf-token"}):

        def write(headers: dict[str, str] = headers) -> requests.Response:
            return send(secure, method, path, body, session=session, headers=headers)

        response = db.unchanged(write)
        assert_error(response.status_code, json_of(response), 403)
        assert "xsrf" in response.json()["message"].lower()


def test_a_browser_without_a_valid_login_gets_jupyters_answer(secure: ApiServer, db: Database) -> None:
    """Cookies and no token (a browser whose login expired): 403, as Jupyter's cookie login has
    it, never the API client's 401 (whose WWW-Authenticate would mean nothing to a page)."""
    session = requests.Session()
    session.get(f"http://127.0.0.1:{secure.port}/login", timeout=30)  # an _xsrf cookie, no login
    session.cookies.set("username-127-0-0-1-" + str(secure.port), "stale")
    response = send(secure, "GET", "/info", session=session)
    body = assert_error(response.status_code, json_of(response), 403, "unauthenticated")
    assert "log in" in body["message"] and "WWW-Authenticate" not in response.headers
    response = db.unchanged(
        lambda: send(secure, "POST", "/threads", {}, session=session, headers=xsrf(session))
    )
    assert_error(response.status_code, json_of(response), 403, "unauthenticated")


def test_cookie_with_xsrf_header_writes(secure: ApiServer) -> None:
    session = login(secure)
    marker = str(uuid.uuid4())
    response = send(
        secure, "POST", "/threads", {"metadata": {"marker": marker}}, session=session, headers=xsrf(session)
    )
    assert response.status_code == 200, response.text
    thread = response.json()["thread_id"]
    response = send(
        secure,
        "POST",
        f"/threads/{thread}/runs/wait",
        {"assistant_id": GRAPH, "input": {}},
        session=session,
        headers=xsrf(session),
    )
    assert response.status_code == 200, response.text
    assert response.json()["log"] == ["before", "i1", "i2", "after"]
    response = send(
        secure, "PATCH", f"/threads/{thread}", {"metadata": {"b": 2}}, session=session, headers=xsrf(session)
    )
    assert response.status_code == 200 and response.json()["metadata"]["b"] == 2, response.text
    response = send(secure, "DELETE", f"/threads/{thread}", session=session, headers=xsrf(session))
    assert response.status_code == 204, response.text


def test_cookie_from_a_foreign_origin_is_refused(secure: ApiServer, db: Database, ids: Ids) -> None:
    """A page on another site cannot use the user's cookie, even with the XSRF value."""
    session = login(secure)
    foreign = {"Origin": "http://evil.example"}
    response = send(secure, "GET", "/info", session=session, headers=foreign)
    assert response.status_code in (403, 404), response.text
    response = db.unchanged(
        lambda: send(secure, "POST", "/threads", {}, session=session, headers={**foreign, **xsrf(session)})
    )
    assert response.status_code in (403, 404), response.text


def test_a_cors_preflight_executes_nothing(secure: ApiServer, db: Database, ids: Ids) -> None:
    """OPTIONS is public in Jupyter (CORS preflight): it answers without a body or a write."""
    response = db.unchanged(lambda: send(secure, "OPTIONS", f"/threads/{ids.thread_id}"))
    assert response.status_code in (200, 204), response.text
    assert response.content == b""


# -- streams: what EventSource can do ---------------------------------------------------------------
def read_events(response: requests.Response, *, until: str | None = None) -> list[tuple[str, str | None]]:
    """``(event, id)`` of the frames, to the end (or to the first ``until`` event)."""
    out: list[tuple[str, str | None]] = []
    event, event_id = "", None
    for raw in response.iter_lines(decode_unicode=True):
        line = raw or ""
        if line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("id:"):
            event_id = line.partition(":")[2].strip()
        elif line == "" and event:
            out.append((event, event_id))
            if event == until:
                break
            event, event_id = "", None
    return out


def stream_paths(ids: Ids) -> list[str]:
    return [ids.fill(route.path) for route, _ in SSE_GETS]


def test_sse_routes_are_the_expected_ones() -> None:
    assert sorted(r.path for r, _ in SSE_GETS) == [
        "/runs/{run_id}/stream",
        "/threads/{thread_id}/runs/{run_id}/stream",
        "/threads/{thread_id}/stream",
    ]


@pytest.mark.parametrize("route", [r for r, _ in SSE_GETS], ids=[r.path for r, _ in SSE_GETS])
def test_event_source_with_the_login_cookie(secure: ApiServer, ids: Ids, route: Route) -> None:
    """What a same-origin ``new EventSource(url)`` sends: the cookie and an Accept header."""
    session = login(secure)
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    until = "metadata" if route.path == "/threads/{thread_id}/stream" else None  # never ends
    with session.get(url(secure, ids.fill(route.path)), headers=headers, stream=True, timeout=30) as response:
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/event-stream")
        frames = read_events(response, until=until)
    assert frames and frames[0][0] == "metadata", frames


@pytest.mark.parametrize("route", [r for r, _ in SSE_GETS], ids=[r.path for r, _ in SSE_GETS])
def test_event_source_with_a_token_in_the_url(secure: ApiServer, ids: Ids, route: Route) -> None:
    """Without a logged-in page: ``new EventSource(url + "?token=" + token)``."""
    until = "metadata" if route.path == "/threads/{thread_id}/stream" else None
    target = f"{url(secure, ids.fill(route.path))}?token={secure.token}"
    session = requests.Session()
    with session.get(target, headers={"Accept": "text/event-stream"}, stream=True, timeout=30) as response:
        assert response.status_code == 200, response.text
        frames = read_events(response, until=until)
    assert frames and frames[0][0] == "metadata", frames
    # The answer logs the browser in: its reconnects need no token in the URL.
    assert any(name.startswith("username-") for name in session.cookies.get_dict())
    with session.get(url(secure, ids.fill(route.path)), stream=True, timeout=30) as response:
        assert response.status_code == 200, response.text


def test_event_source_reconnects_with_the_cookie_and_last_event_id(secure: ApiServer, ids: Ids) -> None:
    session = login(secure)
    path = url(secure, f"/threads/{ids.thread_id}/runs/{ids.run_id}/stream")
    with session.get(path, stream=True, timeout=30) as response:
        first = read_events(response)
    durable = [(e, i) for e, i in first if i]
    assert len(durable) >= 2, first
    resume_after = durable[0][1]
    assert resume_after is not None
    with session.get(path, headers={"Last-Event-ID": resume_after}, stream=True, timeout=30) as response:
        assert response.status_code == 200
        again = read_events(response)
    assert [f for f in again if f[1]] == durable[1:]


def test_the_token_in_a_url_is_not_logged(secure: ApiServer) -> None:
    """Jupyter scrubs ``token=`` from its request log (failed requests are logged with the URL)."""
    run_id = str(uuid.uuid4())
    response = send(secure, "GET", f"/runs/{run_id}/stream?token={secure.token}")
    assert response.status_code == 404

    def logged() -> list[str]:
        return [line for line in secure.output().splitlines() if run_id in line]

    deadline = time.monotonic() + 10
    while not logged() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = logged()
    assert lines and all(secure.token not in line for line in lines), lines
    assert any("token=[secret]" in line for line in lines), lines
