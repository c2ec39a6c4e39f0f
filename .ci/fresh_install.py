"""CI smoke: a fresh clone, installed and started the way README.md's first command says, on
another Python (3.13 by default), with no Node.js on PATH, from a virtualenv inside a 0700
directory, with the data dir elsewhere — as whoever runs CI (root there).

Then it is used, not just imported: /health, a run of the demo `chat` assistant through the API
(create a thread, run, wait, read the answer and the event log), `duragraph-lab status`, and a
clean Ctrl-C. Exits non-zero with the reason on the first failure.

    python3 .ci/fresh_install.py [--python PATH] [--repo DIR]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NODE_PROGRAMS = {"node", "nodejs", "npm", "npx", "corepack"}
READY = re.compile(r"DuraGraph Lab ready in ([0-9.]+)s: (\S+)")


def fail(message: str) -> None:
    print(f"fresh install: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def step(message: str) -> None:
    print(f"fresh install: {message}", flush=True)


def find_python(version: str) -> str:
    # pyenv's own install first: its shim on PATH only works where that version is selected.
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = sorted(glob.glob(f"{pyenv_root}/versions/{version}*/bin/python{version}"), reverse=True)
    candidates.append(shutil.which(f"python{version}"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and "/shims/" not in candidate:
            return candidate
    fail(f"no Python {version} found (PATH or pyenv); this check needs one")
    raise AssertionError


def path_without_node(where: Path) -> str:
    """A PATH whose directories hold everything the real PATH has, except Node.js."""
    where.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for entry in Path(directory).iterdir():
            if entry.name in NODE_PROGRAMS or (where / entry.name).exists():
                continue
            (where / entry.name).symlink_to(entry)
    return str(where)


def http(url: str, token: str, body: Any = None, timeout: float = 60) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    request.add_header("Authorization", f"token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", default=None, help="the Python to install with (default: 3.13)")
    parser.add_argument("--repo", default=str(ROOT), help="the repository to clone")
    args = parser.parse_args()
    python = args.python or find_python("3.13")
    began = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="dg-fresh-"))  # mode 0700, like a home directory
    data_parent = Path(tempfile.mkdtemp(prefix="dg-fresh-data-"))
    dev: subprocess.Popen[str] | None = None
    try:
        os.chmod(home, 0o700)
        path = path_without_node(home / "bin")
        env = {**os.environ, "PATH": path, "CI": "true", "PIP_NO_INPUT": "1"}
        env.pop("VIRTUAL_ENV", None)
        if shutil.which("node", path=path) or shutil.which("npm", path=path):
            fail("node is still on the PATH built for this check")
        src = home / "src"
        subprocess.run(["git", "clone", "--quiet", args.repo, str(src)], check=True)
        readme = (src / "README.md").read_text()
        first = re.findall(r"```bash\n(.+?)\n```", readme, flags=re.S)[0]
        install, _, start = first.rpartition(" && ")
        if start != "duragraph-lab dev":
            fail(f"README's first command does not end with `duragraph-lab dev`: {first}")
        # README's command, with this Python for `python -m venv`.
        install = install.replace("python -m venv", f"{python} -m venv", 1)
        step(f"installing with {python} (no node on PATH, venv inside 0700 {home}): {install}")
        result = subprocess.run(["bash", "-c", install], cwd=src, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            fail(
                f"install failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
            )
        step(f"installed in {time.monotonic() - began:.0f}s")
        if (src / "extension" / "node_modules").exists():
            fail("the install left node_modules in the checkout")
        venv_bin = src / ".venv" / "bin"
        version = subprocess.run(
            [str(venv_bin / "python"), "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        step(f"the venv runs Python {version}")

        data_dir = data_parent / "data"
        log_path = home / "dev.log"
        dev_env = {**env, "PATH": f"{venv_bin}{os.pathsep}{path}", "VIRTUAL_ENV": str(src / ".venv")}
        argv = [
            str(venv_bin / "duragraph-lab"),
            "dev",
            "--no-browser",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
        ]
        with open(log_path, "w") as log:
            dev = subprocess.Popen(
                argv, cwd=src, env=dev_env, stdout=log, stderr=subprocess.STDOUT, text=True
            )
        deadline = time.monotonic() + 120
        url = None
        while time.monotonic() < deadline and url is None:
            if dev.poll() is not None:
                fail(f"duragraph-lab dev exited ({dev.returncode}):\n{log_path.read_text()[-5000:]}")
            match = READY.search(log_path.read_text())
            if match:
                url = match.group(2)
            time.sleep(0.2)
        if url is None:
            fail(f"duragraph-lab dev did not become ready:\n{log_path.read_text()[-5000:]}")
        output = log_path.read_text()
        if "Traceback" in output:
            fail(f"a traceback in dev's output:\n{output[-5000:]}")
        token = url.split("token=", 1)[1]
        base = url.split("/lab?", 1)[0] + "/duragraph/api/v1"
        step(f"dev ready in {match.group(1)}s: {base}")  # type: ignore[union-attr]

        status, health = http(f"{base}/health", token)
        if status != 200 or health.get("status") != "ok":
            fail(f"/health: {status} {health}")
        deadline = time.monotonic() + 60
        while "chat" not in ((health.get("worker") or {}).get("graphs") or []):
            if time.monotonic() > deadline:
                fail(f"the demo worker did not start: {health}")
            time.sleep(0.2)
            _, health = http(f"{base}/health", token)
        status, thread = http(f"{base}/threads", token, {})
        if status != 200:
            fail(f"POST /threads: {status} {thread}")
        question = {"messages": [{"role": "user", "content": "what is 6 * 7"}]}
        status, values = http(
            f"{base}/threads/{thread['thread_id']}/runs/wait",
            token,
            {"assistant_id": "chat", "input": question},
        )
        if status != 200:
            fail(f"runs/wait: {status} {values}")
        answer = values["messages"][-1]["content"]
        if "42" not in str(answer):
            fail(f"the chat demo did not answer 42: {answer!r}")
        status, runs = http(f"{base}/threads/{thread['thread_id']}/runs", token)
        run_id = runs[0]["run_id"]
        status, events = http(f"{base}/runs/{run_id}/events", token)
        if status != 200 or not events:
            fail(f"the run's event log: {status} {events}")
        step(f"a chat run answered {answer!r}")

        status_cmd = subprocess.run(
            [str(venv_bin / "duragraph-lab"), "status", "--data-dir", str(data_dir)],
            env=dev_env, capture_output=True, text=True,
        )  # fmt: skip
        if status_cmd.returncode != 0 or f"token={token}" not in status_cmd.stdout:
            fail(f"duragraph-lab status: {status_cmd.returncode} {status_cmd.stdout} {status_cmd.stderr}")

        dev.send_signal(signal.SIGINT)
        try:
            code = dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fail("dev did not stop within 60s of Ctrl-C")
        if code != 0:
            fail(f"dev exited {code} after Ctrl-C:\n{log_path.read_text()[-3000:]}")
        dev = None
        step(f"passed in {time.monotonic() - began:.0f}s")
    finally:
        if dev is not None and dev.poll() is None:
            dev.kill()
            dev.wait()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data_parent, ignore_errors=True)


if __name__ == "__main__":
    main()
