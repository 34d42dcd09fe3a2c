"""A session's CDP websocket, relayed to its browser context and nothing else."""

import logging

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from orchestrator.errors import AuthenticationFailed, BrowserpoolError, QuotaExceeded, SessionEnded, SessionNotFound
from orchestrator.worker import ClientGone

from ..deps import authenticate, bearer_of

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/browser/sessions", tags=["cdp"])


class ClientSocket:
    """Starlette's websocket as the worker's CdpClient."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def receive_text(self) -> str:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise ClientGone()
        text = message.get("text")
        if text is None:
            raw = message.get("bytes") or b""
            text = raw.decode("utf-8", errors="replace")
        return str(text)

    async def send_text(self, data: str) -> None:
        await self.websocket.send_text(data)

    async def close(self, code: int, reason: str) -> None:
        await self.websocket.close(code, reason)


async def refuse(websocket: WebSocket, code: int, detail: str) -> None:
    """Refuse before the upgrade: an HTTP answer with a JSON body where the server supports it, else 403."""
    try:
        await websocket.send_denial_response(JSONResponse({"detail": detail}, status_code=code))
    except RuntimeError:
        await websocket.close(1008, detail)


@router.websocket("/{session_id}/cdp")
async def cdp(websocket: WebSocket, session_id: str, token: str | None = None) -> None:
    """Authorised by the session's own token (`?token=` in its cdp_url) or by its owner's credentials."""
    runtime = websocket.app.state.runtime
    sessions = runtime.sessions
    try:
        user_id = None
        if token is None:
            api_key = websocket.headers.get("x-api-key")
            bearer = bearer_of(websocket.headers.get("authorization"))
            user_id = (await authenticate(runtime, bearer, api_key)).user_id
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
    await websocket.accept()
    try:
        await sessions.relay_cdp(worker, session_id, ClientSocket(websocket))
    except BrowserpoolError as exc:
        await websocket.close(1011, str(exc))
    except WebSocketDisconnect:
        pass
