"""Run the services of ``deploy/compose.yaml`` as local processes: the same commands, entrypoints,
environment and secrets (as files), with each ``host:port`` of the compose network mapped to a
free port on 127.0.0.1 and each path into a container to a file or directory here.

Only what Docker would do is replaced (networking, mounts, ``$$`` escapes); the programs, their
flags and their configuration files are the deployment's own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from duragraph_lab.runtime.nats import nats_server_binary
from duragraph_lab.runtime.processes import free_port
from tests.deploy_files import COMPOSE, ENTRYPOINT, REPO, compose, dockerfile_env, on_this_machine


@dataclass
class Mapping:
    """Where the compose network's names and the containers' paths are on this machine."""

    #: "service:container port" → host port
    ports: dict[str, int] = field(default_factory=dict)
    #: path in a container → path here (longest prefix wins)
    paths: dict[str, str] = field(default_factory=dict)

    def port(self, service: str, container_port: int) -> int:
        key = f"{service}:{container_port}"
        if key not in self.ports:
            self.ports[key] = _free_port(set(self.ports.values()))
        return self.ports[key]

    def apply(self, text: str) -> str:
        for key, port in self.ports.items():
            text = re.sub(rf"(?<![\w.-]){re.escape(key)}(?!\d)", f"127.0.0.1:{port}", text)
        for inside in sorted(self.paths, key=len, reverse=True):
            text = text.replace(inside, self.paths[inside])
        return text


def _free_port(taken: set[int]) -> int:
    while True:
        port = free_port()
        if port not in taken:
            return port


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def unescape(value: str) -> str:
    """Compose's interpolation of a literal: ``$$`` is one ``$`` in the container."""
    return value.replace("$$", "$")


def mount_paths(name: str, root: Path) -> dict[str, str]:
    """A service's volumes: bind mounts of deploy/ files as those files, named volumes as
    directories under ``root``."""
    paths: dict[str, str] = {}
    for volume in service(name).get("volumes", []):
        source, _, rest = volume.partition(":")
        target = rest.partition(":")[0]
        if source.startswith("./"):
            paths[target] = str((COMPOSE.parent / source).resolve())
        else:
            directory = root / source
            directory.mkdir(parents=True, exist_ok=True)
            paths[target] = str(directory)
    return paths


def secret_paths(secrets: dict[str, Path]) -> dict[str, str]:
    return {f"/run/secrets/{name}": str(path) for name, path in secrets.items()}


def environment(name: str, mapping: Mapping, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A service's environment as its process here sees it: the image's ENV, the compose file's
    ``environment`` (mapped), this venv first on PATH and this checkout first on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DURAGRAPH_", "JUPYTER_TOKEN", "PG"))}
    image = dockerfile_env(stage=1)
    env["DURAGRAPH_DATA_DIR"] = mapping.apply(image["DURAGRAPH_DATA_DIR"])
    for key, value in (service(name).get("environment") or {}).items():
        env[key] = mapping.apply(unescape(str(value)))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def command(name: str, mapping: Mapping) -> list[str]:
    """A service of our image: the entrypoint, then its command, mapped."""
    argv = [mapping.apply(unescape(str(a))) for a in service(name)["command"]]
    return [str(ENTRYPOINT), *on_this_machine(argv)]


# -- NATS --------------------------------------------------------------------------------------


@dataclass
class NatsNode:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    health_url: str


def start_nats(names: list[str], mapping: Mapping, secrets: dict[str, Path], root: Path) -> list[NatsNode]:
    """The compose NATS services: their entrypoint (``sh -c``), command, nats.conf and secret."""
    binary_dir = str(Path(nats_server_binary()).parent)
    for name in names:  # every node's ports first: routes name them all
        for container_port in (4222, 6222, 8222):
            mapping.port(name, container_port)
    nodes = []
    for name in names:
        spec = service(name)
        local = Mapping(
            ports=mapping.ports,
            paths={**mapping.paths, **secret_paths(secrets), **mount_paths(name, root)},
        )
        argv = [local.apply(unescape(a)) for a in [*spec["entrypoint"], *spec["command"]]]
        # What listens on a container's own ports listens on its mapped ones here.
        argv = [re.sub(r"^--port=4222$", f"--port={local.port(name, 4222)}", a) for a in argv]
        argv = [re.sub(r"^--http_port=8222$", f"--http_port={local.port(name, 8222)}", a) for a in argv]
        argv = [
            re.sub(
                r"^--cluster=nats://0\.0\.0\.0:6222$",
                f"--cluster=nats://127.0.0.1:{local.port(name, 6222)}",
                a,
            )
            for a in argv
        ]
        log = root / f"{name}.log"
        env = {"PATH": os.pathsep.join([binary_dir, "/usr/bin", "/bin"])}
        with open(log, "wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        test = " ".join(spec["healthcheck"]["test"])
        url = re.search(r"http://127\.0\.0\.1:8222(/\S*)", test)
        assert url, test
        nodes.append(NatsNode(name, proc, log, f"http://127.0.0.1:{local.port(name, 8222)}{url.group(1)}"))
    return nodes


def wait_healthy(url: str, what: str, log: Path | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as err:
            last = err
        time.sleep(0.2)
    detail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"{what} not healthy at {url}: {last}\n{detail}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def request(url: str, token: str | None = None, body: Any = None, timeout: float = 30.0) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


# -- Kubernetes ----------------------------------------------------------------------------------


def kubernetes_env(container: dict[str, Any], secret: dict[str, str], pod_name: str) -> dict[str, str]:
    """A container's ``env`` as the kubelet makes it: values with ``$(NAME)`` of variables defined
    before expanded, ``secretKeyRef`` from ``secret`` (the ``duragraph`` Secret's keys), the pod's
    name for ``fieldRef: metadata.name``."""
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), str(entry["value"])
            )
        elif "secretKeyRef" in entry["valueFrom"]:
            env[entry["name"]] = secret[entry["valueFrom"]["secretKeyRef"]["key"]]
        else:
            assert entry["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name", entry
            env[entry["name"]] = pod_name
    return env


def local_environment(env: dict[str, str], mapping: Mapping) -> dict[str, str]:
    """``env`` (mapped) on top of this machine's, with this venv first on PATH and this checkout
    first on PYTHONPATH."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("DURAGRAPH_", "JUPYTER_TOKEN", "PG"))}
    out.update({k: mapping.apply(v) for k, v in env.items()})
    out["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")])
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return out
