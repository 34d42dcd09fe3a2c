"""A session's CDP websocket, relayed to its browser context and nothing else."""

import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from orchestrator.errors import AuthenticationFailed, BrowserpoolError, QuotaExceeded, SessionEnded, SessionNotFound
from orchestrator.redis_watch import REDIS_AWAY

from ..deps import AuthenticatorDep, SessionsDep
from ..websockets import ClientSocket, refuse

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/browser/sessions", tags=["cdp"])


@router.websocket("/{session_id}/cdp")
async def cdp(
    websocket: WebSocket,
    session_id: str,
    sessions: SessionsDep,
    authenticator: AuthenticatorDep,
    token: str | None = None,
) -> None:
    """Authorised by the session's own token (`?token=` in its cdp_url) or by its owner's credentials."""
    try:
        user_id = None if token is not None else (await authenticator.from_headers(websocket)).user_id
        worker = await sessions.cdp_session(session_id, user_id, token)
    except AuthenticationFailed as exc:
        await refuse(websocket, 401, str(exc))
        return
    except QuotaExceeded as exc:
        await refuse(websocket, 429, str(exc))
        return
    except SessionNotFound:
        # The same answer for an unknown id, another user's session and a wrong token.
        await refuse(websocket, 401 if token is not None else 404, "session not found or credential invalid")
        return
    except SessionEnded as exc:
        await refuse(websocket, 410, str(exc))
        return
    except BrowserpoolError as exc:
        await refuse(websocket, 503, str(exc))
        return
    except REDIS_AWAY:
        await refuse(websocket, 503, "the session store (Redis) is unreachable; retry shortly")
        return
    await websocket.accept()
    try:
        await sessions.relay_cdp(worker, session_id, ClientSocket(websocket))
    except BrowserpoolError as exc:
        await websocket.close(1011, str(exc))
    except WebSocketDisconnect:
        pass
