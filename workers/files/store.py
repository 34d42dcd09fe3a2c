"""Where a worker keeps its sessions' files, and for how long after they end.

One directory per worker id, `<BROWSERPOOL_STATE_DIR>/files/<worker id>/` (the daemon's, mode 0700), so a
restarted worker with the same id finds what its previous run kept. In it, one entry per session
(workers/files/session_files.py). When a session ends, its live directory is moved into its entry and the entry
is stamped with the time; `sweep` removes entries whose session ended more than `retention` seconds ago.
An entry with no stamp whose session this process does not hold was left by a run that died (kill -9):
it is stamped at the first sweep and goes after the same retention; a recording ffmpeg never finished is
removed then (it cannot be played).

Everything here blocks (the disk): call it in a thread.
"""

import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import Collection
from pathlib import Path

from workers.chromium.home import SESSION_ID
from workers.files.session_files import LIVE_COPY, SessionFiles

log = logging.getLogger(__name__)

UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class FileStore:
    def __init__(self, root: Path, retention: float) -> None:
        self.root = root
        self.retention = retention

    @classmethod
    def for_worker(cls, state_dir: Path, worker_id: str, retention: float) -> "FileStore":
        name = UNSAFE.sub("_", worker_id).lstrip(".") or "worker"
        return cls(state_dir / "files" / name, retention)

    def prepare(self) -> None:
        """Make the root, and any missing directory above it up to the state directory, mode 0700 (the state
        directory is the daemon's alone: the embedded Redis keeps every secret there)."""
        missing = [p for p in (self.root, *self.root.parents) if not p.exists()]
        for path in reversed(missing):
            path.mkdir(mode=0o700, exist_ok=True)
            path.chmod(0o700)
        self.root.chmod(0o700)

    def entry(self, session_id: str) -> Path:
        if not SESSION_ID.fullmatch(session_id):
            raise ValueError(f"not a session id: {session_id!r}")
        return self.root / session_id

    def retain(self, files: SessionFiles) -> None:
        """The session has ended: keep its live directory in its entry (moved), stamped with the time."""
        files.make_entry()
        live = files.live_dir
        if live is not None and live.is_dir():
            target = files.entry / LIVE_COPY
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(target)
            shutil.move(str(live), str(target))
            for partial in target.glob("*.crdownload"):  # a download cut off by the end: nothing to serve
                partial.unlink(missing_ok=True)
        files.live_dir = None
        files.end_downloads()
        files.ended_at = time.time()
        files.save()

    def retained(self, session_id: str) -> SessionFiles | None:
        """An ended session's files, if they are still kept."""
        try:
            entry = self.entry(session_id)
        except ValueError:
            return None
        files = SessionFiles.load(entry)
        if files is None or files.session_id != session_id:
            return None
        return files

    def sweep(self, live: Collection[str], now: float | None = None) -> int:
        """Remove what is past its retention; stamp what a dead run left. Returns the entries removed."""
        now = time.time() if now is None else now
        removed = 0
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if entry.name in live or not entry.is_dir(follow_symlinks=False):
                continue
            path = Path(entry.path)
            files = SessionFiles.load(path)
            if files is None or files.ended_at is None:
                self._stamp_orphan(path, files, now)
                continue
            if now - files.ended_at >= self.retention:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed

    def _stamp_orphan(self, path: Path, files: SessionFiles | None, now: float) -> None:
        files = files or SessionFiles(path.name, path, None)
        files.recording_partial.unlink(missing_ok=True)
        files.ended_at = now
        try:
            files.save()
        except OSError:
            shutil.rmtree(path, ignore_errors=True)

    def bytes_on_disk(self) -> int:
        return tree_bytes([str(self.root)])


def tree_bytes(paths: Collection[str]) -> int:
    """Bytes of every regular file under `paths` (symlinks not followed; what vanishes meanwhile is skipped)."""
    total = 0
    stack = list(paths)
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total
