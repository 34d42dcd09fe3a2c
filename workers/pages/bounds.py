"""What one session may cost a worker: renderer memory, pages, download bytes (and, in workers/local/worker.py,
the size of a REST evaluate result). One BrowserBounds per browser enforces them.

- Pages: a browser-level CDP session of the worker's own discovers every target (Target.setDiscoverTargets),
  whoever made it: the session's page, a client's Target.createTarget, a page's window.open or
  target=_blank. A session's pages are the page targets of its own context and of the contexts its CDP
  clients created; past `max_pages` the newest is closed at once (Target.closeTarget), so a script's
  window.open returns a window that closes, and the relay refuses Target.createTarget with a reason.
- Memory: a sampler thread measures every renderer of the browser (workers/chromium/renderer_memory.py) and kills
  one past the bound; the session whose page crashed with status "killed" just after ends `failed` with
  end reason `memory`. Renderers are never shared between contexts, so no other session is touched.
- Disk: every download of a session lands in its own directory (the worker points the session's
  context there; the relay does the same for its clients), and the same thread sums what its directories
  hold, downloads, uploads and recording (workers/files/quota.py); past the quota the session's
  downloads in progress are cancelled (Browser.cancelDownload), their partial files removed and its
  recording stopped. The session lives on.
- Download events of every context go to a `FileObserver` (workers/files/keeper.py), which keeps each
  session's list of downloads; a download is the session's whose page (frameId) began it, or, failing
  that, the session whose directory holds its file.
"""

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from playwright.async_api import Browser, CDPSession
from playwright.async_api import Error as PlaywrightError

from orchestrator.config import Settings
from orchestrator.lifecycle import EndReason
from workers.chromium.renderer_memory import RendererMemory
from workers.files.quota import IN_PROGRESS_SUFFIX, DiskQuota, remove_partial
from workers.pages.targets import TargetCensus
from workers.session import SessionPage

log = logging.getLogger(__name__)

MIB = 1024 * 1024
SAMPLE_SECONDS = 0.05  # how often renderers and session directories are measured
CRASH_STATUS_WAIT = 1.0  # how long a page crash waits for its status (from the discovery session)
KILLED = "killed"  # Target.targetCrashed status of a renderer that got SIGKILL
RUN = '{"id":1,"method":"Runtime.runIfWaitingForDebugger"}'

Over = Callable[[str, EndReason], None]  # a session went past a bound that ends it


class FileObserver(Protocol):
    """Who keeps the sessions' lists of downloads (workers/files/keeper.py)."""

    def quota_paths(self, session_id: str) -> list[str]:
        """The session's directories that count against its disk quota, its live (download) one first."""

    def began(self, session_id: str, guid: str, url: str, suggested: str) -> None: ...

    def progressed(self, guid: str, state: str, received: int) -> None: ...

    def over_quota(self, session_id: str, total: int) -> None:
        """The session went past its disk quota (called again while it stays past it)."""


@dataclass(frozen=True)
class SessionLimits:
    """What one session may cost; the defaults are the settings' defaults (orchestrator/config.py)."""

    memory_bytes: int = 1024 * MIB  # private memory of each of its renderers; 0: not bounded
    max_pages: int = 20  # page targets across its own context and the ones its CDP clients made
    download_bytes: int = 500 * MIB  # what its directories may hold (downloads, uploads, recording); 0: not bounded
    evaluate_result_bytes: int = 8 * MIB  # a REST evaluate result, measured in the page before it is sent

    @classmethod
    def from_settings(cls, settings: Settings) -> "SessionLimits":
        return cls(
            memory_bytes=settings.session_memory_mb * MIB,
            max_pages=settings.max_pages_per_session,
            download_bytes=_smallest(settings.max_download_bytes, settings.session_disk_quota),
            evaluate_result_bytes=settings.max_evaluate_result_bytes,
        )


