"""Relays one client's CDP websocket to its own connection to the browser, through a CdpScope."""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from orchestrator.worker import CdpClient, ClientGone

from .cdp_scope import CdpScope, Json

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
REFUSED = -32000
MAX_PROTOCOL_ERRORS = 50


@dataclass
class _Pending:
    client_id: int | None  # None: a request the relay made on its own behalf
    session_id: str | None
    after: Callable[[Json], Json] | None


class CdpRelay:
    def __init__(
        self, client: CdpClient, endpoint: str, scope: CdpScope, on_activity: Callable[[], Awaitable[None]]
    ) -> None:
        self.client = client
        self.endpoint = endpoint
        self.scope = scope
        self.on_activity = on_activity
        self._pending: dict[int, _Pending] = {}
        self._next_id = 1
        self._errors = 0
        self._browser: ClientConnection | None = None
        self._closed = asyncio.Event()
        self.close_reason: tuple[int, str] | None = None

    async def run(self) -> None:
        async with connect(self.endpoint, max_size=None, ping_interval=None, compression=None) as browser:
            self._browser = browser
            pumps = [asyncio.create_task(self._from_client()), asyncio.create_task(self._from_browser())]
            closer = asyncio.create_task(self._closed.wait())
            try:
                await asyncio.wait([*pumps, closer], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (*pumps, closer):
                    task.cancel()
                await asyncio.gather(*pumps, closer, return_exceptions=True)
        code, reason = self.close_reason or (1000, "relay closed")
        try:
            await self.client.close(code, reason)
        except Exception:  # the client may be gone already
            log.debug("client socket already closed")

    def end(self, code: int, reason: str) -> None:
        """Close the relay from outside (the session ended)."""
        self.close_reason = (code, reason)
        self._closed.set()

    # --- client -> browser -------------------------------------------------------------------

    async def _from_client(self) -> None:
        while True:
            try:
                raw = await self.client.receive_text()
            except ClientGone:
                return
            await self.on_activity()
            await self._handle_client(raw)
            if self._errors > MAX_PROTOCOL_ERRORS:
                self.end(1008, "too many malformed or refused messages")
                return

    async def _handle_client(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            await self._reply_error(None, None, PARSE_ERROR, "message is not JSON")
            return
        if not isinstance(message, dict):
            await self._reply_error(None, None, INVALID_REQUEST, "message must be a JSON object")
            return
        client_id, method = message.get("id"), message.get("method")
        params, session_id = message.get("params", {}), message.get("sessionId")
        if not isinstance(client_id, int) or isinstance(client_id, bool) or not isinstance(method, str):
            await self._reply_error(None, None, INVALID_REQUEST, "a command needs an integer id and a method")
            return
        if not isinstance(params, dict) or not (session_id is None or isinstance(session_id, str)):
            await self._reply_error(client_id, None, INVALID_REQUEST, "params must be an object")
            return
        verdict = self.scope.command(method, params, session_id)
        if verdict.error is not None:
            await self._reply_error(client_id, session_id, REFUSED, verdict.error)
        elif verdict.result is not None:
            await self._send_client(_with_session({"id": client_id, "result": verdict.result}, session_id))
        else:
            await self._send_browser(
                method, verdict.params or {}, session_id, _Pending(client_id, session_id, verdict.after)
            )

    async def _send_browser(self, method: str, params: Json, session_id: str | None, pending: _Pending) -> None:
        assert self._browser is not None
        upstream_id = self._next_id
        self._next_id += 1
        self._pending[upstream_id] = pending
        message = _with_session({"id": upstream_id, "method": method, "params": params}, session_id)
        await self._browser.send(json.dumps(message))

    async def _reply_error(self, client_id: int | None, session_id: str | None, code: int, text: str) -> None:
        self._errors += 1
        await self._send_client(_with_session({"id": client_id, "error": {"code": code, "message": text}}, session_id))

    # --- browser -> client -------------------------------------------------------------------

    async def _from_browser(self) -> None:
        assert self._browser is not None
        try:
            async for raw in self._browser:
                await self._handle_browser(json.loads(raw))
        except ConnectionClosed:
            pass
        if self.close_reason is None:
            self.close_reason = (1011, "the browser went away")

    async def _handle_browser(self, message: Json) -> None:
        if "id" in message:
            pending = self._pending.pop(message["id"], None)
            if pending is None or pending.client_id is None:
                return
            if "result" in message and pending.after is not None:
                message["result"] = pending.after(message["result"])
            message["id"] = pending.client_id
            await self._send_client(message)
            return
        verdict = self.scope.event(message.get("method", ""), message.get("params", {}), message.get("sessionId"))
        for method, params, session_id in verdict.upstream:
            await self._send_browser(method, params, session_id, _Pending(None, session_id, None))
        if verdict.forward:
            await self._send_client(message)

    async def _send_client(self, message: Any) -> None:
        try:
            await self.client.send_text(json.dumps(message))
        except Exception:
            self._closed.set()


def _with_session(message: Json, session_id: str | None) -> Json:
    if session_id is not None:
        message["sessionId"] = session_id
    return message
