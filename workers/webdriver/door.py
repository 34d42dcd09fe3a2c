"""A session's DevTools discovery door: what chromedriver needs to attach to a running browser (`/json/version`,
`/json/list` and one browser websocket), on a loopback port of its own, for one session only.

chromedriver's `debuggerAddress` is a bare `host:port`, so the door cannot live under a path of the API: each
WebDriver session gets a listener of its own. chromedriver drops the query of `webSocketDebuggerUrl`, so the
door's secret rides in the websocket's path. Nothing here speaks to Chromium: the websocket and both discovery
answers go through the session's CDP relay (`Relay`), whose policy table decides every message, as it does for
any other client of the session.
"""

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from orchestrator.addresses import hold_own_port, release_own_port
from orchestrator.worker import CdpClient, ClientGone

log = logging.getLogger(__name__)

Relay = Callable[[CdpClient], Awaitable[None]]  # relays one client to the session until either side closes

ASK_WAIT = 10.0  # seconds a discovery answer may take
LISTED_TYPES = {"page"}  # what /json/list shows: the session's tabs (chromedriver's window handles)


class DoorSocket:
    """The door's websocket as the relay's CdpClient."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection

    async def receive_text(self) -> str:
        try:
            message = await self.connection.recv()
        except ConnectionClosed:
            raise ClientGone() from None
        return message if isinstance(message, str) else message.decode("utf-8", errors="replace")

    async def send_text(self, data: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.connection.send(data)

    async def close(self, code: int, reason: str) -> None:
        await self.connection.close(code, reason[:120])


class OneQuestion:
    """A CdpClient that asks the relay one browser-level command, takes its answer and leaves."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.asked = False
        self.answer: dict[str, Any] | None = None
        self.answered = asyncio.Event()

    async def receive_text(self) -> str:
        if not self.asked:
            self.asked = True
            return json.dumps({"id": 1, "method": self.method, "params": {}})
        await self.answered.wait()
        raise ClientGone()

    async def send_text(self, data: str) -> None:
        message = json.loads(data)
        if message.get("id") == 1:
            self.answer = message
            self.answered.set()

    async def close(self, code: int, reason: str) -> None:
        self.answered.set()


class DiscoveryDoor:
    """One session's loopback door; `start()` binds it, `address` is the `host:port` chromedriver attaches to."""

    def __init__(self, relay: Relay, versions: dict[str, dict[str, Any]] | None = None, browser: str = "") -> None:
        """`versions` caches Browser.getVersion's answer by `browser` (the worker holding the session: one
        Chromium build per worker), so that only the first session of a worker asks it."""
        self.relay = relay
        self.versions = versions if versions is not None else {}
        self.browser = browser
        self.secret = secrets.token_urlsafe(24)
        self._server: Server | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await serve(
            self._serve_socket,
            "127.0.0.1",
            0,
            process_request=self._discover,
            max_size=None,  # the relay bounds what a client may send (workers/cdp/limits.py)
            compression=None,
            ping_interval=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        hold_own_port(self.port)  # no session's page may reach it (the egress guard refuses the pool's own ports)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            release_own_port(self.port)
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def ask(self, method: str) -> dict[str, Any]:
        """One command's result, asked through the relay (so under its policy)."""
        question = OneQuestion(method)
        relay = asyncio.ensure_future(self.relay(question))
        try:
            async with asyncio.timeout(ASK_WAIT):
                await question.answered.wait()
        finally:
            question.answered.set()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(ASK_WAIT):
                    await relay
            relay.cancel()
        answer = question.answer or {}
        if "result" not in answer:
            raise RuntimeError(f"{method} was not answered: {answer.get('error', 'no answer')}")
        result: dict[str, Any] = answer["result"]
        return result

    async def _serve_socket(self, connection: ServerConnection) -> None:
        await self.relay(DoorSocket(connection))

    async def _discover(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0].rstrip("/")
        if path == f"/devtools/browser/{self.secret}":
            return None  # the websocket upgrade
        try:
            if path == "/json/version":
                return _json(await self._version())
            if path in ("/json/list", "/json"):
                return _json(await self._list())
        except Exception as exc:  # an answer the relay refused or did not give: chromedriver reports it
            log.info("discovery %s failed: %s", path, exc)
            return _json({"error": str(exc)}, HTTPStatus.BAD_GATEWAY)
        return _json({"error": "not served here"}, HTTPStatus.NOT_FOUND)

    async def _version(self) -> dict[str, Any]:
        version = self.versions.get(self.browser)
        if version is None:
            version = self.versions[self.browser] = await self.ask("Browser.getVersion")
        return {
            "Browser": version.get("product", ""),
            "Protocol-Version": version.get("protocolVersion", "1.3"),
            "User-Agent": version.get("userAgent", ""),
            "V8-Version": version.get("jsVersion", ""),
            # chromedriver reads the Blink revision from here, in this form, to pick its protocol quirks.
            "WebKit-Version": f"537.36 ({version.get('revision', '')})",
            "webSocketDebuggerUrl": f"ws://{self.address}/devtools/browser/{self.secret}",
        }

    async def _list(self) -> list[dict[str, Any]]:
        targets = (await self.ask("Target.getTargets")).get("targetInfos", [])
        return [
            {
                "id": target["targetId"],
                "type": target["type"],
                "title": target.get("title", ""),
                "url": target.get("url", ""),
                "description": "",
                "devtoolsFrontendUrl": "",
            }
            for target in targets
            if target.get("type") in LISTED_TYPES
        ]


def _json(body: object, status: HTTPStatus = HTTPStatus.OK) -> Response:
    data = json.dumps(body).encode()
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return Response(status.value, status.phrase, headers, data)
