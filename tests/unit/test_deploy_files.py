"""The deployment files under ``deploy/`` against the code they run: the Kubernetes manifests
validate against Kubernetes' own JSON schemas, every command line parses with our CLI, every
environment variable is one something reads, every probe path is a route, the Dockerfile copies
files that exist, and compose and Kubernetes describe the same topology.

What needs a running server (the probe paths answered, the metrics of the alert rules exported)
is in tests/integration/test_deploy_probes.py; the Dockerfile's install steps in
tests/integration/test_deploy_image.py."""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest

from duragraph_lab.api.handlers.base import API_PREFIX
from duragraph_lab.api.routes import ROUTES
from duragraph_lab.runtime.cli import _parser, _subparser
from duragraph_lab.runtime.cli_options import unknown_options
from tests.deploy_files import (
    COMPOSE,
    DEPLOY,
    DOCKERFILE,
    ENTRYPOINT,
    ENTRYPOINT_NAME,
    KUBERNETES,
    REPLICAS_ENV,
    REPO,
    RULES,
    alert_rules,
    commands,
    compose,
    compose_services,
    dockerfile,
    dockerfile_env,
    dockerfile_json,
    http_paths,
    image_files,
    kubernetes_kind,
    kubernetes_resources,
    kustomization,
    load_all_yaml,
    package_reads,
    pod_containers,
    rule_metrics,
)

#: The Kubernetes version whose schemas the manifests must satisfy (kubernetes-validate bundles
#: them; strict: no unknown fields).
KUBERNETES_VERSION = "1.30.0"
#: Variables read by Jupyter itself, not by our code.
JUPYTER_ENV = {"JUPYTER_TOKEN"}


def _source_text() -> str:
    return "\n".join(p.read_text() for p in (REPO / "duragraph_lab").rglob("*.py"))


# -- every file parses ---------------------------------------------------------------------------


def test_every_yaml_file_under_deploy_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert COMPOSE in files and RULES in files and KUBERNETES / "kustomization.yaml" in files
    for path in files:
        assert load_all_yaml(path), path


# -- Kubernetes ----------------------------------------------------------------------------------


def test_the_kustomization_lists_every_manifest_and_they_exist() -> None:
    listed = kustomization()["resources"]
    on_disk = sorted(p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk
    gitignore = (KUBERNETES / ".gitignore").read_text().split()
    for generator in kustomization()["secretGenerator"]:
        for entry in generator["files"]:
            # The secret files are the operator's, never committed.
            assert entry.partition("=")[2].startswith("secrets/") and "secrets/" in gitignore


@pytest.mark.parametrize("strict", [False, True])
def test_every_kubernetes_resource_validates_against_the_kubernetes_schemas(strict: bool) -> None:
    resources = kubernetes_resources()
    assert len(resources) >= 10
    for doc in resources:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=strict)
        except kubernetes_validate.ValidationError as err:
            raise AssertionError(
                f"{doc['kind']}/{doc['metadata']['name']}: {err.message} at {list(err.path)}"
            ) from None


