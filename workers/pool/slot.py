"""One Chromium process and the session contexts it holds."""

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from playwright.async_api import Browser, CDPSession, Playwright, ProxySettings
from playwright.async_api import Error as PlaywrightError

from orchestrator.deadlines import within
from orchestrator.models import ContextShape
from workers.chromium.devtools import DEBUGGING_ARGS, DevToolsUnavailable, browser_endpoint, user_data_dir
from workers.chromium.home import ChromiumHome
from workers.chromium.launcher import ChromiumLaunch
from workers.chromium.processes import SLOT_FLAG, browser_pid
from workers.egress.routes import Route
from workers.files.keeper import WorkerFiles
from workers.pages.bounds import BrowserBounds
from workers.session import SessionPage

log = logging.getLogger(__name__)

# Flags beyond Playwright's own defaults: shared memory in /tmp (small /dev/shm in containers),
# nothing that phones home from a pool that should only talk to the pages it is told to open, and
# WebRTC only through the proxy (which carries no UDP): no STUN, TURN or ICE packet leaves past the egress guard.
CHROMIUM_ARGS = (
    "--disable-dev-shm-usage",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


# How long closing a session waits for its CDP relays to let go of the browser (they take about 2 s at most).
RELAYS_STOP_TIMEOUT = 5.0


class LostBrowser(NamedTuple):
    session_ids: list[str]
    profile_dir: str | None


@dataclass
class BrowserSlot:
    index: int
    tag: str
    browser: Browser | None = None
    sessions: dict[str, SessionPage] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)
    restarting: bool = False
    warm: dict[ContextShape, list[SessionPage]] = field(default_factory=dict)  # ready contexts by shape, nobody's yet
    profile_dir: str | None = None  # Chromium's user data dir: removed when the browser dies
    home: ChromiumHome | None = None  # the directories its Chromium works in (set by launch)
    bounds: BrowserBounds | None = None  # what each session may cost (set by launch, stopped when the browser goes)
    files: WorkerFiles | None = None  # keeps ended sessions' files for the retention; None: removed at close
    _browser_cdp: CDPSession | None = None
    _endpoint: str | None = None

    @property
    def load(self) -> int | None:
        """Sessions held or reserved; None while the browser cannot take sessions."""
        if self.browser is None or self.restarting or not self.browser.is_connected():
            return None
        return len(self.sessions) + len(self.reserved)

    @property
    def pid(self) -> int | None:
        return browser_pid(self.tag)

    def reserve(self, session_id: str) -> None:
        """Count a session being opened here, so placement sees the load before its context exists."""
        self.reserved.add(session_id)

    def release(self, session_id: str) -> None:
        """The opening is over (the context is held now, or it failed): stop counting it as reserved."""
        self.reserved.discard(session_id)

    def lost(self) -> LostBrowser:
        """The browser went away: forget its contexts and ready ones, and mark it restarting.

        Returns the sessions it held and the profile directory it leaves behind (Playwright removes that
        only on a clean close). Sessions still being opened fail on their own and release themselves.
        """
        gone = LostBrowser(list(self.sessions), self.profile_dir)
        self._stop_bounds()
        self.sessions.clear()
        self.warm.clear()
        self.browser = None
        self.restarting = True
        self.profile_dir = None
        self._browser_cdp = None
        self._endpoint = None
        return gone

    def session_dir(self, session_id: str) -> str:
        """The session's own directory (CDP downloads, files): Chromium's user's, mode 0700, created once."""
        if self.home is None:
            raise RuntimeError(f"browser {self.tag} has not been launched")
        return str(self.home.session_dir(session_id))

    async def launch(
        self,
        playwright: Playwright,
        plan: ChromiumLaunch,
        on_disconnect: Callable[["BrowserSlot"], None],
        proxy_port: int | None = None,
        bounds: BrowserBounds | None = None,
    ) -> None:
        # Every request of every context leaves through the egress guard, loopback included.
        proxy = [f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>"]
        self.home = plan.home
        browser = await playwright.chromium.launch(
            headless=True,
            args=[f"{SLOT_FLAG}{self.tag}", *CHROMIUM_ARGS, *DEBUGGING_ARGS, *(proxy if proxy_port else [])],
            **plan.options(),
        )
        browser.on("disconnected", lambda _: on_disconnect(self))
        self.browser = browser
        pid = self.pid
        self.profile_dir = None
        if pid is not None:
            with contextlib.suppress(DevToolsUnavailable):
                self.profile_dir = str(user_data_dir(pid))
        self.warm = {}
        self._browser_cdp = None
        self._endpoint = None
        if bounds is not None:  # before the slot takes sessions, so none is ever unbounded
            await self._start_bounds(bounds, browser, pid)
        self.restarting = False
        log.info("browser %s up (%s, pid %s)", self.tag, browser.version, self.pid)

    async def open(self, session_id: str, shape: ContextShape, route: Route | None = None) -> SessionPage:
        """The session's context and page: a ready one of its shape if there is one, else a new one. A session
        with an upstream proxy always gets a new one, whose traffic goes to its route's listener on the guard."""
        ready = self.warm.get(shape) if route is None else None
        held = ready.pop() if ready else await self._new_page(shape, proxy_port=route.port if route else None)
        held.route = route
        self.sessions[session_id] = held
        return held

    async def warm_up(self, targets: dict[ContextShape, int]) -> None:
        """Hold `targets[shape]` ready contexts of each shape (they cost memory, not session slots); close the
        ready contexts of shapes no longer wanted. Each ready context already knows its CDP context id."""
        for shape in [s for s in self.warm if s not in targets]:
            for held in self.warm.pop(shape):
                await _quietly(held.context.close())
        for shape, count in targets.items():
            ready = self.warm.setdefault(shape, [])
            while len(ready) < count and self.browser is not None and self.browser.is_connected():
                held = await self._new_page(shape)
                await self.context_id(held)  # looked up now, so a CDP connect does not wait for it
                ready.append(held)

    async def _new_page(self, shape: ContextShape, proxy_port: int | None = None) -> SessionPage:
        if self.browser is None:
            raise PlaywrightError("browser is not running")
        # Loopback too goes to the proxy (`<-loopback>`), as it does with the browser's own --proxy-server.
        proxy = ProxySettings(server=f"http://127.0.0.1:{proxy_port}", bypass="<-loopback>") if proxy_port else None
        context = await self.browser.new_context(**shape.context_options(), proxy=proxy)
        try:
            page = await context.new_page()
        except BaseException:
            await _quietly(context.close())
            raise
        return SessionPage(context, page)

    async def close(
        self,
        session_id: str,
        timeout: float,
        reason: str = "session ended",
        before_close: Callable[[str, SessionPage], Awaitable[None]] | None = None,
    ) -> None:
        """Close the session's relays, then (after `before_close`, once they have let go) its contexts."""
        held = self.sessions.pop(session_id, None)
        if held is None:
            return
        if self.bounds is not None:
            self.bounds.forget(session_id)
        held.ended = reason  # a relay still being set up sees this and never starts
        relays = list(held.relays)
        for relay in relays:
            relay.end(1000, reason)
        # Commands they already sent may still create contexts: let those be answered and recorded first.
        await _quietly(within(RELAYS_STOP_TIMEOUT, asyncio.gather(*(r.wait_stopped() for r in relays))))
        if self.files is not None:
            await self.files.ending(session_id)  # its recording ends with it, before its pages go
        if before_close is not None:
            await before_close(session_id, held)  # the profile's final save, its context still open
        for context_id in list(held.extra_contexts):
            await self.dispose_context(context_id)
        await _quietly(within(timeout, held.context.close()))
        if self.files is not None:
            await self.files.ended(session_id)  # its files stay readable for the retention
        elif held.download_dir is not None:
            shutil.rmtree(held.download_dir, ignore_errors=True)

    async def context_id(self, held: SessionPage) -> str:
        """Chromium's id for the session's browser context (one CDP round trip, then cached)."""
        if held.context_id is None:
            cdp = await held.context.new_cdp_session(held.page)
            try:
                info = await cdp.send("Target.getTargetInfo")
            finally:
                await _quietly(cdp.detach())
            held.context_id = info["targetInfo"]["browserContextId"]
            held.target_id = info["targetInfo"]["targetId"]
        return held.context_id

    async def dispose_context(self, context_id: str) -> None:
        """Dispose a context a session's CDP client created (one already gone is no error)."""
        await _quietly(self.browser_cdp_send("Target.disposeBrowserContext", {"browserContextId": context_id}))

    def cdp_endpoint(self) -> str:
        """The browser's own debugging endpoint (found once per launch: it takes a scan of /proc)."""
        if self._endpoint is None:
            pid = self.pid
            if pid is None:
                raise DevToolsUnavailable(f"browser {self.tag} is not running")
            self._endpoint = browser_endpoint(pid)
        return self._endpoint

    async def browser_cdp_send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.browser is None:
            raise PlaywrightError("browser is not running")
        if self._browser_cdp is None:
            self._browser_cdp = await self.browser.new_browser_cdp_session()
        result: dict[str, Any] = await self._browser_cdp.send(method, params)
        return result

    async def shut(self, timeout: float) -> None:
        browser, self.browser = self.browser, None
        self._stop_bounds()
        self.sessions.clear()
        self.warm.clear()
        self.reserved.clear()
        if browser is not None:
            await _quietly(within(timeout, browser.close()))

    async def _start_bounds(self, bounds: BrowserBounds, browser: Browser, pid: int | None) -> None:
        """Start bounding the new browser's sessions; a browser that cannot be bounded is closed again."""
        try:
            await bounds.start(browser, pid)
        except BaseException:
            bounds.stop()
            self.browser = None  # its disconnect is then no crash to report
            await _quietly(within(10, browser.close()))
            raise
        self.bounds = bounds

    def _stop_bounds(self) -> None:
        if self.bounds is not None:
            self.bounds.stop()
            self.bounds = None


async def _quietly(awaitable: object) -> None:
    """Closing something that may already be gone (browser crashed) is not an error."""
    try:
        await awaitable  # type: ignore[misc]
    except (PlaywrightError, TimeoutError, KeyError) as exc:
        log.debug("ignored while closing: %s", exc)
