"""What the API says about workers: which are alive and what they serve (``GET /workers``), why a
pending run waits (``waiting_for`` on run JSON), whether an assistant's graph is served
(``served`` on assistant JSON). Read from :class:`~duragraph_lab.control.ports.WorkerDirectory`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from duragraph_lab.api.jsonout import iso
from duragraph_lab.control.ports import WorkerDirectory, WorkerPresence

NO_WORKER = "no_worker"


def no_worker_message(graph_id: str) -> str:
    return (
        f"no worker is serving graph {graph_id!r}: the run starts when one does "
        f"(`duragraph-lab worker module:graph`, or `%duragraph serve` in a notebook)"
    )


def worker_json(w: WorkerPresence) -> dict[str, Any]:
    return {
        "worker_id": w.worker_id,
        "hostname": w.hostname,
        "pid": w.pid,
        "graphs": list(w.graphs),
        "started_at": iso(w.started_at),
        "heartbeat_at": iso(w.heartbeat_at),
    }


class Presence:
    def __init__(self, directory: WorkerDirectory) -> None:
        self.directory = directory

    async def workers(self) -> dict[str, Any]:
        live = await self.directory.live_workers()
        graphs: dict[str, list[str]] = {}
        for w in live:
            for g in w.graphs:
                graphs.setdefault(g, []).append(w.worker_id)
        return {"workers": [worker_json(w) for w in live], "graphs": dict(sorted(graphs.items()))}

    async def served(self) -> set[str]:
        return {g for w in await self.directory.live_workers() for g in w.graphs}

    async def runs(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each run with ``waiting_for``: why a pending run has not started (None otherwise)."""
        pending = [r for r in runs if r.get("status") == "pending"]
        served = await self.served() if pending else set()
        for run in runs:
            graph = run.get("graph_id")
            waiting = run.get("status") == "pending" and graph is not None and graph not in served
            run["waiting_for"] = (
                {"reason": NO_WORKER, "graph_id": graph, "message": no_worker_message(str(graph))}
                if waiting
                else None
            )
        return runs

    async def assistants(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each assistant with ``served``: whether a live worker serves its graph."""
        out = list(items)
        served = await self.served() if out else set()
        for item in out:
            if "graph_id" in item:
                item["served"] = item["graph_id"] in served
        return out
