"""Sessions with `isolation: browser`: a Chromium of their own, taken from a few kept launched ahead.

A worker keeps `ready` spare browsers launched (BROWSERPOOL_READY_BROWSERS), each already holding one ready
default-shaped context, so such a session starts about as fast as a context in a shared browser. Taking one
launches its replacement in the background; a create that finds none ready waits (briefly) for the one
launching rather than launch another beside it. The session's browser is closed when the session ends and never
holds another session: no tenant ever shares that process. A crash of it ends its one session (`failed`,
`browser_crashed`) and is never relaunched; a crash of a spare is replaced.

Launching is the worker's (`Launch`: its Chromium user, sandbox, egress proxy and bounds, as for its shared
browsers); so is reporting the session of a crashed one (`Crashed`). At most `most` are held by sessions at
once (BROWSERPOOL_MAX_DEDICATED_BROWSERS); spares do not count.
"""

import asyncio
import contextlib
import itertools
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Error as PlaywrightError

from orchestrator.addresses import hold_own_port, release_own_port
from orchestrator.deadlines import within
from orchestrator.errors import PoolFull, PoolUnavailable
from orchestrator.models import DEFAULT_SHAPE, ContextShape
from workers.chromium.devtools import DevToolsUnavailable
from workers.files.keeper import WorkerFiles
from workers.pool.background import BackgroundTasks
from workers.pool.slot import BrowserSlot
from workers.session import SessionPage

log = logging.getLogger(__name__)

SPARE_WAIT_S = 1.0  # how long a create waits for a spare already launching before it launches one of its own
Launch = Callable[[BrowserSlot, Callable[[BrowserSlot], None]], Awaitable[None]]  # (slot, its disconnect handler)
Crashed = Callable[[BrowserSlot], None]  # a session's own browser died under it


@dataclass(eq=False)
class OwnBrowser(BrowserSlot):
    """A Chromium that holds one session: once that session is closed (or never opened), the browser is shut."""

    done: Callable[["OwnBrowser"], None] | None = None  # called once it holds and expects no session
    debugging_port: int | None = None  # refused to every page while this browser lives

    async def open(self, session_id: str, shape: ContextShape, route: Any = None) -> SessionPage:
        held = await super().open(session_id, shape, route)
        await self.warm_up({})  # a ready context it did not take (another shape, a proxy) goes: nobody else will
        return held

    def release(self, session_id: str) -> None:
        super().release(session_id)
        if not self.sessions and not self.reserved and self.done is not None:
            self.done(self)  # its open failed: nothing will ever use it

    async def close(self, session_id: str, timeout: float, *args: Any, **kwargs: Any) -> None:
        try:
            await super().close(session_id, timeout, *args, **kwargs)
        finally:  # a final save that failed still ends the browser
            if not self.sessions and not self.reserved:
                await self.shut(timeout=10)
                if self.done is not None:
                    self.done(self)

    async def shut(self, timeout: float) -> None:
        await super().shut(timeout)
        self.forget_port()

    def forget_port(self) -> None:
        port, self.debugging_port = self.debugging_port, None
        if port is not None:
            release_own_port(port)


