"""Download bytes per session: every download of a session lands in its own directory, so its size is
what the session wrote.

Chromium writes a download in progress as `<name>.crdownload` and renames it when it completes; both
count. The directories are read on the bounds sampler's thread (blocking: scandir and stat), every few
tens of milliseconds; a session past its quota is reported, and what it has in progress is cancelled over
CDP by the caller (workers/session_bounds.py), which also removes the partial files Chromium leaves.
"""

import os
import threading
from pathlib import Path

IN_PROGRESS_SUFFIX = ".crdownload"


def directory_bytes(path: str) -> tuple[int, list[str]]:
    """(bytes of every file in `path`, names of the downloads still in progress); (0, []) if it is gone."""
    total = 0
    partial: list[str] = []
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue  # renamed or removed while we looked
                if entry.name.endswith(IN_PROGRESS_SUFFIX):
                    partial.append(entry.name)
    except OSError:
        pass
    return total, partial


def remove_partial(path: str, names: list[str]) -> None:
    """Remove downloads a cancel left behind (only `*.crdownload` files directly in `path`)."""
    for name in names:
        if name.endswith(IN_PROGRESS_SUFFIX) and "/" not in name:
            Path(path, name).unlink(missing_ok=True)


class DownloadQuota:
    """The session directories of one browser, each held to `limit_bytes`."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._dirs: dict[str, str] = {}  # session id -> its directory
        self._lock = threading.Lock()

    def watch(self, session_id: str, path: str) -> None:
        with self._lock:
            self._dirs[session_id] = path

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._dirs.pop(session_id, None)

    def check(self) -> dict[str, tuple[int, list[str]]]:
        """Sessions past the quota with downloads in progress: id -> (bytes, partial file names). Blocking."""
        with self._lock:
            dirs = list(self._dirs.items())
        over: dict[str, tuple[int, list[str]]] = {}
        for session_id, path in dirs:
            total, partial = directory_bytes(path)
            if total > self.limit_bytes and partial:
                over[session_id] = (total, partial)
        return over
