"""The Kubernetes manifests run as processes: the NATS StatefulSet's three pods from the
ConfigMap's ``nats.conf`` (its listen addresses, routes and store directory mapped to local ones,
``POD_NAME`` and ``NATS_TOKEN`` as the kubelet sets them), then the worker's init container
(``migrate``), an API server and a worker from their Deployments' args and env (``secretKeyRef``
from the Secret's keys, ``$(NATS_TOKEN)`` expanded as the kubelet does). Their probes are asked
as the kubelet would (HTTP GET, 200), and the worker stops within its grace period.

Not run: a cluster (scheduling, Services, DNS, the kubelet itself)."""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from duragraph_lab.runtime.nats import nats_server_binary
from duragraph_lab.runtime.postgres import PostgresEndpoint
from tests.deploy_files import ENTRYPOINT, kubernetes_kind, on_this_machine, pod_containers
from tests.deploy_processes import Mapping, kubernetes_env, local_environment, request, stop, wait_healthy
from tests.devserver import DevServer

pytestmark = pytest.mark.timeout(600)

PODS = [f"nats-{i}" for i in range(3)]


@dataclass
class Cluster:
    mapping: Mapping
    secret: dict[str, str]
    root: Path
    api: DevServer
    nats: list[subprocess.Popen[bytes]]


def _container(kind: str, name: str, container: str) -> dict[str, Any]:
    return next(c for c in pod_containers(kubernetes_kind(kind, name)) if c["name"] == container)


def _start_nats(mapping: Mapping, secret: dict[str, str], root: Path) -> list[subprocess.Popen[bytes]]:
    config = kubernetes_kind("ConfigMap", "nats-config")["data"]["nats.conf"]
    container = _container("StatefulSet", "nats", "nats")
    for pod in PODS:
        for port in (4222, 6222, 8222):
            mapping.port(f"{pod}.nats-headless", port)
    procs = []
    for pod in PODS:
        text = config
        for port in (4222, 6222, 8222):  # what this pod listens on
            text = text.replace(f"0.0.0.0:{port}", f"127.0.0.1:{mapping.port(f'{pod}.nats-headless', port)}")
        text = mapping.apply(text)  # the routes to the pods
        store = root / pod
        store.mkdir()
        text = re.sub(r"store_dir: /data\b", f'store_dir: "{store}"', text)
        conf = root / f"{pod}.conf"
        conf.write_text(text)
        args = [str(a).replace("/etc/nats/nats.conf", str(conf)) for a in container["args"]]
        env = {**kubernetes_env(container, secret, pod), "PATH": "/usr/bin:/bin"}
        log = root / f"{pod}.log"
        with open(log, "wb") as out:
            procs.append(
                subprocess.Popen(
                    [str(nats_server_binary()), *args], env=env, stdout=out, stderr=subprocess.STDOUT
                )
            )
    startup = container["startupProbe"]["httpGet"]["path"]
    for pod in PODS:
        wait_healthy(
            f"http://127.0.0.1:{mapping.port(f'{pod}.nats-headless', 8222)}{startup}",
            pod,
            root / f"{pod}.log",
        )
    return procs


@pytest.fixture(scope="module")
def cluster(pg_server: PostgresEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("kube")
    dbname = f"kube_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.url, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")  # empty: the init container migrates it
    secret = {
        "token": secrets.token_hex(16),
        "database-url": pg_server.tcp_url.rsplit("/", 1)[0] + f"/{dbname}",
        "nats-token": secrets.token_hex(16),
    }
    assert set(secret) == set(kubernetes_kind("Secret", "duragraph")["stringData"])
    mapping = Mapping()
    nats = _start_nats(mapping, secret, root)
    api: DevServer | None = None
    try:
        migrate = _container("Deployment", "duragraph-worker", "migrate")
        env = local_environment(kubernetes_env(migrate, secret, "worker-0"), mapping)
        done = subprocess.run(
            [str(ENTRYPOINT), *migrate["args"]],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        container = _container("Deployment", "duragraph-api", "api")
        env = local_environment(kubernetes_env(container, secret, "api-0"), mapping)
        env["DURAGRAPH_DATA_DIR"] = str(root / "api-data")
        port = mapping.port("api-0", 8888)
        api = DevServer(root / "api-data", command="serve", env=env, port=port)
        api.argv = [str(ENTRYPOINT), *on_this_machine([str(a) for a in container["args"]])]
        api.argv[api.argv.index("--port") + 1] = str(port)
        api.start(timeout=120)
        api.token = secret["token"]
        yield Cluster(mapping, secret, root, api, nats)
    finally:
        if api is not None:
            api.kill()
        for proc in nats:
            stop(proc)


def test_the_migrate_init_container_migrated_the_database(cluster: Cluster) -> None:
    status, health = cluster.api.api("health", token=cluster.api.token)
    assert status == 200, health
    assert health["postgres"]["ok"] and health["worker"] is None


def test_the_api_probes_answer_as_the_kubelet_asks(cluster: Cluster) -> None:
    container = _container("Deployment", "duragraph-api", "api")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert ports[get["port"]] == 8888
        status, body = request(f"http://127.0.0.1:{cluster.api.port}{get['path']}")
        assert status == 200, (probe, body)


def test_the_nats_pods_formed_a_cluster_and_answer_their_probes(cluster: Cluster) -> None:
    container = _container("StatefulSet", "nats", "nats")
    for pod in PODS:
        monitor = cluster.mapping.port(f"{pod}.nats-headless", 8222)
        for probe in ("livenessProbe", "readinessProbe"):
            status, body = request(f"http://127.0.0.1:{monitor}{container[probe]['httpGet']['path']}")
            assert status == 200, (pod, probe, body)
        status, routes = request(f"http://127.0.0.1:{monitor}/routez")
        assert status == 200 and routes["num_routes"] >= 2, routes


def test_a_worker_from_its_deployment_runs_a_demo_run_and_stops_in_its_grace_period(cluster: Cluster) -> None:
    deployment = kubernetes_kind("Deployment", "duragraph-worker")
    container = _container("Deployment", "duragraph-worker", "worker")
    env = local_environment(kubernetes_env(container, cluster.secret, "worker-0"), cluster.mapping)
    log = cluster.root / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [str(ENTRYPOINT), *(str(a) for a in container["args"])],
            env=env,
            cwd=cluster.root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status, body = cluster.api.api("workers", token=cluster.api.token)
            if status == 200 and any("chat" in w.get("graphs", []) for w in body.get("workers", [])):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(log.read_text()[-3000:])
        status, run = request(
            f"http://127.0.0.1:{cluster.api.port}/duragraph/api/v1/runs/wait",
            cluster.api.token,
            {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "What is 4 * 5?"}]}},
        )
        assert status == 200 and run["messages"], run
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=grace) == 0, log.read_text()[-3000:]
    finally:
        stop(worker)
