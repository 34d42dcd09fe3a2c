"""What a session would lose if its shared browser crashed, taken every few seconds while the browser lives.

A crashed Chromium takes every context in it along, and nothing of a context can be read once its browser
is gone: so the worker keeps, for each session, its latest checkpoint (cookies, local storage of its pages'
origins, the URLs of its pages) taken from the live browser, and a session re-homed after a crash starts
from it (workers/local/rehome.py). What changed in the last interval before the crash is lost.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from orchestrator.deadlines import within
from workers.session import Checkpoint, SessionPage

log = logging.getLogger(__name__)

PAGE_SECONDS = 1.0  # a page that does not answer within this (hung, paused in a debugger) keeps its last state
READ_STORAGE = "() => [location.origin, Object.entries(localStorage)]"


async def take(held: SessionPage, previous: Checkpoint | None) -> Checkpoint:
    """The session's state now; what a page cannot tell in time is kept from `previous`."""
    pages = [held.page, *(page for page in held.context.pages if page is not held.page)]
    cookies = await held.context.cookies()
    storages = await asyncio.gather(*(_storage(page) for page in pages))
    known = {o["origin"]: o for o in previous.origins} if previous is not None else {}
    for found in storages:
        if found is not None:
            known[found["origin"]] = found
    urls = [page.url for page in pages if _restorable(page.url)]
    return Checkpoint(list(cookies), list(known.values()), urls, time.monotonic())  # type: ignore[arg-type]


async def _storage(page: Page) -> dict[str, Any] | None:
    if page.is_closed() or not _restorable(page.url):
        return None
    try:
        origin, entries = await within(PAGE_SECONDS, page.evaluate(READ_STORAGE))
    except (TimeoutError, PlaywrightError):
        return None
    if not isinstance(origin, str) or not _restorable(origin):
        return None
    return {"origin": origin, "localStorage": [{"name": str(k), "value": str(v)} for k, v in entries]}


def _restorable(url: str) -> bool:
    return url.startswith(("http://", "https://"))


class Checkpointer:
    """Checkpoints every held session each `interval` seconds (0: never), one browser's sessions at a time."""

    def __init__(self, interval: float, sessions: Callable[[], Iterable[SessionPage]]) -> None:
        self.interval = interval
        self._sessions = sessions
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await asyncio.gather(*(self.refresh(held) for held in list(self._sessions())))

    async def refresh(self, held: SessionPage) -> None:
        if held.ended is not None:
            return
        try:
            held.checkpoint = await take(held, held.checkpoint)
        except PlaywrightError as exc:  # its context closing, its browser gone: the last checkpoint stays
            log.debug("checkpoint skipped: %s", exc)
