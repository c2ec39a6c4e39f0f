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


def labextensions_dir() -> Path | None:
    """The directory holding the prebuilt JupyterLab extension ``duragraph-lab`` built in this
    package (a source checkout or an editable install), or ``None`` when it is not there (a wheel
    installs it in ``share/jupyter/labextensions`` instead). ``duragraph-lab dev`` puts it first
    on Lab's extension path, so the latest build is the one served."""
    candidate = _PACKAGE / "labextensions"
    return candidate if (candidate / "duragraph-lab" / "package.json").is_file() else None
