"""Disk bytes per session (BROWSERPOOL_SESSION_DISK_QUOTA): its downloads, uploads and recording together.

Every download of a session lands in its own live directory, uploads in that directory's `uploads/`, and
its recording in its entry of the worker's file store (workers/files/session_files.py), so what those trees hold
is what the session costs the disk. Chromium writes a download in progress as `<guid>.crdownload` directly
in the live directory and renames it when it completes; both count. The trees are read on the bounds
sampler's thread (blocking: scandir and stat), every few tens of milliseconds; a session past its quota is
reported, and the caller (workers/pages/download_bounds.py) cancels its downloads in progress over CDP, removes
the partial files Chromium leaves and stops its recording.
"""

import os
import threading
from pathlib import Path

from workers.files.store import tree_bytes

IN_PROGRESS_SUFFIX = ".crdownload"


def partial_downloads(path: str) -> list[str]:
    """Names of the downloads still in progress directly in `path` ([] if it is gone)."""
    try:
        with os.scandir(path) as entries:
            return [e.name for e in entries if e.name.endswith(IN_PROGRESS_SUFFIX)]
    except OSError:
        return []


def remove_partial(path: str, names: list[str]) -> None:
    """Remove downloads a cancel left behind (only `*.crdownload` files directly in `path`)."""
    for name in names:
        if name.endswith(IN_PROGRESS_SUFFIX) and "/" not in name:
            Path(path, name).unlink(missing_ok=True)


class DiskQuota:
    """The files of one browser's sessions, each session held to `limit_bytes` across its directories."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._dirs: dict[str, list[str]] = {}  # session id -> its directories, the live (download) one first
        self._lock = threading.Lock()

    def watch(self, session_id: str, paths: list[str]) -> None:
        with self._lock:
            self._dirs[session_id] = list(paths)

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._dirs.pop(session_id, None)

    def usage(self, session_id: str) -> int:
        with self._lock:
            paths = list(self._dirs.get(session_id, []))
        return tree_bytes(paths)

    def check(self) -> dict[str, tuple[int, list[str]]]:
        """Sessions past the quota: id -> (bytes, names of partial downloads in its live directory). Blocking."""
        with self._lock:
            dirs = list(self._dirs.items())
        over: dict[str, tuple[int, list[str]]] = {}
        for session_id, paths in dirs:
            total = tree_bytes(paths)
            if total > self.limit_bytes:
                over[session_id] = (total, partial_downloads(paths[0]) if paths else [])
        return over
