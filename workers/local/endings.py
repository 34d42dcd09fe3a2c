"""Sessions the worker ends on its own: a crash of the session's page, a bound it went past, a crashed browser's
session that is not coming back; the watch that catches the first (and a page that hangs); and the report of a
session that did come back on a fresh browser (workers/local/rehome.py)."""

import logging

from playwright.async_api import Page

from orchestrator.lifecycle import EndReason
from workers.local.parts import WorkerParts
from workers.pool.slot import BrowserSlot
from workers.session import SessionPage

log = logging.getLogger(__name__)


class Endings:
    def __init__(self, parts: WorkerParts) -> None:
        self.parts = parts

    def watch(self, slot: BrowserSlot, session_id: str, held: SessionPage) -> None:
        """Its page's crashes end it, and a hang of its page is caught (every session, opened or re-homed)."""
        self.watch_crashes(slot, session_id, held.page)
        self.watch_hangs(slot, session_id, held)

    def watch_hangs(self, slot: BrowserSlot, session_id: str, held: SessionPage) -> None:
        """A hang of any of its pages is caught by the watchdog; the fresh page it puts in place of a hung one is
        watched for crashes too."""
        self.parts.watchdog.watch(session_id, held, lambda page: self.watch_crashes(slot, session_id, page))

    def watch_crashes(self, slot: BrowserSlot, session_id: str, page: Page) -> None:
        """A crash of the session's page ends the session (unless it is the hang watchdog's kill)."""
        page.on("crash", lambda crashed: self.parts.spawn(self._page_crashed(slot, session_id, crashed)))

    async def _page_crashed(self, slot: BrowserSlot, session_id: str, page: Page) -> None:
        held = slot.sessions.get(session_id)
        if held is None or self.parts.watchdog.ours(session_id, page) or page is not held.page:
            return
        reason = await slot.bounds.crash_reason(held) if slot.bounds is not None else EndReason.BROWSER_CRASHED
        log.error("page of session %s crashed (%s)", session_id, reason)
        await self.end_session(slot, session_id, reason)

    async def end_session(self, slot: BrowserSlot, session_id: str, reason: EndReason) -> None:
        """End a session the worker had to give up (its page crashed, it went past a bound): its record first,
        with the reason, then its context."""
        if session_id not in slot.sessions:
            return
        route = slot.sessions[session_id].route
        try:
            await self.parts.report_lost([session_id], reason)
        finally:
            await slot.close(session_id, timeout=5, reason=f"session failed ({reason})")
            await self.parts.close_route(route)
            await self.parts.load_changed()

    async def give_up(self, session_id: str, held: SessionPage) -> None:
        """A session of a dead browser that is not coming back: `failed` (browser_crashed), its files kept."""
        await self.parts.close_route(held.route)
        await self.parts.report_lost([session_id])
        if self.parts.files is not None:
            await self.parts.files.ended(session_id)  # what it downloaded stays readable for the retention

    async def restarted(self, session_id: str, seconds: float, detail: str) -> None:
        """A crashed browser's session is back on a fresh one: the crash listener hears of it."""
        if self.parts.on_crash is not None:
            await self.parts.on_crash.session_restarted(session_id, seconds, detail)
