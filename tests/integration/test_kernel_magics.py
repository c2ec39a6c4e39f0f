"""A real "Python 3 (DuraGraph)" kernel (kernels/duragraph) as a worker: define a graph in the
kernel, ``%duragraph serve`` it, ``%duragraph run ... --wait`` on it; after a kernel restart
mid-run, the run resumes once the kernel serves the graph again."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from duragraph_lab.client import DuraGraphClient
from tests.apiserver import ApiServer

REPO = Path(__file__).resolve().parents[2]

GRAPH = """
import asyncio
from typing import Annotated, TypedDict
import operator
from duragraph_lab import StateGraph, START, END

class S(TypedDict, total=False):
    n: int
    log: Annotated[list[str], operator.add]
    sleep: float

async def double(s: S) -> S:
    return {"n": s["n"] * 2, "log": ["double"]}

async def slow(s: S) -> S:
    await asyncio.sleep(s.get("sleep", 0))
    return {"n": s["n"] + 1, "log": ["slow"]}

NAME = StateGraph(S)
NAME.add_node("double", double)
NAME.add_node("slow", slow)
NAME.add_edge(START, "double")
NAME.add_edge("double", "slow")
NAME.add_edge("slow", END)
"""


class Kernel:
    def __init__(self, km: KernelManager) -> None:
        self.km = km
        self.kc = km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code: str, timeout: float = 120.0) -> dict[str, Any]:
        """Run a cell: its stdout, stderr, result (text/plain) and status."""
        out: dict[str, Any] = {"stdout": "", "stderr": "", "result": None, "error": None}

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind == "execute_result":
                out["result"] = content["data"].get("text/plain")
            elif kind == "error":
                out["error"] = f"{content['ename']}: {content['evalue']}"

        reply = self.kc.execute_interactive(code, output_hook=hook, timeout=timeout)
        out["status"] = reply["content"]["status"]
        return out

    def restart(self) -> None:
        self.kc.stop_channels()
        self.km.restart_kernel(now=True)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)


def kernelspecs() -> KernelSpecManager:
    """Only the repository's kernels/ (where the wheel installs kernels/duragraph from)."""
    return KernelSpecManager(kernel_dirs=[str(REPO / "kernels")])


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DURAGRAPH_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    km = KernelManager(kernel_name="duragraph", kernel_spec_manager=kernelspecs())
    km.start_kernel(env=env)
    k = Kernel(km)
    try:
        yield k
    finally:
        k.kc.stop_channels()
        km.shutdown_kernel(now=True)


def connect(kernel: Kernel, api_server: ApiServer) -> None:
    got = kernel.execute(f"%duragraph connect http://127.0.0.1:{api_server.port}/ --token {api_server.token}")
    assert got["status"] == "ok" and got["stderr"] == "", got
    assert "DuraGraph connection" in (got["result"] or "")


def test_the_kernelspec_preloads_the_magics_and_the_kernel_serves_a_notebook_graph(
    kernel: Kernel, api_server: ApiServer
) -> None:
    spec = kernelspecs().get_kernel_spec("duragraph")
    assert spec.display_name == "Python 3 (DuraGraph)"
    assert "--IPKernelApp.extensions=duragraph_lab" in spec.argv
    connect(kernel, api_server)
    name = f"kernel_graph_{uuid.uuid4().hex[:8]}"
    assert kernel.execute(GRAPH.replace("NAME", name))["status"] == "ok"
    served = kernel.execute(f"%duragraph serve {name}")
    assert served["status"] == "ok" and served["stderr"] == "", served
    assert name in served["result"]

    got = kernel.execute(f"r = %duragraph run {name} --input '{{\"n\": 20}}' --wait --timeout 60\nr.values")
    assert got["status"] == "ok" and got["stderr"] == "", got
    assert got["result"] == "{'n': 41, 'log': ['double', 'slow']}"
    status = kernel.execute("%duragraph status")
    assert name in status["result"]

    # Re-running the cell with a changed graph serves the new version.
    changed = GRAPH.replace("NAME", name).replace('s["n"] * 2', 's["n"] * 3')
    assert kernel.execute(changed)["status"] == "ok"
    assert kernel.execute(f"%duragraph serve {name}")["stderr"] == ""
    got = kernel.execute(f"r2 = %duragraph run {name} --input '{{\"n\": 20}}' --wait\nr2.values['n']")
    assert got["result"] == "61", got

    # A user error is one line on stderr, and the kernel goes on.
    bad = kernel.execute(f"%duragraph run {name} --input '{{oops'")
    assert bad["status"] == "ok" and bad["error"] is None
    assert bad["stderr"].count("\n") == 1 and "not valid JSON" in bad["stderr"]


