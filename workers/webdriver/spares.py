"""chromedrivers started ahead of the New Sessions that take them.

Starting one costs about 100 ms here (as Chromium's user, through setpriv): more than the rest of a New
Session. A node that has served WebDriver keeps KEEP started and idle (about 2.3 MB of private memory each);
one that never has keeps none, so a node nobody drives with WebDriver runs no chromedriver at all.
"""

import asyncio
import contextlib
import logging

from .chromedriver import ChromeDriver, ChromiumUser, DriverFailed

log = logging.getLogger(__name__)

KEEP = 2


class SpareDrivers:
    def __init__(self, executable: str, user: ChromiumUser | None, keep: int = KEEP) -> None:
        self.executable = executable
        self.user = user
        self.keep = keep
        self._ready: list[ChromeDriver] = []
        self._refill: asyncio.Task[None] | None = None
        self._closed = False

    async def take(self) -> ChromeDriver:
        """A running chromedriver: a spare if one is ready, else one started now. `top_up()` replaces it."""
        driver = None
        while self._ready and driver is None:
            candidate = self._ready.pop()
            if candidate.running:
                driver = candidate
            else:
                await candidate.stop()
        if driver is None:
            driver = ChromeDriver(self.executable, self.user)
            await driver.start()
        return driver

    async def close(self) -> None:
        self._closed = True
        if self._refill is not None:
            self._refill.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refill
        ready, self._ready = self._ready, []
        await asyncio.gather(*(driver.stop() for driver in ready), return_exceptions=True)

    def top_up(self) -> None:
        """Start spares up to KEEP, in the background: call it once the New Session that took one is answered,
        so that starting them does not slow that one down."""
        if self._closed or (self._refill is not None and not self._refill.done()):
            return
        self._refill = asyncio.get_running_loop().create_task(self._fill())

    async def _fill(self) -> None:
        while not self._closed and len(self._ready) < self.keep:
            driver = ChromeDriver(self.executable, self.user)
            try:
                await driver.start()
            except DriverFailed as exc:
                log.warning("could not start a spare chromedriver: %s", exc)
                return
            if self._closed:
                await driver.stop()
                return
            self._ready.append(driver)
