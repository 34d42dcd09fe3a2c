"""Killing a page that stopped answering, and giving its session a fresh page in the same context.

A page stuck in script (`while (true) {}`) answers no CDP command that needs its renderer's main thread, but
Runtime.terminateExecution interrupts the script from the side and Page.crash, sent next, then kills the
renderer: the page crashes as a crashed page would (its CDP clients get Inspector.targetCrashed). A page stuck
elsewhere (not in script) may not take Page.crash either: it is closed instead (Target.closeTarget, done by the
browser process, which ends the renderer with it). Renderers are never shared between browser contexts, so
nothing of another session's is touched.
"""

import asyncio
import contextlib
import logging

from playwright.async_api import BrowserContext, CDPSession, Page
from playwright.async_api import Error as PlaywrightError

from orchestrator.deadlines import within

log = logging.getLogger(__name__)

CRASH_WAIT = 2.0  # how long a Page.crash may take to crash the page before the page is closed instead
CLOSE_WAIT = 5.0  # closing a page whose renderer is stuck (Chromium ends the renderer in about 0.5 s)
OPEN_WAIT = 10.0  # opening the fresh page


async def kill_renderer(cdp: CDPSession, page: Page) -> str:
    """End the page's renderer: "crashed" (Page.crash took) or "closed" (the page was closed instead)."""
    crashed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def took(_: Page) -> None:
        if not crashed.done():
            crashed.set_result(None)

    page.once("crash", took)
    stop = asyncio.ensure_future(cdp.send("Runtime.terminateExecution"))
    crash = asyncio.ensure_future(cdp.send("Page.crash"))  # never answered when it works: the renderer is gone
    try:
        await within(CRASH_WAIT, asyncio.shield(crashed))
        return "crashed"
    except TimeoutError:
        await close_quietly(page)
        return "closed"
    finally:
        for pending in (stop, crash):
            pending.cancel()
        await asyncio.gather(stop, crash, return_exceptions=True)


async def fresh_page(context: BrowserContext) -> tuple[Page, str | None]:
    """A new page in the session's context, and its CDP target id (None if it could not be read)."""
    page = await within(OPEN_WAIT, context.new_page())
    return page, await target_of(context, page)


async def target_of(context: BrowserContext, page: Page) -> str | None:
    """The page's CDP target id (None if it could not be read)."""
    with contextlib.suppress(PlaywrightError, TimeoutError, KeyError):
        cdp = await context.new_cdp_session(page)
        try:
            return str((await within(OPEN_WAIT, cdp.send("Target.getTargetInfo")))["targetInfo"]["targetId"])
        finally:
            await cdp.detach()
    return None


async def close_quietly(page: Page) -> None:
    """Close a page that may be stuck, crashed or gone already."""
    try:
        await within(CLOSE_WAIT, page.close())
    except (PlaywrightError, TimeoutError) as exc:
        log.debug("closing a stuck page: %s", exc)
