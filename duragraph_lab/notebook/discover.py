"""Which DuraGraph server a kernel talks to when ``%duragraph connect`` is given no URL.

In order: the Jupyter server that started this kernel (its pid is the kernel's parent, or it lists
the kernel's id under ``/api/kernels``), then ``DURAGRAPH_URL`` / ``DURAGRAPH_TOKEN``.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_URL = "DURAGRAPH_URL"
ENV_TOKEN = "DURAGRAPH_TOKEN"
_KERNEL_FILE = re.compile(r"kernel-(?P<id>[0-9a-fA-F-]{8,})\.json$")


@dataclass(frozen=True, slots=True)
class Found:
    """A server URL (the Jupyter server's base URL), its token and how it was found."""

    url: str
    token: str | None
    source: str


def discover(servers: Iterable[Mapping[str, Any]] | None = None) -> Found | None:
    """The server this kernel belongs to, else the one named by the environment, else None."""
    found = jupyter_server_of_this_kernel(servers)
    if found is not None:
        return found
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return Found(url, os.environ.get(ENV_TOKEN, "").strip() or None, f"${ENV_URL}")
    return None


def jupyter_server_of_this_kernel(servers: Iterable[Mapping[str, Any]] | None = None) -> Found | None:
    if servers is None:
        servers = running_servers()
    candidates = [s for s in servers if s.get("url")]
    parent = os.getppid()
    for server in candidates:
        if server.get("pid") == parent:
            return Found(str(server["url"]), _token(server), f"Jupyter server (pid {parent})")
    kernel_id = this_kernel_id()
    if kernel_id is None:
        return None
    for server in candidates:
        if kernel_id in _kernel_ids(str(server["url"]), _token(server)):
            return Found(str(server["url"]), _token(server), f"Jupyter server running kernel {kernel_id}")
    return None


def running_servers() -> list[dict[str, Any]]:
    """This user's running Jupyter servers: their ``jpserver-*.json`` runtime files, as
    ``jupyter_server.serverapp.list_running_servers`` reads them, without importing
    ``jupyter_server`` (an import that takes seconds)."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        files = sorted(Path(jupyter_runtime_dir()).glob("jpserver-*.json"))
    except Exception:  # no jupyter_core, an unreadable runtime dir: nothing found
        return []
    out = []
    for file in files:
        try:
            server = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(server, dict) and _alive(server.get("pid")):
            out.append(server)
    return out


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:  # alive, another user's
        return True
    except OSError:
        return False
    return True


def this_kernel_id() -> str | None:
    """The id of the kernel this process runs (from its connection file), or None."""
    try:
        from ipykernel.connect import get_connection_file

        path = get_connection_file()
    except Exception:  # not in a kernel
        return None
    match = _KERNEL_FILE.search(os.path.basename(path))
    return match.group("id") if match else None


def _token(server: Mapping[str, Any]) -> str | None:
    token = server.get("token")
    return str(token) if token else None


def _kernel_ids(url: str, token: str | None) -> set[str]:
    request = urllib.request.Request(url.rstrip("/") + "/api/kernels")
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=2.0) as response:
            body = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return set()
    return {str(k.get("id")) for k in body if isinstance(k, dict)} if isinstance(body, list) else set()
