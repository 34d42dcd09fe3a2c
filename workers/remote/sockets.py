"""Websocket plumbing shared by the worker's internal CDP route and the public one (api/routes/cdp.py)."""

from fastapi import WebSocket
from fastapi.responses import JSONResponse

from orchestrator.worker import ClientGone


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


async def refuse(
    websocket: WebSocket, code: int, detail: str | dict[str, object], headers: dict[str, str] | None = None
) -> None:
    """Refuse before the upgrade: an HTTP answer with a JSON body (`detail`, or a whole body) and `headers` where
    the server supports it, else 403."""
    body = detail if isinstance(detail, dict) else {"detail": detail}
    try:
        await websocket.send_denial_response(JSONResponse(body, status_code=code, headers=headers))
    except RuntimeError:
        await websocket.close(1008, str(body.get("detail", ""))[:120])
