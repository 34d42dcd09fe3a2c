"""Setting up a client's CDP connection to a session: the relay (workers/cdp/relay.py) through the session's
scope, its dialogs left to its own clients while one drives it, and its client's Browser.close ending it."""

from playwright.async_api import Dialog
from playwright.async_api import Error as PlaywrightError

from orchestrator.errors import PoolUnavailable, SessionEnded
from orchestrator.worker import Activity, CdpClient, CdpMode
from workers.cdp.limits import CdpLimits
from workers.cdp.relay import CdpRelay, close_client
from workers.cdp.scope import CdpScope
from workers.chromium.devtools import DevToolsUnavailable
from workers.local.parts import WorkerParts
from workers.local.sessions import Sessions
from workers.pool.slot import BrowserSlot
from workers.session import SessionPage


class CdpSetup:
    def __init__(self, parts: WorkerParts, sessions: Sessions, limits: CdpLimits) -> None:
        self.parts = parts
        self.sessions = sessions
        self.limits = limits

    async def relay_cdp(self, session_id: str, client: CdpClient, on_activity: Activity, mode: CdpMode) -> None:
        """Relay until either side closes. The session may end during any await of the set-up (a DELETE
        racing the connect): `held.ended` is checked after each, and the relay registers itself with no
        await after the last check, so BrowserSlot.close either ends it or ran before and is seen here."""
        try:
            slot, held = self.sessions.slot_of(session_id)
        except SessionEnded:
            await close_client(client, 1000, "session ended")  # ended between the API's check and here
            return
        try:
            context_id = await slot.context_id(held)  # looked up ahead for ready and new contexts alike
            endpoint = slot.cdp_endpoint()  # read once per browser launch
        except (PlaywrightError, DevToolsUnavailable) as exc:
            if held.ended is None:
                message = f"the session's browser cannot take CDP connections: {exc}"
                raise PoolUnavailable(message, retry_after=1) from exc
        if held.ended is not None:
            await close_client(client, 1000, held.ended)
            return
        assert held.download_dir is not None  # made when the session opened (Sessions._bound)
        bounds = slot.bounds
        pages = (lambda: bounds.page_refusal(session_id)) if bounds is not None else None
        scope = CdpScope(
            context_id,
            held.download_dir,
            held.extra_contexts,
            on_context_created=lambda created: self._created(slot, held, created),
            page_refusal=pages,
            on_page_created=bounds.page_opened if bounds is not None else None,
            mode=mode,
            context_proxy=f"http://127.0.0.1:{held.route.port}" if held.route else None,
        )
        # While a client drives the session, its dialogs are the client's to answer: with no listener of its own,
        # the worker's Playwright would dismiss them first. A live viewer cannot answer one, so it does not count.
        drives = mode is CdpMode.FULL
        closes = (lambda: self.parts.spawn(self._client_closed(session_id))) if drives else None  # its Browser.close
        relay = CdpRelay(client, endpoint, scope, on_activity, self.limits, on_client_close=closes)
        if drives and not _drivers(held):
            held.context.on("dialog", _leave_to_the_client)
        held.relays.add(relay)
        try:
            await relay.run()
        finally:
            held.relays.discard(relay)
            if relay.browser_lost:  # what its client had in flight when the browser died, for the crash's triage
                held.witnessed.extend(relay.in_flight())
            if drives and not _drivers(held):
                held.context.remove_listener("dialog", _leave_to_the_client)

    def _created(self, slot: BrowserSlot, held: SessionPage, context_id: str) -> None:
        """A client's context creation was answered. Past the session's end its close has disposed what it knew
        of (the relay drains creations in flight for longer than the close waits): this one goes now."""
        if held.ended is not None:
            self.parts.spawn(slot.dispose_context(context_id))

    async def _client_closed(self, session_id: str) -> None:
        """The session's own CDP client closed the browser: the session ends `closed` (client_closed)."""
        if self.parts.on_client_closed is not None:
            await self.parts.on_client_closed(session_id)
        else:
            await self.sessions.close_session(session_id, "session closed: its client closed the browser")


def _drivers(held: SessionPage) -> list[CdpRelay]:
    """The session's CDP connections that may answer dialogs (its own clients, not live viewers)."""
    return [relay for relay in held.relays if relay.scope.mode is CdpMode.FULL]


def _leave_to_the_client(dialog: Dialog) -> None:
    """A dialog listener that does nothing, so the dialog stays open for the CDP client to answer."""
