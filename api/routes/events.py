"""The caller's session lifecycle events, as Server-Sent Events."""

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from orchestrator.clock import to_datetime
from orchestrator.store import SessionStore
from orchestrator.stream_leases import StreamLease

from ..deps import CurrentUser, EventStreamsDep, StoreDep
from ..schemas import ErrorBody, SessionEvent

router = APIRouter(prefix="/v1/browser/sessions", tags=["browser sessions"])

BLOCK_MS = 2000  # how long one read waits; the loop then checks the client is still there


async def _lease(user: CurrentUser, leases: EventStreamsDep) -> StreamLease:
    """Taken before the answer starts, so a user at the limit gets a plain 429."""
    return await leases.acquire(user.user_id)


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={429: {"model": ErrorBody, "description": "Too many event streams open for this user"}},
    summary="Stream your sessions' lifecycle events",
)
async def session_events(
    user: CurrentUser,
    store: StoreDep,
    lease: Annotated[StreamLease, Depends(_lease)],
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Events `created`, `active`, `closing`, `expiring`, `takeover_started` / `takeover_ended` (a human's
    interactive live view connected or left), `download` (with `name` and `size_bytes`, when a download
    completes) and `ended` (with `reason`), from now on, or after
    `Last-Event-ID` when a client reconnects."""
    try:
        async for event in _events(user.user_id, store, lease, request, last_event_id):
            yield event
    finally:
        with anyio.CancelScope(shield=True):  # a client that left cancels the stream: give the place back anyway
            await lease.release()


async def _events(
    user_id: str, store: SessionStore, lease: StreamLease, request: Request, last_event_id: str | None
) -> AsyncIterator[ServerSentEvent]:
    stream = store.events  # orchestrator/events.py: the stream's one reader
    after = last_event_id or await stream.newest_id(user_id)
    while not await request.is_disconnected():
        await lease.renew()
        for entry in await stream.wait_after(user_id, after, BLOCK_MS):
            after = entry.id
            event = SessionEvent(
                type=entry.type,
                session_id=entry.session_id,
                status=entry.status,
                reason=entry.reason or None,
                at=to_datetime(entry.at_ms),
                name=entry.name or None,
                size_bytes=entry.size_bytes,
            )
            yield ServerSentEvent(id=entry.id, event=event.type, data=event.model_dump(mode="json"))
