"""``duragraph-lab`` as a user runs it: a real process, real PostgreSQL, NATS and Jupyter."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from duragraph_lab.store import available_migrations
from tests.devserver import DevServer, run_cli, wait_until_gone


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevServer]:
    server = DevServer(tmp_path / "data")
    yield server.start()
    server.kill()


def assert_one_line_error(stderr: str, *needles: str) -> None:
    # Warnings announce changes made to the machine (as root: a directory made traversable);
    # they are not part of the error.
    lines = [
        line
        for line in stderr.strip().splitlines()
        if line.strip() and not line.startswith("duragraph-lab: warning: ")
    ]
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert lines[0].startswith("duragraph-lab: error: ")
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0]


def test_dev_is_healthy_authenticated_and_stops_cleanly_on_ctrl_c(dev: DevServer) -> None:
    assert "/lab?token=" in dev.url
    status, body = dev.api("health", token=dev.token)
    assert status == 200
    assert body["status"] == "ok"
    assert body["postgres"]["ok"]
    assert body["postgres"]["embedded"]
    assert body["nats"]["ok"]
    assert body["relay"]["running"]
    assert body["relay"]["backlog"] == 0
    secrets = [
        json.loads((dev.data_dir / "postgres" / "server.json").read_text())["password"],
        json.loads((dev.data_dir / "nats" / "server.json").read_text())["token"],
    ]

    status, body = dev.api("health")
    assert status == 401
    assert body["error"] == "unauthorized" and "Authorization: token <token>" in body["message"], body
    assert dev.api("info")[0] == 401
    status, info = dev.api("info", token=dev.token)
    assert status == 200
    assert info["postgres"]["embedded"]
    assert info["data_dir"] == str(dev.data_dir)
    for secret in secrets:
        assert secret not in json.dumps(body)
        assert secret not in json.dumps(info)
        assert secret not in dev.output()

    # The server's own worker registers as the server starts; status reads the workers then.
    deadline = time.monotonic() + 30
    while not dev.api("workers", token=dev.token)[1]["workers"] and time.monotonic() < deadline:
        time.sleep(0.1)
    status = run_cli("status", "--data-dir", str(dev.data_dir))
    assert status.returncode == 0
    assert "running: pid" in status.stdout
    # The URL to open, token included: a user who scrolled the terminal away gets back in.
    assert f"open: {dev.url}" in status.stdout
    assert f"token={dev.token}" in status.stdout
    # The live workers and what they serve: the server's own, with the demo graphs.
    _, workers = dev.api("workers", token=dev.token)
    [server_worker] = workers["workers"]
    assert "workers: 1" in status.stdout, status.stdout
    served = [line for line in status.stdout.splitlines() if server_worker["worker_id"] in line]
    assert served and "chat" in served[0] and "approval" in served[0], status.stdout

    dev.signal(signal.SIGINT)
    assert dev.wait(timeout=30) == 0
    assert wait_until_gone(dev.data_dir) == [], "no PostgreSQL/NATS left behind"
    assert not (dev.data_dir / "runtime.json").exists()
    stopped = run_cli("status", "--data-dir", str(dev.data_dir))
    assert stopped.returncode == 3
    assert "not running" in stopped.stdout


def test_sigterm_stops_everything(dev: DevServer) -> None:
    dev.signal(signal.SIGTERM)
    assert dev.wait(timeout=30) == 0
    assert wait_until_gone(dev.data_dir) == []


def test_second_dev_on_the_same_data_dir_is_refused(dev: DevServer) -> None:
    second = run_cli("dev", "--no-browser", "--data-dir", str(dev.data_dir))
    assert second.returncode == 1
    assert_one_line_error(second.stderr, "already using data dir", f"pid {dev.proc.pid}")  # type: ignore[union-attr]
    assert dev.api("health", token=dev.token)[0] == 200, "the first one is unharmed"


def test_port_already_taken(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = run_cli("dev", "--no-browser", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1
    assert_one_line_error(result.stderr, f"port {port} is already in use")
    assert wait_until_gone(tmp_path / "d", timeout=10) == []


def test_unreachable_external_database(tmp_path: Path) -> None:
    result = run_cli(
        "dev", "--no-browser", "--data-dir", str(tmp_path / "d"),
        env={"DURAGRAPH_DATABASE_URL": "postgresql://me:hunter2@127.0.0.1:1/app"},
    )  # fmt: skip
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "cannot connect to PostgreSQL at", "127.0.0.1")
    assert "hunter2" not in result.stderr
    assert wait_until_gone(tmp_path / "d", timeout=10) == []


def test_unreachable_external_nats(tmp_path: Path) -> None:
    result = run_cli(
        "dev", "--no-browser", "--data-dir", str(tmp_path / "d"),
        env={"DURAGRAPH_NATS_URL": "nats://sekrit@127.0.0.1:1"},
    )  # fmt: skip
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "cannot connect to NATS at nats://127.0.0.1:1")
    assert "sekrit" not in result.stderr
    assert wait_until_gone(tmp_path / "d", timeout=5) == [], "the embedded PostgreSQL was stopped again"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p.write_text("x"), p)[1], "exists and is not a directory"),
        (lambda p: Path("/sys/duragraph-test"), "is not writable"),
    ],
)
def test_unusable_data_dir(tmp_path: Path, make: object, message: str) -> None:
    target = make(tmp_path / "blocker")  # type: ignore[operator]
    result = run_cli("dev", "--no-browser", "--data-dir", str(target))
    assert result.returncode == 1
    assert_one_line_error(result.stderr, message)


def test_jupyter_settings_pass_through(tmp_path: Path) -> None:
    server = DevServer(
        tmp_path / "data",
        extra=["--ServerApp.base_url=/hub/user/ada/"],
        env={"JUPYTER_TOKEN": "tok-from-env"},
    )
    try:
        server.start()
        assert server.url.endswith("token=..."), "Jupyter does not print a token the user chose"
        assert server.api("health", token="tok-from-env", base="/hub/user/ada/")[0] == 200
        assert server.api("health", token="wrong", base="/hub/user/ada/")[0] == 401
        assert server.api("health", token="tok-from-env")[0] == 404
    finally:
        server.kill()


def test_serve_runs_the_api_without_lab(tmp_path: Path) -> None:
    server = DevServer(tmp_path / "data", command="serve")
    try:
        server.start()
        assert server.api("health", token=server.token)[0] == 200
        from tests.devserver import http

        lab_status, _ = http(f"http://127.0.0.1:{server.port}/lab", server.token)
        assert lab_status == 404, "no Lab UI in serve mode"
        server.signal(signal.SIGINT)
        assert server.wait() == 0
        assert wait_until_gone(server.data_dir) == []
    finally:
        server.kill()


def test_migrate_command(database_url: str) -> None:
    result = run_cli("migrate", "--database-url", database_url)
    assert result.returncode == 0, result.stderr
    assert f"schema already at version {len(available_migrations())}" in result.stdout
    missing = run_cli("migrate")
    assert missing.returncode == 2
    assert "DURAGRAPH_DATABASE_URL" in missing.stderr
    bad = run_cli("migrate", "--database-url", "postgresql://x:y@127.0.0.1:1/z")
    assert bad.returncode == 1
    assert_one_line_error(bad.stderr, "cannot connect to PostgreSQL")


def test_usage_errors() -> None:
    assert run_cli("frobnicate").returncode == 2
    result = run_cli("status", "--bogus")
    assert result.returncode == 2
    assert_usage_line(result.stderr, "duragraph-lab status: error: unknown option --bogus")
    assert run_cli("--version").stdout.startswith("duragraph-lab ")


def assert_usage_line(stderr: str, *needles: str) -> None:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert "Traceback" not in stderr and "usage:" not in stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["dev", "--no-browswer"], ["unknown option --no-browswer", "did you mean --no-browser?"]),
        (["serve", "--data-dri", "x"], ["unknown option --data-dri", "did you mean --data-dir?"]),
        (["dev", "--port", "abc"], ["argument --port: invalid int value: 'abc'"]),
        (["dev", "--ServerApp.base_url=/x/", "--notebook-dir", "/tmp", "--fast"], ["unknown option --fast"]),
        (["serve", "notebook.ipynb"], ["unknown option notebook.ipynb"]),
        (["worker", "mod:graph", "--concurency", "4"], ["did you mean --concurrency?"]),
    ],
)
def test_bad_options_are_one_line_before_anything_starts(
    tmp_path: Path, argv: list[str], needles: list[str]
) -> None:
    data_dir = tmp_path / "d"
    started = time.monotonic()
    result = run_cli(*argv, env={"DURAGRAPH_DATA_DIR": str(data_dir)})
    assert result.returncode == 2
    assert_usage_line(result.stderr, *needles)
    assert not data_dir.exists(), "nothing was started or created"
    assert time.monotonic() - started < 15, "refused at once, not after starting the services"


def test_plain_jupyter_server_gets_the_extension_and_can_own_embedded_services(tmp_path: Path) -> None:
    """After `pip install`, `jupyter server` alone loads DuraGraph Lab; when told to, it starts
    and stops the embedded services itself (by default it only attaches, see test_backend)."""
    import shutil
    import sys

    from tests.devserver import DevServer

    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent))
    assert jupyter is not None
    data_dir = tmp_path / "data"
    server = DevServer(data_dir, env={"DURAGRAPH_DATA_DIR": str(data_dir)})
    server.argv = [
        jupyter, "server", "--no-browser", f"--port={server.port}", "--allow-root",
        "--DuraGraphApp.start_embedded=True",
    ]  # fmt: skip
    try:
        server.start()
        status, body = server.api("health", token=server.token)
        assert status == 200
        assert body["postgres"]["embedded"]
        assert (data_dir / "runtime.json").exists()
        server.signal(signal.SIGINT)
        assert server.wait() == 0
        assert wait_until_gone(data_dir) == []
        assert not (data_dir / "runtime.json").exists()
    finally:
        server.kill()


def test_app_options_passed_to_dev_are_the_ones_used(tmp_path: Path, empty_database_url: str) -> None:
    """`--DuraGraphApp.database_url` reaches both the CLI (which checks and migrates it) and the
    extension: they agree on one database."""
    server = DevServer(tmp_path / "data", extra=[f"--DuraGraphApp.database_url={empty_database_url}"])
    try:
        server.start()
        status, body = server.api("health", token=server.token)
        assert status == 200, body
        assert not body["postgres"]["embedded"]
        assert body["postgres"]["schema_version"] == len(available_migrations())
        assert body["nats"]["embedded"]
    finally:
        server.kill()
    assert wait_until_gone(tmp_path / "data") == []
