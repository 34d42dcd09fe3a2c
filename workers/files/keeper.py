"""The file side of a worker: each live session's downloads, uploads and recording, and the files of ended
sessions, kept for BROWSERPOOL_FILE_RETENTION (workers/files/store.py) and served to API nodes from here.

- A session opens: its entry is made in the file store, and with `record` its recorder starts.
- Download events (from every browser's bounds, workers/pages/download_bounds.py) keep its list; a completed
  download is reported (`on_download`: the `download` event of the session's stream).
- Past its disk quota: what it still downloads is marked failed with the reason (and cancelled by the
  bounds), and its recording stops there.
- It ends: the recording is finished before its context closes, then its live directory moves into its
  entry. A sweep every few seconds removes entries past their retention (and, at start, stamps what a
  run that died left, so nothing stays on disk longer than the retention).

Uploads are written by workers/files/uploads.py; downloads and recordings are read out to API nodes by
workers/files/streams.py.
"""

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from orchestrator.errors import FileNotFound, InvalidInput, RecordingNotReady, SessionEnded
from orchestrator.files import RECORDING_TYPE, DownloadInfo, FileStats, FileStream, UploadedFile
from orchestrator.models import SessionSpec
from orchestrator.worker import DownloadDone, Upload
from workers.chromium.user import ChromiumUser
from workers.files.recorder import Recorder, RecordingUnavailable, output_size
from workers.files.session_files import SessionFiles
from workers.files.store import FileStore, tree_bytes
from workers.files.streams import file_stream
from workers.files.uploads import store_uploads
from workers.session import SessionPage

log = logging.getLogger(__name__)

SWEEP_MAX_SECONDS = 10.0


