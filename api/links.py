"""URLs the API hands out, as the client reaches this node."""

from fastapi import Request

from orchestrator.clock import to_datetime
from orchestrator.config import Settings
from orchestrator.models import SessionRecord
from orchestrator.sessions import SessionService

from .schemas import BrowserSessionResponse, SessionDetail


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
        **BrowserSessionResponse.of(record).model_dump(),
        cdp_url=cdp_url,
        ended_at=to_datetime(record.ended_at_ms) if record.ended_at_ms else None,
        end_reason=record.end_reason,
        recording_url=f"{http_base(request, settings)}{session_path(record.session_id)}/recording"
        if record.record
        else None,
    )


def http_base(request: Request, settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


def session_path(session_id: str) -> str:
    return f"/v1/browser/sessions/{session_id}"
