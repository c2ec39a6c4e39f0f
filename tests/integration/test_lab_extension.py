"""The prebuilt JupyterLab extension (extension/lab -> duragraph_lab/labextensions/duragraph-lab):
its TypeScript type-checks (strict, with the dashboard pages it bundles), the wheel ships it where
JupyterLab looks (share/jupyter/labextensions/duragraph-lab, built by hatch_build.py when stale,
not twice), and `duragraph-lab dev` puts the package's own build first on Lab's extension path.
The browser side is tests/e2e/test_lab_dashboard.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from duragraph_lab.runtime.jupyter_config import labextensions_dir
from tests.node import installed, npm

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "extension" / "lab"
SHARE = "duragraph_lab-{version}.data/data/share/jupyter/labextensions/duragraph-lab/"


def test_lab_extension_type_checks() -> None:
    result = npm("run", "typecheck", cwd=LAB)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_wheel_ships_the_prebuilt_lab_extension(tmp_path: Path) -> None:
    installed(LAB)
    env = {k: v for k, v in os.environ.items() if k != "DURAGRAPH_SKIP_FRONTEND"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("duragraph_lab-*.whl")
    version = wheel.name.split("-")[1]
    share = SHARE.format(version=version)
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = json.loads(z.read(share + "package.json"))
        assert meta["name"] == "duragraph-lab"
        assert meta["version"] == version
        build = meta["jupyterlab"]["_build"]
        # The remote entry and the chunks it loads are all there; the style entry too.
        assert share + build["load"] in names
        assert share + "static/style.js" in names
        chunks = [n for n in names if n.startswith(share + "static/") and n.endswith(".js")]
        assert len(chunks) >= 3, chunks
        code = b"".join(z.read(n) for n in chunks)
        assert b"duragraph-lab:plugin" in code and b"duragraph-sidebar" in code
        install = json.loads(z.read(share + "install.json"))
        assert install["packageName"] == "duragraph-lab"
        # Only once: not also as package data.
        assert not [n for n in names if n.startswith("duragraph_lab/labextensions/")]


def test_dev_puts_the_package_build_first() -> None:
    found = labextensions_dir()
    if found is None:
        pytest.skip("the JupyterLab extension is not built in this checkout")
    meta = json.loads((found / "duragraph-lab" / "package.json").read_text())
    assert meta["name"] == "duragraph-lab"
    assert (found / "duragraph-lab" / meta["jupyterlab"]["_build"]["load"]).is_file()