class WorkerFiles:
    def __init__(
        self,
        store: FileStore,
        quota_bytes: int,
        fps: int = 10,
        max_width: int = 1280,
    ) -> None:
        self.store = store
        self.quota_bytes = quota_bytes  # 0: not bounded
        self.fps = fps
        self.max_width = max_width
        self.on_download: DownloadDone | None = None
        self.live: dict[str, SessionFiles] = {}
        self.recorders: dict[str, Recorder] = {}
        self._ending: set[str] = set()  # sessions whose recording is being finished or files moved
        self._over: set[str] = set()  # sessions past their quota (handled once)
        self._owners: dict[str, str] = {}  # download guid -> session id
        self._stats = FileStats()
        self._complete = 0
        self._failed = 0
        self._sweeper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.store.prepare)
        await self.sweep()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await asyncio.gather(*(self.ended(sid) for sid in list(self.live)), return_exceptions=True)

    async def sweep(self) -> None:
        keep = set(self.live) | self._ending
        removed = await asyncio.to_thread(self.store.sweep, keep)
        if removed:
            log.info("removed the files of %d session(s) past their retention", removed)
        self._stats = FileStats(
            bytes_on_disk=await asyncio.to_thread(self._bytes_on_disk),
            downloads_complete=self._complete,
            downloads_failed=self._failed,
            recordings_in_progress=sum(1 for r in self.recorders.values() if r.recording),
        )

    def stats(self) -> FileStats:
        return FileStats(
            self._stats.bytes_on_disk,
            self._complete,
            self._failed,
            sum(1 for r in self.recorders.values() if r.recording),
        )

    # --- sessions ------------------------------------------------------------------------------

    async def opened(self, session_id: str, held: SessionPage, spec: SessionSpec, user: ChromiumUser) -> None:
        """Before the session is handed out: its entry, and its recorder if it asked for one."""
        live_dir = Path(held.download_dir) if held.download_dir is not None else None
        files = SessionFiles(session_id, self.store.entry(session_id), live_dir, user)
        files.recorded = spec.record
        self.live[session_id] = files  # first: a sweep meanwhile must not take its new entry for a dead run's
        await asyncio.to_thread(_make, files)
        if spec.record:
            size = output_size(spec.viewport_width, spec.viewport_height, self.max_width)
            recorder = Recorder(held.context, held.page, files.recording_partial, files.recording_path, size, self.fps)
            try:
                await recorder.start()
            except (RecordingUnavailable, OSError) as exc:
                raise InvalidInput(str(exc), loc=("body", "record")) from exc
            self.recorders[session_id] = recorder

    async def ending(self, session_id: str) -> None:
        """The session is ending (its context is about to close): finish its recording."""
        recorder = self.recorders.pop(session_id, None)
        if session_id in self.live:
            self._ending.add(session_id)
        if recorder is not None:
            await recorder.stop("the session ended")

    async def ended(self, session_id: str) -> None:
        """Its context is closed: keep its files for the retention."""
        if session_id in self.recorders:
            await self.ending(session_id)
        files = self.live.get(session_id)  # served from here until its files have moved
        try:
            if files is not None:
                await asyncio.to_thread(self.store.retain, files)
        except OSError:
            log.exception("could not keep the files of session %s", session_id)
        finally:
            self.live.pop(session_id, None)
            self._over.discard(session_id)
            for guid in [g for g, owner in self._owners.items() if owner == session_id]:
                del self._owners[guid]
            self._ending.discard(session_id)

    # --- downloads (FileObserver, on the event loop) -------------------------------------------

    def quota_paths(self, session_id: str) -> list[str]:
        files = self.live.get(session_id)
        return files.paths() if files is not None else []

    def began(self, session_id: str, guid: str, url: str, suggested: str) -> None:
        files = self.live.get(session_id)
        if files is None or guid in files.downloads:
            return
        files.began(guid, url, suggested)
        self._owners[guid] = session_id
        if session_id in self._over:
            files.fail_in_progress(self._quota_reason())
        self._save(files)

    def progressed(self, guid: str, state: str, received: int) -> None:
        files = self.live.get(self._owners.get(guid, ""))
        if files is None:
            return
        done = files.progressed(guid, state, received)
        if state in ("completed", "canceled"):
            self._owners.pop(guid, None)
            self._save(files)
        if state == "canceled" and files.downloads[guid].failure_reason:
            self._failed += 1
        if done is not None:
            self._complete += 1
            if self.on_download is not None:
                self._spawn(self.on_download(files.session_id, done))

    def over_quota(self, session_id: str, total: int) -> None:
        if session_id in self._over:
            return
        self._over.add(session_id)
        files = self.live.get(session_id)
        log.warning("session %s holds %d bytes of files, past its disk quota", session_id, total)
        if files is not None:
            files.fail_in_progress(self._quota_reason())
        recorder = self.recorders.get(session_id)
        if recorder is not None:
            recorder.stopped_why = "the session's files reached its disk quota"
            self._spawn(recorder.stop())

    def _quota_reason(self) -> str:
        quota = self.quota_bytes
        return f"the session's files would pass its disk quota of {quota} bytes (BROWSERPOOL_SESSION_DISK_QUOTA)"

    # --- serving -------------------------------------------------------------------------------

    async def downloads(self, session_id: str) -> list[DownloadInfo]:
        files = self.live.get(session_id) or await asyncio.to_thread(self.store.retained, session_id)
        return files.infos() if files is not None else []

    async def open_file(self, session_id: str, name: str | None) -> FileStream:
        if name is None:
            return await self._recording(session_id)
        files = self.live.get(session_id) or await asyncio.to_thread(self.store.retained, session_id)
        path = files.download_path(name) if files is not None else None
        if files is None or path is None:
            raise FileNotFound(f"this session has no completed download named {name!r}")
        info = next(d for d in files.downloads.values() if d.name == name)
        return await file_stream(path, name, info.mime_type)

    async def _recording(self, session_id: str) -> FileStream:
        if session_id in self.recorders or session_id in self._ending or session_id in self.live:
            raise RecordingNotReady("the session's video is being finalised; retry in a moment")
        files = await asyncio.to_thread(self.store.retained, session_id)
        if files is None or not files.recorded:
            raise FileNotFound('this session was not recorded (create it with "record": true)')
        if not files.recording_path.exists():
            if files.recording_partial.exists():
                raise RecordingNotReady("the session's video is being finalised; retry in a moment")
            raise FileNotFound(
                "this session has no video: it ended before its page drew a frame, or the encoder failed (see the "
                "worker's log)"
            )
        return await file_stream(files.recording_path, f"{session_id}.webm", RECORDING_TYPE)

    # --- uploads -------------------------------------------------------------------------------

    async def upload(self, session_id: str, uploads: list[Upload]) -> list[UploadedFile]:
        """Store the files in the session's `uploads/` (all or none), each readable by Chromium's user only."""
        files = self.live.get(session_id)
        if files is None or files.live_dir is None:
            raise SessionEnded("ended")
        uploaded = await store_uploads(files, uploads, self.quota_bytes)
        self._save(files)
        return uploaded

    def upload_paths(self, session_id: str, names: list[str]) -> list[str]:
        files = self.live.get(session_id)
        if files is None:
            raise SessionEnded("ended")
        paths = []
        for name in names:
            path = files.upload_path(name)
            if path is None:
                raise InvalidInput(
                    f"no uploaded file named {name!r}: upload it first (POST .../files)", ("body", "files")
                )
            paths.append(str(path))
        return paths

    # --- internals -----------------------------------------------------------------------------

    def _bytes_on_disk(self) -> int:
        return self.store.bytes_on_disk() + tree_bytes([str(f.live_dir) for f in self.live.values() if f.live_dir])

    def _save(self, files: SessionFiles) -> None:
        self._spawn(asyncio.to_thread(files.save))

    async def _sweep_forever(self) -> None:
        interval = min(max(self.store.retention / 4, 0.5), SWEEP_MAX_SECONDS)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweeping session files failed")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _make(files: SessionFiles) -> None:
    files.make_entry()
    files.save()