class BrowserBounds:
    def __init__(self, tag: str, limits: SessionLimits, on_over: Over, files: FileObserver | None = None) -> None:
        self.tag = tag
        self.limits = limits
        self.census = TargetCensus()
        self.memory: RendererMemory | None = None
        self.quota = DiskQuota(limits.download_bytes) if limits.download_bytes else None
        self.files = files
        self._on_over = on_over
        self._sessions: dict[str, SessionPage] = {}
        self._cdp: CDPSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[str] = set()  # pages being closed for the cap
        self._cancelling: set[str] = set()  # sessions whose downloads are being cancelled
        self._downloads: set[str] = set()  # guids of downloads in progress, any session's
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, browser: Browser, browser_pid: int | None) -> None:
        """Discover the browser's targets and download events, and start measuring its renderers."""
        self._loop = asyncio.get_running_loop()
        self._cdp = cdp = await browser.new_browser_cdp_session()
        cdp.on("Target.targetCreated", self._target_seen)
        cdp.on("Target.targetInfoChanged", self._target_seen)
        cdp.on("Target.targetDestroyed", self._target_gone)
        cdp.on("Target.targetCrashed", self._target_crashed)
        cdp.on("Browser.downloadWillBegin", self._download_began)
        cdp.on("Browser.downloadProgress", self._download_progress)
        await cdp.send("Target.setDiscoverTargets", {"discover": True})
        # Events of every context's downloads come to a session that asked for them on any context: the
        # default context (no session's) is the one to ask on without changing where anyone's files go.
        await cdp.send("Browser.setDownloadBehavior", {"behavior": "default", "eventsEnabled": True})
        if self.limits.memory_bytes and browser_pid is not None:
            self.memory = RendererMemory(browser_pid, self.limits.memory_bytes)
        if self.memory is not None or self.quota is not None:
            self._thread = threading.Thread(target=self._sample, name=f"bounds-{self.tag}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop measuring (the browser is gone or going); safe to call twice."""
        self._stop.set()
        for task in list(self._tasks):
            task.cancel()
        self._sessions.clear()
        self._cdp = None

    # --- sessions ----------------------------------------------------------------------------

    async def register(self, session_id: str, held: SessionPage) -> None:
        """Bound a session from now on: its context's downloads go to its own directory and count."""
        self._sessions[session_id] = held
        if self._cdp is None or held.download_dir is None:
            return
        if self.quota is not None:
            paths = self.files.quota_paths(session_id) if self.files is not None else [held.download_dir]
            self.quota.watch(session_id, paths)
        behaviour = {"behavior": "allowAndName", "downloadPath": held.download_dir, "eventsEnabled": True}
        await self._cdp.send("Browser.setDownloadBehavior", {**behaviour, "browserContextId": held.context_id})

    def forget(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        if self.quota is not None:
            self.quota.forget(session_id)

    def page_refusal(self, session_id: str) -> str | None:
        """Why the session may not open another page now (None: it may)."""
        held = self._sessions.get(session_id)
        if held is None or len(self._open_pages(held)) < self.limits.max_pages:
            return None
        return (
            f"this session already has {self.limits.max_pages} pages, the most one session may have "
            "(BROWSERPOOL_MAX_PAGES_PER_SESSION); close one first (Target.closeTarget)"
        )

    async def crash_reason(self, held: SessionPage) -> EndReason:
        """Why the session's page crashed: `memory` if the sampler killed its renderer, else a browser crash."""
        if self.memory is None or not self.memory.killed_recently():
            return EndReason.BROWSER_CRASHED
        deadline = asyncio.get_running_loop().time() + CRASH_STATUS_WAIT
        status = self.census.crashes.get(held.target_id or "")
        while status is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)  # the discovery session's Target.targetCrashed may come second
            status = self.census.crashes.get(held.target_id or "")
        # A kill of ours just now and no other word from Chromium: ours is by far the likeliest cause.
        return EndReason.MEMORY if status in (None, KILLED) else EndReason.BROWSER_CRASHED

    # --- discovery events (on the event loop) ------------------------------------------------

    def _session_of(self, context: str | None) -> tuple[str, SessionPage] | None:
        for session_id, held in self._sessions.items():
            if context is not None and (context == held.context_id or context in held.extra_contexts):
                return session_id, held
        return None

    def _target_seen(self, event: dict[str, Any]) -> None:
        info = event.get("targetInfo", {})
        if not self.census.seen(info):
            return
        owner = self._session_of(info.get("browserContextId"))
        if owner is None:
            return
        for excess in self._open_pages(owner[1])[self.limits.max_pages :]:
            self._closing.add(excess)  # until it is gone: a page closes a moment after Target.closeTarget answers
            self._spawn(self._close_page(excess))

    def _open_pages(self, held: SessionPage) -> list[str]:
        """The session's pages, oldest first, less those being closed for the cap."""
        return [page for page in self.census.pages_in(_contexts(held)) if page not in self._closing]

    def _target_gone(self, event: dict[str, Any]) -> None:
        target = event.get("targetId", "")
        self.census.gone(target)
        self._closing.discard(target)

    async def _close_page(self, target: str) -> None:
        """Close a page past the cap. A new page may still be held for a debugger (Playwright's auto-attach holds
        every new page until it has set it up); closing one held like that can leave its opener's renderer stuck,
        so it is let run first, through a session of our own (not flattened: ours is a Playwright CDP session)."""
        try:
            if self._cdp is not None:
                attached = await self._cdp.send("Target.attachToTarget", {"targetId": target, "flatten": False})
                await self._cdp.send("Target.sendMessageToTarget", {"sessionId": attached["sessionId"], "message": RUN})
                await self._cdp.send("Target.closeTarget", {"targetId": target})
        except PlaywrightError as exc:
            log.debug("closing page %s past the cap: %s", target, exc)
            self._closing.discard(target)

    def _target_crashed(self, event: dict[str, Any]) -> None:
        target, status = event.get("targetId", ""), str(event.get("status", ""))
        self.census.crashed(target, status)
        if status != KILLED or self.memory is None or not self.memory.killed_recently():
            return
        owner = self._session_of(self.census.context_of(target))
        if owner is not None:
            log.warning("session %s went past its memory bound: its renderer was killed", owner[0])
            self._on_over(owner[0], EndReason.MEMORY)

    def _download_began(self, event: dict[str, Any]) -> None:
        guid = str(event.get("guid", ""))
        self._downloads.add(guid)
        if self.files is None:
            return
        owner = self._session_of(self.census.context_of(str(event.get("frameId", ""))))
        owner_id = owner[0] if owner is not None else self._session_with_file(guid)
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

    def _download_progress(self, event: dict[str, Any]) -> None:
        if event.get("state") in ("completed", "canceled"):
            self._downloads.discard(event.get("guid", ""))
        if self.files is not None:
            self.files.progressed(str(event.get("guid", "")), str(event.get("state", "")), _int(event, "receivedBytes"))

    # --- the sampler (its own thread) --------------------------------------------------------

    def _sample(self) -> None:
        """Measure renderers and session directories until stopped; a failing round is logged, not fatal."""
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                if self.memory is not None:
                    for kill in self.memory.check():
                        log.warning("killed renderer %d: %d MiB private memory", kill.pid, kill.private_bytes // MIB)
                over = self.quota.check() if self.quota is not None else {}
                if over and self._loop is not None:
                    self._loop.call_soon_threadsafe(self._over_quota, over)
            except Exception:
                log.exception("measuring the sessions of browser %s failed", self.tag)

    # --- downloads past the quota (on the event loop) ----------------------------------------

    def _over_quota(self, over: dict[str, tuple[int, list[str]]]) -> None:
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
            guids = self._downloads | {name.removesuffix(".crdownload") for name in partial}
            cancelled = 0
            for guid in guids:
                cancelled += await self._cancel(guid, _contexts(held))
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
                self._downloads.discard(guid)
                return 1
        return 0

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _smallest(*limits: int) -> int:
    """The tightest of several byte limits where 0 means none (0 if every one is 0)."""
    return min((limit for limit in limits if limit), default=0)


def _int(event: dict[str, Any], key: str) -> int:
    value = event.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def _contexts(held: SessionPage) -> set[str]:
    return {context for context in (held.context_id, *held.extra_contexts) if context}
