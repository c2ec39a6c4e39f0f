"""Read the deployment files under ``deploy/`` (compose, Kubernetes, Dockerfile, Prometheus rules)
into what the tests check against the CLI and a real server: commands, environment, ports, probe
paths, metric names."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
RULES = DEPLOY / "prometheus" / "rules.yaml"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
#: The name the image's ENTRYPOINT has (deploy/entrypoint.sh copied there).
ENTRYPOINT_NAME = "duragraph-entrypoint"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_all_yaml(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


# -- Kubernetes ----------------------------------------------------------------------------------


def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(KUBERNETES / "kustomization.yaml")
    return loaded


def kubernetes_resources() -> list[dict[str, Any]]:
    """Every resource the kustomization lists, in order, and the Secret its generator makes (with
    placeholder values: the real ones are files the operator writes)."""
    k = kustomization()
    docs = [doc for name in k["resources"] for doc in load_all_yaml(KUBERNETES / name)]
    for generator in k.get("secretGenerator", []):
        keys = [entry.partition("=")[0] for entry in generator.get("files", [])]
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": generator["name"]},
                "type": "Opaque",
                "stringData": dict.fromkeys(keys, "placeholder"),
            }
        )
    return docs


def kubernetes_kind(kind: str, name: str) -> dict[str, Any]:
    for doc in kubernetes_resources():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise KeyError(f"{kind}/{name}")


def pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


# -- compose -------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(COMPOSE)
    return loaded


def compose_services(image: str = "duragraph-lab:local") -> dict[str, dict[str, Any]]:
    """The compose services that run our image (API servers and workers)."""
    return {name: s for name, s in compose()["services"].items() if s.get("image") == image}


# -- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One ``duragraph-lab`` command line a deployment file runs, and where it is."""

    where: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    #: env names whose value comes from a Secret (Kubernetes secretKeyRef)
    secret_env: tuple[str, ...] = ()

    @property
    def subcommand(self) -> str:
        return self.argv[0]


def commands() -> list[Command]:
    """Every command line our image runs, in compose, Kubernetes and the Dockerfile's CMD."""
    found = [Command("Dockerfile CMD", dockerfile_json("CMD"))]
    for name, service in compose_services().items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        found.append(Command(f"compose {name}", [str(a) for a in service["command"]], env))
    for doc in kubernetes_resources():
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for container in pod_containers(doc):
            if container["image"] != "duragraph-lab":
                continue
            env = {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
            secret = tuple(e["name"] for e in container.get("env", []) if "valueFrom" in e)
            where = f"kubernetes {doc['metadata']['name']}/{container['name']}"
            found.append(Command(where, [str(a) for a in container["args"]], env, secret))
    return found


# -- Dockerfile ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped)."""
    text = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")),
    )
    found: list[Instruction] = []
    stage = -1
    for line in text.splitlines():
        if not line.strip():
            continue
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        found.append(Instruction(keyword, " ".join(args.split()), stage))
    return found


def dockerfile_json(keyword: str) -> list[str]:
    """The exec-form (JSON) arguments of the last ``keyword`` instruction (CMD, ENTRYPOINT)."""
    import json

    last = [i for i in dockerfile() if i.keyword == keyword][-1]
    value: list[str] = json.loads(last.args)
    return value


def dockerfile_env(stage: int) -> dict[str, str]:
    """ARG defaults and ENV values of a stage (global ARGs before the first FROM included)."""
    env: dict[str, str] = {}
    for ins in dockerfile():
        if ins.stage not in (-1, stage) or ins.keyword not in ("ARG", "ENV"):
            continue
        for item in shlex.split(ins.args):
            name, sep, value = item.partition("=")
            if sep:
                env[name] = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), m.group(0)), value)
    return env


# -- Prometheus ----------------------------------------------------------------------------------


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"]]


def rule_metrics() -> dict[str, set[str]]:
    """Metric name → the alerts whose expression selects it (parsed as PromQL)."""
    import promql_parser

    found: dict[str, set[str]] = {}

    def visit(node: object, alert: str) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            found.setdefault(node.name, set()).add(alert)
        return True

    for rule in alert_rules():
        expr = promql_parser.parse(rule["expr"])
        promql_parser.walk(expr, lambda node, alert=rule["alert"]: visit(node, alert))
    return found


#: Series Prometheus makes itself when it scrapes (not in our /metrics).
PROMETHEUS_SERIES = {"up"}


def http_paths() -> list[tuple[str, str]]:
    """``(where, path)`` of every HTTP check of our server in the deployment files: Kubernetes
    probes, compose healthchecks, the Dockerfile's HEALTHCHECK."""
    found: list[tuple[str, str]] = []
    for doc in kubernetes_resources():
        if doc["kind"] != "Deployment":
            continue
        for container in pod_containers(doc):
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if probe in container and container["image"] == "duragraph-lab":
                    found.append(
                        (f"kubernetes {container['name']} {probe}", container[probe]["httpGet"]["path"])
                    )
    url = re.compile(r"https?://127\.0\.0\.1:(\d+)(/[^'\" ]*)")
    for name, service in compose_services().items():
        test = service.get("healthcheck", {}).get("test")
        if test and not service["healthcheck"].get("disable"):
            match = url.search(" ".join(test))
            assert match, (name, test)
            found.append((f"compose {name} healthcheck", match.group(2)))
    health = [i for i in dockerfile() if i.keyword == "HEALTHCHECK"][-1]
    match = url.search(health.args)
    assert match, health
    found.append(("Dockerfile HEALTHCHECK", match.group(2)))
    return found


def image_files() -> dict[str, Path]:
    """Path in the image → the repository file the Dockerfile copies there (single-file COPYs
    from the build context)."""
    found: dict[str, Path] = {}
    for ins in dockerfile():
        if ins.keyword != "COPY" or ins.args.startswith("--from"):
            continue
        sources = ins.args.split()
        if len(sources) == 2 and not sources[1].endswith("/"):
            found[sources[1]] = REPO / sources[0]
    return found


def on_this_machine(argv: list[str]) -> list[str]:
    """``argv`` with every path into the image that the Dockerfile copies from the repository
    replaced by the repository's file (``--JupyterApp.config_file=/etc/...``)."""
    files = image_files()
    out = []
    for arg in argv:
        for image_path, source in files.items():
            arg = arg.replace(image_path, str(source))
        out.append(arg)
    return out


#: The variable the deployment sets for the events stream's replicas (read by duragraph_lab.bus).
REPLICAS_ENV = "DURAGRAPH_JETSTREAM_REPLICAS"


def package_reads(name: str) -> bool:
    return any(f'"{name}"' in p.read_text() for p in (REPO / "duragraph_lab").rglob("*.py"))
