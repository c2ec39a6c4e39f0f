"""Locate the ``server/`` Jupyter configuration, in a wheel or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def server_config_dir() -> Path:
    """``duragraph_lab/_server`` in an installed wheel; the repository's ``server/`` in an
    editable install (where the wheel's force-include does not apply)."""
    for candidate in (_PACKAGE / "_server", _PACKAGE.parent / "server"):
        if (candidate / "jupyter_server_config.py").is_file():
            return candidate
    raise FileNotFoundError("DuraGraph Lab's Jupyter server configuration (server/) is missing")
