"""Relays one client's CDP websocket to its own connection to the browser, through a CdpScope.

Client to browser: messages are read ahead into a ClientInbox (a burst's worth at most), paced out
of it by CdpLimits' rate limits, checked for shape, and put to the scope, whose verdict is forwarded,
answered or refused. A client that keeps the inbox full at its limit for long is closed. A refusal
is an answer, never a fault of the client; only malformed messages count towards closing.

Browser to client: responses are matched to their command by their first bytes and passed on
undecoded unless the scope rewrites their result; events go through the scope. Everything for the
client goes through a ClientOutbox, so a client that reads slowly never holds up the browser side.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from orchestrator.worker import CdpClient
from workers.cdp import wire
from workers.cdp.in_flight import InFlight, Pending
from workers.cdp.inbox import ClientInbox
from workers.cdp.limits import MIB, CdpLimits, ClientPacer, too_large
from workers.cdp.outbox import ClientOutbox
from workers.cdp.scope import CdpScope, Json

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
REFUSED = -32000
MAX_PROTOCOL_ERRORS = 50  # malformed messages (never refusals) before the connection is closed
DRAIN_SECONDS = 2.0  # after an end: how long commands already sent may still be answered
# ... and how long a context creation already sent may: its context is disposed only once its id is known
# (a loaded Chromium can take seconds to answer one).
CREATION_DRAIN_SECONDS = 30.0
FLUSH_SECONDS = 1.0  # after an end: how long the client may take to receive its last answers
CLOSE_SECONDS = 5.0  # how long closing the client's socket may take
UNREADABLE_FACTOR = 4  # a browser message this many times the bound is not even read: the connection ends
MESSAGE_TOO_BIG = 1009
MAX_CLOSE_REASON = 120
# Answered {} by the policy and never forwarded; from a client the relay was given `on_client_close` for (the
# session's own, not a live viewer), it also ends the session: closing a browser of one's own ends it.
CLOSES_SESSION = "Browser.close"
CLIENT_CLOSED = "session closed: its client closed the browser (Browser.close)"


BROWSER_LOST = "the session's browser went away (it crashed); read the session's status and reconnect if it is active"


class CdpRelay:
    def __init__(
        self,
        client: CdpClient,
        endpoint: str,
        scope: CdpScope,
        on_activity: Callable[[], Awaitable[None]],
        limits: CdpLimits | None = None,
        on_client_close: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.on_client_close = on_client_close  # the client sent Browser.close: end its session
        self.endpoint = endpoint
        self.scope = scope
        self.on_activity = on_activity
        self.limits = limits or CdpLimits()
        self._pacer = ClientPacer(self.limits)
        burst = self.limits.burst_seconds
        self._inbox = ClientInbox(
            client, int(self.limits.commands_per_second * burst), int(self.limits.bytes_per_second * burst)
        )
        self._outbox = ClientOutbox(client, self.limits.client_buffer_bytes, self.limits.send_timeout, self.end)
        self._in_flight = InFlight()
        self._malformed = 0
        self._browser: ClientConnection | None = None
        self._closed = asyncio.Event()  # an end was asked for
        self._stopped = asyncio.Event()  # the browser connection is closed: nothing more reaches Chromium
        self._client_gone = False
        self.close_reason: tuple[int, str] | None = None
        self.browser_lost = False  # the browser side closed under the relay (not by an end)

    async def run(self) -> None:
        writer = asyncio.create_task(self._outbox.run())
        try:
            if not self._closed.is_set():  # a relay ended before it started never reaches the browser
                await self._relay()
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            self.end(1011, f"the session's browser cannot take CDP connections: {exc}")
        finally:
            self._stopped.set()
            if not self._client_gone:
                await self._outbox.flush(FLUSH_SECONDS)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        await close_client(self.client, *(self.close_reason or (1000, "relay closed")))

    def end(self, code: int, reason: str) -> None:
        """Close the relay (the session ended, the client flooded or stopped reading); the first reason wins."""
        if self.close_reason is None:
            self.close_reason = (code, reason)
        self._closed.set()

    async def wait_stopped(self) -> None:
        """Until the relay's browser connection is closed (commands already sent have been answered)."""
        await self._stopped.wait()

    async def _relay(self) -> None:
        # Chromium's messages are read whole (up to twice their size in memory for a moment); past this bound
        # one is not read at all, and the connection cannot go on without it.
        unreadable = self.limits.max_message_bytes * UNREADABLE_FACTOR
        async with connect(self.endpoint, max_size=unreadable, ping_interval=None, compression=None) as browser:
            self._browser = browser
            from_browser = asyncio.create_task(self._from_browser())
            from_client = asyncio.create_task(self._from_client())
            ended = asyncio.create_task(self._closed.wait())
            tasks = (from_browser, from_client, ended)
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                from_client.cancel()  # nothing new reaches the browser from here on
                await self._drain(from_browser)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, from_browser: asyncio.Task[None]) -> None:
        """Let commands already sent be answered, so what they created is recorded (and later disposed)."""
        in_flight = self._in_flight
        for done, seconds in ((in_flight.answered, DRAIN_SECONDS), (in_flight.created, CREATION_DRAIN_SECONDS)):
            if from_browser.done() or done.is_set():
                continue
            answered = asyncio.create_task(done.wait())
            await asyncio.wait((from_browser, answered), timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
            answered.cancel()
        if not in_flight.created.is_set() and not from_browser.done():
            unanswered = in_flight.creations()
            log.warning("%d context creations unanswered %.0f s after the end", unanswered, CREATION_DRAIN_SECONDS)

    # --- client -> browser -------------------------------------------------------------------

    async def _from_client(self) -> None:
        reader = asyncio.create_task(self._inbox.fill())
        try:
            while (taken := await self._inbox.take()) is not None:
                raw, backlogged = taken
                await self.on_activity()
                wait, flooded = self._pacer.admit(len(raw), backlogged)
                if flooded:
                    self.end(1008, self.limits.flood_reason)
                    return
                if wait > 0:
                    await asyncio.sleep(wait)  # once the inbox is full, the client's socket stays unread
                if self._closed.is_set():  # ended meanwhile: nothing new reaches the browser, cancelled or not
                    return
                await self._handle_client(raw)
                if self._malformed > MAX_PROTOCOL_ERRORS:
                    self.end(1008, "too many malformed CDP messages")
                    return
            self._client_gone = True
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _handle_client(self, raw: str) -> None:
        if len(raw) > self.limits.max_command_bytes:
            client_id, session_id = wire.command_address(raw)
            bound = self.limits.max_command_bytes
            text = f"a CDP message of {len(raw)} bytes is above this pool's bound of {bound}; send data in parts"
            self._malformed_reply(client_id, session_id, text)
            return
        try:
            message = wire.loads(raw)
        except ValueError:
            self._malformed_reply(None, None, "message is not JSON", PARSE_ERROR)
            return
        if not isinstance(message, dict):
            self._malformed_reply(None, None, "message must be a JSON object")
            return
        client_id, method = message.get("id"), message.get("method")
        params, session_id = message.get("params", {}), message.get("sessionId")
        if not isinstance(client_id, int) or isinstance(client_id, bool) or not isinstance(method, str):
            self._malformed_reply(None, None, "a command needs an integer id and a method")
            return
        if not isinstance(params, dict) or not (session_id is None or isinstance(session_id, str)):
            self._malformed_reply(client_id, None, "params must be an object and sessionId a string")
            return
        verdict = self.scope.command(method, params, session_id)
        if verdict.error is not None:
            self._reply_error(client_id, session_id, REFUSED, verdict.error)  # a refusal: the client did no wrong
        elif verdict.result is not None:
            self._outbox.put(wire.dumps(_with_session({"id": client_id, "result": verdict.result}, session_id)))
            if method == CLOSES_SESSION and self.on_client_close is not None:
                self.end(1000, CLIENT_CLOSED)  # the answer goes out first, then the socket closes
                self.on_client_close()
        else:
            pending = Pending(client_id, session_id, verdict.after)
            await self._send_browser(verdict.method or method, verdict.params or {}, session_id, pending)

    async def _send_browser(self, method: str, params: Json, session_id: str | None, pending: Pending) -> None:
        assert self._browser is not None
        upstream_id = self._in_flight.sent(method, pending)
        message = _with_session({"id": upstream_id, "method": method, "params": params}, session_id)
        await self._browser.send(wire.dumps(message))

    def _malformed_reply(
        self, client_id: int | None, session_id: str | None, text: str, code: int = INVALID_REQUEST
    ) -> None:
        self._malformed += 1
        self._reply_error(client_id, session_id, code, text)

    def _reply_error(self, client_id: int | None, session_id: str | None, code: int, text: str) -> None:
        message = _with_session({"id": client_id, "error": {"code": code, "message": text}}, session_id)
        self._outbox.put(wire.dumps(message))

    # --- browser -> client -------------------------------------------------------------------

    async def _from_browser(self) -> None:
        assert self._browser is not None
        try:
            while True:
                await self._handle_browser(await self._browser.recv(decode=False))
        except ConnectionClosed as closed:
            if closed.sent is not None and closed.sent.code == MESSAGE_TOO_BIG:
                unreadable = self.limits.max_message_bytes * UNREADABLE_FACTOR // MIB
                self.end(MESSAGE_TOO_BIG, f"the browser sent a message above {unreadable} MiB; fetch data in parts")
        if self.close_reason is None:
            self.browser_lost = True
            self.close_reason = (1011, BROWSER_LOST)

    def in_flight(self) -> list[str]:
        """The client's commands sent to the browser and not answered yet (at a crash: what was in flight)."""
        return self._in_flight.client_methods()

    @property
    def recent(self) -> list[str]:
        """The methods the client last sent to the browser, newest last (for a crash's attribution)."""
        return list(self._in_flight.recent)

    async def _handle_browser(self, raw: bytes) -> None:
        upstream_id = wire.response_id(raw)
        if upstream_id is not None:
            self._answer(upstream_id, raw, None)
            return
        message = wire.loads(raw)
        if "id" in message:  # a response in a layout the shortcut does not know
            self._answer(message["id"], raw, message)
            return
        if len(raw) > self.limits.max_message_bytes:
            bound = self.limits.max_message_bytes
            log.warning("dropped a %d-byte %s event (above %d bytes)", len(raw), message.get("method"), bound)
            return
        verdict = self.scope.event(message.get("method", ""), message.get("params", {}), message.get("sessionId"))
        for method, params, session_id in verdict.upstream:
            await self._send_browser(method, params, session_id, Pending(None, session_id, None))
        if verdict.forward:
            self._outbox.put(wire.dumps(message))

    def _answer(self, upstream_id: Any, raw: bytes, message: Json | None) -> None:
        """Pass the browser's answer to the client that asked, under the client's id."""
        pending = self._in_flight.answer(upstream_id)
        if pending is None or pending.client_id is None:
            return
        if len(raw) > self.limits.max_message_bytes:
            self._reply_error(pending.client_id, pending.session_id, REFUSED, too_large(len(raw), self.limits))
            return
        if pending.after is None and message is None:
            self._outbox.put(wire.with_id(raw, pending.client_id))
            return
        message = message if message is not None else wire.loads(raw)
        if "result" in message and pending.after is not None:
            message["result"] = pending.after(message["result"])
        message["id"] = pending.client_id
        self._outbox.put(wire.dumps(message))


def _with_session(message: Json, session_id: str | None) -> Json:
    if session_id is not None:
        message["sessionId"] = session_id
    return message


async def close_client(client: CdpClient, code: int, reason: str) -> None:
    """Close a client's socket, bounded in time: a client that reads nothing cannot hold the close up."""
    reason = reason.encode()[:MAX_CLOSE_REASON].decode(errors="ignore")  # the websocket limit is 123 bytes
    try:
        async with asyncio.timeout(CLOSE_SECONDS):
            await client.close(code, reason)
    except Exception:  # the client may be gone already, or not reading at all
        log.debug("client socket already closed")
