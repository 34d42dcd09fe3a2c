"""One Chromium process and the session contexts it holds."""

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, BrowserContext, CDPSession, Page, Playwright
from playwright.async_api import Error as PlaywrightError

from .cdp_relay import CdpRelay
from .devtools import DEBUGGING_ARGS, DevToolsUnavailable, browser_endpoint, user_data_dir
from .processes import SLOT_FLAG, browser_pid

log = logging.getLogger(__name__)

# Flags beyond Playwright's own defaults: shared memory in /tmp (small /dev/shm in containers),
# and nothing that phones home from a pool that should only talk to the pages it is told to open.
CHROMIUM_ARGS = (
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


# The shape a session gets when it asks for nothing (the API's defaults): the one worth preparing ahead.
WARM_SHAPE: tuple[int, int, str | None] = (1280, 720, None)


@dataclass
class SessionPage:
    context: BrowserContext
    page: Page
    context_id: str | None = None  # Chromium's browserContextId, looked up on the first CDP connection
    extra_contexts: set[str] = field(default_factory=set)  # contexts its CDP clients created
    relays: set[CdpRelay] = field(default_factory=set)
    download_dir: str | None = None  # where its CDP clients' downloads land (never a path of theirs)


@dataclass
class BrowserSlot:
    index: int
    tag: str
    browser: Browser | None = None
    sessions: dict[str, SessionPage] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)
    restarting: bool = False
    warm: list[SessionPage] = field(default_factory=list)  # ready default-shaped contexts, not yet anyone's
    profile_dir: str | None = None  # Chromium's user data dir: removed when the browser dies
    _browser_cdp: CDPSession | None = None

    @property
    def load(self) -> int | None:
        """Sessions held or reserved; None while the browser cannot take sessions."""
        if self.browser is None or self.restarting or not self.browser.is_connected():
            return None
        return len(self.sessions) + len(self.reserved)

    @property
    def pid(self) -> int | None:
        return browser_pid(self.tag)

    async def launch(
        self,
        playwright: Playwright,
        executable: str,
        on_disconnect: Callable[["BrowserSlot"], None],
        proxy_port: int | None = None,
    ) -> None:
        # Every request of every context leaves through the egress guard, loopback included.
        proxy = [f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>"]
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[f"{SLOT_FLAG}{self.tag}", *CHROMIUM_ARGS, *DEBUGGING_ARGS, *(proxy if proxy_port else [])],
        )
        browser.on("disconnected", lambda _: on_disconnect(self))
        self.browser = browser
        pid = self.pid
        self.profile_dir = None
        if pid is not None:
            with contextlib.suppress(DevToolsUnavailable):
                self.profile_dir = str(user_data_dir(pid))
        self.warm = []
        self._browser_cdp = None
        self.restarting = False
        log.info("browser %s up (%s, pid %s)", self.tag, browser.version, self.pid)

    async def open(self, session_id: str, width: int, height: int, user_agent: str | None) -> SessionPage:
        if (width, height, user_agent) == WARM_SHAPE and self.warm:
            held = self.warm.pop()
        else:
            held = await self._new_page(width, height, user_agent)
        self.sessions[session_id] = held
        return held

    async def warm_up(self, target: int) -> None:
        """Prepare default-shaped contexts until `target` wait ready (they cost memory, not session slots)."""
        while len(self.warm) < target and self.browser is not None and self.browser.is_connected():
            self.warm.append(await self._new_page(*WARM_SHAPE))

    async def _new_page(self, width: int, height: int, user_agent: str | None) -> SessionPage:
        if self.browser is None:
            raise PlaywrightError("browser is not running")
        context = await self.browser.new_context(viewport={"width": width, "height": height}, user_agent=user_agent)
        try:
            page = await context.new_page()
        except BaseException:
            await _quietly(context.close())
            raise
        return SessionPage(context, page)

    async def close(self, session_id: str, timeout: float, reason: str = "session ended") -> None:
        held = self.sessions.pop(session_id, None)
        if held is None:
            return
        for relay in list(held.relays):
            relay.end(1000, reason)
        for context_id in list(held.extra_contexts):
            await _quietly(self.browser_cdp_send("Target.disposeBrowserContext", {"browserContextId": context_id}))
        await _quietly(asyncio.wait_for(held.context.close(), timeout))
        if held.download_dir is not None:
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
        return held.context_id

    def cdp_endpoint(self) -> str:
        pid = self.pid
        if pid is None:
            raise DevToolsUnavailable(f"browser {self.tag} is not running")
        return browser_endpoint(pid)

    async def browser_cdp_send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.browser is None:
            raise PlaywrightError("browser is not running")
        if self._browser_cdp is None:
            self._browser_cdp = await self.browser.new_browser_cdp_session()
        result: dict[str, Any] = await self._browser_cdp.send(method, params)
        return result

    async def shut(self, timeout: float) -> None:
        browser, self.browser = self.browser, None
        self.sessions.clear()
        self.warm.clear()
        self.reserved.clear()
        if browser is not None:
            await _quietly(asyncio.wait_for(browser.close(), timeout))


async def _quietly(awaitable: object) -> None:
    """Closing something that may already be gone (browser crashed) is not an error."""
    try:
        await awaitable  # type: ignore[misc]
    except (PlaywrightError, TimeoutError, KeyError) as exc:
        log.debug("ignored while closing: %s", exc)
