"""Prometheus metrics of the server (``GET /metrics``), names prefixed ``duragraph_``.

Counters of this process: HTTP requests, open streams, lease expiries found by this server's
reaper, and node executions as this server's relay publishes them (only the relay leader
publishes, so summing over replicas counts each execution once). Gauges read at scrape time:
runs by status, outbox backlog and lag, live workers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from duragraph_lab.domain import events as ev

if TYPE_CHECKING:
    from duragraph_lab.api.backend import Backend

log = logging.getLogger(__name__)

_RUN_STATUSES = ("pending", "running", "success", "error", "interrupted", "timeout", "cancelled")
_NODE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self) -> None:
        # No *_created series: they double the output and no dashboard of ours reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "duragraph_http_requests", "HTTP requests served", ["method", "route", "status"], registry=r
        )
        self.http_seconds = Histogram(
            "duragraph_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            registry=r,
        )
        self.sse_clients = Gauge("duragraph_sse_clients", "Open streams (SSE and long polls)", registry=r)
        self.runs = Gauge("duragraph_runs", "Runs by status", ["status"], registry=r)
        self.node_executions = Counter(
            "duragraph_node_executions",
            "Node executions (attempts) by outcome",
            ["node", "status"],
            registry=r,
        )
        self.node_seconds = Histogram(
            "duragraph_node_duration_seconds",
            "Node execution duration",
            ["node"],
            buckets=_NODE_BUCKETS,
            registry=r,
        )
        self.events_relayed = Counter(
            "duragraph_events_relayed",
            "Events published to JetStream by this server's relay",
            ["type"],
            registry=r,
        )
        self.outbox_backlog = Gauge("duragraph_outbox_backlog", "Events waiting in the outbox", registry=r)
        self.outbox_lag = Gauge(
            "duragraph_outbox_lag_seconds", "Age of the oldest unpublished event", registry=r
        )
        self.lease_expiries = Counter(
            "duragraph_lease_expiries", "Run leases found expired (their worker died or stalled)", registry=r
        )
        self.workers = Gauge("duragraph_workers", "Workers with a heartbeat in the last minute", registry=r)
        self.relay_leader = Gauge(
            "duragraph_relay_leader", "1 if this server's relay publishes the outbox", registry=r
        )
        for status in _RUN_STATUSES:
            self.runs.labels(status)

    # -- recording -----------------------------------------------------------------------------
    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route or "other", str(status)).inc()
        self.http_seconds.labels(method, route or "other").observe(seconds)

    def stream_opened(self) -> None:
        self.sse_clients.inc()

    def stream_closed(self) -> None:
        self.sse_clients.dec()

    def relayed(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """The relay's observer: count events, and node executions with their durations."""
        for _stream, event_type, data_json in rows:
            self.events_relayed.labels(event_type).inc()
            if event_type not in (ev.NODE_COMPLETED, ev.NODE_FAILED):
                continue
            try:
                # Read defensively all the same: a relay publishes whatever was stored.
                data = cast("ev.NodeCompleted | ev.NodeFailed", json.loads(data_json))
            except ValueError:
                continue
            node = str(data.get("node") or "?")
            ok = event_type == ev.NODE_COMPLETED
            self.node_executions.labels(node, "ok" if ok else "error").inc()
            seconds = None
            duration_ms = data.get("duration_ms")
            if ok and isinstance(duration_ms, (int, float)):
                seconds = duration_ms / 1000
            elif isinstance(data.get("finished_at"), (int, float)) and isinstance(
                data.get("started_at"), (int, float)
            ):
                seconds = data["finished_at"] - data["started_at"]
            if seconds is not None and seconds >= 0:
                self.node_seconds.labels(node).observe(seconds)

    # -- exposition ----------------------------------------------------------------------------
    async def render(self, backend: Backend) -> tuple[bytes, str]:
        await self._refresh(backend)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    async def _refresh(self, backend: Backend) -> None:
        figures = backend.figures
        if figures is not None:
            try:
                counts = await figures.runs_by_status()
                for status in {*_RUN_STATUSES, *counts}:
                    self.runs.labels(status).set(counts.get(status, 0))
                self.workers.set(await figures.live_workers())
            except Exception as err:  # a scrape must not fail because PostgreSQL is away
                log.debug("metrics: cannot read the store: %s", err)
        relay = backend.relay
        self.relay_leader.set(1 if relay is not None and relay.status.role == "active" else 0)
        if relay is not None:
            try:
                report = await relay.report()  # one query for both, the same on every server
                self.outbox_backlog.set(report.backlog)
                self.outbox_lag.set(report.lag_seconds)
            except Exception as err:
                log.debug("metrics: cannot read the outbox: %s", err)
