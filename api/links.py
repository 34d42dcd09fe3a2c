"""URLs the API hands out, as the client reaches this node."""

from fastapi import Request

from orchestrator import clock
from orchestrator.clock import to_datetime
from orchestrator.config import Settings
from orchestrator.models import SessionRecord
from orchestrator.profiles import save_status
from orchestrator.sessions import SessionService

from .schemas import ProxyPublic, SessionDetail, SessionProfile, listed_fields


def public_base(request: Request, settings: Settings) -> str:
    """This node's base URL as clients reach it (no trailing slash)."""
    return (settings.public_url or str(request.base_url)).rstrip("/")


def live_link_url(request: Request, settings: Settings, session_id: str, token: str, mode: str) -> str:
    """The live link's page. Its token rides in the fragment, which browsers send to no server (nor in Referer);
    the mode there only tells the page what to offer (the server holds the link's real mode)."""
    return f"{public_base(request, settings)}/live/{session_id}#token={token}&mode={mode}"


def _websocket_base(request: Request, settings: Settings) -> str:
    base = settings.public_url or str(request.base_url)
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://").rstrip("/")
    return "ws://" + base.removeprefix("http://").rstrip("/")


def session_detail(
    record: SessionRecord, request: Request, settings: Settings, sessions: SessionService
) -> SessionDetail:
    cdp_url = None
    if record.status.is_live:
        token = sessions.cdp_tokens.token_for(record.session_id)
        cdp_url = f"{_websocket_base(request, settings)}/v1/browser/sessions/{record.session_id}/cdp?token={token}"
    return SessionDetail(
        **listed_fields(record),
        cdp_url=cdp_url,
        ended_at=to_datetime(record.ended_at_ms) if record.ended_at_ms else None,
        end_reason=record.end_reason,
        profile=SessionProfile(name=record.profile, persist=record.profile_persist) if record.profile else None,
        profile_saved_at=to_datetime(record.profile_saved_at_ms) if record.profile_saved_at_ms else None,
        profile_save=save_status(record, clock.now_ms()),
        proxy=ProxyPublic(server=record.proxy_server, username=record.proxy_username) if record.proxy_server else None,
        recording_url=f"{public_base(request, settings)}{session_path(record.session_id)}/recording"
        if record.record
        else None,
        isolation=record.isolation,
    )


def session_path(session_id: str) -> str:
    return f"/v1/browser/sessions/{session_id}"
