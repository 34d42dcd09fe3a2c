"""One Chromium process and the session contexts it holds."""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from playwright.async_api import Browser, BrowserContext, Page, Playwright
from playwright.async_api import Error as PlaywrightError

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


@dataclass
class SessionPage:
    context: BrowserContext
    page: Page


@dataclass
class BrowserSlot:
    index: int
    tag: str
    browser: Browser | None = None
    sessions: dict[str, SessionPage] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)
    restarting: bool = False

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
        self, playwright: Playwright, executable: str, on_disconnect: Callable[["BrowserSlot"], None]
    ) -> None:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[f"{SLOT_FLAG}{self.tag}", *CHROMIUM_ARGS],
        )
        browser.on("disconnected", lambda _: on_disconnect(self))
        self.browser = browser
        self.restarting = False
        log.info("browser %s up (%s, pid %s)", self.tag, browser.version, self.pid)

    async def open(self, session_id: str, width: int, height: int, user_agent: str | None) -> SessionPage:
        if self.browser is None:
            raise PlaywrightError("browser is not running")
        context = await self.browser.new_context(viewport={"width": width, "height": height}, user_agent=user_agent)
        try:
            page = await context.new_page()
        except BaseException:
            await _quietly(context.close())
            raise
        held = SessionPage(context, page)
        self.sessions[session_id] = held
        return held

    async def close(self, session_id: str, timeout: float) -> None:
        held = self.sessions.pop(session_id, None)
        if held is not None:
            await _quietly(asyncio.wait_for(held.context.close(), timeout))

    async def shut(self, timeout: float) -> None:
        browser, self.browser = self.browser, None
        self.sessions.clear()
        self.reserved.clear()
        if browser is not None:
            await _quietly(asyncio.wait_for(browser.close(), timeout))


async def _quietly(awaitable: object) -> None:
    """Closing something that may already be gone (browser crashed) is not an error."""
    try:
        await awaitable  # type: ignore[misc]
    except (PlaywrightError, TimeoutError) as exc:
        log.debug("ignored while closing: %s", exc)