class ReadyBrowsers:
    def __init__(
        self, worker_id: str, ready: int, most: int, launch: Launch, crashed: Crashed, files: WorkerFiles | None
    ) -> None:
        self.worker_id = worker_id
        self.files = files  # the worker's: keeps ended sessions' files (downloads, recordings) for the retention
        self.ready = ready
        self.most = most
        self._launch = launch
        self._crashed = crashed
        self._numbers = itertools.count()
        self._spares: list[OwnBrowser] = []
        self._held: dict[str, OwnBrowser] = {}  # by tag: browsers of sessions (held, being opened or closing)
        self._launching = 0
        self._spare_came = asyncio.Event()  # set when a spare launch ends (up or failed)
        self._stopped = True
        self._background = BackgroundTasks("ready browsers")
        self.guard_ports = False  # whether each browser's debugging port is refused to pages (an egress guard runs)

    @property
    def in_use(self) -> list[OwnBrowser]:
        return list(self._held.values())

    @property
    def spares(self) -> int:
        return len(self._spares)

    def start(self, guard_ports: bool) -> None:
        self.guard_ports = guard_ports
        self._stopped = False
        self._top_up()

    async def stop(self) -> None:
        self._stopped = True
        self._background.cancel()
        browsers = [*self._spares, *self._held.values()]
        self._spares.clear()
        self._held.clear()
        await asyncio.gather(*(b.shut(timeout=10) for b in browsers), return_exceptions=True)

    async def take(self, session_id: str, room: Callable[[], object]) -> OwnBrowser:
        """A browser for this session alone, reserved for it: a spare, the one launching (if it comes within
        SPARE_WAIT_S: sooner than a launch beside it), or one launched now. `room` raises if the worker has
        none for another session (checked again after a wait)."""
        self._check_room()
        if not self._spares and self._launching:
            self._spare_came.clear()
            with contextlib.suppress(TimeoutError):
                await within(SPARE_WAIT_S, self._spare_came.wait())
            room()
            self._check_room()
        browser = self._spares.pop(0) if self._spares else None
        fresh = browser is None
        if browser is None:
            browser = self._new()
        self._held[browser.tag] = browser
        browser.reserve(session_id)
        self._top_up()
        if fresh:
            try:
                await self._start(browser)
            except (PlaywrightError, DevToolsUnavailable) as exc:
                browser.release(session_id)
                raise PoolUnavailable(f"could not launch a browser for the session: {exc}", retry_after=1) from exc
        return browser

    # --- internals ---------------------------------------------------------------------------

    def _check_room(self) -> None:
        if len(self._held) >= self.most:
            raise PoolFull()  # it holds BROWSERPOOL_MAX_DEDICATED_BROWSERS: another worker may take it

    def _new(self) -> OwnBrowser:
        browser = OwnBrowser(index=-1, tag=f"{self.worker_id}/own-{next(self._numbers)}", files=self.files)
        browser.done = self._forget
        return browser

    async def _start(self, browser: OwnBrowser) -> None:
        await self._launch(browser, self._gone)
        if self.guard_ports:
            endpoint = await asyncio.to_thread(browser.cdp_endpoint)
            browser.debugging_port = int(endpoint.split(":")[2].split("/")[0])
            hold_own_port(browser.debugging_port)

    def _forget(self, browser: OwnBrowser) -> None:
        if self._held.get(browser.tag) is browser:
            del self._held[browser.tag]
        if browser.browser is not None:
            self._spawn(browser.shut(timeout=10))

    def _top_up(self) -> None:
        """Launch spares in the background until `ready` are up or on their way."""
        while not self._stopped and len(self._spares) + self._launching < self.ready:
            self._launching += 1
            self._spawn(self._launch_spare())

    async def _launch_spare(self) -> None:
        browser = self._new()
        try:
            await self._start(browser)
            await browser.warm_up({DEFAULT_SHAPE: 1})
        except (PlaywrightError, DevToolsUnavailable) as exc:
            log.warning("launching a ready browser failed: %s", exc)
            await browser.shut(timeout=10)
            return
        except BaseException:
            await asyncio.shield(browser.shut(timeout=10))
            raise
        finally:
            self._launching -= 1
            self._spare_came.set()
        if self._stopped:
            await browser.shut(timeout=10)
        else:
            self._spares.append(browser)

    def _gone(self, slot: BrowserSlot) -> None:
        """A browser disconnected: on purpose (shut, nothing to do), a spare (replaced) or a session's (it ends)."""
        if slot.browser is None or self._stopped or not isinstance(slot, OwnBrowser):
            return
        slot.forget_port()
        if any(spare is slot for spare in self._spares):
            self._spares = [spare for spare in self._spares if spare is not slot]
            lost = slot.lost()
            if lost.profile_dir:
                self._spawn(asyncio.to_thread(shutil.rmtree, lost.profile_dir, True))
            log.error("ready browser %s disconnected; launching another", slot.tag)
            self._top_up()
            return
        log.error("browser %s of session(s) %s disconnected; they end", slot.tag, ", ".join(slot.sessions) or "-")
        self._held.pop(slot.tag, None)
        self._crashed(slot)

    def _spawn(self, coro: Any) -> None:
        self._background.spawn(coro)
