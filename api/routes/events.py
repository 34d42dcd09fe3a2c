"""The caller's session lifecycle events, as Server-Sent Events."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from orchestrator.clock import to_datetime

from ..deps import CurrentUser, StoreDep
from ..schemas import SessionEvent

router = APIRouter(prefix="/v1/browser/sessions", tags=["browser sessions"])

BLOCK_MS = 2000  # how long one read waits; the loop then checks the client is still there


@router.get("/events", response_class=EventSourceResponse, summary="Stream your sessions' lifecycle events")
async def session_events(
    user: CurrentUser,
    store: StoreDep,
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Events `created`, `active`, `closing`, `expiring` and `ended` (with `reason`), from now on, or after
    `Last-Event-ID` when a client reconnects."""
    stream = store.events  # orchestrator/events.py: the stream's one reader
    after = last_event_id or await stream.newest_id(user.user_id)
    while not await request.is_disconnected():
        for entry in await stream.wait_after(user.user_id, after, BLOCK_MS):
            after = entry.id
            event = SessionEvent(
                type=entry.type,
                session_id=entry.session_id,
                status=entry.status,
                reason=entry.reason or None,
                at=to_datetime(entry.at_ms),
            )
            yield ServerSentEvent(id=entry.id, event=event.type, data=event.model_dump(mode="json"))
