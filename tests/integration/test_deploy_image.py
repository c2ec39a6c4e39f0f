"""deploy/Dockerfile's install steps, executed here: the build context is what its COPY lines copy
(less what Dockerfile.dockerignore leaves out), each RUN line of both stages runs in bash with the
stage's ARG/ENV values, the image's directories (/src, /wheels, /opt/duragraph) mapped to
temporary ones. Then the resulting virtualenv runs the image's commands: ``--help`` of each, and
the API server through the image's entrypoint and CMD, answering its probes.

Not done here: the base image (this machine's Python instead of python:3.12-slim), the user the
image creates (``useradd`` would change this machine), Docker itself. pip may use its cache
(PIP_NO_CACHE_DIR is the image's size setting, not a different install)."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from duragraph_lab.runtime.postgres import PostgresEndpoint
from tests.deploy_files import (
    DOCKERFILE,
    ENTRYPOINT,
    REPO,
    dockerfile,
    dockerfile_env,
    dockerfile_json,
    http_paths,
    on_this_machine,
)
from tests.deploy_processes import request
from tests.devserver import DevServer

# 5-6 minutes (a 468 MB virtualenv): outside the CI budget, as the long topology test. CI's
# `.ci/fresh_install.py` installs the package from a fresh clone the README's way already.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1500),
    pytest.mark.skipif(
        not os.environ.get("DURAGRAPH_DEPLOY_IMAGE"), reason="long: DURAGRAPH_DEPLOY_IMAGE=1 runs it"
    ),
]


def _ignored(relative: str) -> bool:
    """Dockerfile.dockerignore's patterns (``**/x`` and plain paths, as used there)."""
    patterns = [
        line.strip()
        for line in (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = relative.split("/")
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        if pattern.startswith("**/") and bare in parts:
            return True
        if any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))):
            return True
    return False


def _build_context(into: Path) -> None:
    """What the build stage's COPY lines bring, from the repository (the build context)."""
    for ins in dockerfile():
        if ins.keyword != "COPY" or ins.stage != 0:
            continue
        *sources, _dest = ins.args.split()
        for source in sources:
            src = REPO / source.rstrip("/")
            if src.is_dir():
                for path in src.rglob("*"):
                    relative = path.relative_to(REPO).as_posix()
                    if path.is_file() and not _ignored(relative):
                        (into / relative).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, into / relative)  # keeps mtimes: the front end is not rebuilt
            else:
                shutil.copy2(src, into / source)


def _run_stage(stage: int, env: dict[str, str], cwd: Path) -> None:
    for ins in dockerfile():
        if ins.stage != stage or ins.keyword != "RUN":
            continue
        if "useradd" in ins.args:
            continue  # would add a user to this machine (see the module docstring)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", ins.args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        assert result.returncode == 0, f"RUN {ins.args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's virtualenv, made by the Dockerfile's own RUN lines."""
    root = tmp_path_factory.mktemp("image")
    context, wheels, venv = root / "src", root / "wheels", root / "opt-duragraph"
    context.mkdir()
    _build_context(context)
    base = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": os.environ.get("HOME", str(root)),
    }
    stage0 = {**base, **dockerfile_env(0), "SRC": str(context), "WHEELS": str(wheels)}
    stage0.pop("PIP_NO_CACHE_DIR")
    _run_stage(0, stage0, context)
    built = sorted(wheels.glob("duragraph_lab-*.whl"))
    assert len(built) == 1, built
    # COPY --from=wheel /wheels/ /wheels/: the same directory here.
    # (The image's ENV PATH comes after its install step: this machine's PATH for the RUN lines.)
    stage1 = {**dockerfile_env(1), **base, "VENV": str(venv), "WHEELS": str(wheels)}
    stage1.pop("PIP_NO_CACHE_DIR")
    _run_stage(1, stage1, root)
    assert not wheels.exists(), "the install step removes the wheels it installed"
    return venv


def test_the_build_context_has_what_the_wheel_needs() -> None:
    """The sdist's include list, less what a wheel does not need, is what the image copies."""
    copied = {i.args.split()[0].rstrip("/") for i in dockerfile() if i.keyword == "COPY" and i.stage == 0}
    copied |= {s for i in dockerfile() if i.keyword == "COPY" and i.stage == 0 for s in i.args.split()[:-1]}
    for needed in (
        "pyproject.toml",
        "hatch_build.py",
        "README.md",
        "duragraph_lab",
        "server",
        "kernels",
        "extension",
    ):
        assert needed in copied, needed


def test_the_image_venv_runs_every_command(image: Path) -> None:
    cli = image / "bin" / "duragraph-lab"
    for sub in ("serve", "worker", "migrate", "otel"):
        result = subprocess.run(
            [str(cli), sub, "--help"], capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, (sub, result.stderr)
    extras = dockerfile_env(1)["EXTRAS"].split(",")
    modules = {"server": "jupyter_server", "langgraph": "langgraph", "otel": "opentelemetry.sdk"}
    code = "import duragraph_lab.api.extension, " + ", ".join(modules[e] for e in extras)
    subprocess.run([str(image / "bin" / "python"), "-c", code], check=True, timeout=120)
    check = subprocess.run(
        [str(image / "bin" / "python"), "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout


def test_the_image_serves_its_probes(
    image: Path, pg_server: PostgresEndpoint, nats_server: str, tmp_path: Path
) -> None:
    """The entrypoint and CMD, from the image's venv (not this checkout) against the tests'
    PostgreSQL and NATS."""
    import psycopg

    dbname = f"image_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server.url, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")
    url = re.sub(r"/[^/]*$", f"/{dbname}", pg_server.tcp_url)
    token_file = tmp_path / "token"
    token_file.write_text("image-test-token\n")
    env = {
        "PATH": os.pathsep.join([str(image / "bin"), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path),
        "DURAGRAPH_DATABASE_URL": url,
        "DURAGRAPH_NATS_URL": nats_server,
        "DURAGRAPH_SUBJECT_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        "DURAGRAPH_DATA_DIR": str(tmp_path / "app" / ".duragraph"),
        "JUPYTER_TOKEN_FILE": str(token_file),
    }
    argv = on_this_machine(dockerfile_json("CMD"))
    server = DevServer(tmp_path / "data", command="serve", env=env, port=0)
    server.argv = [str(ENTRYPOINT), *argv]
    server.argv[server.argv.index("--port") + 1] = "0"
    server.env = {**env}
    try:
        server.start(timeout=120)
        for where, path in http_paths():
            status, body = request(f"http://127.0.0.1:{server.port}{path}")
            assert status == 200, (where, path, body)
        status, health = request(
            f"http://127.0.0.1:{server.port}/duragraph/api/v1/health", "image-test-token"
        )
        assert status == 200 and health["worker"] is None, health
        # The server runs the image venv's Python (so its installed package), not this checkout's.
        assert server.proc is not None
        assert psutil.Process(server.proc.pid).cmdline()[0].startswith(str(image))
    finally:
        server.kill()
