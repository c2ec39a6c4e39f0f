"""Requests for every route of the API, shared by the bad-input, auth, OpenAPI and fuzz tests.

The route table (``duragraph_lab.api.routes.ROUTES``) is the source: path parameters are filled
with real ids (:func:`sample_ids`) or unknown ones (:func:`unknown_ids`), and :func:`valid_body`
gives, for each route that takes a body, one that passes validation (and would write something
if the request went through). :class:`Database` tells whether a request wrote anything.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from duragraph_lab.api.routes import ROUTES, Op, Route
from duragraph_lab.runtime.services import read_runtime_info
from tests.apiserver import ApiServer

T = TypeVar("T")
#: Every (route, method, operation) of the route table.
ROUTE_OPS: list[tuple[Route, str, Op]] = [(r, m, op) for r in ROUTES for m, op in r.ops.items()]
BODY_OPS = [(r, m, op) for r, m, op in ROUTE_OPS if op.body is not None]
#: The graph the sample runs use: quick, and with a subgraph (for the subgraph routes).
GRAPH = "nested"


def op_id(route: Route, method: str) -> str:
    return f"{method.upper()} {route.path}"


@dataclass(frozen=True, slots=True)
class Ids:
    thread_id: str
    run_id: str
    assistant_id: str
    checkpoint_id: str
    namespace: str
    seq: int = 1
    dataset: str = "no-such-dataset"
    experiment_id: str = "00000000-0000-4000-8000-000000000000"
    example_id: str = "no-such-example"
    cron_id: str = "00000000-0000-4000-8000-000000000000"

    def fill(self, path: str) -> str:
        """``path`` with its ``{name}`` parameters replaced by these ids."""

        def value(match: re.Match[str]) -> str:
            return str(getattr(self, match.group(1)))

        return re.sub(r"\{([a-z_]+)\}", value, path)

    def but(self, **changes: Any) -> Ids:
        return Ids(**{**{k: getattr(self, k) for k in self.__slots__}, **changes})


def unknown_ids() -> Ids:
    return Ids(
        thread_id=str(uuid.uuid4()),
        run_id=str(uuid.uuid4()),
        assistant_id=str(uuid.uuid4()),
        checkpoint_id=str(uuid.uuid4()),
        namespace="no-such-subgraph",
        dataset=f"no-such-dataset-{uuid.uuid4().hex[:8]}",
        experiment_id=str(uuid.uuid4()),
        cron_id=str(uuid.uuid4()),
    )


def ok(server: ApiServer, method: str, route: str, body: Any = None) -> Any:
    status, out, _ = server.request(method, route, body)
    assert status == 200, (method, route, status, out)
    return out


def sample_ids(server: ApiServer) -> Ids:
    """A fresh thread with one finished run, a checkpoint of it, and an assistant of its own."""
    thread = ok(server, "POST", "/threads", {"metadata": {"sample": True}})
    ok(server, "POST", f"/threads/{thread['thread_id']}/runs/wait", {"assistant_id": GRAPH, "input": {}})
    runs = ok(server, "GET", f"/threads/{thread['thread_id']}/runs")
    assert len(runs) == 1 and runs[0]["status"] == "success", runs
    state = ok(server, "GET", f"/threads/{thread['thread_id']}/state")
    assistant = ok(server, "POST", "/assistants", {"graph_id": GRAPH, "name": "sample"})
    events = ok(server, "GET", f"/runs/{runs[0]['run_id']}/events")["events"]
    completed = [e["seq"] for e in events if e["type"] == "node_completed"]
    dataset = ok(
        server,
        "POST",
        "/datasets",
        {"name": f"sample-{uuid.uuid4().hex[:12]}", "selection": {"ids": [runs[0]["run_id"]]}},
    )
    experiment = ok(server, "POST", "/experiments", {"dataset": dataset["name"], "assistant_id": GRAPH})
    examples = ok(server, "GET", f"/datasets/{dataset['name']}/examples")["examples"]
    item = {"namespace": ["sample", thread["thread_id"]], "key": "k", "value": {"sample": True}}
    status, out, _ = server.request("PUT", "/store/items", item)
    assert status == 204, (status, out)
    # Disabled: it never fires while the tests use it.
    cron = ok(
        server, "POST", "/runs/crons", {"assistant_id": GRAPH, "schedule": "0 0 1 1 *", "enabled": False}
    )
    return Ids(
        thread_id=thread["thread_id"],
        run_id=runs[0]["run_id"],
        assistant_id=assistant["assistant_id"],
        checkpoint_id=state["checkpoint"]["checkpoint_id"],
        namespace="sub",
        seq=completed[0],
        dataset=dataset["name"],
        experiment_id=experiment["experiment_id"],
        example_id=examples[0]["example_id"],
        cron_id=cron["cron_id"],
    )


NO_BODY = object()


def valid_body(route: Route, method: str, ids: Ids, marker: str = "probe") -> Any:
    """A body this operation accepts (NO_BODY: it takes none). ``marker`` goes into metadata
    where there is metadata, so that what such a request wrote can be found."""
    op = route.ops[method]
    if op.body is None:
        return NO_BODY
    meta = {"marker": marker}
    run = {"assistant_id": GRAPH, "input": {}, "metadata": meta}
    cron = {"assistant_id": GRAPH, "schedule": "0 0 1 1 *", "enabled": False}
    bodies: dict[tuple[str, str], Any] = {
        ("/assistants", "post"): {"graph_id": GRAPH, "metadata": meta},
        ("/assistants/{assistant_id}", "patch"): {"metadata": meta},
        ("/assistants/{assistant_id}/latest", "post"): {"version": 1},
        ("/threads", "post"): {"metadata": meta},
        ("/threads/{thread_id}", "patch"): {"metadata": meta},
        ("/threads/prune", "post"): {"thread_ids": [ids.thread_id]},
        ("/threads/{thread_id}/copy", "post"): {"metadata": meta},
        ("/threads/{thread_id}/state", "post"): {"values": {"n": 41}},
        ("/threads/{thread_id}/state/checkpoint", "post"): {
            "checkpoint": {"checkpoint_id": ids.checkpoint_id}
        },
        ("/runs/batch", "post"): [run],
        ("/runs/cancel", "post"): {"thread_id": ids.thread_id, "run_ids": [ids.run_id]},
        ("/runs/{run_id}/fork", "post"): {"seq": ids.seq},
        ("/datasets", "post"): {"name": f"probe-{uuid.uuid4().hex[:12]}", "selection": {"ids": [ids.run_id]}},
        ("/datasets/{dataset}/versions", "post"): {"selection": {"ids": [ids.run_id]}},
        ("/experiments", "post"): {"dataset": ids.dataset, "assistant_id": GRAPH, "metadata": meta},
        ("/experiments/{experiment_id}/results", "post"): {
            "example_id": ids.example_id,
            "run_id": ids.run_id,
        },
        ("/experiments/compare", "post"): {"base": ids.experiment_id, "candidate": ids.experiment_id},
        ("/runs/compare", "post"): {"base": ids.run_id, "candidate": ids.run_id},
        # A command that writes nothing (the route needs `execute` because others run code).
        ("/threads/{thread_id}/commands", "post"): {
            "id": 1,
            "method": "state.get",
            "params": {"namespace": []},
        },
        ("/threads/{thread_id}/stream/events", "post"): {"channels": ["lifecycle"]},
        ("/store/items", "put"): {"namespace": ["probe", marker], "key": "k", "value": meta},
        # The sample thread's item (see sample_ids).
        ("/store/items", "delete"): {"namespace": ["sample", ids.thread_id], "key": "k"},
        ("/runs/crons", "post"): {**cron, "metadata": meta},
        ("/threads/{thread_id}/runs/crons", "post"): {**cron, "metadata": meta},
        ("/runs/crons/{cron_id}", "patch"): {"metadata": meta},
    }
    if (route.path, method) in bodies:
        return bodies[(route.path, method)]
    if op.body.__name__.startswith("RunCreate"):
        return run
    # Searches, counts, history, versions: every field is optional.
    op.body.model_validate({})
    return {}


def valid_query(route: Route, method: str, ids: Ids) -> str:
    """The query string an operation needs to be valid ("" when it needs none)."""
    if (route.path, method) == ("/store/items", "get"):
        return f"?namespace=sample.{ids.thread_id}&key=k"  # the sample thread's item
    return ""


class Database:
    """The API server's own PostgreSQL, to tell whether a request wrote anything."""

    def __init__(self, server: ApiServer) -> None:
        info = read_runtime_info(server.data_dir)
        assert info is not None, "the server's runtime.json is missing"
        self.conn = psycopg.connect(info.endpoints.database_url, autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def snapshot(self) -> tuple[int, ...]:
        """The last event seq, the row counts of the projections a request could change, and the
        store's items (how many, and the last write)."""
        row = self.conn.execute(
            "SELECT (SELECT coalesce(max(seq), 0) FROM duragraph.events),"
            " (SELECT count(*) FROM duragraph.threads), (SELECT count(*) FROM duragraph.runs),"
            " (SELECT count(*) FROM duragraph.assistants),"
            " (SELECT count(*) FROM duragraph.assistant_versions),"
            " (SELECT count(*) FROM duragraph.datasets), (SELECT count(*) FROM duragraph.dataset_versions),"
            " (SELECT count(*) FROM duragraph.experiments), (SELECT count(*) FROM duragraph.experiment_results),"
            " (SELECT count(*) FROM duragraph.store_items), (SELECT count(*) FROM duragraph.crons),"
            " (SELECT coalesce(extract(epoch FROM max(updated_at)) * 1000000, 0)::bigint"
            "  FROM duragraph.store_items)"
        ).fetchone()
        assert row is not None
        return tuple(int(v) for v in row)

    def events_of(self, *stream_ids: str) -> list[tuple[int, str]]:
        rows = self.conn.execute(
            "SELECT seq, type FROM duragraph.events WHERE stream_id = ANY(%s) ORDER BY seq",
            (list(stream_ids),),
        ).fetchall()
        return [(int(seq), str(kind)) for seq, kind in rows]

    def quiet(self, timeout: float = 30.0) -> None:
        """Wait until nothing is being written (runs of earlier tests have settled)."""
        deadline = time.monotonic() + timeout
        last = self.snapshot()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.snapshot()
            if now == last:
                return
            last = now
        raise AssertionError("the server kept writing")

    def unchanged(self, action: Callable[[], T], attempts: int = 3) -> T:
        """Run ``action`` and check that the database did not change meanwhile. The server is
        shared with other tests: a change is retried (a bad request that writes writes every
        time; an unrelated background write does not repeat at the same moment)."""
        before = after = ()
        for _ in range(attempts):
            before = self.snapshot()
            result = action()
            after = self.snapshot()
            if before == after:
                return result
            self.quiet()
        raise AssertionError(f"the request wrote to the database: {before} -> {after}")


def assert_error(status: int, body: Any, expected: int, code: str | None = None) -> dict[str, Any]:
    """``status`` is ``expected`` and the body is ``{"error": code, "message": text, ...}``."""
    assert status == expected, (status, body)
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    if code is not None:
        assert body["error"] == code, body
    return body
