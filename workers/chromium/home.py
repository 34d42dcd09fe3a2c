"""The directories Chromium works in, apart from everything of the daemon's.

One root per worker, owned by the daemon with mode 0711 (Chromium's user may pass through it, not list
or write it). Inside: Chromium's HOME and TMPDIR, the directory Playwright lets downloads land in, one
directory per session (all owned by Chromium's user, mode 0700), and Playwright's artifacts and the
launcher (the daemon's, mode 0700). Removed when the worker stops.
"""

import atexit
import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from workers.chromium.user import ChromiumUser, reachable_by

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
ROOT_PREFIX = "browserpool-chromium-"
LOCK = ".alive"  # held (flock) by the worker that owns the root, for as long as it runs
PROFILE_PREFIX = "playwright_chromiumdev_profile-"  # Playwright's fresh user data dir, in its driver's TMPDIR

_profile_parent: str | None = None  # see profile_parent(): one per process


@dataclass(frozen=True)
class ChromiumHome:
    root: Path
    user: ChromiumUser
    _lock: int = field(default=-1, compare=False, repr=False)

    @classmethod
    def create(cls, user: ChromiumUser) -> "ChromiumHome":
        base = reachable_base(user)
        sweep_stale(Path(base))
        root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX, dir=base))
        root.chmod(0o711)
        lock = os.open(root / LOCK, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        home = cls(root, user, lock)
        for name in ("home", "tmp", "downloads", "traces"):
            home._own_dir(root / name)
        (root / "sessions").mkdir(mode=0o711)
        (root / "sessions").chmod(0o711)  # whatever the umask
        (root / "artifacts").mkdir(mode=0o700)
        (root / "bin").mkdir(mode=0o700)
        return home

    @property
    def home_dir(self) -> Path:
        return self.root / "home"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    @property
    def downloads_dir(self) -> Path:
        return self.root / "downloads"

    @property
    def traces_dir(self) -> Path:
        return self.root / "traces"

    @property
    def artifacts_dir(self) -> Path:
        """Playwright's own files (videos, HAR, browser traces): the daemon's, not Chromium's."""
        return self.root / "artifacts"

    @property
    def bin_dir(self) -> Path:
        """Where the launcher is written: the daemon's alone, so Chromium's user can never change what root runs."""
        return self.root / "bin"

    def session_dir(self, session_id: str) -> Path:
        """The session's own directory (CDP downloads and files go here): Chromium's user's, mode 0700."""
        if not SESSION_ID.fullmatch(session_id):
            raise ValueError(f"not a session id: {session_id!r}")
        path = self.root / "sessions" / session_id
        with contextlib.suppress(FileExistsError):
            self._own_dir(path)
        info = path.lstat()
        if not path.is_dir() or path.is_symlink() or info.st_uid != self.user.uid:
            raise RuntimeError(f"{path} is not the session directory this worker made")
        return path

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if self._lock >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock)

    def _own_dir(self, path: Path) -> None:
        path.mkdir(mode=0o700)
        if self.user.separate:
            os.chown(path, self.user.uid, self.user.gid)
        path.chmod(0o700)


def sweep_stale(base: Path, grace: float = 60.0) -> None:
    """Remove the roots of workers that died without stopping (kill -9): theirs is the lock nobody holds."""
    for root in base.glob(f"{ROOT_PREFIX}*"):
        with contextlib.suppress(OSError):
            if root.stat().st_uid != os.geteuid() or time.time() - root.stat().st_mtime < grace:
                continue  # not ours, or so new its owner may not hold its lock yet
            lock = os.open(root / LOCK, os.O_WRONLY | os.O_CLOEXEC)  # none: not a root this code made
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(root, ignore_errors=True)
            except BlockingIOError:
                pass  # a live worker's
            finally:
                os.close(lock)


def node_tmpdir() -> str:
    """The directory the Playwright driver (Node.js) makes temporary directories in: os.tmpdir()."""
    found = os.environ.get("TMPDIR") or os.environ.get("TMP") or os.environ.get("TEMP") or "/tmp"
    return found.rstrip("/") or "/"


def reachable_base(user: ChromiumUser) -> str:
    """Our temporary directory if Chromium's user can reach it, else /tmp."""
    ours = tempfile.gettempdir()
    return ours if reachable_by(Path(ours), user) else "/tmp"


def profile_parent(user: ChromiumUser) -> str | None:
    """A TMPDIR for the Playwright driver, or None when its own will do.

    Playwright makes each browser's profile directory in its driver's TMPDIR; Chromium's user must be able
    to reach it. When it cannot (a private TMPDIR), the driver gets one directory per process instead,
    owned by the daemon, mode 0711 (in it, Chromium's user cannot rename or replace anything).
    """
    global _profile_parent
    if reachable_by(Path(node_tmpdir()), user):
        return None
    if _profile_parent is None:
        _profile_parent = tempfile.mkdtemp(prefix="browserpool-profiles-", dir="/tmp")
        os.chmod(_profile_parent, 0o711)
        atexit.register(shutil.rmtree, _profile_parent, True)
    return _profile_parent
