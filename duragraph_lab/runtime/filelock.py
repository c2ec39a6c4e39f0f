"""Advisory locks on open files, released by the kernel when their owner dies however it dies.

POSIX ``flock`` where there is one; on Windows (where only the client, workers and the notebook
layer run, but they still look for a running server's data directory) ``msvcrt.locking``, which
has no shared mode: a probe takes the exclusive lock for an instant instead.
"""

from __future__ import annotations

import sys

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def try_lock(fd: int, *, shared: bool = False) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def try_lock(fd: int, *, shared: bool = False) -> bool:
        """Take the lock without waiting; False if someone else holds it (exclusively, or at
        all when ``shared`` is false)."""
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
