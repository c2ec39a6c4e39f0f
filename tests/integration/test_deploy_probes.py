"""The compose deployment run as processes (tests/deploy_processes.py): the three NATS services
with their own flags, entrypoint, nats.conf and token secret form a JetStream cluster; an API
server and a worker start through the image's entrypoint with the compose environment and
secrets as files (database password, NATS token, API token). Then every probe path of the
deployment files answers, a demo run completes on the worker, and every metric the Prometheus
rules name is in the server's /metrics.

Not run here: Docker itself (no engine on the test machines), the image build, the ``postgres``
service (the tests' PostgreSQL stands in for it), Kubernetes."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from duragraph_lab.runtime.postgres import PostgresEndpoint
from tests.deploy_files import (
    PROMETHEUS_SERIES,
    http_paths,
    kubernetes_kind,
    pod_containers,
    rule_metrics,
)
from tests.deploy_processes import (
    Mapping,
    command,
    environment,
    request,
    service,
    start_nats,
    stop,
    wait_healthy,
)
from tests.devserver import DevServer

pytestmark = pytest.mark.timeout(600)

NATS = ["nats-1", "nats-2", "nats-3"]


@dataclass
class Deployment:
    mapping: Mapping
    api: DevServer
    worker: subprocess.Popen[bytes]
    worker_log: Path
    token: str
    database_url: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.mapping.port('api-1', 8888)}"


@pytest.fixture(scope="module")
def deployment(pg_server: PostgresEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deploy")
    owner = psycopg.conninfo.conninfo_to_dict(pg_server.tcp_url)
    dbname = f"deploy_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.url, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")  # empty: the API server migrates it
    # The secrets, as the files compose mounts under /run/secrets.
    token = secrets.token_hex(16)
    files = {
        "duragraph_token": token + "\n",  # as `openssl rand -hex 32 > file` writes it
        "postgres_password": str(owner["password"]) + "\n",
        "nats_token": secrets.token_hex(16) + "\n",
    }
    secret_files: dict[str, Path] = {}
    for name, value in files.items():
        path = root / "secrets" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(value)
        path.chmod(0o600)
        secret_files[name] = path
    assert set(secret_files) == set(service("api-1")["secrets"]) | set(service(NATS[0])["secrets"])

    mapping = Mapping(paths={f"/run/secrets/{n}": str(p) for n, p in secret_files.items()})
    mapping.ports["postgres:5432"] = int(owner["port"])
    nodes = start_nats(NATS, mapping, secret_files, root)
    api: DevServer | None = None
    worker: subprocess.Popen[bytes] | None = None
    try:
        for node in nodes:
            wait_healthy(node.health_url, node.name, node.log)
        mapping.paths["/app"] = str(root / "app")
        (root / "app").mkdir()
        api_port = mapping.port("api-1", 8888)
        env = environment("api-1", mapping)
        # The compose URL names the database `duragraph` as the postgres service creates it;
        # the test server has its own database per test module.
        env["DURAGRAPH_DATABASE_URL"] = env["DURAGRAPH_DATABASE_URL"].rpartition("/")[0] + f"/{dbname}"
        api = DevServer(root / "api-data", command="serve", env=env, port=api_port)
        api.argv = [a.replace(":8888", f":{api_port}") for a in command("api-1", mapping)]
        api.argv[api.argv.index("--port") + 1] = str(api_port)
        api.start(timeout=120)
        api.token = token
        worker_env = environment("worker", mapping)
        worker_env["DURAGRAPH_DATABASE_URL"] = env["DURAGRAPH_DATABASE_URL"]
        worker_log = root / "worker.log"
        with open(worker_log, "wb") as out:
            worker = subprocess.Popen(
                command("worker", mapping),
                env=worker_env,
                cwd=root / "app",
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        database_url = env["DURAGRAPH_DATABASE_URL"]
        yield Deployment(mapping, api, worker, worker_log, token, database_url)
    finally:
        if worker is not None:
            stop(worker, timeout=60)
        if api is not None:
            api.kill()
        for node in nodes:
            stop(node.proc)


def _api(d: Deployment, route: str, body: object = None, token: str | None = "default") -> tuple[int, object]:
    return request(f"{d.base}/duragraph/api/v1/{route}", d.token if token == "default" else token, body)


def test_every_probe_path_answers(deployment: Deployment) -> None:
    for where, path in http_paths():
        status, body = request(f"{deployment.base}{path}")
        assert status == 200, (where, path, status, body)
    status, body = _api(deployment, "ready", token=None)
    assert body == {"ok": True, "services": {"postgres": "healthy", "nats": "healthy"}}


def test_the_kubernetes_nats_probes_answer(deployment: Deployment) -> None:
    """The NATS StatefulSet's probe paths, on the same nats-server (run from the compose flags)."""
    container = pod_containers(kubernetes_kind("StatefulSet", "nats"))[0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        path = container[probe]["httpGet"]["path"]
        for name in NATS:
            status, body = request(f"http://127.0.0.1:{deployment.mapping.port(name, 8222)}{path}")
            assert status == 200, (probe, name, body)


def test_the_compose_healthcheck_commands_pass(deployment: Deployment) -> None:
    """The healthcheck of the API services, run as it is written (with this Python)."""
    port = deployment.mapping.port("api-1", 8888)
    test = service("api-1")["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python"
    argv = [sys.executable, *(a.replace(":8888/", f":{port}/") for a in test[2:])]
    assert subprocess.run(argv, timeout=30, check=False).returncode == 0
    broken = [a.replace("/ready", "/no-such-probe") for a in argv]
    assert subprocess.run(broken, timeout=30, check=False, capture_output=True).returncode != 0


def test_the_api_server_migrated_the_database_and_runs_no_worker(deployment: Deployment) -> None:
    status, health = _api(deployment, "health")
    assert status == 200, health
    assert isinstance(health, dict) and health["worker"] is None  # the in-process worker is off
    assert health["postgres"]["schema_version"] > 0


def test_the_events_stream_is_replicated_on_the_three_nodes(deployment: Deployment) -> None:
    from duragraph_lab.bus import connect_nats

    url = environment("api-1", deployment.mapping)["DURAGRAPH_NATS_URL"]

    # The entrypoint puts the token into the URL; here it is done the same way.
    token = Path(deployment.mapping.paths["/run/secrets/nats_token"]).read_text().strip()

    async def replicas() -> tuple[int, int]:
        nc = await connect_nats(
            url.replace("nats://", f"nats://{token}@"), name="deploy-test", reconnect=False
        )
        try:
            info = await nc.jetstream().stream_info("DURAGRAPH_EVENTS")
            cluster = info.cluster
            return info.config.num_replicas or 0, 1 + len(cluster.replicas or []) if cluster else 0
        finally:
            await nc.close()

    assert asyncio.run(replicas()) == (3, 3)


def test_the_nats_cluster_takes_what_nats_conf_says(deployment: Deployment) -> None:
    """deploy/nats/nats.conf is in force on every node: the token is required, max_payload is 8 MB."""
    from duragraph_lab.bus import connect_nats

    token = Path(deployment.mapping.paths["/run/secrets/nats_token"]).read_text().strip()

    async def payloads() -> list[int]:
        found = []
        for name in NATS:
            url = f"nats://{token}@127.0.0.1:{deployment.mapping.port(name, 4222)}"
            nc = await connect_nats(url, name="deploy-test", reconnect=False)
            found.append(nc.max_payload)
            await nc.close()
        return found

    async def without_token() -> None:
        await connect_nats(f"nats://127.0.0.1:{deployment.mapping.port(NATS[0], 4222)}", reconnect=False)

    assert asyncio.run(payloads()) == [8 * 1024 * 1024] * 3
    with pytest.raises(Exception, match=r"(?i)authorization"):
        asyncio.run(without_token())


def test_a_demo_run_completes_on_the_worker(deployment: Deployment) -> None:
    deadline = time.monotonic() + 90
    graphs: set[str] = set()
    while time.monotonic() < deadline:
        status, workers = _api(deployment, "workers")
        if status == 200 and isinstance(workers, dict):
            graphs = {g for w in workers.get("workers", []) for g in w.get("graphs", [])}
            if {"chat", "approval", "map_reduce"} <= graphs:
                break
        time.sleep(0.5)
    assert {"chat", "approval", "map_reduce"} <= graphs, deployment.worker_log.read_text()[-3000:]
    status, body = _api(
        deployment,
        "runs/wait",
        {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "What is 2 + 3?"}]}},
    )
    assert status == 200, body
    assert isinstance(body, dict) and body["messages"], body


