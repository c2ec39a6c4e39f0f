"""Running the embedded PostgreSQL when we are root.

PostgreSQL refuses to run as root, so as root the embedded server runs as a system user of its
own, :data:`SYSTEM_USER`, which must own the cluster's directories and be able to reach them and
the PostgreSQL programs. Whatever this changes outside the data directory (the user created, a
directory made traversable, binaries copied) is announced as a WARNING on the console, with what
and why: nothing about the machine is changed silently.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from duragraph_lab.runtime.errors import RuntimeStartError

#: The logger whose WARNINGs announce changes made to the machine (the CLI prints them).
changes = logging.getLogger("duragraph_lab.runtime.changes")

SYSTEM_USER = "duragraph"


def is_root() -> bool:
    return sys.platform != "win32" and os.geteuid() == 0


def server_user() -> str | None:
    """The user the embedded PostgreSQL runs as: None (ourselves) unless we are root, in which
    case :data:`SYSTEM_USER`, created if missing."""
    if not is_root():
        return None
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        _create_system_user()
    return SYSTEM_USER


def _create_system_user() -> None:
    useradd = shutil.which("useradd")
    if useradd is None:
        raise RuntimeStartError(
            f"running as root: PostgreSQL refuses to run as root and needs an unprivileged user; "
            f"create a system user named {SYSTEM_USER!r} (useradd is not available here), or run "
            "duragraph-lab as a normal user"
        )
    nologin = shutil.which("nologin") or "/usr/sbin/nologin"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", nologin, SYSTEM_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
        raise RuntimeStartError(
            f"running as root: cannot create the system user {SYSTEM_USER!r}: {reason[0]}"
        )
    import pwd

    uid = pwd.getpwnam(SYSTEM_USER).pw_uid
    changes.warning(
        "created the system user %r (uid %d, no home, no login shell): PostgreSQL refuses to run as "
        "root, so the embedded database runs as this user",
        SYSTEM_USER,
        uid,
    )


def give_to(user: str | None, *paths: Path, inside: Path) -> None:
    """Let ``user`` own ``paths`` and traverse their parents. A parent outside ``inside`` (the
    data directory) that others cannot traverse is made traversable (o+x: pass through, not
    list), and said so."""
    if user is None:
        return
    import pwd

    entry = pwd.getpwnam(user)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)
        for parent in path.parents:
            mode = parent.stat().st_mode
            if mode & stat.S_IXOTH:
                continue
            parent.chmod(mode | stat.S_IXOTH)
            if parent == inside or inside in parent.parents:
                continue  # the data dir's own directories: ours to set up
            changes.warning(
                "made %s traversable by other users (o+x: they can pass through it, not list it), "
                "so that the user %r running the embedded PostgreSQL can reach %s",
                parent,
                user,
                path,
            )
