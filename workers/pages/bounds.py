"""What one session may cost a worker: renderer memory, pages, download bytes (and, in workers/local/actions.py,
the size of a REST evaluate result), as workers/pages/session_limits.py sets them. One BrowserBounds per
browser enforces them.

- Pages: a browser-level CDP session of the worker's own discovers every target (Target.setDiscoverTargets),
  whoever made it: the session's page, a client's Target.createTarget, a page's window.open or
  target=_blank. A session's pages are the page targets of its own context and of the contexts its CDP
  clients created; past `max_pages` the newest is closed at once (Target.closeTarget), so a script's
  window.open returns a window that closes, and the relay refuses Target.createTarget with a reason.
- Memory: a sampler thread measures every renderer of the browser (workers/chromium/renderer_memory.py) and kills
  one past the bound; the session whose page crashed with status "killed" just after ends `failed` with
  end reason `memory`. Renderers are never shared between contexts, so no other session is touched.
- Disk and downloads: the same thread sums what each session's directories hold, and whose each download
  is and what happens past the quota is workers/pages/download_bounds.py's.
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, CDPSession
from playwright.async_api import Error as PlaywrightError

from orchestrator.lifecycle import EndReason
from workers.chromium.renderer_memory import RendererMemory
from workers.pages.download_bounds import DownloadBounds, FileObserver
from workers.pages.session_limits import MIB, SessionLimits
from workers.pages.targets import TargetCensus, session_contexts
from workers.session import SessionPage

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 0.05  # how often renderers and session directories are measured
CRASH_STATUS_WAIT = 1.0  # how long a page crash waits for its status (from the discovery session)
KILLED = "killed"  # Target.targetCrashed status of a renderer that got SIGKILL
RUN = '{"id":1,"method":"Runtime.runIfWaitingForDebugger"}'

Over = Callable[[str, EndReason], None]  # a session went past a bound that ends it


class BrowserBounds:
    def __init__(self, tag: str, limits: SessionLimits, on_over: Over, files: FileObserver | None = None) -> None:
        self.tag = tag
        self.limits = limits
        self.census = TargetCensus()
        self.memory: RendererMemory | None = None
        self._on_over = on_over
        self._sessions: dict[str, SessionPage] = {}
        self.downloads = DownloadBounds(limits.download_bytes, files, self._sessions, self._owner_of)
        self._cdp: CDPSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[str] = set()  # pages being closed for the cap
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
        await cdp.send("Target.setDiscoverTargets", {"discover": True})
        await self.downloads.start(cdp)
        if self.limits.memory_bytes and browser_pid is not None:
            self.memory = RendererMemory(browser_pid, self.limits.memory_bytes)
        if self.memory is not None or self.downloads.quota is not None:
            self._thread = threading.Thread(target=self._sample, name=f"bounds-{self.tag}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop measuring (the browser is gone or going); safe to call twice."""
        self._stop.set()
        for task in list(self._tasks):
            task.cancel()
        self.downloads.stop()
        self._sessions.clear()
        self._cdp = None

    # --- sessions ----------------------------------------------------------------------------

    async def register(self, session_id: str, held: SessionPage) -> None:
        """Bound a session from now on: its context's downloads go to its own directory and count."""
        self._sessions[session_id] = held
        await self.downloads.register(session_id, held)

    def forget(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        self.downloads.forget(session_id)

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

    def _owner_of(self, target: str) -> str | None:
        owner = self._session_of(self.census.context_of(target))
        return owner[0] if owner is not None else None

    def page_opened(self, target: str, context: str) -> None:
        """A page a session's CDP client created, as Chromium answered it (before, or after, its discovery event)."""
        self._seen({"targetId": target, "browserContextId": context, "type": "page"})

    def _target_seen(self, event: dict[str, Any]) -> None:
        self._seen(event.get("targetInfo", {}))

    def _seen(self, info: dict[str, Any]) -> None:
        """A target, created or changed: a new page of a session past its cap is closed."""
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
        return [page for page in self.census.pages_in(session_contexts(held)) if page not in self._closing]

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

    # --- the sampler (its own thread) --------------------------------------------------------

    def _sample(self) -> None:
        """Measure renderers and session directories until stopped; a failing round is logged, not fatal."""
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                if self.memory is not None:
                    for kill in self.memory.check():
                        log.warning("killed renderer %d: %d MiB private memory", kill.pid, kill.private_bytes // MIB)
                over = self.downloads.check()
                if over and self._loop is not None:
                    self._loop.call_soon_threadsafe(self.downloads.over_quota, over)
            except Exception:
                log.exception("measuring the sessions of browser %s failed", self.tag)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
