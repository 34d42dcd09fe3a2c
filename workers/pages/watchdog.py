"""Pages that stop answering: found, reported, killed and replaced, so their session stays usable.

Every page of a session's own context (its page, and the pages its clients open there) gets a CDP session of
the worker's own on which one probe is kept in flight, `Runtime.evaluate("1")`, sent again half the hang
timeout (at most 5 s) after each answer: about 1% of a core for 20 idle sessions, all parts counted. A
page whose probe has gone unanswered for `hang_timeout` (BROWSERPOOL_PAGE_HANG_TIMEOUT) is hung, unless a
JavaScript dialog is showing (a page answers nothing while an alert is open, and that is no hang; the
clock starts again when the dialog closes). A hung page:

- if it is the session's page (the one REST actions drive), is replaced by a fresh page (about:blank) in the
  same context first, so a client connecting meanwhile finds a page that answers;
- has its renderer killed (workers/pages/restart.py), and is closed; its crash is ours, so it does not end the
  session, which stays `active`;
- is reported: `on_hung(session_id, reason)`, the owner's `page_unresponsive` event (after the restart).

While the session's page is hung, REST actions on it fail at once with PageUnresponsive (409), and actions
already waiting on it fail the moment the hang is found (`guard`), instead of waiting out their timeout.

Pages of contexts a CDP client created itself (Target.createBrowserContext) are not watched: the worker's
Playwright does not know them.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from playwright.async_api import CDPSession, Page
from playwright.async_api import Error as PlaywrightError

from orchestrator import clock
from orchestrator.errors import PageUnresponsive
from workers.pages.restart import close_quietly, fresh_page, kill_renderer
from workers.session import SessionPage

log = logging.getLogger(__name__)

T = TypeVar("T")
PROBE = {"expression": "1", "returnByValue": True}
KILL_EXPLAINS = 5.0  # a crash of a session's page this soon after a kill of ours in that session is ours
Hung = Callable[[str, str], Awaitable[None]]  # (session id, what happened)


@dataclass
class _Watched:
    held: SessionPage
    on_new_page: Callable[[Page], None]  # the session's page was replaced by this one
    probes: dict[Page, "asyncio.Task[None]"] = field(default_factory=dict)
    listener: Callable[[Page], None] | None = None
    hung: asyncio.Event = field(default_factory=asyncio.Event)  # set while the session's page is hung
    hung_since_ms: int | None = None
    killed_at: float = float("-inf")  # loop time of the session's last kill


class _Dialogs:
    """Whether a JavaScript dialog is showing on a page, from its Page events; when that last changed."""

    def __init__(self, cdp: CDPSession, now: Callable[[], float]) -> None:
        self.showing = 0
        self.changed = now()
        self._now = now
        cdp.on("Page.javascriptDialogOpening", lambda _: self._change(1))
        cdp.on("Page.javascriptDialogClosed", lambda _: self._change(-1))

    def _change(self, by: int) -> None:
        self.showing = max(0, self.showing + by)
        self.changed = self._now()


class _Gone(Exception):
    """The page closed or crashed: nothing to watch any more."""


class PageWatchdog:
    def __init__(self, hang_timeout: float, on_hung: Hung | None = None) -> None:
        self.hang_timeout = hang_timeout  # 0: pages are not watched
        self.interval = min(max(hang_timeout / 2, 0.25), 5.0)  # between an answer and the next probe
        self.on_hung = on_hung
        self._sessions: dict[str, _Watched] = {}
        self._killed: set[Page] = set()  # pages whose crash is ours
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- sessions ----------------------------------------------------------------------------

    def watch(self, session_id: str, held: SessionPage, on_new_page: Callable[[Page], None]) -> None:
        """Watch the pages of the session's context from now on, those it opens later included."""
        if not self.hang_timeout or session_id in self._sessions:
            return
        watched = self._sessions[session_id] = _Watched(held, on_new_page)
        watched.listener = lambda page: self._probe(session_id, watched, page)
        held.context.on("page", watched.listener)
        held.context.once("close", lambda _: self.forget(session_id))  # however it ends, its browser's crash included
        for page in held.context.pages:
            self._probe(session_id, watched, page)

    def forget(self, session_id: str) -> None:
        watched = self._sessions.pop(session_id, None)
        if watched is None:
            return
        if watched.listener is not None:
            watched.held.context.remove_listener("page", watched.listener)
        for task in list(watched.probes.values()):
            task.cancel()

    def stop(self) -> None:
        for session_id in list(self._sessions):
            self.forget(session_id)
        for task in list(self._tasks):
            task.cancel()

    def ours(self, session_id: str, page: Page) -> bool:
        """Whether a crash of this page of the session is a kill of ours (then the session must not end).
        The session's page crashing just after a kill of another of its pages (one renderer can serve both,
        a popup and its opener) is ours too: that page is replaced."""
        if page in self._killed:
            return True
        watched = self._sessions.get(session_id)
        if watched is None or asyncio.get_running_loop().time() - watched.killed_at > KILL_EXPLAINS:
            return False
        if page is watched.held.page:
            self._spawn(self._replace(session_id, watched, page, close=True))
        return True

    async def guard(self, session_id: str, action: Awaitable[T]) -> T:
        """Run an action on the session's page; PageUnresponsive at once if the page is hung or hangs meanwhile."""
        watched = self._sessions.get(session_id)
        if watched is None:
            return await action
        if watched.hung_since_ms is not None:
            if asyncio.iscoroutine(action):
                action.close()  # never started
            raise PageUnresponsive(self._refusal(watched))
        running = asyncio.ensure_future(action)
        hung = asyncio.ensure_future(watched.hung.wait())
        try:
            await asyncio.wait((running, hung), return_when=asyncio.FIRST_COMPLETED)
        finally:
            hung.cancel()
            if not running.done():  # the page hung meanwhile, or the caller gave up (its timeout)
                running.cancel()
                running.add_done_callback(_retrieved)
        is_hung = watched.hung.is_set() or watched.hung_since_ms is not None
        if running.done() and not running.cancelled() and (running.exception() is None or not is_hung):
            return running.result()
        raise PageUnresponsive(self._refusal(watched))  # the page hung meanwhile (what failed, failed of that)

    # --- probing -----------------------------------------------------------------------------

    def _probe(self, session_id: str, watched: _Watched, page: Page) -> None:
        if page in watched.probes or page.is_closed():
            return
        task = asyncio.get_running_loop().create_task(self._watch_page(session_id, watched, page))
        watched.probes[page] = task
        task.add_done_callback(lambda _: watched.probes.pop(page, None))
        task.add_done_callback(_logged)

    async def _watch_page(self, session_id: str, watched: _Watched, page: Page) -> None:
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[None] = loop.create_future()

        def ended(_: object) -> None:
            if not gone.done():
                gone.set_result(None)

        page.on("close", ended)
        page.on("crash", ended)
        try:
            cdp = await page.context.new_cdp_session(page)
        except PlaywrightError:
            return
        dialogs = _Dialogs(cdp, loop.time)
        enabled = asyncio.ensure_future(cdp.send("Page.enable"))  # for the dialog events; a hung page never answers
        enabled.add_done_callback(_retrieved)
        try:
            while not page.is_closed():
                since = await self._unanswered(cdp, dialogs, gone)
                if since is None:
                    await asyncio.sleep(self.interval)
                    continue
                await self._hung(session_id, watched, page, cdp, since)
                return
        except (_Gone, PlaywrightError):
            return
        finally:
            page.remove_listener("close", ended)
            page.remove_listener("crash", ended)
            enabled.cancel()

    async def _unanswered(self, cdp: CDPSession, dialogs: _Dialogs, gone: "asyncio.Future[None]") -> int | None:
        """Send one probe: None once it is answered, or (wall clock, ms) when the page started not answering."""
        loop = asyncio.get_running_loop()
        asked, asked_ms = loop.time(), clock.now_ms()
        answer = asyncio.ensure_future(cdp.send("Runtime.evaluate", PROBE))
        try:
            while True:
                start = max(asked, dialogs.changed)  # a dialog that just closed starts the clock again
                left = start + self.hang_timeout - loop.time()
                await asyncio.wait((answer, gone), timeout=max(left, 0.01), return_when=asyncio.FIRST_COMPLETED)
                if answer.done():  # an error is an answer too (a navigation replaced the page's context, say)
                    if answer.exception() is not None and gone.done():
                        raise _Gone()
                    return None
                if gone.done():
                    raise _Gone()
                if not dialogs.showing and loop.time() - max(asked, dialogs.changed) >= self.hang_timeout:
                    return asked_ms + int(max(0.0, dialogs.changed - asked) * 1000)
        finally:
            if not answer.done():
                answer.cancel()
                answer.add_done_callback(_retrieved)

    # --- a hung page -------------------------------------------------------------------------

    async def _hung(self, session_id: str, watched: _Watched, page: Page, cdp: CDPSession, since_ms: int) -> None:
        primary = page is watched.held.page
        if primary:
            watched.hung_since_ms = since_ms
            watched.hung.set()  # actions waiting on it fail now
        log.warning(
            "a page of session %s has not answered for %gs: killing its renderer", session_id, self.hang_timeout
        )
        self._killed.add(page)
        watched.killed_at = asyncio.get_running_loop().time()
        try:
            if primary:  # the fresh page first: a client connecting meanwhile finds it there
                await self._replace(session_id, watched, page)
            how = await kill_renderer(cdp, page)
            await close_quietly(page)
        finally:
            self._killed.discard(page)
        what = "the session's page was replaced by a fresh one (about:blank)" if primary else "the page was closed"
        reason = (
            f"a page did not answer for {self.hang_timeout:g}s (hung since {_iso(since_ms)}): its renderer was "
            f"{'killed' if how == 'crashed' else 'ended by closing the page'}, and {what}"
        )
        if self.on_hung is not None and session_id in self._sessions:
            await self.on_hung(session_id, reason)

    async def _replace(self, session_id: str, watched: _Watched, old: Page, close: bool = False) -> None:
        """Give the session a fresh page in its context in place of `old` (then, with `close`, close `old`)."""
        held = watched.held
        if watched.hung_since_ms is None:
            watched.hung_since_ms = clock.now_ms()
            watched.hung.set()
        try:
            if held.page is old and session_id in self._sessions:
                held.page, target_id = await fresh_page(held.context)
                held.target_id = target_id or held.target_id
                watched.on_new_page(held.page)
                log.warning("session %s has a fresh page in place of the one that stopped", session_id)
            if close:
                await close_quietly(old)
        except (PlaywrightError, TimeoutError) as exc:
            log.error("could not give session %s a fresh page: %s", session_id, exc)
        finally:
            watched.hung_since_ms = None
            watched.hung.clear()

    def _refusal(self, watched: _Watched) -> str:
        since = _iso(watched.hung_since_ms or clock.now_ms())
        return (
            f"the session's page is not responding (hung since {since}); it is being restarted: retry in a "
            "moment (the session gets a fresh page, about:blank)"
        )

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _retrieved(task: "asyncio.Future[Any]") -> None:
    """Read a background task's end so it is never reported as unretrieved (nobody waits for it any more)."""
    if not task.cancelled():
        task.exception()


def _logged(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("watching a page failed", exc_info=task.exception())


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
