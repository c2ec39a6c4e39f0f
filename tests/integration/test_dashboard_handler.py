"""The dashboard page's handler ({base_url}duragraph/ui/): Jupyter's login, the page's
configuration, its assets and nothing else, under a base_url too; and the Parquet export route."""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from duragraph_lab._version import __version__
from duragraph_lab.api.handlers.ui import STATIC_DIR
from tests.apiserver import ApiServer
from tests.devserver import DevServer
from tests.node import npm

REPO = Path(__file__).resolve().parents[2]


def ensure_dashboard_built() -> None:
    """Build the bundles (`npm run build`) when they are missing or older than their sources."""
    outputs = [STATIC_DIR / "dashboard.js", STATIC_DIR / "dashboard.css"]
    sources = [p for p in (REPO / "extension" / "src").rglob("*") if p.is_file()]
    newest = max(p.stat().st_mtime for p in sources)
    if all(p.is_file() and p.stat().st_mtime >= newest for p in outputs):
        return
    result = npm("run", "build")
    assert result.returncode == 0, result.stdout + result.stderr


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get(url: str, token: str | None = None) -> tuple[int, bytes, Message]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"token {token}")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


def page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="duragraph-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, html
    config: dict[str, Any] = json.loads(match.group(1))
    return config


@pytest.fixture(scope="module", autouse=True)
def _built() -> None:
    ensure_dashboard_built()


def test_page_needs_login_and_carries_its_configuration(api_server: ApiServer) -> None:
    root = f"http://127.0.0.1:{api_server.port}"
    status, _, headers = get(f"{root}/duragraph/ui/")
    assert status == 302
    assert headers["Location"].startswith("/login?next=%2Fduragraph%2Fui%2F")
    status, _, _ = get(f"{root}/duragraph/ui/", token="wrong")
    assert status == 302

    status, body, headers = get(f"{root}/duragraph/ui/", token=api_server.token)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    html = body.decode()
    config = page_config(html)
    assert config["baseUrl"] == "/"
    assert config["apiUrl"] == "/duragraph/api/v1/"
    assert config["serverVersion"] == __version__
    assert config["xsrfToken"]
    assert any(c.startswith("_xsrf=") for c in headers.get_all("Set-Cookie") or [])
    assert '<script type="module" src="/duragraph/ui/static/dashboard.js?v=' in html

    # without the trailing slash: redirected to the page, the query kept
    status, _, headers = get(f"{root}/duragraph/ui?x=1", token=api_server.token)
    assert status == 302
    assert headers["Location"] == "/duragraph/ui/?x=1"


def test_assets_are_served_and_nothing_else(api_server: ApiServer) -> None:
    root = f"http://127.0.0.1:{api_server.port}/duragraph/ui/static"
    status, body, headers = get(f"{root}/dashboard.js", token=api_server.token)
    assert status == 200
    assert headers["Content-Type"].startswith("text/javascript")
    assert body == (STATIC_DIR / "dashboard.js").read_bytes()
    status, body, headers = get(f"{root}/dashboard.css", token=api_server.token)
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert b"--dg-fg" in body
    for name in ("nope.js", "..%2F..%2F_version.py", "%2Fetc%2Fpasswd", "dashboard.js.map"):
        status, _, _ = get(f"{root}/{name}", token=api_server.token)
        assert status == 404, name
    status, _, _ = get(f"{root}/dashboard.js")
    assert status in (302, 403)  # not logged in: no asset either


def test_parquet_export_of_a_run(api_server: ApiServer) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    status, thread, _ = api_server.request("POST", "/threads", {})
    assert status == 200
    status, _, _ = api_server.request(
        "POST",
        f"/threads/{thread['thread_id']}/runs/wait",
        {"assistant_id": "chat", "input": {"messages": [{"role": "user", "content": "parquet"}]}},
    )
    assert status == 200
    status, runs, _ = api_server.request("GET", f"/threads/{thread['thread_id']}/runs")
    run_id = runs[0]["run_id"]
    status, page, _ = api_server.request("GET", f"/runs/{run_id}/events")
    req = urllib.request.Request(
        f"{api_server.base}/runs/{run_id}/events.parquet", headers=api_server.headers
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["Content-Type"] == "application/vnd.apache.parquet"
        assert f"run-{run_id}-events.parquet" in resp.headers["Content-Disposition"]
        table = pq.read_table(io.BytesIO(resp.read()))
    assert table.column("seq").to_pylist() == [e["seq"] for e in page["events"]]
    assert table.column("type").to_pylist() == [e["type"] for e in page["events"]]
    assert "data" in table.column_names and "recorded_at" in table.column_names
    status, body, _ = api_server.request("GET", "/runs/00000000-0000-0000-0000-000000000000/events.parquet")
    assert status == 404 and body["error"] == "not_found"
    status, _, _ = api_server.request("GET", f"/runs/{run_id}/events.parquet", token=None)
    assert status == 401


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """A `serve` behind a JupyterHub-like base URL."""
    server = DevServer(
        tmp_path_factory.mktemp("hub") / "data", command="serve", extra=["--ServerApp.base_url=/user/ann/"]
    )
    server.start()
    try:
        yield server
    finally:
        server.kill()


def test_page_under_a_base_url(hub_server: DevServer) -> None:
    root = f"http://127.0.0.1:{hub_server.port}"
    status, _, headers = get(f"{root}/user/ann/duragraph/ui/")
    assert status == 302
    assert headers["Location"].startswith("/user/ann/login?next=%2Fuser%2Fann%2Fduragraph%2Fui%2F")
    status, body, _ = get(f"{root}/user/ann/duragraph/ui/", token=hub_server.token)
    assert status == 200
    config = page_config(body.decode())
    assert config["baseUrl"] == "/user/ann/"
    assert config["apiUrl"] == "/user/ann/duragraph/api/v1/"
    assert 'src="/user/ann/duragraph/ui/static/dashboard.js' in body.decode()
    status, _, _ = get(f"{root}/user/ann/duragraph/ui/static/dashboard.js", token=hub_server.token)
    assert status == 200
    status, _, _ = get(f"{root}/duragraph/ui/", token=hub_server.token)
    assert status == 404
