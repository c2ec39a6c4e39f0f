"""Every route of the API in one table: its path, handler and, per method, what the OpenAPI
document says about it. The tornado URL patterns and the OpenAPI document are both made from
this table, so they cannot disagree."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from duragraph_lab.api import models
from duragraph_lab.api.handlers import assistants as ah
from duragraph_lab.api.handlers import crons as ch
from duragraph_lab.api.handlers import evals as vh
from duragraph_lab.api.handlers import eventlog as eh
from duragraph_lab.api.handlers import protocol as ph
from duragraph_lab.api.handlers import runs as rh
from duragraph_lab.api.handlers import store as kh
from duragraph_lab.api.handlers import system as sh
from duragraph_lab.api.handlers import threads as th
from duragraph_lab.api.handlers.base import API_PREFIX, DuraGraphHandler

#: Jupyter's authorization actions (``Authorizer.is_authorized(handler, user, action, resource)``),
#: on the resource ``duragraph``: ``read`` shows stored state, ``write`` changes it, ``execute``
#: makes code run (runs, forks, replays, server-run experiments) or hands out the power to (the
#: database credentials of ``GET /worker/connection``).
READ, WRITE, EXECUTE = "read", "write", "execute"
ACTIONS = (READ, WRITE, EXECUTE)
#: The action of an operation that does not name one: Jupyter's own mapping of HTTP methods.
METHOD_ACTIONS = {"get": READ, "head": READ, "post": WRITE, "put": WRITE, "patch": WRITE, "delete": WRITE}


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str = ""
    where: str = "query"
    required: bool = False


@dataclass(frozen=True, slots=True)
class Op:
    summary: str
    response: str | None  # a component schema name; None: no body
    status: int = 200
    body: type[BaseModel] | None = None
    body_is_array: bool = False
    params: tuple[Param, ...] = ()
    sse: bool = False
    long_poll: bool = False
    description: str = ""
    #: The authorization action; empty: from the HTTP method (METHOD_ACTIONS). Searches and counts
    #: sent as POST only read; run creation executes.
    action: str = ""
    #: ``(boolean query parameter, action)``: a true value also needs that action (a stream or a
    #: join with ``cancel_on_disconnect`` cancels the run when the client goes: a write).
    escalations: tuple[tuple[str, str], ...] = ()
    #: Answered to anyone, credentials or not, and asked of no Authorizer: liveness and readiness
    #: probes (load balancers, Kubernetes) hold no token. Such an operation says nothing sensitive.
    public: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    handler: type[DuraGraphHandler]
    tag: str
    ops: dict[str, Op] = field(default_factory=dict)

    @property
    def pattern(self) -> str:
        return rf"/{API_PREFIX}" + re.sub(r"\{[a-z_]+\}", "([^/]+)", self.path)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{([a-z_]+)\}", self.path)

    def action(self, method: str) -> str:
        """The authorization action the operation ``method`` needs."""
        return self.ops[method].action or METHOD_ACTIONS[method]


def _int(low: int = 0, high: int | None = None, default: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer", "minimum": low}
    if high is not None:
        out["maximum"] = high
    if default is not None:
        out["default"] = default
    return out


_BOOL = {"type": "boolean"}
_ACTION = Param("action", {"type": "string", "enum": ["interrupt", "rollback"], "default": "interrupt"})
_STREAM_MODE = Param(
    "stream_mode",
    {"type": "array", "items": {"type": "string", "enum": list(models.STREAM_MODES)}},
    "Stream modes (default: those the run was created with).",
)
_LAST_EVENT_ID = Param("Last-Event-ID", {"type": "string"}, "Resume after this event seq.", "header")
_CANCEL_ON_DISCONNECT = Param(
    "cancel_on_disconnect", _BOOL, "Cancel the run if the client goes away (needs the `write` action too)."
)
_CANCELS = (("cancel_on_disconnect", WRITE),)
_PAGE = (Param("limit", _int(1, 1000, 10)), Param("offset", _int(0, None, 0)))
_PAGE_20 = (Param("limit", _int(1, 1000, 20)), Param("offset", _int(0, None, 0)))

_ARROW_DOC = (
    "The whole event log in one response, for DataFrames: an Arrow IPC stream "
    "(application/vnd.apache.arrow.stream), one record batch per ~30,000 events in seq order; "
    "columns seq, stream, event_id, type, recorded_at, node, task, step, attempt, duration_ms "
    "(read from the payload) and data (the payload as JSON text)."
)
_AFTER = Param("after", _int(0, None, 0), "Only events with a greater seq.")
_COMPRESSION = Param(
    "compression",
    {"type": "string", "enum": ["lz4", "zstd", "none"], "default": "lz4"},
    "Compression of the Arrow IPC bodies; `none` for a client on the same machine.",
)

_STREAM_DOC = (
    "Server-sent events: `metadata` first, then one frame per stream mode part; `id:` is the global "
    "event seq (send it back as `Last-Event-ID` to resume with no gap and no duplicate). Token "
    "chunks and custom events have no id (they are not stored). The stream ends when the run "
    "finishes or pauses for a human."
)

_PROTOCOL_DOC = (
    "The thread-centric streaming protocol of langgraph-sdk 0.4 (`client.threads.stream`, "
    '`RemoteGraph.astream_events(version="v3")`; events typed by `langchain-protocol`).'
)

_CRON_DOC = (
    "`schedule`: a cron expression (5 fields, or 6 with seconds last) in `timezone` (IANA; null: "
    "UTC), until `end_time`. Every API server runs the scheduler; each tick starts at most one run "
    "(ticks missed while no server ran: one run on catch-up). The runs' metadata has `cron_id` and "
    "`cron_tick`. `webhook` is stored with the cron's payload."
)

ROUTES: list[Route] = [
    # -- thread-centric streaming protocol -------------------------------------------------------
    Route(
        "/threads/{thread_id}/commands",
        ph.ThreadCommandsHandler,
        "threads",
        {
            "post": Op(
                "Send a protocol command",
                "ProtocolResponse",
                body=models.ProtocolCommand,
                action=EXECUTE,
                description=_PROTOCOL_DOC
                + " `run.start` (creates the thread on first use), `input.respond`, `run.cancel` "
                "(DuraGraph's), `state.get`, `state.listCheckpoints`, `state.fork`, `agent.getTree`. "
                "Answer: `{type: success, id, result, meta: {applied_through_seq}}`; a refused command: "
                "its 4xx with `{type: error, id, error, message}`.",
            )
        },
    ),
    Route(
        "/threads/{thread_id}/stream/events",
        ph.ThreadEventsHandler,
        "threads",
        {
            "post": Op(
                "Follow a thread's protocol events",
                "EventStream",
                body=models.EventStreamRequest,
                sse=True,
                action=READ,
                description=_PROTOCOL_DOC
                + " Server-sent events, one protocol event per frame, filtered by channel, namespace "
                "prefix and depth; `since`: replay from the event log after that seq (no gap, no "
                "duplicate), else from the start of the thread's latest run. Open until the client "
                "leaves. `GET` on this path with `Upgrade: websocket` is the WebSocket transport.",
            )
        },
    ),
    # -- system --------------------------------------------------------------------------------
    Route(
        "/health",
        sh.HealthHandler,
        "system",
        {"get": Op("Health of PostgreSQL, NATS, the relay and the worker", "Health")},
    ),
    Route("/info", sh.InfoHandler, "system", {"get": Op("Server version and configuration", "Info")}),
    Route(
        "/workers",
        sh.WorkersHandler,
        "system",
        {
            "get": Op(
                "The live workers (a heartbeat in the last minute) and the graphs each serves",
                "WorkerList",
            )
        },
    ),
    Route(
        "/worker/connection",
        sh.WorkerConnectionHandler,
        "system",
        {
            "get": Op(
                "Where a worker reaches PostgreSQL and NATS (credentials included)",
                "WorkerConnection",
                action=EXECUTE,
                description="For a kernel or `duragraph-lab worker` that knows only the server's URL and "
                "token. 403 when the server is configured not to share them "
                "(`c.DuraGraphApp.share_worker_connection = False`); `local_only`: embedded services, "
                "reachable from this machine only.",
            )
        },
    ),
    Route(
        "/ok",
        sh.OkHandler,
        "system",
        {
            "get": Op(
                "Liveness (and database check with check_db=1)",
                "Ok",
                params=(Param("check_db", _BOOL),),
                public=True,
                description="No credentials needed (as on LangGraph Platform). `{ok: true}` while the "
                "server answers; with `check_db=1`, 503 when PostgreSQL does not answer.",
            )
        },
    ),
    Route(
        "/ready",
        sh.ReadyHandler,
        "system",
        {
            "get": Op(
                "Readiness: PostgreSQL and NATS reachable",
                "Ready",
                public=True,
                description="No credentials needed. 200 `{ok: true, services: {postgres, nats}}` when "
                "PostgreSQL answers and NATS is connected, else 503 with the same fields (each "
                "`healthy` or `unhealthy`) and `Retry-After`. Says nothing else: `/health` (authenticated) "
                "has the details.",
            )
        },
    ),
    Route("/metrics", sh.MetricsHandler, "system", {"get": Op("Prometheus metrics", "Metrics")}),
    Route("/openapi.json", sh.OpenApiHandler, "system", {"get": Op("This document", "OpenApi")}),
    # -- assistants ----------------------------------------------------------------------------
    Route(
        "/assistants",
        ah.AssistantsHandler,
        "assistants",
        {"post": Op("Create an assistant", "Assistant", body=models.AssistantCreate)},
    ),
    Route(
        "/assistants/search",
        ah.AssistantSearchHandler,
        "assistants",
        {"post": Op("Search assistants", "AssistantList", body=models.AssistantSearch, action=READ)},
    ),
    Route(
        "/assistants/count",
        ah.AssistantCountHandler,
        "assistants",
        {"post": Op("Count assistants", "Count", body=models.AssistantCount, action=READ)},
    ),
    Route(
        "/assistants/{assistant_id}/graph",
        ah.AssistantGraphHandler,
        "assistants",
        {
            "get": Op(
                "The assistant's graph: nodes, edges (conditional ones labelled) and layout",
                "Graph",
                params=(
                    Param("xray", {"type": ["boolean", "integer"]}, "Draw subgraphs' nodes (to a depth)."),
                ),
            )
        },
    ),
    Route(
        "/assistants/{assistant_id}/schemas",
        ah.AssistantSchemasHandler,
        "assistants",
        {"get": Op("JSON Schemas of the graph's input, output and state", "GraphSchemas")},
    ),
    Route(
        "/assistants/{assistant_id}/subgraphs/{namespace}",
        ah.AssistantSubgraphsHandler,
        "assistants",
        {"get": Op("Schemas of one subgraph", "Subgraphs", params=(Param("recurse", _BOOL),))},
    ),
    Route(
        "/assistants/{assistant_id}/subgraphs",
        ah.AssistantSubgraphsHandler,
        "assistants",
        {"get": Op("Schemas of the graph's subgraphs", "Subgraphs", params=(Param("recurse", _BOOL),))},
    ),
    Route(
        "/assistants/{assistant_id}/versions",
        ah.AssistantVersionsHandler,
        "assistants",
        {
            "post": Op(
                "The assistant's versions, newest first",
                "AssistantVersionList",
                body=models.AssistantVersions,
                action=READ,
            )
        },
    ),
    Route(
        "/assistants/{assistant_id}/latest",
        ah.AssistantLatestHandler,
        "assistants",
        {"post": Op("Make a version the latest", "Assistant", body=models.AssistantLatest)},
    ),
    Route(
        "/assistants/{assistant_id}",
        ah.AssistantHandler,
        "assistants",
        {
            "get": Op("Get an assistant (or a graph's default assistant by graph id)", "Assistant"),
            "patch": Op("Update an assistant (a new version)", "Assistant", body=models.AssistantPatch),
            "delete": Op("Delete an assistant", None, status=204),
        },
    ),
    # -- threads -------------------------------------------------------------------------------
    Route(
        "/threads",
        th.ThreadsHandler,
        "threads",
        {"post": Op("Create a thread", "Thread", body=models.ThreadCreate)},
    ),
    Route(
        "/threads/search",
        th.ThreadSearchHandler,
        "threads",
        {"post": Op("Search threads", "ThreadList", body=models.ThreadSearch, action=READ)},
    ),
    Route(
        "/threads/count",
        th.ThreadCountHandler,
        "threads",
        {"post": Op("Count threads", "Count", body=models.ThreadCount, action=READ)},
    ),
    Route(
        "/threads/prune",
        th.ThreadPruneHandler,
        "threads",
        {"post": Op("Delete many threads", "PruneResult", body=models.ThreadPrune)},
    ),
    Route(
        "/threads/{thread_id}/copy",
        th.ThreadCopyHandler,
        "threads",
        {"post": Op("Copy a thread with its whole history", "Thread", body=models.ThreadCopy)},
    ),
    Route(
        "/threads/{thread_id}/state/checkpoint",
        th.ThreadStateCheckpointHandler,
        "threads",
        {
            "post": Op(
                "The thread's state at a checkpoint",
                "ThreadState",
                body=models.StateAtCheckpoint,
                action=READ,
            )
        },
    ),
    Route(
        "/threads/{thread_id}/state/{checkpoint_id}",
        th.ThreadStateAtHandler,
        "threads",
        {"get": Op("The thread's state at a checkpoint", "ThreadState", params=(Param("subgraphs", _BOOL),))},
    ),
    Route(
        "/threads/{thread_id}/state",
        th.ThreadStateHandler,
        "threads",
        {
            "get": Op("The thread's current state", "ThreadState", params=(Param("subgraphs", _BOOL),)),
            "post": Op(
                "Edit the thread's state",
                "StateUpdateResult",
                body=models.StateUpdate,
                description="As if `as_node` (or the node that wrote last) had just completed: its "
                "reducers applied, and what it leads to runs next (docs/api.md, State edits). 422 for an "
                "edit the graph refuses (`Ambiguous update, specify as_node`); 503 `worker_unavailable` "
                "when the graph's code is needed and no worker serving it applied the edit (nothing changed).",
            ),
        },
    ),
    Route(
        "/threads/{thread_id}/history",
        th.ThreadHistoryHandler,
        "threads",
        {
            "get": Op(
                "The thread's checkpoints, newest first",
                "ThreadStateList",
                params=(Param("limit", _int(1, 1000, 10)), Param("before", {"type": "string"})),
            ),
            "post": Op(
                "The thread's checkpoints, newest first",
                "ThreadStateList",
                body=models.HistoryQuery,
                action=READ,
            ),
        },
    ),
    Route(
        "/threads/{thread_id}/events.arrow",
        eh.ThreadEventsArrowHandler,
        "duragraph",
        {
            "get": Op(
                "The event logs of all the thread's runs as Arrow, in seq order",
                "ArrowStream",
                params=(_AFTER, _COMPRESSION),
                description=_ARROW_DOC,
            )
        },
    ),
    Route(
        "/threads/{thread_id}/stream",
        th.ThreadStreamHandler,
        "threads",
        {
            "get": Op(
                "Follow a thread: its runs one after another",
                "EventStream",
                sse=True,
                params=(
                    Param(
                        "stream_modes",
                        {"type": "array", "items": {"type": "string", "enum": list(th.THREAD_STREAM_MODES)}},
                    ),
                    _LAST_EVENT_ID,
                ),
                description=_STREAM_DOC,
            )
        },
    ),
    Route(
        "/threads/{thread_id}",
        th.ThreadHandler,
        "threads",
        {
            "get": Op("Get a thread", "Thread"),
            "patch": Op("Update a thread's metadata", "Thread", body=models.ThreadPatch),
            "delete": Op("Delete a thread with its runs", None, status=204),
        },
    ),
    # -- crons (before the runs: /runs/crons is not a run id) ------------------------------------
    Route(
        "/threads/{thread_id}/runs/crons",
        ch.CronsHandler,
        "crons",
        {
            "post": Op(
                "Schedule runs on a thread",
                "Cron",
                body=models.CronCreate,
                action=EXECUTE,
                description=_CRON_DOC + " 404 when the thread or the assistant does not exist.",
            )
        },
    ),
    Route(
        "/runs/crons/search",
        ch.CronSearchHandler,
        "crons",
        {"post": Op("Search crons", "CronList", body=models.CronSearch, action=READ)},
    ),
    Route(
        "/runs/crons/count",
        ch.CronCountHandler,
        "crons",
        {"post": Op("Count crons", "Count", body=models.CronCount, action=READ)},
    ),
    Route(
        "/runs/crons/{cron_id}",
        ch.CronHandler,
        "crons",
        {
            "get": Op("Get a cron", "Cron"),
            "patch": Op(
                "Update a cron",
                "Cron",
                body=models.CronPatch,
                action=EXECUTE,
                description="Only the fields sent change (`end_time: null` clears the end time); the "
                "next fire time is computed again from now.",
            ),
            "delete": Op("Delete a cron", None, status=204),
        },
    ),
    Route(
        "/runs/crons",
        ch.CronsHandler,
        "crons",
        {
            "post": Op(
                "Schedule stateless runs",
                "Cron",
                body=models.CronCreate,
                action=EXECUTE,
                description=_CRON_DOC + " Each run gets a new thread, deleted when the run ends unless "
                "`on_run_completed` is `keep`.",
            )
        },
    ),
    # -- runs on threads -----------------------------------------------------------------------
    Route(
        "/threads/{thread_id}/runs/wait",
        rh.ThreadRunsWaitHandler,
        "runs",
        {
            "post": Op(
                "Start a run and wait for its result",
                "JoinResult",
                body=models.RunCreateStateful,
                long_poll=True,
                action=EXECUTE,
            )
        },
    ),
    Route(
        "/threads/{thread_id}/runs/stream",
        rh.ThreadRunsStreamHandler,
        "runs",
        {
            "post": Op(
                "Start a run and stream it",
                "EventStream",
                body=models.RunCreateStateful,
                sse=True,
                action=EXECUTE,
                description=_STREAM_DOC,
            )
        },
    ),
    Route(
        "/threads/{thread_id}/runs/{run_id}/join",
        rh.RunJoinHandler,
        "runs",
        {
            "get": Op(
                "Wait for a run's result",
                "JoinResult",
                params=(_CANCEL_ON_DISCONNECT,),
                long_poll=True,
                escalations=_CANCELS,
            )
        },
    ),
    Route(
        "/threads/{thread_id}/runs/{run_id}/stream",
        rh.RunStreamHandler,
        "runs",
        {
            "get": Op(
                "Stream a run (from its start, or after Last-Event-ID)",
                "EventStream",
                sse=True,
                params=(_STREAM_MODE, _CANCEL_ON_DISCONNECT, _LAST_EVENT_ID),
                description=_STREAM_DOC,
                escalations=_CANCELS,
            )
        },
    ),
    Route(
        "/threads/{thread_id}/runs/{run_id}/cancel",
        rh.RunCancelHandler,
        "runs",
        {"post": Op("Cancel a run", None, status=202, params=(_ACTION, Param("wait", _BOOL)))},
    ),
    Route(
        "/threads/{thread_id}/runs/{run_id}",
        rh.RunHandler,
        "runs",
        {"get": Op("Get a run", "Run"), "delete": Op("Delete a run that is not running", None, status=204)},
    ),
    Route(
        "/threads/{thread_id}/runs",
        rh.ThreadRunsHandler,
        "runs",
        {
            "get": Op(
                "The thread's runs, newest first",
                "RunList",
                params=(*_PAGE, Param("status", {"type": "string", "enum": list(models.RunStatus.__args__)})),  # type: ignore[attr-defined]
            ),
            "post": Op("Start a run in the background", "Run", body=models.RunCreateStateful, action=EXECUTE),
        },
    ),
    # -- stateless runs and extras -------------------------------------------------------------
    Route(
        "/runs/wait",
        rh.StatelessRunsWaitHandler,
        "runs",
        {
            "post": Op(
                "Run on a new thread and wait for the result",
                "JoinResult",
                body=models.RunCreateStateless,
                long_poll=True,
                action=EXECUTE,
            )
        },
    ),
    Route(
        "/runs/stream",
        rh.StatelessRunsStreamHandler,
        "runs",
        {
            "post": Op(
                "Run on a new thread and stream it",
                "EventStream",
                body=models.RunCreateStateless,
                sse=True,
                action=EXECUTE,
                description=_STREAM_DOC,
            )
        },
    ),
    Route(
        "/runs/batch",
        rh.RunsBatchHandler,
        "runs",
        {
            "post": Op(
                "Start many runs on new threads",
                "RunList",
                body=models.RunCreateStateless,
                body_is_array=True,
                action=EXECUTE,
            )
        },
    ),
    Route(
        "/runs/cancel",
        rh.RunsCancelHandler,
        "runs",
        {"post": Op("Cancel many runs", None, status=204, body=models.RunsCancel, params=(_ACTION,))},
    ),
    Route(
        "/runs",
        rh.StatelessRunsHandler,
        "runs",
        {"post": Op("Start a run on a new thread", "Run", body=models.RunCreateStateless, action=EXECUTE)},
    ),
    Route(
        "/runs/search",
        rh.RunSearchHandler,
        "runs",
        {
            "post": Op(
                "Search runs across threads",
                "RunList",
                body=models.RunSearch,
                action=READ,
                description="**DuraGraph:** runs of any thread by status (one or a list), assistant, "
                "graph, thread, ids, metadata (containment) and creation time; newest first by default. "
                "Headers X-Pagination-Total and X-Pagination-Next.",
            )
        },
    ),
    Route(
        "/runs/count",
        rh.RunCountHandler,
        "runs",
        {"post": Op("Count runs across threads", "Count", body=models.RunFilter, action=READ)},
    ),
    Route(
        "/runs/compare",
        vh.RunCompareHandler,
        "evals",
        {
            "post": Op(
                "Compare two runs",
                "RunComparison",
                body=models.CompareBody,
                action=READ,
                description="**DuraGraph:** the first diverging node (a different node, or the same node "
                "with a different update; parallel tasks are compared in (step, node) order), the diff of "
                "the final states (message ids ignored), latency and step deltas.",
            )
        },
    ),
    Route(
        "/runs/{run_id}/outcome",
        vh.RunOutcomeHandler,
        "evals",
        {
            "get": Op(
                "What a run did, as evaluators see it",
                "RunOutcome",
                description="**DuraGraph:** inputs, final outputs, status, error, per-node results, "
                "trajectory (root nodes in (step, node) order), tool calls, latency and supersteps.",
            )
        },
    ),
    Route(
        "/runs/{run_id}/events",
        rh.RunEventsHandler,
        "duragraph",
        {
            "get": Op(
                "The run's event log, paged by global seq",
                "EventPage",
                params=(Param("after", _int(0, None, 0)), Param("limit", _int(1, 10_000, 1000))),
            )
        },
    ),
    Route(
        "/runs/{run_id}/events.arrow",
        eh.RunEventsArrowHandler,
        "duragraph",
        {
            "get": Op(
                "The run's event log as Arrow",
                "ArrowStream",
                params=(_AFTER, _COMPRESSION),
                description=_ARROW_DOC,
            )
        },
    ),
    Route(
        "/runs/{run_id}/events.parquet",
        eh.RunEventsParquetHandler,
        "duragraph",
        {
            "get": Op(
                "The run's event log as Parquet",
                "Parquet",
                params=(_AFTER,),
                description="The columns of events.arrow in one Parquet file (zstd), for download.",
            )
        },
    ),
    Route(
        "/runs/{run_id}/spans",
        rh.RunSpansHandler,
        "duragraph",
        {"get": Op("One span per node execution", "SpanList")},
    ),
    Route(
        "/runs/{run_id}/state",
        rh.RunStateHandler,
        "duragraph",
        {
            "get": Op(
                "The state right after an event of the run, and right before it",
                "EventState",
                params=(Param("seq", _int(1), "The event (default: the run's latest)."),),
                description="**DuraGraph:** `values` is the state right after the event: at a "
                "`node_completed`, with that node's update (and those of its step's nodes that "
                "completed before it) applied, as the step's end applies them; `previous` is the "
                "state right after the run's previous event (`previous_seq`; null for the run's first "
                "event: the state it started from), so the change the event made is the difference. "
                "Keys with a custom reducer change at step boundaries only.",
            )
        },
    ),
    Route(
        "/runs/{run_id}/fork",
        rh.RunForkHandler,
        "duragraph",
        {
            "post": Op(
                "Branch a new run after an event of this one", "Run", body=models.RunFork, action=EXECUTE
            )
        },
    ),
    Route(
        "/runs/{run_id}/replay",
        rh.RunReplayHandler,
        "duragraph",
        {
            "post": Op(
                "Re-execute the run with the current graph code; report the first divergence",
                "ReplayReport",
                action=EXECUTE,
            )
        },
    ),
    Route(
        "/runs/{run_id}/join",
        rh.RunJoinHandler,
        "runs",
        {
            "get": Op(
                "Wait for a run's result",
                "JoinResult",
                params=(_CANCEL_ON_DISCONNECT,),
                long_poll=True,
                escalations=_CANCELS,
            )
        },
    ),
    Route(
        "/runs/{run_id}/stream",
        rh.RunStreamHandler,
        "runs",
        {
            "get": Op(
                "Stream a run (from its start, or after Last-Event-ID)",
                "EventStream",
                sse=True,
                params=(_STREAM_MODE, _CANCEL_ON_DISCONNECT, _LAST_EVENT_ID),
                description=_STREAM_DOC,
                escalations=_CANCELS,
            )
        },
    ),
    Route(
        "/runs/{run_id}",
        rh.RunHandler,
        "runs",
        {"get": Op("Get a run", "Run"), "delete": Op("Delete a run", None, status=204)},
    ),
    # -- the store -----------------------------------------------------------------------------
    Route(
        "/store/items/search",
        kh.StoreSearchHandler,
        "store",
        {
            "post": Op(
                "Search items under a namespace prefix",
                "StoreSearchResult",
                body=models.StoreSearch,
                action=READ,
                description="Items under `namespace_prefix` (all: empty or left out) that match `filter` "
                "(LangGraph's syntax: equality, `$eq $ne $gt $gte $lt $lte`, nested objects, lists; numbers "
                "compare as numbers), most recently updated first, paged by `limit`/`offset`. `refresh_ttl` "
                "(default: the store's `refresh_on_read`) gives the items returned that have a TTL a new "
                "expiry. `query` does not change the answer: there is no vector index (`score` is null). "
                "It refreshes TTLs, a write, but only of what the reader may read: it needs `read`.",
            )
        },
    ),
    Route(
        "/store/items",
        kh.StoreItemsHandler,
        "store",
        {
            "put": Op(
                "Create or replace an item",
                None,
                status=204,
                body=models.StorePut,
                description="`ttl` in minutes (left out: the store's default TTL; null: never expires). "
                "`index` may be false or null: per-item index fields need a vector index (422).",
            ),
            "get": Op(
                "Get an item (null when there is none)",
                "StoreItemOrNull",
                params=(
                    Param("namespace", {"type": "string"}, "The namespace's labels joined with '.'."),
                    Param("key", {"type": "string", "minLength": 1}, required=True),
                    Param("refresh_ttl", _BOOL, "Refresh the item's TTL (default: the store's setting)."),
                ),
            ),
            "delete": Op("Delete an item", None, status=204, body=models.StoreDelete),
        },
    ),
    Route(
        "/store/namespaces",
        kh.StoreNamespacesHandler,
        "store",
        {
            "post": Op(
                "List namespaces",
                "StoreNamespaces",
                body=models.StoreListNamespaces,
                action=READ,
                description="Namespaces that have items, matching `prefix` and `suffix` (a `*` label "
                "matches any one label), truncated to `max_depth` labels (duplicates removed), in "
                "order, paged by `limit`/`offset`.",
            )
        },
    ),
    Route(
        "/datasets",
        vh.DatasetsHandler,
        "evals",
        {
            "get": Op(
                "List datasets",
                "DatasetList",
                params=(*_PAGE_20, Param("name", {"type": "string"}, "Part of the name.")),
            ),
            "post": Op(
                "Freeze runs into a new dataset",
                "Dataset",
                body=models.DatasetCreate,
                description="**DuraGraph:** the runs matching `selection` (the filters of POST /runs/search, "
                "plus `thread_ids`; runs at rest when no status is given; oldest first, at most `limit`) and "
                "any hand-written `examples` become version 1, recorded as events on `dataset:<id>`. 422 "
                "`empty_selection` when there is nothing to freeze; 409 when the name is taken (unless "
                '`if_exists="new_version"`).',
            ),
        },
    ),
    Route(
        "/datasets/{dataset}/versions",
        vh.DatasetVersionsHandler,
        "evals",
        {
            "post": Op(
                "Freeze a new version of a dataset",
                "Dataset",
                body=models.DatasetVersionCreate,
                description="`{dataset}` is the dataset's id or its name.",
            )
        },
    ),
    Route(
        "/datasets/{dataset}/examples",
        vh.DatasetExamplesHandler,
        "evals",
        {
            "get": Op(
                "A dataset version's examples",
                "DatasetExamples",
                params=(Param("version", _int(1), "Default: the latest version."),),
            )
        },
    ),
    Route(
        "/datasets/{dataset}/events",
        vh.DatasetEventsHandler,
        "evals",
        {
            "get": Op(
                "The dataset's event log",
                "EventList",
                description="`dataset_created`, one `dataset_version_added` per version (with its examples), "
                "`dataset_deleted`: the dataset's whole history, for audit and replay.",
            )
        },
    ),
    Route(
        "/datasets/{dataset}",
        vh.DatasetHandler,
        "evals",
        {"get": Op("Get a dataset", "Dataset"), "delete": Op("Delete a dataset", None, status=204)},
    ),
    Route(
        "/evaluators",
        vh.EvaluatorsHandler,
        "evals",
        {
            "get": Op(
                "The built-in evaluators and their parameters",
                "EvaluatorCatalogue",
                description="What an evaluator spec of POST /experiments may name as `builtin`: each one's "
                "parameters (the spec's `kwargs`) with their types, defaults, constraints and meaning, and "
                "the name its scores get (`score_name`, a template). Served from `duragraph_lab.evals` "
                "(`evals/catalogue.py`): a form built from it offers what the server rebuilds.",
            )
        },
    ),
    Route(
        "/experiments/compare",
        vh.ExperimentCompareHandler,
        "evals",
        {
            "post": Op(
                "Compare two experiments example by example",
                "Comparison",
                body=models.CompareBody,
                action=READ,
                description="Per example: score deltas, a verdict (regressed, improved, unchanged, error) and "
                "the run comparison (first diverging node, state diff). Both experiments must be of the "
                "same dataset.",
            )
        },
    ),
    Route(
        "/experiments",
        vh.ExperimentsHandler,
        "evals",
        {
            "get": Op(
                "List experiments",
                "ExperimentList",
                params=(Param("dataset", {"type": "string"}, "A dataset id or name."), *_PAGE_20),
            ),
            "post": Op(
                "Start an experiment: a dataset version against an assistant version",
                "Experiment",
                body=models.ExperimentCreate,
                description="Records `experiment_created`. The runs are started and scored by the client "
                "(`duragraph_lab.evals.run_experiment`), which records each example with "
                "POST /experiments/{experiment_id}/results. 404 when the dataset, its version, the "
                "assistant or its version does not exist (a deleted assistant: 'no longer exists').",
            ),
        },
    ),
    Route(
        "/experiments/{experiment_id}/results",
        vh.ExperimentResultsHandler,
        "evals",
        {
            "get": Op("An experiment's results, in example order", "ExperimentResultList"),
            "post": Op(
                "Record one example's result",
                "ExperimentResult",
                body=models.ResultCreate,
                description="With `run_id`, the status, outputs, nodes, latency and steps are read from that "
                "run (it must have ended). Recorded once per example: the same result again is answered "
                "as is, a different one is a 409.",
            ),
        },
    ),
    Route(
        "/experiments/{experiment_id}/notebook",
        vh.ExperimentNotebookHandler,
        "evals",
        {
            "get": Op(
                "The experiment as an eval notebook (.ipynb)",
                "Notebook",
                params=(Param("baseline", {"type": "string"}, "An experiment to compare the re-run with."),),
                description="A self-contained notebook (nbformat 4.5, byte-stable for the same experiment) that "
                "connects to the server (DURAGRAPH_URL / DURAGRAPH_TOKEN), loads the dataset and its source "
                "runs' event logs, re-runs the assistant with the recorded evaluators, shows a summary and plots "
                "and compares the re-run with `baseline` (default: this experiment). 422 when an evaluator "
                "cannot be rebuilt (no source recorded) or none was recorded.",
            )
        },
    ),
    Route(
        "/experiments/{experiment_id}/run",
        vh.ExperimentRunHandler,
        "evals",
        {
            "post": Op(
                "Have the server run the experiment",
                "Experiment",
                status=202,
                action=EXECUTE,
                description="Records `experiment_run_requested` and answers at once (`running`: true while a "
                "server executes it). The server starts one durable run per example not yet recorded, at "
                "most `concurrency` at once, joins the runs an earlier attempt started, scores each with "
                "the experiment's built-in evaluators and records it, then completes the experiment. A "
                "restarted server resumes it; one server at a time runs it. 422 when an evaluator is a "
                "Python function (run it from its notebook), 409 when the experiment is completed.",
            )
        },
    ),
    Route(
        "/experiments/{experiment_id}/complete",
        vh.ExperimentCompleteHandler,
        "evals",
        {"post": Op("Mark an experiment completed", "Experiment")},
    ),
    Route(
        "/experiments/{experiment_id}",
        vh.ExperimentHandler,
        "evals",
        {"get": Op("Get an experiment with its summary", "Experiment")},
    ),
]


def handlers() -> list[tuple[str, type[DuraGraphHandler]]]:
    """Tornado URL specs, each handler told its route (a metrics label) and what each of its
    methods needs to be authorized for."""
    return [
        (
            route.pattern,
            type(
                route.handler.__name__,
                (route.handler,),
                {
                    "route": route.path,
                    "actions": {m.upper(): route.action(m) for m in route.ops},
                    "public": frozenset(m.upper() for m, op in route.ops.items() if op.public),
                    "escalations": {
                        m.upper(): op.escalations for m, op in route.ops.items() if op.escalations
                    },
                },
            ),
        )
        for route in ROUTES
    ]
