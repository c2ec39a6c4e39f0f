"""Child processes that cannot outlive us.

Embedded PostgreSQL and NATS run in their own session (so a terminal's Ctrl-C reaches only us,
and we stop them in order: Jupyter first, then NATS, then PostgreSQL). On Linux they also get
PR_SET_PDEATHSIG, so even if we are killed with SIGKILL the kernel stops them: no orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

_PR_SET_PDEATHSIG = 1
# Resolved in the parent: between fork and exec the child may only do async-signal-safe work,
# and loading a library there can deadlock on a lock some other thread held at fork time.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent(sig: int, parent_pid: int) -> None:
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    # The parent may have died between fork and prctl; then nobody would ever signal us. (Compare
    # with the parent's pid, not 1: in containers a subreaper, not init, adopts orphans.)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


def as_user(user: str | None) -> dict[str, Any]:
    """subprocess arguments that run a child as ``user`` with that user's group only. Keeping
    root's group would make group permission bits, not "other" bits, apply to root's dirs."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    death_signal: int = signal.SIGTERM,
    user: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached from our terminal, logging to ``log_path``, dying with us."""
    log_file = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        kwargs: dict[str, Any] = as_user(user)
        if _prctl is not None:
            parent_pid = os.getpid()
            kwargs["preexec_fn"] = lambda: _die_with_parent(death_signal, parent_pid)
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=cwd,
            **kwargs,
        )
    finally:
        log_file.close()


def stop_process(
    proc: subprocess.Popen[bytes] | psutil.Process,
    *,
    signals: Sequence[tuple[int, float]],
) -> None:
    """Send each ``(signal, grace seconds)`` in turn until the process is gone; SIGKILL last."""
    for sig, grace in [*signals, (signal.SIGKILL, 5.0)]:
        try:
            proc.send_signal(sig)
        except (ProcessLookupError, psutil.NoSuchProcess):
            return
        try:
            proc.wait(timeout=grace)
            return
        except (subprocess.TimeoutExpired, psutil.TimeoutExpired):
            continue


def find_process(pid: int, *, name_contains: str, arg_contains: str) -> psutil.Process | None:
    """The live process ``pid`` if it is the program we expect (pids get reused)."""
    try:
        proc = psutil.Process(pid)
        cmdline = proc.cmdline()
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    joined = " ".join(cmdline)
    if name_contains in (proc.name() + " " + joined) and arg_contains in joined:
        return proc
    return None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``port`` now. Servers (PostgreSQL, nats-server, tornado)
    bind with SO_REUSEADDR, so connections lingering in TIME_WAIT after a crash do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """``preferred`` if it is free (stable URLs across restarts), else any free port."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float, host: str = "127.0.0.1") -> bool:
    """Wait until something accepts on ``port``; False if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return True
        time.sleep(0.01)
    return False


def tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())
