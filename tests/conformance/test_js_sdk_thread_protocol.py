"""The official JavaScript SDK (``@langchain/langgraph-sdk`` from npm, pinned in
tests/js_sdk/package-lock.json, run by the node of tests/node.py) starts, streams and resumes a run
over the thread-centric protocol, on SSE and on a WebSocket."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.apiserver import ApiServer
from tests.node import NODE, NPM_CLI, env

JS = Path(__file__).resolve().parents[1] / "js_sdk"


@pytest.fixture(scope="module")
def js_sdk() -> Path:
    if not (JS / "node_modules" / ".package-lock.json").is_file():
        done = subprocess.run(
            [str(NODE), str(NPM_CLI), "ci", "--no-audit", "--no-fund"],
            cwd=JS,
            env=env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return JS


JS_CALLS = ("js:threads.stream[interrupt answered]", "js:threads.getState")


@pytest.mark.parametrize(
    "transport",
    [
        pytest.param("sse", marks=pytest.mark.sdk("js:threads.stream[sse]", *JS_CALLS)),
        pytest.param("websocket", marks=pytest.mark.sdk("js:threads.stream[websocket]", *JS_CALLS)),
    ],
)
def test_js_sdk_starts_streams_and_resumes_a_run(api_server: ApiServer, js_sdk: Path, transport: str) -> None:
    done = subprocess.run(
        [str(NODE), "thread_protocol.mjs", api_server.base, api_server.token, transport],
        cwd=js_sdk,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["runId"]
    # The JS SDK reads the interrupt's value as `payload` (the protocol's name).
    assert seen["interrupts"][0]["payload"] == {"question": "proceed?", "n": 5}
    assert seen["output"]["answer"] == "from js"
    assert seen["output"]["log"] == ["asked", "done:from js"]
