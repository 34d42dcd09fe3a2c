"""Crash containment: when a shared browser dies, only the sessions whose commands were in flight end.

Attribution: each CDP relay knows which of its client's commands the browser had not answered; at a crash
the sessions with such commands are the suspects (CrashReport.in_flight). They end `failed`
(`browser_crashed`): their command may be what crashed it, and it would crash the fresh browser too.

Every other session of the dead browser survives: it keeps its session_id, cdp_url and `active` status
and is opened again on the relaunched browser with what its last checkpoint held (workers/pages/checkpoints.py:
cookies, local storage, its pages' URLs) and what it was opened with (viewport, user agent, proxy route,
profile). Its CDP clients were disconnected with the reason; a reconnect reaches the new context. While it
is being re-homed its REST actions and CDP connects answer 503 with Retry-After instead of failing it.
"""

import logging
import time
from collections.abc import Awaitable, Callable

from playwright.async_api import Error as PlaywrightError

from orchestrator.errors import PoolUnavailable
from orchestrator.worker import CrashReport
from workers.pages.profiles import ProfileKeeper
from workers.pool.slot import BrowserSlot
from workers.session import Checkpoint, SessionPage

log = logging.getLogger(__name__)

GOTO_SECONDS = 10.0  # reopening one of its pages at its URL; past this the page stays where it got to
GiveUp = Callable[[str, SessionPage], Awaitable[None]]  # a survivor that could not be reopened: it ends failed
Restarted = Callable[[str, float, str], Awaitable[None]]  # (session id, seconds, what was restored): it is back
Watch = Callable[[BrowserSlot, str, SessionPage], None]  # watch a reopened session's pages (crashes, hangs)
RESTARTING = (
    "the session's browser crashed and the session is being restarted on a fresh one with its cookies, local "
    "storage and pages; retry in a moment"
)


def triage(tag: str, sessions: dict[str, SessionPage]) -> CrashReport:
    """Who had commands in flight when browser `tag` died (relays still open, and those it already closed)."""
    in_flight: dict[str, list[str]] = {}
    recent: dict[str, list[str]] = {}
    for session_id, held in sessions.items():
        methods = [*held.witnessed, *(m for relay in held.relays for m in relay.in_flight())]
        if methods:
            in_flight[session_id] = methods
        last = [m for relay in held.relays for m in relay.recent]
        if last:
            recent[session_id] = last
    survivors = [session_id for session_id in sessions if session_id not in in_flight]
    return CrashReport(tag, in_flight, recent, survivors)


class Rehoming:
    """The sessions of crashed browsers on their way to a fresh one."""

    def __init__(self, profiles: ProfileKeeper, give_up: GiveUp, restarted: Restarted, watch: Watch) -> None:
        self.profiles = profiles
        self.give_up = give_up
        self.restarted = restarted
        self.watch = watch
        self.waiting: dict[str, SessionPage] = {}  # session id -> what it was on the dead browser

    def hold(self, sessions: dict[str, SessionPage]) -> None:
        self.waiting.update(sessions)

    def forget(self, session_id: str) -> SessionPage | None:
        """The session ended while waiting: it is not reopened (returns what it was, to release its route)."""
        return self.waiting.pop(session_id, None)

    def check(self, session_id: str) -> None:
        """Raise the retryable answer for a session being re-homed."""
        if session_id in self.waiting:
            raise PoolUnavailable(RESTARTING, retry_after=1)

    async def rehome(self, slot: BrowserSlot, session_ids: list[str], started: float) -> None:
        """Open each survivor again on `slot` (relaunched), one at a time; one that cannot be is ended."""
        for session_id in session_ids:
            old = self.waiting.get(session_id)
            if old is None:
                continue
            try:
                detail = await self._reopen(slot, session_id, old)
            except (PlaywrightError, OSError, TimeoutError) as exc:
                log.error("could not restart session %s after its browser crashed: %s", session_id, exc)
                self.waiting.pop(session_id, None)
                await self.give_up(session_id, old)
                continue
            if self.waiting.pop(session_id, None) is None:  # ended while it was being reopened
                await slot.close(session_id, timeout=5, reason="session ended")
                continue
            seconds = time.monotonic() - started
            log.warning("session %s restarted on browser %s in %.2fs (%s)", session_id, slot.tag, seconds, detail)
            await self.restarted(session_id, seconds, detail)

    async def _reopen(self, slot: BrowserSlot, session_id: str, old: SessionPage) -> str:
        spec = old.spec
        assert spec is not None  # every session the worker opened carries its spec
        held = await slot.open(session_id, spec.shape(), old.route)
        held.spec, held.profile, held.download_dir = spec, old.profile, old.download_dir
        checkpoint = old.checkpoint or Checkpoint(urls=[old.page.url])
        held.checkpoint = checkpoint
        try:
            await slot.context_id(held)
            await self.profiles.restore(held.context, checkpoint.state())
            pages = await self._reopen_pages(held, checkpoint.urls)
            if slot.bounds is not None:
                await slot.bounds.register(session_id, held)
        except BaseException:
            await slot.close(session_id, timeout=5, reason="session could not be restarted")
            raise
        self.watch(slot, session_id, held)
        return f"{len(checkpoint.cookies)} cookies, {len(checkpoint.origins)} origins' local storage, {pages} pages"

    async def _reopen_pages(self, held: SessionPage, urls: list[str]) -> int:
        for index, url in enumerate(urls):
            page = held.page if index == 0 else await held.context.new_page()
            try:
                await page.goto(url, timeout=GOTO_SECONDS * 1000, wait_until="domcontentloaded")
            except PlaywrightError as exc:  # the site is down, or refused: the page stays, as a browser's would
                log.info("a restarted session's page did not reach %s: %s", url, str(exc).splitlines()[0])
        return len(urls)
