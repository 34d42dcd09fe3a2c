"""The in-process worker: a pool of Chromium processes, one browser context per session."""

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Playwright, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from orchestrator.errors import (
    ActionFailed,
    ActionTimedOut,
    NavigationRefused,
    PoolFull,
    PoolUnavailable,
    SessionEnded,
)
from orchestrator.models import SessionSpec
from orchestrator.placement import least_loaded
from orchestrator.worker import CdpClient, LoadChanged, NavigationResult, SessionsLost, WorkerLoad

from .cdp_relay import CdpRelay
from .cdp_scope import CdpScope
from .chromium import ensure_chromium
from .devtools import DevToolsUnavailable
from .egress import EgressPolicy, EgressProxy
from .jsonable import jsonable
from .slot import BrowserSlot, SessionPage

log = logging.getLogger(__name__)

BROWSER_CRASHED = "browser_crashed"
CHROME_ERROR_PAGE = "chrome-error://chromewebdata/"


class LocalWorker:
    def __init__(
        self,
        worker_id: str,
        browsers: int,
        contexts_per_browser: int,
        chromium_path: str | None = None,
        action_timeout: float = 30.0,
        warm_contexts: int = 0,
        egress: EgressPolicy | None = None,
    ) -> None:
        self._worker_id = worker_id
        self.capacity_per_browser = contexts_per_browser
        self.chromium_path = chromium_path
        self.action_timeout = action_timeout
        self.warm_contexts = warm_contexts
        self.egress = EgressProxy(egress) if egress is not None else None
        self._warming = False
        self.slots = [BrowserSlot(index=i, tag=f"{worker_id}/{i}") for i in range(browsers)]
        self._playwright: Playwright | None = None
        self._executable = ""
        self._on_lost: SessionsLost | None = None
        self._on_load: LoadChanged | None = None
        self._stopping = False
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def worker_id(self) -> str:
        return self._worker_id

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, on_sessions_lost: SessionsLost, on_load_changed: LoadChanged | None = None) -> None:
        self._on_lost = on_sessions_lost
        self._on_load = on_load_changed
        self._executable = await asyncio.to_thread(ensure_chromium, self.chromium_path)
        if self.egress is not None:
            await self.egress.start()
        self._playwright = await async_playwright().start()
        await asyncio.gather(*(self._launch(slot) for slot in self.slots))

    async def stop(self) -> None:
        if self._stopping and self._playwright is None:
            return
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(slot.shut(timeout=10) for slot in self.slots), return_exceptions=True)
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            await playwright.stop()
        if self.egress is not None:
            await self.egress.stop()

    def load(self) -> WorkerLoad:
        loads = [slot.load for slot in self.slots]
        up = [load for load in loads if load is not None]
        return WorkerLoad(capacity=len(up) * self.capacity_per_browser, used=sum(up), browsers_up=len(up))

    def held_session_ids(self) -> list[str]:
        return [sid for slot in self.slots for sid in slot.sessions]

    def opening_session_ids(self) -> list[str]:
        return [sid for slot in self.slots for sid in slot.reserved]

    # --- sessions ----------------------------------------------------------------------------

    def stop_taking_sessions(self) -> None:
        self._draining = True

    @property
    def draining(self) -> bool:
        return self._draining or self._stopping

    def _reserve(self, session_id: str) -> BrowserSlot:
        if self._stopping or self._draining:
            raise PoolUnavailable("this worker is draining or shutting down and takes no new sessions")
        loads = [slot.load for slot in self.slots]
        if all(load is None for load in loads):
            raise PoolUnavailable("no browser is up right now (starting or restarting); retry shortly", retry_after=2)
        index = least_loaded(loads, self.capacity_per_browser)
        if index is None:
            raise PoolFull()
        slot = self.slots[index]
        slot.reserved.add(session_id)
        return slot

    async def open_session(self, session_id: str, spec: SessionSpec) -> None:
        slot = self._reserve(session_id)
        try:
            held = await slot.open(session_id, spec.viewport_width, spec.viewport_height, spec.user_agent)
        except PlaywrightError as exc:
            raise ActionFailed(f"could not open a browser context: {_first_line(exc)}") from exc
        finally:
            slot.reserved.discard(session_id)
        held.page.on("crash", lambda _: self._spawn(self._page_crashed(slot, session_id)))
        await self._load_changed()
        self._warm_up()

    async def close_session(self, session_id: str, reason: str = "session ended") -> None:
        for slot in self.slots:
            if session_id in slot.sessions:
                await slot.close(session_id, timeout=self.action_timeout, reason=reason)
                await self._load_changed()

    async def relay_cdp(self, session_id: str, client: CdpClient, on_activity: Callable[[], Awaitable[None]]) -> None:
        slot, held = self._slot_of(session_id)
        try:
            context_id = await slot.context_id(held)
            endpoint = await asyncio.to_thread(slot.cdp_endpoint)
        except (PlaywrightError, DevToolsUnavailable) as exc:
            raise PoolUnavailable(f"the session's browser cannot take CDP connections: {exc}", retry_after=1) from exc
        if held.download_dir is None:
            held.download_dir = tempfile.mkdtemp(prefix=f"browserpool-downloads-{session_id}-")
        scope = CdpScope(context_id, held.download_dir, held.extra_contexts)
        relay = CdpRelay(client, endpoint, scope, on_activity)
        held.relays.add(relay)
        try:
            await relay.run()
        finally:
            held.relays.discard(relay)

    # --- actions -----------------------------------------------------------------------------

    async def navigate(self, session_id: str, url: str) -> NavigationResult:
        page = self._held(session_id).page
        try:
            response = await self._act(page.goto(url, timeout=self.action_timeout * 1000), "navigation")
        except ActionFailed as exc:
            if "net::ERR_" in str(exc):
                # Chromium commits its error page after goto has failed; wait for it, or it would cut the
                # session's next navigation short.
                with contextlib.suppress(PlaywrightError):
                    await page.wait_for_url(CHROME_ERROR_PAGE, wait_until="commit", timeout=2000)
            refused = self.egress.refusal_for(url) if self.egress is not None else None
            if refused:
                raise NavigationRefused(f"navigation to {url} refused: {refused}") from exc
            raise
        title = await self._act(page.title(), "reading the title")
        return NavigationResult(url=page.url, status=response.status if response else None, title=title)

    async def evaluate(self, session_id: str, expression: str) -> Any:
        page = self._held(session_id).page
        return jsonable(await self._act(page.evaluate(expression), "evaluation", upstream=False))

    async def screenshot(self, session_id: str) -> bytes:
        page = self._held(session_id).page
        return await self._act(page.screenshot(type="png", timeout=self.action_timeout * 1000), "screenshot")

    async def content(self, session_id: str) -> str:
        page = self._held(session_id).page
        return await self._act(page.content(), "reading the content")

    # --- internals ---------------------------------------------------------------------------

    def _held(self, session_id: str) -> SessionPage:
        return self._slot_of(session_id)[1]

    def _slot_of(self, session_id: str) -> tuple[BrowserSlot, SessionPage]:
        for slot in self.slots:
            held = slot.sessions.get(session_id)
            if held is not None:
                return slot, held
        self._spawn(self._report_lost([session_id]))
        raise SessionEnded("failed")

    async def _act(self, awaitable: Any, what: str, upstream: bool = True) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self.action_timeout)
        except (TimeoutError, PlaywrightTimeout) as exc:
            raise ActionTimedOut(f"{what} did not finish within {self.action_timeout:g}s") from exc
        except PlaywrightError as exc:
            raise ActionFailed(f"{what} failed: {_first_line(exc)}", upstream=upstream) from exc

    async def _launch(self, slot: BrowserSlot) -> None:
        assert self._playwright is not None
        proxy_port = self.egress.port if self.egress is not None else None
        await slot.launch(self._playwright, self._executable, self._browser_gone, proxy_port)
        if self.egress is not None:
            # A page must never reach a browser's own debugging endpoint (it controls every session).
            with contextlib.suppress(DevToolsUnavailable):
                endpoint = await asyncio.to_thread(slot.cdp_endpoint)
                self.egress.block_ports([int(endpoint.split(":")[2].split("/")[0])])
        self._warm_up()

    def _warm_up(self) -> None:
        """Top up every browser's ready contexts in the background (one top-up at a time)."""
        if self.warm_contexts <= 0 or self._warming or self._stopping or self._draining:
            return
        self._warming = True
        self._spawn(self._top_up())

    async def _top_up(self) -> None:
        try:
            for slot in self.slots:
                await slot.warm_up(self.warm_contexts)
        except PlaywrightError as exc:
            log.warning("preparing ready contexts failed: %s", _first_line(exc))
        finally:
            self._warming = False

    def _browser_gone(self, slot: BrowserSlot) -> None:
        if self._stopping or slot.browser is None:
            return
        lost = list(slot.sessions)
        log.error("browser %s disconnected with %d session(s); restarting it", slot.tag, len(lost))
        slot.sessions.clear()
        slot.warm.clear()
        slot.browser = None
        slot.restarting = True
        if slot.profile_dir:  # Playwright removes it on a clean close, not after a crash
            self._spawn(asyncio.to_thread(shutil.rmtree, slot.profile_dir, True))
            slot.profile_dir = None
        self._spawn(self._report_lost(lost))
        self._spawn(self._relaunch(slot))

    async def _relaunch(self, slot: BrowserSlot) -> None:
        delay = 0.5
        while not self._stopping:
            try:
                await self._launch(slot)
                return
            except PlaywrightError as exc:
                log.error("relaunching browser %s failed: %s; retrying in %.1fs", slot.tag, _first_line(exc), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def _page_crashed(self, slot: BrowserSlot, session_id: str) -> None:
        log.error("page of session %s crashed", session_id)
        await slot.close(session_id, timeout=5)
        await self._report_lost([session_id])

    async def _report_lost(self, session_ids: Sequence[str]) -> None:
        if session_ids and self._on_lost is not None:
            await self._on_lost(session_ids, BROWSER_CRASHED)

    async def _load_changed(self) -> None:
        """Report the new load before answering, so the next placement (maybe on another node) sees it."""
        if self._on_load is None:
            return
        try:
            await self._on_load(self.load())
        except Exception:  # placement copes with a stale figure; the heartbeat corrects it
            log.warning("could not report this worker's load", exc_info=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
