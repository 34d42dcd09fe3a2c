"""Keeping the daemon's secrets from processes of the same user (in containers, Chromium often is one).

- `make_undumpable()`: prctl(PR_SET_DUMPABLE, 0). The kernel then refuses /proc/<pid>/environ, mem,
  maps and ptrace of this process to everyone without CAP_SYS_PTRACE, its own user included. /proc's
  environ shows the environment the process started with (BROWSERPOOL_REDIS_URL with its password, say),
  whatever os.environ says later. Children that exec (the Playwright driver, Chromium, redis-server) are
  dumpable again, so their environments are scrubbed instead. No core dumps, and debuggers need root.
- `driver_environment()`: the Playwright driver copies os.environ when it starts; for that moment the
  BROWSERPOOL_* variables are taken out (and TMPDIR pointed where Chromium's user can reach its profile).
"""

import contextlib
import ctypes
import logging
import os
import tempfile
from collections.abc import Iterator

log = logging.getLogger(__name__)

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
SECRET_PREFIX = "BROWSERPOOL_"

_scrubbing = 0  # driver_environment() may nest (two workers starting in one process)
_saved: dict[str, str | None] = {}


def make_undumpable() -> bool:
    """Make this process non-dumpable; False (and a warning) where the kernel call fails."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_DUMPABLE, 0) failed: %s", os.strerror(ctypes.get_errno()))
        return False
    return True


def is_dumpable() -> bool:
    return bool(ctypes.CDLL(None, use_errno=True).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))


@contextlib.contextmanager
def driver_environment(tmpdir: str | None = None) -> Iterator[None]:
    """os.environ without BROWSERPOOL_* (and with TMPDIR=`tmpdir` if given) while a Playwright driver starts."""
    global _scrubbing
    if _scrubbing == 0:
        tempfile.gettempdir()  # cached now, so this process's own temporary files stay where they were
        _saved.clear()
        for key in [k for k in os.environ if k.startswith(SECRET_PREFIX)]:
            _saved[key] = os.environ.pop(key)
        if tmpdir is not None:
            _saved["TMPDIR"] = os.environ.get("TMPDIR")
            os.environ["TMPDIR"] = tmpdir
    _scrubbing += 1
    try:
        yield
    finally:
        _scrubbing -= 1
        if _scrubbing == 0:
            for key, value in _saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            _saved.clear()
