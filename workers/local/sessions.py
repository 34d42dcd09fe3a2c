"""Opening and closing a session's context, and finding the one a session holds.

An open takes a place (workers/local/admission.py), a context of the session's shape (a ready one when it may:
workers/local/warmup.py), restores its profile, bounds it (its CDP ids, its own directory, its files and
limits) and watches its pages (workers/local/endings.py) before it is handed out. A close lets a session that
persists into a profile save first.
"""

import asyncio
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from orchestrator.errors import ActionFailed, InvalidInput, SessionEnded
from orchestrator.models import SessionSpec
from orchestrator.proxies import UpstreamProxy
from workers.egress.routes import Route
from workers.local.admission import Admission
from workers.local.endings import Endings
from workers.local.parts import WorkerParts, first_line
from workers.local.rehome import Rehoming
from workers.local.warmup import Warmup
from workers.pages.restart import close_quietly, fresh_page, target_of
from workers.pool.slot import BrowserSlot
from workers.session import SessionPage


class Sessions:
    def __init__(
        self,
        parts: WorkerParts,
        admission: Admission,
        warmup: Warmup,
        endings: Endings,
        rehoming: Rehoming,
        action_timeout: float,
    ) -> None:
        self.parts = parts
        self.admission = admission
        self.warmup = warmup
        self.endings = endings
        self.rehoming = rehoming
        self.action_timeout = action_timeout

    async def open_session(self, session_id: str, spec: SessionSpec) -> None:
        parts = self.parts
        state = await parts.profiles.load(spec.profile) if spec.profile is not None else None
        own = spec.isolation == "browser"
        slot = await self.admission.reserve_own(session_id) if own else self.admission.reserve(session_id)
        route = None
        try:
            shape = spec.shape()
            if spec.proxy is None:
                self.warmup.shapes.asked(shape)  # proxied sessions never take a ready context: none is warmed for them
            else:
                route = await self._open_route(spec.proxy)
            held = await slot.open(session_id, shape, route)
        except BaseException as exc:
            if route is not None:
                await parts.close_route(route)
            if isinstance(exc, PlaywrightError):
                raise ActionFailed(f"could not open a browser context: {first_line(exc)}") from exc
            raise
        finally:
            slot.release(session_id)
        self.endings.watch_crashes(slot, session_id, held.page)
        held.profile, held.spec = spec.profile, spec
        if state is not None:
            await self._restore(slot, session_id, held, state)
        await self._bound(slot, session_id, held, spec)  # after the restore: a recording starts on the session's page
        self.endings.watch_hangs(slot, session_id, held)
        parts.spawn(parts.checkpoints.refresh(held))  # a crash from now on finds it with its state
        await parts.load_changed()
        self.warmup.warm_up()

    async def close_session(self, session_id: str, reason: str = "session ended") -> None:
        """Close it; a session that persists into a profile saves first, once its CDP clients have let go."""
        parts = self.parts
        waiting = self.rehoming.forget(session_id)
        if waiting is not None:  # its browser crashed and it had not been reopened yet
            await parts.close_route(waiting.route)
        for slot in parts.every_slot():
            if session_id in slot.sessions:
                route = slot.sessions[session_id].route
                try:
                    await slot.close(
                        session_id, timeout=self.action_timeout, reason=reason, before_close=self._final_save
                    )
                finally:
                    await parts.close_route(route)
                await parts.load_changed()

    async def save_profile(self, session_id: str) -> None:
        held = self.held(session_id)
        await self.parts.profiles.checkpoint(held.profile, session_id, held.context)

    def held(self, session_id: str) -> SessionPage:
        return self.slot_of(session_id)[1]

    async def page_of(self, session_id: str) -> Page:
        """The session's page, for a REST action. If a CDP client closed it (WebDriver users close windows), the
        oldest page still open in its context takes its place or, with none left, a fresh page opened only now:
        its clients never see a page they did not ask for until the session is used again."""
        slot, held = self.slot_of(session_id)
        if not held.page.is_closed():
            return held.page
        survivors = [page for page in held.context.pages if not page.is_closed()]
        try:
            if survivors:
                page, target_id = survivors[0], await target_of(held.context, survivors[0])
            else:
                page, target_id = await fresh_page(held.context)
        except (PlaywrightError, TimeoutError) as exc:
            raise ActionFailed(
                f"the session's page was closed and none could take its place: {first_line(exc)}"
            ) from exc
        if not held.page.is_closed():  # another action put one in place meanwhile
            if not survivors:
                await close_quietly(page)
            return held.page
        held.page, held.target_id = page, target_id
        self.endings.watch_crashes(slot, session_id, page)
        return page

    def slot_of(self, session_id: str) -> tuple[BrowserSlot, SessionPage]:
        """The browser holding the session and what it holds; SessionEnded for one this worker does not hold."""
        self.rehoming.check(session_id)  # on its way to a fresh browser: retry shortly
        found = self.parts.holder(session_id)
        if found is not None:
            return found
        self.parts.spawn(self.parts.report_lost([session_id]))
        raise SessionEnded("failed")

    async def _open_route(self, proxy: UpstreamProxy) -> Route:
        if self.parts.egress is None:
            raise InvalidInput("this worker runs without an egress guard, so it cannot chain to an upstream proxy")
        return await self.parts.egress.open_route(proxy)

    async def _bound(self, slot: BrowserSlot, session_id: str, held: SessionPage, spec: SessionSpec) -> None:
        """Before the session is handed out: its CDP ids (a client connects without waiting for them), its own
        directory (all its downloads land there), its files' entry and recording, and its limits. A session that
        cannot be bounded is not opened."""
        parts = self.parts
        try:
            await slot.context_id(held)
            held.download_dir = await asyncio.to_thread(slot.session_dir, session_id)
            if parts.files is not None and parts.plan is not None:
                await parts.files.opened(session_id, held, spec, parts.plan.home.user)
            if slot.bounds is not None:
                await slot.bounds.register(session_id, held)
        except InvalidInput:
            await slot.close(session_id, timeout=5, reason="session could not be opened")
            raise
        except (PlaywrightError, OSError) as exc:
            await slot.close(session_id, timeout=5, reason="session could not be opened")
            await parts.close_route(held.route)
            raise ActionFailed(f"could not open a browser context: {first_line(exc)}") from exc

    async def _restore(self, slot: BrowserSlot, session_id: str, held: SessionPage, state: dict[str, Any]) -> None:
        """Put the profile's state into the context before the session is handed out; else do not open it."""
        try:
            await self.parts.profiles.restore(held.context, state)
        except BaseException:
            await slot.close(session_id, timeout=5, reason="session could not be opened")
            await self.parts.close_route(held.route)
            raise

    async def _final_save(self, session_id: str, held: SessionPage) -> None:
        if held.profile is not None and held.profile.persist:
            await self.parts.profiles.final_save(held.profile, session_id, held.context)
