"""Live links: mint, list and revoke a shareable live view of one session (its page: routes/dashboard.py)."""

from typing import Any

from fastapi import APIRouter, Request, Response, status

from orchestrator.clock import to_datetime
from orchestrator.errors import InvalidInput, LiveLinkNotFound
from orchestrator.worker import CdpMode

from ..deps import CurrentCredential, CurrentUser, LiveLinksDep, SessionsDep, SettingsDep
from ..links import live_link_url
from ..live_link_schemas import LiveLinkCreate, LiveLinkCreated, LiveLinkPublic
from ..schemas import ErrorBody

router = APIRouter(prefix="/v1/browser/sessions", tags=["live links"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown session, or another user's"}
}


@router.post(
    "/{session_id}/live-links",
    status_code=status.HTTP_201_CREATED,
    response_model=LiveLinkCreated,
    responses={
        **NOT_FOUND,
        409: {"model": ErrorBody, "description": "The session is still starting"},
        410: {"model": ErrorBody, "description": "The session has ended"},
        429: {"model": ErrorBody, "description": "The session or the user holds as many working links as allowed"},
    },
    summary="Mint a live link: a page that shows (and, interactive, lets someone drive) the session",
)
async def create_live_link(
    session_id: str,
    body: LiveLinkCreate,
    user: CurrentUser,
    credential: CurrentCredential,
    sessions: SessionsDep,
    live_links: LiveLinksDep,
    settings: SettingsDep,
    request: Request,
) -> LiveLinkCreated:
    """The link works without signing in, for this one session and mode only, until `expires_at` (the session's
    end if sooner), or until it, or the credential that minted it, is revoked."""
    if body.ttl_seconds > settings.live_link_max_ttl:
        raise InvalidInput(f"ttl_seconds must be at most {settings.live_link_max_ttl}", loc=("body", "ttl_seconds"))
    record = await sessions.get(user.user_id, session_id)
    mode = CdpMode.INTERACTIVE if body.interactive else CdpMode.VIEW
    issued = await live_links.mint(record, mode, body.ttl_seconds, credential)
    return LiveLinkCreated(
        link_id=issued.link.link_id,
        url=live_link_url(request, settings, session_id, issued.token, mode.value),
        interactive=body.interactive,
        expires_at=to_datetime(issued.link.expires_at_ms),
    )


@router.get(
    "/{session_id}/live-links",
    response_model=list[LiveLinkPublic],
    responses=NOT_FOUND,
    summary="List the session's working live links (without their tokens), with their open viewers",
)
async def list_live_links(
    session_id: str, user: CurrentUser, sessions: SessionsDep, live_links: LiveLinksDep
) -> list[LiveLinkPublic]:
    """Links that still open something, soonest end first; none once the session has ended."""
    record = await sessions.get(user.user_id, session_id)
    return [
        LiveLinkPublic(
            link_id=link.link_id,
            interactive=link.mode is CdpMode.INTERACTIVE,
            created_at=to_datetime(link.created_at_ms),
            expires_at=to_datetime(link.expires_at_ms),
            viewers=link.viewers,
            api_key_id=link.api_key_id,
        )
        for link in await live_links.listing(record)
    ]


@router.delete(
    "/{session_id}/live-links/{link_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorBody, "description": "Unknown session or link (or already expired or revoked)"}},
    summary="Revoke a live link: it opens nothing from now on, and its open views close",
)
async def revoke_live_link(
    session_id: str, link_id: str, user: CurrentUser, sessions: SessionsDep, live_links: LiveLinksDep
) -> Response:
    await sessions.get(user.user_id, session_id)
    if not await live_links.revoke(session_id, link_id):
        raise LiveLinkNotFound(link_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
