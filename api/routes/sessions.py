"""Browser sessions: create, list, read, keep alive, close."""

from typing import Any

from fastapi import APIRouter, Request, Response, status

from ..deps import CurrentUser, MetricsDep, SessionsDep, SettingsDep
from ..links import session_detail
from ..schemas import (
    BrowserSessionListResponse,
    BrowserSessionResponse,
    ErrorBody,
    SessionCreate,
    SessionDetail,
)

router = APIRouter(prefix="/v1/browser/sessions", tags=["browser sessions"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown session, or another user's"}
}


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionDetail,
    responses={
        404: {"model": ErrorBody, "description": "Unknown profile (a read-only one must exist)"},
        409: {"model": ErrorBody, "description": "Another session persists into the profile"},
        503: {"model": ErrorBody, "description": "The pool is full or unavailable"},
    },
    summary="Create a browser session",
)
async def create_session(
    body: SessionCreate,
    user: CurrentUser,
    sessions: SessionsDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    request: Request,
) -> SessionDetail:
    with metrics.session_start.time():
        record = await sessions.create(user.user_id, body.request(), gave_up=request.is_disconnected)
    return session_detail(record, request, settings, sessions)


@router.get("/", response_model=BrowserSessionListResponse, summary="List Browser Sessions")
async def list_browser_sessions(user: CurrentUser, sessions: SessionsDep) -> Response:
    """List active browser sessions for the user"""
    records = await sessions.list_live(user.user_id)
    items = [BrowserSessionResponse.of(r) for r in records]
    listing = BrowserSessionListResponse(sessions=items, total_count=len(items))
    # Already a validated model: serialise it once here rather than have FastAPI validate it again.
    return Response(listing.model_dump_json(), media_type="application/json")


@router.get("/{session_id}", response_model=SessionDetail, responses=NOT_FOUND, summary="Get a session")
async def get_session(
    session_id: str, user: CurrentUser, sessions: SessionsDep, settings: SettingsDep, request: Request
) -> SessionDetail:
    record = await sessions.get(user.user_id, session_id)
    return session_detail(record, request, settings, sessions)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND, summary="Close a session")
async def close_session(session_id: str, user: CurrentUser, sessions: SessionsDep) -> Response:
    await sessions.close(user.user_id, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{session_id}/keepalive",
    response_model=SessionDetail,
    responses={**NOT_FOUND, 410: {"model": ErrorBody, "description": "The session has ended"}},
    summary="Push a session's deadline out by its timeout",
)
async def keepalive(
    session_id: str, user: CurrentUser, sessions: SessionsDep, settings: SettingsDep, request: Request
) -> SessionDetail:
    record = await sessions.keepalive(user.user_id, session_id)
    return session_detail(record, request, settings, sessions)


@router.post(
    "/{session_id}/profile/save",
    response_model=SessionDetail,
    responses={
        **NOT_FOUND,
        409: {"model": ErrorBody, "description": "The session persists into no profile, or is not active"},
        413: {"model": ErrorBody, "description": "The state is larger than BROWSERPOOL_PROFILE_MAX_BYTES"},
    },
    summary="Save a persisting session's state into its profile now (a checkpoint)",
)
async def save_profile(
    session_id: str, user: CurrentUser, sessions: SessionsDep, settings: SettingsDep, request: Request
) -> SessionDetail:
    record = await sessions.save_profile(user.user_id, session_id)
    return session_detail(record, request, settings, sessions)