def test_the_schema_check_can_fail() -> None:
    """A misspelt field is refused: the validation above is not vacuous."""
    api = kubernetes_kind("Deployment", "duragraph-api")
    broken = {**api, "spec": {**api["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kubernetes_topology() -> None:
    api = kubernetes_kind("Deployment", "duragraph-api")
    workers = kubernetes_kind("Deployment", "duragraph-worker")
    nats = kubernetes_kind("StatefulSet", "nats")
    assert (api["spec"]["replicas"], workers["spec"]["replicas"], nats["spec"]["replicas"]) == (2, 3, 3)
    for name in ("duragraph-api", "duragraph-worker", "nats"):
        pdb = kubernetes_kind("PodDisruptionBudget", name)
        deployment = next(
            d
            for d in kubernetes_resources()
            if d["kind"] in ("Deployment", "StatefulSet") and d["metadata"]["name"] == name
        )
        assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    service = kubernetes_kind("Service", "duragraph-api")
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    # Routes name each StatefulSet pod through the headless Service.
    conf = kubernetes_kind("ConfigMap", "nats-config")["data"]["nats.conf"]
    headless = kubernetes_kind("Service", "nats-headless")
    assert (
        nats["spec"]["serviceName"] == headless["metadata"]["name"]
        and headless["spec"]["publishNotReadyAddresses"]
    )
    routes = re.findall(r"nats-route://([\w.-]+):6222", conf)
    assert routes == [f"nats-{i}.nats-headless" for i in range(3)]


def test_every_container_has_resources_and_the_api_has_both_probes() -> None:
    for doc in kubernetes_resources():
        if doc["kind"] in ("Deployment", "StatefulSet"):
            for container in pod_containers(doc):
                assert {"requests", "limits"} <= set(container["resources"]), container["name"]
    api = pod_containers(kubernetes_kind("Deployment", "duragraph-api"))[-1]
    assert api["livenessProbe"]["httpGet"]["path"] == f"/{API_PREFIX}/ok"
    assert api["readinessProbe"]["httpGet"]["path"] == f"/{API_PREFIX}/ready"
    port = next(p for p in api["ports"] if p["name"] == api["livenessProbe"]["httpGet"]["port"])
    assert str(port["containerPort"]) == _option(api["args"], "--port")


def test_secrets_come_from_the_secret_the_kustomization_generates() -> None:
    secret = kubernetes_kind("Secret", "duragraph")
    keys = set(secret["stringData"])
    for doc in kubernetes_resources():
        if doc["kind"] != "Deployment":
            continue
        for container in pod_containers(doc):
            for env in container.get("env", []):
                if "valueFrom" in env:
                    ref = env["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == "duragraph" and ref["key"] in keys, env
    api_env = {e["name"] for e in pod_containers(kubernetes_kind("Deployment", "duragraph-api"))[-1]["env"]}
    assert {"JUPYTER_TOKEN", "DURAGRAPH_DATABASE_URL"} <= api_env


def test_the_kubernetes_nats_configuration_is_accepted_by_nats_server(tmp_path: Path) -> None:
    """``nats-server -t``: the configuration parses (the cluster itself is not formed here)."""
    conf = tmp_path / "nats.conf"
    conf.write_text(kubernetes_kind("ConfigMap", "nats-config")["data"]["nats.conf"])
    result = subprocess.run(
        [_nats_server(), "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
        env={"POD_NAME": "nats-0", "NATS_TOKEN": "t0ken", "PATH": "/usr/bin:/bin"},
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.conf"
    broken.write_text(conf.read_text().replace("cluster {", "cluster {{"))
    assert (
        subprocess.run(
            [_nats_server(), "-t", "-c", str(broken)], capture_output=True, timeout=30, check=False
        ).returncode
        != 0
    )


def test_nats_max_payload_is_the_embedded_servers_everywhere() -> None:
    """The embedded nats-server of `dev` raises NATS's 1 MB default; the deployment does the same."""
    found = re.compile(r"^\s*max_payload: (\S+)$", re.M)
    embedded = re.findall(
        r'"max_payload: (\S+)"', (REPO / "duragraph_lab" / "runtime" / "nats.py").read_text()
    )
    kubernetes = found.findall(kubernetes_kind("ConfigMap", "nats-config")["data"]["nats.conf"])
    compose_conf = found.findall((DEPLOY / "nats" / "nats.conf").read_text())
    assert embedded == kubernetes == compose_conf == ["8MB"]


def _nats_server() -> str:
    from duragraph_lab.runtime.nats import nats_server_binary

    return str(nats_server_binary())


# -- compose -------------------------------------------------------------------------------------


def test_compose_topology() -> None:
    services = compose()["services"]
    ours = compose_services()
    api = sorted(n for n, s in ours.items() if s["command"][0] == "serve")
    workers = [n for n, s in ours.items() if s["command"][0] == "worker"]
    assert api == ["api-1", "api-2"]
    assert workers == ["worker"] and ours["worker"]["deploy"]["replicas"] == 3
    nats = sorted(n for n, s in services.items() if str(s.get("image", "")).startswith("nats:"))
    assert nats == ["nats-1", "nats-2", "nats-3"]
    for name in nats:
        flags = dict(a.partition("=")[::2] for a in services[name]["command"])
        assert flags["--name"] == name and flags["--cluster_name"] == "duragraph" and "--jetstream" in flags
        assert flags["--routes"].split(",") == [f"nats-route://{n}:6222" for n in nats]
        assert services[name]["volumes"][0] == f"{name}:/data"
    for name, service in ours.items():
        env = service["environment"]
        assert env["DURAGRAPH_NATS_URL"].split(",") == [f"nats://{n}:4222" for n in nats], name
        assert env["DURAGRAPH_DATABASE_URL"].startswith("postgresql://duragraph@postgres:5432/"), name
        assert set(service["depends_on"]) >= {"postgres", *nats}, name
    assert ours["worker"]["depends_on"]["api-1"] == {"condition": "service_healthy"}


def test_compose_references_resolve() -> None:
    doc = compose()
    services, secrets, volumes = doc["services"], doc["secrets"], doc["volumes"]
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, (name, dep)
        for secret in service.get("secrets", []):
            assert secret in secrets, (name, secret)
        for volume in service.get("volumes", []):
            source = volume.partition(":")[0]
            if source.startswith("./"):  # a bind mount of a file of deploy/
                assert (COMPOSE.parent / source).is_file(), (name, volume)
            else:
                assert source in volumes, (name, volume)
        for value in (service.get("environment") or {}).values():
            # Files named by *_FILE variables are the secrets compose mounts.
            if str(value).startswith("/run/secrets/"):
                assert str(value).removeprefix("/run/secrets/") in service["secrets"], (name, value)
    for secret in secrets.values():
        assert secret["file"].startswith("./secrets/")
    assert "secrets/" in (DEPLOY / ".gitignore").read_text().split()
    build = compose_services()["api-1"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


# -- commands, environment, probe paths ----------------------------------------------------------


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """What ``duragraph-lab main`` does with ``argv`` before running anything: parse, then refuse
    unknown options (one line, exit 2, in the real CLI)."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    own = [o for a in _subparser(parser, args.command)._actions for o in a.option_strings]
    bad = unknown_options(extra, own, positionals=False)
    assert not bad, f"{argv}: {bad[0]}"
    if args.command != "serve":
        assert not extra, f"{argv}: unexpected {extra}"
    return args, extra


def test_every_command_parses_with_the_cli() -> None:
    found = commands()
    assert {c.subcommand for c in found} == {"serve", "worker", "migrate"}
    for command in found:
        _parse(command.argv)


def test_an_unknown_option_would_be_caught() -> None:
    with pytest.raises(AssertionError, match="did you mean --concurrency"):
        _parse(["worker", "m:g", "--concurency", "3"])


def test_api_servers_run_no_in_process_worker_and_listen_where_probed() -> None:
    from traitlets.config.loader import PyFileConfigLoader

    files = image_files()
    for command in commands():
        if command.subcommand != "serve":
            continue
        args, extra = _parse(command.argv)
        assert (args.ip, args.port) == ("0.0.0.0", 8888), command.where
        (config_file,) = [a.partition("=")[2] for a in extra if a.startswith("--JupyterApp.config_file=")]
        assert config_file in files, f"{command.where}: {config_file} is not a file the Dockerfile copies"
        config = PyFileConfigLoader(files[config_file].name, str(files[config_file].parent)).load_config()
        # The graphs traitlet empty: the workers, not the API servers, execute runs.
        assert config.DuraGraphApp.graphs == [], command.where


def test_workers_serve_graphs_that_load() -> None:
    from duragraph_lab.worker.serve import load_graph

    graphs = {g for c in commands() if c.subcommand == "worker" for g in _parse(c.argv)[0].graphs}
    assert graphs
    for ref in sorted(graphs):
        load_graph(ref)


def test_compose_and_kubernetes_run_the_same_commands() -> None:
    by_kind: dict[str, set[tuple[str, ...]]] = {}
    for command in commands():
        kind = command.where.split()[0]
        by_kind.setdefault(f"{kind} {command.subcommand}", set()).add(tuple(command.argv))
    assert by_kind["compose serve"] == by_kind["kubernetes serve"] == by_kind["Dockerfile serve"]
    assert by_kind["compose worker"] == by_kind["kubernetes worker"]


def test_every_environment_variable_is_read_by_something() -> None:
    source = _source_text()
    entrypoint = ENTRYPOINT.read_text()
    names = {n for c in commands() for n in (*c.env, *c.secret_env)}
    assert {"DURAGRAPH_DATABASE_URL", "DURAGRAPH_NATS_URL"} <= names
    # Kubernetes expands $(NAME) in the values of later variables: such a NAME is read there.
    expanded = {m for c in commands() for v in c.env.values() for m in re.findall(r"\$\((\w+)\)", v)}
    for name in sorted(names - expanded - {REPLICAS_ENV}):  # that one: the test below
        if name.endswith("_FILE"):
            assert re.search(rf"^from_file \w+ {name}$", entrypoint, re.M), name
        else:
            assert name in JUPYTER_ENV or f'"{name}"' in source, f"{name}: nothing in duragraph_lab reads it"


def test_the_stream_replicas_variable_is_read_by_the_package() -> None:
    assert REPLICAS_ENV in {n for c in commands() for n in c.env}
    assert package_reads(REPLICAS_ENV)


def test_compose_and_kubernetes_agree_on_the_settings() -> None:
    """Same values where the same thing is configured (URLs differ by host names only)."""
    compose_env = {c.subcommand: c.env for c in commands() if c.where.startswith("compose")}
    kube_env = {
        c.subcommand: c.env
        for c in commands()
        if c.where.startswith("kubernetes") and c.subcommand != "migrate"
    }
    for sub in ("serve", "worker"):
        shared = set(compose_env[sub]) & set(kube_env[sub]) - {"DURAGRAPH_NATS_URL"}
        for name in shared:
            assert compose_env[sub][name] == kube_env[sub][name], (sub, name)
    assert (
        compose_env["serve"]["DURAGRAPH_JETSTREAM_REPLICAS"]
        == kube_env["serve"]["DURAGRAPH_JETSTREAM_REPLICAS"]
        == "3"
    )


def test_no_secret_is_written_in_the_compose_file() -> None:
    """Passwords and tokens come from secret files (the entrypoint reads them), not from values."""
    for name, service in compose_services().items():
        env = service["environment"]
        for url in (env["DURAGRAPH_DATABASE_URL"], *env["DURAGRAPH_NATS_URL"].split(",")):
            assert "@" not in url or ":" not in url.split("://", 1)[1].split("@", 1)[0], (name, url)
        assert "@" not in env["DURAGRAPH_NATS_URL"], name
        assert {"DURAGRAPH_DATABASE_PASSWORD_FILE", "DURAGRAPH_NATS_TOKEN_FILE"} <= set(env), name
        assert "JUPYTER_TOKEN" not in env and "PGPASSWORD" not in env, name


def test_every_probe_path_is_a_public_route() -> None:
    public = {f"/{API_PREFIX}{r.path}" for r in ROUTES if any(op.public for op in r.ops.values())}
    paths = http_paths()
    assert {where.split()[0] for where, _ in paths} == {"kubernetes", "compose", "Dockerfile"}
    for where, path in paths:
        assert path.partition("?")[0] in public, (where, path)


# -- Dockerfile ----------------------------------------------------------------------------------


def test_every_file_the_dockerfile_copies_exists() -> None:
    copies = [i for i in dockerfile() if i.keyword == "COPY" and not i.args.startswith("--from")]
    assert copies
    for ins in copies:
        *sources, _dest = ins.args.split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"


def test_the_dockerfile_installs_extras_that_exist_and_runs_our_entrypoint() -> None:
    import tomllib

    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    wanted = dockerfile_env(stage=1)["EXTRAS"].split(",")
    assert set(wanted) <= extras and "server" in wanted
    assert dockerfile_json("ENTRYPOINT") == [ENTRYPOINT_NAME]
    assert any(
        i.keyword == "COPY" and i.args == f"deploy/entrypoint.sh /usr/local/bin/{ENTRYPOINT_NAME}"
        for i in dockerfile()
    )
    assert ENTRYPOINT.stat().st_mode & 0o111, "entrypoint.sh must be executable"
    user = [i for i in dockerfile() if i.keyword == "USER"][-1].args
    assert not user.startswith(("0", "root")), "the image runs as a non-root user"


# -- Prometheus ----------------------------------------------------------------------------------


def test_every_alert_rule_is_well_formed() -> None:
    """What Prometheus requires of an alerting rule, and what ours promise: a name, an expression,
    a `for` it can read, a severity, a summary."""
    import promql_parser

    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))
    for rule in alert_rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        if "for" in rule:
            promql_parser.parse_duration(rule["for"])
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_every_alert_rule_parses_as_promql() -> None:
    rules = alert_rules()
    assert len(rules) >= 5 and all(r["alert"] and r["expr"] for r in rules)
    metrics = rule_metrics()
    assert all(name.startswith("duragraph_") or name == "up" for name in metrics), metrics
    import promql_parser

    with pytest.raises(ValueError, match="unclosed left parenthesis"):  # as Prometheus would
        promql_parser.parse("sum(rate(duragraph_runs[5m])")
