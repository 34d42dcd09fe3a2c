"""One browser's downloads, as its discovery session reports them: whose each one is, and the disk bound.

- Every download of a session lands in its own directory (the worker points the session's context there;
  the relay does the same for its clients). Download events of every context go to a `FileObserver`
  (workers/files/keeper.py), which keeps each session's list of downloads; a download is the session's
  whose page (frameId) began it, or, failing that, the session whose directory holds its file.
- Disk: the bounds' sampler thread (workers/pages/bounds.py) sums what each session's directories hold,
  downloads, uploads and recording (workers/files/quota.py); past the quota the session's downloads in
  progress are cancelled (Browser.cancelDownload), their partial files removed and its recording stopped.
  The session lives on.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from playwright.async_api import CDPSession
from playwright.async_api import Error as PlaywrightError

from workers.files.quota import IN_PROGRESS_SUFFIX, DiskQuota, remove_partial
from workers.pages.session_limits import MIB
from workers.pages.targets import session_contexts
from workers.session import SessionPage

log = logging.getLogger(__name__)

OwnerOf = Callable[[str], str | None]  # the session whose contexts hold a target (a download's frame), if any


class FileObserver(Protocol):
    """Who keeps the sessions' lists of downloads (workers/files/keeper.py)."""

    def quota_paths(self, session_id: str) -> list[str]:
        """The session's directories that count against its disk quota, its live (download) one first."""

    def began(self, session_id: str, guid: str, url: str, suggested: str) -> None: ...

    def progressed(self, guid: str, state: str, received: int) -> None: ...

    def over_quota(self, session_id: str, total: int) -> None:
        """The session went past its disk quota (called again while it stays past it)."""


class DownloadBounds:
    def __init__(
        self, quota_bytes: int, files: FileObserver | None, sessions: dict[str, SessionPage], owner_of: OwnerOf
    ) -> None:
        self.quota = DiskQuota(quota_bytes) if quota_bytes else None
        self.files = files
        self._sessions = sessions  # the browser's bounded sessions (its BrowserBounds's own record of them)
        self._owner_of = owner_of
        self._cdp: CDPSession | None = None
        self._cancelling: set[str] = set()  # sessions whose downloads are being cancelled
        self._in_progress: set[str] = set()  # guids of downloads in progress, any session's
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, cdp: CDPSession) -> None:
        """Follow the download events of every context on the browser's discovery session."""
        self._cdp = cdp
        cdp.on("Browser.downloadWillBegin", self._began)
        cdp.on("Browser.downloadProgress", self._progressed)
        # Events of every context's downloads come to a session that asked for them on any context: the
        # default context (no session's) is the one to ask on without changing where anyone's files go.
        await cdp.send("Browser.setDownloadBehavior", {"behavior": "default", "eventsEnabled": True})

    def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._cdp = None

    async def register(self, session_id: str, held: SessionPage) -> None:
        """The session's context's downloads go to its own directory from now on, and count."""
        if self._cdp is None or held.download_dir is None:
            return
        if self.quota is not None:
            paths = self.files.quota_paths(session_id) if self.files is not None else [held.download_dir]
            self.quota.watch(session_id, paths)
        behaviour = {"behavior": "allowAndName", "downloadPath": held.download_dir, "eventsEnabled": True}
        await self._cdp.send("Browser.setDownloadBehavior", {**behaviour, "browserContextId": held.context_id})

    def forget(self, session_id: str) -> None:
        if self.quota is not None:
            self.quota.forget(session_id)

    def check(self) -> dict[str, tuple[int, list[str]]]:
        """Sessions past the quota (none without one); blocking, for the sampler's thread."""
        return self.quota.check() if self.quota is not None else {}

    # --- download events (on the event loop) -------------------------------------------------

    def _began(self, event: dict[str, Any]) -> None:
        guid = str(event.get("guid", ""))
        self._in_progress.add(guid)
        if self.files is None:
            return
        owner_id = self._owner_of(str(event.get("frameId", "")))
        if owner_id is None:
            owner_id = self._session_with_file(guid)
        if owner_id is not None:
            self.files.began(owner_id, guid, str(event.get("url", "")), str(event.get("suggestedFilename", "")))

    def _session_with_file(self, guid: str) -> str | None:
        """The session whose directory holds the download's file (a download a subframe began)."""
        for session_id, held in self._sessions.items():
            if held.download_dir is not None and any(
                Path(held.download_dir, guid + suffix).exists() for suffix in ("", IN_PROGRESS_SUFFIX)
            ):
                return session_id
        return None

    def _progressed(self, event: dict[str, Any]) -> None:
        if event.get("state") in ("completed", "canceled"):
            self._in_progress.discard(event.get("guid", ""))
        if self.files is not None:
            self.files.progressed(str(event.get("guid", "")), str(event.get("state", "")), _int(event, "receivedBytes"))

    # --- downloads past the quota (on the event loop) ----------------------------------------

    def over_quota(self, over: dict[str, tuple[int, list[str]]]) -> None:
        """What the sampler found past the quota: tell the files' keeper, cancel what is still downloading."""
        for session_id, (total, partial) in over.items():
            held = self._sessions.get(session_id)
            if held is not None and self.files is not None:
                self.files.over_quota(session_id, total)
            if held is not None and partial and session_id not in self._cancelling:
                self._cancelling.add(session_id)
                self._spawn(self._cancel_downloads(session_id, held, total, partial))

    async def _cancel_downloads(self, session_id: str, held: SessionPage, total: int, partial: list[str]) -> None:
        """Cancel the session's downloads in progress. Browser.cancelDownload finds a download only in its
        own context, so trying each guid in progress against the session's contexts cancels its own only."""
        try:
            guids = self._in_progress | {name.removesuffix(".crdownload") for name in partial}
            cancelled = 0
            for guid in guids:
                cancelled += await self._cancel(guid, session_contexts(held))
            mib = total // MIB
            log.warning("session %s has %d MiB of downloads (past its quota): cancelled %d", session_id, mib, cancelled)
            if held.download_dir is not None:
                await asyncio.to_thread(remove_partial, held.download_dir, partial)
        finally:
            self._cancelling.discard(session_id)

    async def _cancel(self, guid: str, contexts: set[str]) -> int:
        for context in contexts:
            if self._cdp is None:
                return 0
            with contextlib.suppress(PlaywrightError):  # "No download item found": not this context's
                await self._cdp.send("Browser.cancelDownload", {"guid": guid, "browserContextId": context})
                self._in_progress.discard(guid)
                return 1
        return 0

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _int(event: dict[str, Any], key: str) -> int:
    value = event.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0
