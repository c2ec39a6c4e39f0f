"""PostgreSQL down under a running server: every route that needs the database answers 503
``unavailable`` with ``Retry-After`` at once (the pool's timeout is 10 s), never a 500, and the
others answer as usual; once PostgreSQL is back the same requests succeed, without a restart.
A write PostgreSQL refuses for a full disk (SQLSTATE 53100) is a 503 too, and writes nothing.

The server (`duragraph-lab serve`) uses a PostgreSQL of the test's own (DURAGRAPH_DATABASE_URL),
which the test stops and starts; NATS is the server's embedded one.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from duragraph_lab.api.routes import READ, Route
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from tests.api_cases import GRAPH, NO_BODY, ROUTE_OPS, Ids, op_id, sample_ids, valid_body, valid_query
from tests.apiserver import ApiServer

#: Routes that do not touch the database: they answer as usual during the outage.
WITHOUT_DATABASE = {"/info", "/openapi.json", "/worker/connection", "/ok", "/metrics", "/evaluators"}
#: Answers 503 with its own body (Health), saying what is down.
HEALTH = "/health"
#: Reads whose answer must be the same before and after the outage (/health waits for the
#: relay, which reconnects with its own back-off: see test_health_reports_the_database_back).
READ_OPS = [(r, m) for r, m, _ in ROUTE_OPS if r.action(m) == READ and r.path != HEALTH]
PROMPT = 2.0  # seconds; a loose bound, as a correctness check (the pool would wait 10 s)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("outage-pg") / "postgres")
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(scope="module")
def database_url(postgres: EmbeddedPostgres) -> str:
    assert postgres.endpoint is not None
    return postgres.endpoint.url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[ApiServer]:
    server = ApiServer(
        tmp_path_factory.mktemp("outage") / "data", env={"DURAGRAPH_DATABASE_URL": database_url}
    ).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def ids(server: ApiServer) -> Ids:
    return sample_ids(server)


def send(server: ApiServer, route: Route, method: str, ids: Ids) -> tuple[requests.Response, float]:
    """One request of the route table (real ids, a valid body); the body of a stream is not
    read (a thread's stream never ends). Returns the response and how long its headers took."""
    body = valid_body(route, method, ids)
    started = time.monotonic()
    response = requests.request(
        method.upper(),
        f"{server.base}{ids.fill(route.path)}{valid_query(route, method, ids)}",
        json=None if body is NO_BODY else body,
        headers=server.headers,
        timeout=30,
        stream=True,
    )
    took = time.monotonic() - started
    if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
        response.content  # noqa: B018 - read the (JSON) body now
    response.close()
    return response, took


def error_of(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict), body
    return body


def test_disk_full_on_a_write_is_503_and_writes_nothing(server: ApiServer, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            """
            CREATE FUNCTION public.test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.data::text LIKE '%disk-full%' THEN
                    RAISE EXCEPTION 'could not extend file "base/1/2": No space left on device'
                        USING ERRCODE = '53100';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_disk_full BEFORE INSERT ON duragraph.events
                FOR EACH ROW EXECUTE FUNCTION public.test_disk_full();
            """
        )
        try:
            for path, body in (
                ("/threads", {"metadata": {"marker": "disk-full"}}),
                ("/runs", {"assistant_id": GRAPH, "input": {}, "metadata": {"marker": "disk-full"}}),
            ):
                response = requests.post(
                    f"{server.base}{path}", json=body, headers=server.headers, timeout=30
                )
                assert response.status_code == 503, (path, response.status_code, response.text)
                error = error_of(response)
                assert error["error"] == "unavailable", error
                assert "the database is unavailable" in error["message"] and "disk full" in error["message"]
                assert int(response.headers["Retry-After"]) >= 1
            written = conn.execute(
                "SELECT count(*) FROM duragraph.events WHERE data::text LIKE '%disk-full%'"
            )
            assert written.fetchone() == (0,)
            # Other writes go on.
            response = requests.post(
                f"{server.base}/threads",
                json={"metadata": {"marker": "fine"}},
                headers=server.headers,
                timeout=30,
            )
            assert response.status_code == 200, response.text
        finally:
            conn.execute(
                "DROP TRIGGER test_disk_full ON duragraph.events; DROP FUNCTION public.test_disk_full()"
            )


def test_postgres_down_then_back(
    server: ApiServer, postgres: EmbeddedPostgres, database_url: str, ids: Ids
) -> None:
    before = {op_id(r, m): send(server, r, m, ids)[0].status_code for r, m in READ_OPS}
    assert all(status < 500 for status in before.values()), before

    postgres.stop()
    latencies: list[float] = []
    try:
        for route, method, _ in ROUTE_OPS:
            response, took = send(server, route, method, ids)
            latencies.append(took)
            where = (op_id(route, method), response.status_code, response.text[:300])
            assert took < PROMPT, (*where, f"{took:.2f}s")
            if route.path in WITHOUT_DATABASE:
                assert response.status_code == 200, where
            elif route.path == "/ready":  # the public probe: states only, no error text
                assert response.status_code == 503, where
                assert error_of(response) == {
                    "ok": False,
                    "services": {"postgres": "unhealthy", "nats": "healthy"},
                }, where
                assert int(response.headers["Retry-After"]) >= 1, where
            elif route.path == HEALTH:
                assert response.status_code == 503, where
                assert (
                    error_of(response)["status"] == "unavailable" and not error_of(response)["postgres"]["ok"]
                )
            else:
                assert response.status_code == 503, where
                error = error_of(response)
                assert (
                    error["error"] == "unavailable" and "the database is unavailable" in error["message"]
                ), where
                assert int(response.headers["Retry-After"]) >= 1, where
        response = requests.get(f"{server.base}/ok?check_db=1", timeout=30)  # public: no token
        assert response.status_code == 503, response.text
        assert response.json() == {"ok": False, "services": {"database": "unhealthy"}}
        print(
            f"\n{len(latencies)} requests while PostgreSQL was down: median "
            f"{statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
        )
    finally:
        endpoint = postgres.start()
    assert endpoint.url == database_url, "PostgreSQL came back elsewhere"

    back = time.monotonic()
    while True:
        response = requests.get(f"{server.base}/threads/{ids.thread_id}", headers=server.headers, timeout=30)
        if response.status_code == 200:
            break
        assert response.status_code == 503, response.text
        assert time.monotonic() - back < 15, "the API still answers 503 15 s after PostgreSQL came back"
        time.sleep(0.1)
    print(f"the API answered again {time.monotonic() - back:.2f}s after PostgreSQL was back")
    after = {op_id(r, m): send(server, r, m, ids)[0].status_code for r, m in READ_OPS}
    assert after == before
    # Writes and runs work again too (the in-process worker and the relay recovered as well).
    response = requests.post(
        f"{server.base}/threads/{ids.thread_id}/runs/wait",
        json={"assistant_id": GRAPH, "input": {}},
        headers=server.headers,
        timeout=120,
    )
    assert response.status_code == 200 and "__error__" not in response.json(), response.text


def test_health_reports_the_database_back(server: ApiServer) -> None:
    deadline = time.monotonic() + 30
    while True:
        status, body, _ = server.request("GET", "/health")
        if status == 200:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    assert body["postgres"]["ok"] and body["relay"]["ok"], body


def test_no_request_was_answered_500(server: ApiServer) -> None:
    """Jupyter logs every answer (``500 GET /duragraph/api/v1/... (user@ip) ms``)."""
    assert server.proc is not None and server.proc.poll() is None
    answered = re.findall(r"\] (\d{3}) (?:GET|POST|PATCH|DELETE) /duragraph/api/v1", server.output())
    assert answered and "500" not in answered, sorted(set(answered))


def test_the_data_dir_is_unused(server: ApiServer, database_url: str) -> None:
    """The server's own data directory has no PostgreSQL: the test's is the one it uses."""
    assert not (Path(server.data_dir) / "postgres" / "data").exists()
