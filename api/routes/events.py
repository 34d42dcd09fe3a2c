"""The caller's session lifecycle events, as Server-Sent Events."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from orchestrator.clock import to_datetime

from ..deps import CurrentUser, RuntimeDep
from ..schemas import SessionEvent

router = APIRouter(prefix="/v1/browser/sessions", tags=["browser sessions"])

BLOCK_MS = 2000  # how long one read waits; the loop then checks the client is still there


@router.get("/events", response_class=EventSourceResponse, summary="Stream your sessions' lifecycle events")
async def session_events(
    user: CurrentUser,
    runtime: RuntimeDep,
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Events `created`, `active`, `closing`, `expiring` and `ended` (with `reason`), from now on, or after
    `Last-Event-ID` when a client reconnects."""
    store = runtime.store
    after = last_event_id or await store.last_event_id(user.user_id)
    while not await request.is_disconnected():
        for event_id, fields in await store.events(user.user_id, after, BLOCK_MS):
            after = event_id
            event = SessionEvent(
                type=fields["type"],
                session_id=fields["session_id"],
                status=fields["status"],
                reason=fields.get("reason") or None,
                at=to_datetime(int(fields["at_ms"])),
            )
            yield ServerSentEvent(id=event_id, event=event.type, data=event.model_dump(mode="json"))
