"""A browser that dies: a shared one is relaunched and its sessions triaged (those whose commands were in flight
end, the others are re-homed on the fresh browser: workers/local/rehome.py); a session's own browser ends its
one session."""

import asyncio
import logging
import shutil
import time

from playwright.async_api import Error as PlaywrightError

from workers.cdp.relay import BROWSER_LOST
from workers.local.endings import Endings
from workers.local.launch import Browsers
from workers.local.parts import WorkerParts, first_line
from workers.local.rehome import Rehoming, triage
from workers.pool.slot import BrowserSlot

log = logging.getLogger(__name__)


class Crashes:
    def __init__(self, parts: WorkerParts, browsers: Browsers, rehoming: Rehoming, endings: Endings) -> None:
        self.parts = parts
        self.browsers = browsers
        self.rehoming = rehoming
        self.endings = endings

    def browser_gone(self, slot: BrowserSlot) -> None:
        """A browser died: the sessions whose commands were in flight fail, the others are re-homed
        (workers/local/rehome.py) on the browser relaunched in its place."""
        parts = self.parts
        if parts.stopping or slot.browser is None:
            return
        started = time.monotonic()
        sessions = dict(slot.sessions)
        report = triage(slot.tag, sessions)
        lost = slot.lost()
        log.error(
            "browser %s disconnected with %d session(s) (in flight: %s); restarting it and %d of them",
            slot.tag,
            len(lost.session_ids),
            report.in_flight or "nothing",
            len(report.survivors),
        )
        if lost.profile_dir:
            parts.spawn(asyncio.to_thread(shutil.rmtree, lost.profile_dir, True))
        survivors = {sid: sessions[sid] for sid in report.survivors}
        for held in survivors.values():
            for relay in list(held.relays):
                relay.end(1012, BROWSER_LOST)
        self.rehoming.hold(survivors)
        for session_id in report.in_flight:
            parts.spawn(self.endings.give_up(session_id, sessions[session_id]))
        if parts.on_crash is not None:
            parts.spawn(parts.on_crash.browser_crashed(report))
        parts.spawn(self._relaunch(slot, report.survivors, started))

    async def _relaunch(self, slot: BrowserSlot, survivors: list[str], started: float) -> None:
        delay = 0.5
        while not self.parts.stopping:
            try:
                await self.browsers.launch(slot, self.browser_gone)
                break
            except PlaywrightError as exc:
                log.error("relaunching browser %s failed: %s; retrying in %.1fs", slot.tag, first_line(exc), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
        await self.rehoming.rehome(slot, survivors, started)
        await self.parts.load_changed()

    def own_browser_gone(self, slot: BrowserSlot) -> None:
        """A session's own browser died: its session ends failed (browser_crashed); nothing else is touched."""
        parts = self.parts
        for held in slot.sessions.values():
            parts.spawn(parts.close_route(held.route))
        lost = slot.lost()
        if lost.profile_dir:
            parts.spawn(asyncio.to_thread(shutil.rmtree, lost.profile_dir, True))
        parts.spawn(parts.report_lost(lost.session_ids))
        if parts.files is not None:
            for session_id in lost.session_ids:
                parts.spawn(parts.files.ended(session_id))
        parts.spawn(parts.load_changed())