def test_a_run_resumes_after_a_kernel_restart(kernel: Kernel, api_server: ApiServer) -> None:
    connect(kernel, api_server)
    name = f"kernel_restart_{uuid.uuid4().hex[:8]}"
    assert kernel.execute(GRAPH.replace("NAME", name))["status"] == "ok"
    assert kernel.execute(f"%duragraph serve {name} --lease-ttl 2")["stderr"] == ""
    started = kernel.execute(f'r = %duragraph run {name} --input \'{{"n": 1, "sleep": 4}}\'\nr.run_id')
    run_id = started["result"].strip("'")

    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as client:
        deadline = time.monotonic() + 30
        while client.runs.get(run_id).step is None or client.runs.get(run_id).status != "running":
            assert time.monotonic() < deadline, client.runs.get(run_id)
            time.sleep(0.05)
        time.sleep(0.5)  # inside the slow node
        first_worker = client.runs.get(run_id).worker_id
        kernel.restart()
        assert client.runs.get(run_id).status == "running"  # not done: its worker died

        connect(kernel, api_server)
        assert kernel.execute(GRAPH.replace("NAME", name))["status"] == "ok"
        assert kernel.execute(f"%duragraph serve {name} --lease-ttl 2")["stderr"] == ""
        begin = time.monotonic()
        while not (run := client.runs.get(run_id)).at_rest:
            assert time.monotonic() - begin < 60, run
            time.sleep(0.1)
        resumed_in = time.monotonic() - begin
        result = client.runs.join(run_id)
        assert run.status == "success", run
        assert result.values["n"] == 3 and result.values["log"] == ["double", "slow"]
        assert run.worker_id != first_worker
        print(f"resumed and finished {resumed_in:.1f}s after the kernel served the graph again")


def test_blocking_calls_in_a_block_never_stop_the_kernels_worker(
    kernel: Kernel, api_server: ApiServer
) -> None:
    """The kernel's worker has its own thread and loop: a magic inside a block (not rewritten to
    an await), a blocking ``run.wait()``, even ``time.sleep`` on the kernel's loop, stop nothing."""
    connect(kernel, api_server)
    name = f"kernel_block_{uuid.uuid4().hex[:8]}"
    assert kernel.execute(GRAPH.replace("NAME", name))["status"] == "ok"
    got = kernel.execute(f"if True:\n    served = %duragraph serve {name}\nprint(served)")
    assert got["stderr"] == "" and name in got["stdout"], got
    got = kernel.execute(
        f"if True:\n    r = %duragraph run {name} --input '{{\"n\": 1}}' --wait\nprint(r.values)\n"
    )
    assert got["stderr"] == "" and "'n': 3" in got["stdout"], got
    got = kernel.execute(
        "from duragraph_lab.notebook.session import current\n"
        f"r = current().run('{name}', input={{'n': 2}})\n"
        "r.wait(60).values['n']"
    )
    assert got["error"] is None and got["result"] == "5", got
    # The cell holds the kernel's loop for the whole run: the run finishes all the same.
    got = kernel.execute(
        "import time\n"
        f"r = current().run('{name}', input={{'n': 3, 'sleep': 0.3}})\n"
        "deadline = time.monotonic() + 60\n"
        "while r.status != 'success' and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "r.values['n']"
    )
    assert got["error"] is None and got["result"] == "7", got


def test_connect_finds_the_jupyter_server_that_started_the_kernel(api_server: ApiServer) -> None:
    from jupyter_client.blocking import BlockingKernelClient
    from jupyter_core.paths import jupyter_runtime_dir

    root = f"http://127.0.0.1:{api_server.port}"
    kernel_id = _jupyter(root, api_server.token, "POST", "/api/kernels", {"name": "python3"})["id"]
    try:
        path = Path(jupyter_runtime_dir()) / f"kernel-{kernel_id}.json"
        deadline = time.monotonic() + 30
        while not path.exists():
            assert time.monotonic() < deadline, path
            time.sleep(0.05)
        kc = BlockingKernelClient(connection_file=str(path))
        kc.load_connection_file()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        k = Kernel.__new__(Kernel)
        k.kc = kc
        assert k.execute("%load_ext duragraph_lab")["status"] == "ok"
        got = k.execute("%duragraph connect")
        assert got["stderr"] == "", got
        assert f":{api_server.port}/duragraph/api/v1/ (ok, Jupyter server (pid " in got["result"], got
        got = k.execute("s = %duragraph status\ns.ok")
        assert got["result"] == "True", got
        kc.stop_channels()
    finally:
        _jupyter(root, api_server.token, "DELETE", f"/api/kernels/{kernel_id}")


def _jupyter(root: str, token: str, method: str, route: str, body: Any = None) -> Any:
    import json
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(root + route, data=data, method=method)
    request.add_header("Authorization", f"token {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = response.read()
    return json.loads(payload) if payload.strip() else None
