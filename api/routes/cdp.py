"""A session's CDP websocket, relayed to its browser context and nothing else.

Three credentials open it: the session's own token (`?token=` in its cdp_url), its owner's credentials, or a
live link's token (`?link=`). The first two may ask for a live viewer's narrower mode (`?mode=view` or
`?mode=interactive`, what the dashboard's live view does); a live link's mode is the link's, whatever the
query says. An interactive viewer's connection writes `takeover_started` and `takeover_ended` to the owner's
event stream. A live link's connection is closed when the link (or the credential that minted it) is revoked
or runs out, and holds one of its session's places for live viewers while open (past the cap: 429). A refused
handshake answers with api/errors.py's mapping (status, JSON body, Retry-After), as a REST call would.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

import anyio
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from orchestrator.errors import BrowserpoolError, SessionNotFound
from orchestrator.live_links import LiveLink, LiveLinks
from orchestrator.live_viewers import ViewerLease
from orchestrator.models import SessionRecord
from orchestrator.redis_watch import REDIS_AWAY
from orchestrator.worker import CdpMode
from workers.remote.sockets import ClientSocket, refuse

from ..deps import AuthenticatorDep, CdpTotalsDep, LiveLinksDep, SessionsDep
from ..errors import answer_for

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/browser/sessions", tags=["cdp"])

LINK_CHECK_SECONDS = 2.0  # how often a live link's open connection checks it was not revoked
LINK_REFUSED = "live link invalid, expired or revoked"
VIEWER_MODES = {"view": CdpMode.VIEW, "interactive": CdpMode.INTERACTIVE}
REFUSALS: tuple[type[Exception], ...] = (BrowserpoolError, *REDIS_AWAY)  # answered as api/errors.py maps them


class LinkRefused(Exception):
    pass


@router.websocket("/{session_id}/cdp")
async def cdp(
    websocket: WebSocket,
    session_id: str,
    sessions: SessionsDep,
    authenticator: AuthenticatorDep,
    live_links: LiveLinksDep,
    totals: CdpTotalsDep,
    token: str | None = None,
    link: str | None = None,
    mode: str | None = None,
) -> None:
    """Authorised by the session's own token, its owner's credentials, or a live link (see the module).

    Every connection counts against its session owner's CDP totals (orchestrator/cdp_totals.py): past the
    owner's socket cap the handshake answers 429 with Retry-After; past their rate the messages are paced."""
    live: LiveLink | None = None
    lease: ViewerLease | None = None
    try:
        if link is not None:
            live = await live_links.resolve(session_id, link)
            if live is None:
                raise LinkRefused()
            record, worker = await sessions.cdp_target(session_id, live.user_id, None)
            granted, viewer = live.mode, f"live_link:{live.link_id}"
            lease = await live_links.viewers.admit(session_id, live.link_id)
        else:
            if mode is not None and mode not in VIEWER_MODES:
                await refuse(websocket, 400, "mode must be 'view' or 'interactive' (or left out: the full CDP)")
                return
            granted, viewer = VIEWER_MODES.get(mode or "", CdpMode.FULL), "owner"
            user_id = None if token is not None else (await authenticator.from_headers(websocket)).user_id
            record, worker = await sessions.cdp_target(session_id, user_id, token)
        connection = await totals.open(record.user_id)
    except LinkRefused:
        await refuse(websocket, 401, LINK_REFUSED)
        return
    except SessionNotFound:
        # The same answer for an unknown id, another user's session and a wrong token.
        await refuse(websocket, 401 if token is not None else 404, "session not found or credential invalid")
        return
    except REFUSALS as exc:
        if lease is not None:  # admitted as a viewer, then refused (the owner's CDP totals): its place is free again
            with contextlib.suppress(Exception):
                await lease.release()
        await refuse(websocket, *answer_for(exc))  # the one mapping of api/errors.py, headers (Retry-After) included
        return
    try:
        await websocket.accept()
        relay = sessions.relay_cdp(worker, session_id, connection.paced(ClientSocket(websocket)), granted)
        takeover = record if granted is CdpMode.INTERACTIVE else None
        await _relay(websocket, relay, live_links, (live, lease) if live and lease else None, takeover, viewer)
    finally:
        with anyio.CancelScope(shield=True):
            await connection.close()
            if lease is not None:
                with contextlib.suppress(Exception):  # else it lapses
                    await lease.release()


async def _relay(
    websocket: WebSocket,
    relay: Awaitable[None],
    live_links: LiveLinks,
    live: tuple[LiveLink, ViewerLease] | None,
    takeover: SessionRecord | None,
    viewer: str,
) -> None:
    """Relay until either side closes (or the live link ends), announcing an interactive viewer's takeover."""
    if takeover is not None:
        await _announce(live_links, takeover, True, viewer)
    try:
        if live is None:
            await relay
        else:
            await _while_link_holds(websocket, relay, live_links, *live)
    except BrowserpoolError as exc:
        await websocket.close(1011, str(exc))
    except WebSocketDisconnect:
        pass
    finally:
        if takeover is not None:
            with anyio.CancelScope(shield=True):  # the viewer left, whatever ended the relay
                await _announce(live_links, takeover, False, viewer)


async def _while_link_holds(
    websocket: WebSocket, relay: Awaitable[None], live_links: LiveLinks, live: LiveLink, lease: ViewerLease
) -> None:
    task = asyncio.ensure_future(relay)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=LINK_CHECK_SECONDS)
            if done:
                task.result()
                return
            if not await live_links.still_valid(live):
                break
            await lease.renew()
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    with contextlib.suppress(Exception):
        await websocket.close(1008, LINK_REFUSED)


async def _announce(live_links: LiveLinks, record: SessionRecord, started: bool, viewer: str) -> None:
    try:
        await live_links.announce_takeover(record, started, viewer)
    except Exception:  # the viewer still sees the page; the event is what is lost
        log.warning("could not record the takeover event of session %s", record.session_id, exc_info=True)