def test_every_metric_of_the_alert_rules_is_exported(deployment: Deployment) -> None:
    test_a_demo_run_completes_on_the_worker(deployment)  # node metrics exist once a node ran
    status, text = _api(deployment, "metrics")
    assert status == 200 and isinstance(text, str), text
    exported = {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")
    }
    wanted = rule_metrics()
    assert wanted
    missing = {
        name: alerts
        for name, alerts in wanted.items()
        if name not in exported and name not in PROMETHEUS_SERIES
    }
    assert not missing, f"named by alert rules but not in /metrics: {missing}"
    # The node and HTTP metrics the rules read have samples for the run above.
    assert any(line.startswith("duragraph_node_executions_total{") for line in text.splitlines())


def test_the_worker_drains_within_the_stop_grace_period(deployment: Deployment) -> None:
    """Compose sends SIGTERM, then SIGKILL after stop_grace_period: the worker must be gone by
    then (here with no run in flight)."""
    grace = float(service("worker")["stop_grace_period"].rstrip("s"))
    worker = deployment.worker
    started = time.monotonic()
    os.kill(worker.pid, signal.SIGTERM)
    code = worker.wait(timeout=grace)
    assert code == 0, deployment.worker_log.read_text()[-3000:]
    assert time.monotonic() - started < grace
