"""A hostile (or merely busy) tenant against the CDP relay: refusals, floods, slow reads, huge answers, races.

Each test replays what issue 17 (and 11) found and checks what the tenant or the victim would see: a
long-lived connection that keeps getting refusals stays open; a flooding socket is slowed down, then
closed with a reason, while another tenant's evaluate answers; a client that stops reading is closed
while another tenant's new page works; an answer above the bound comes back as an error that says how to get the data;
and a DELETE racing many connects leaves no socket open and no browser context behind in Chromium.
"""

import asyncio
import base64
import contextlib
import glob
import json
import os
import random
import signal
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import Daemon, make_settings, serve_daemon
from tests.support import eventually
from workers.cdp import limits as cdp_limits
from workers.cdp.limits import CdpLimits, ClientPacer
from workers.chromium.devtools import browser_endpoint

SESSIONS = "/v1/browser/sessions/"


class Cdp:
    """A bare CDP client that keeps the events and stray answers it reads past."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.next_id = 0
        self.seen: list[dict[str, Any]] = []

    async def send(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None) -> int:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        await self.socket.send(json.dumps(message))
        return self.next_id

    async def call(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None) -> dict:
        return await self.answer(await self.send(method, params, session_id))

    async def answer(self, message_id: int | None) -> dict[str, Any]:
        for early in self.seen:
            if early.get("id") == message_id and ("result" in early or "error" in early):
                self.seen.remove(early)
                return early
        while True:
            reply = json.loads(await asyncio.wait_for(self.socket.recv(), timeout=15))
            if reply.get("id") == message_id and ("result" in reply or "error" in reply):
                return reply
            self.seen.append(reply)

    async def page_session(self) -> str:
        """Attach to the session's page; the child session id."""
        targets = (await self.call("Target.getTargets"))["result"]["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        attached = await self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})
        return str(attached["result"]["sessionId"])


@contextlib.asynccontextmanager
async def _daemon(redis_url: str, prefix: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Daemon]:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path, **overrides)) as daemon:
        yield daemon


async def _evaluate(daemon: Daemon, session: dict[str, Any], headers: dict[str, str], expression: str) -> Any:
    response = await daemon.client.post(
        f"{SESSIONS}{session['session_id']}/evaluate", json={"expression": expression}, headers=headers, timeout=20
    )
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def _closed(socket: ClientConnection, timeout: float) -> tuple[int | None, str | None, list[dict[str, Any]]]:
    """Read until the server closes the socket (failing after `timeout`): (code, reason, messages read)."""
    seen: list[dict[str, Any]] = []

    async def read() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in socket:
                seen.append(json.loads(raw))

    await asyncio.wait_for(read(), timeout)
    return socket.close_code, socket.close_reason, seen


async def test_refusals_are_answered_and_never_end_the_connection(redis_url: str, prefix: str, tmp_path: Path) -> None:
    """Before: the 51st refusal closed the socket (1008), so Playwright lost long-lived connections."""
    async with _daemon(redis_url, prefix, tmp_path) as served:
        me = await served.user()
        session = await served.create(me)
        refused = [
            ("Browser.getBrowserCommandLine", {}),
            ("Browser.crash", {}),
            ("SystemInfo.getProcessInfo", {}),
            ("Target.closeTarget", {"targetId": "0" * 32}),
        ]
        async with connect(session["cdp_url"], max_size=None) as socket:
            cdp = Cdp(socket)
            ids = [await cdp.send(*refused[i % len(refused)]) for i in range(200)]
            for message_id in ids:
                reply = await cdp.answer(message_id)
                assert reply["error"]["code"] == -32000 and reply["error"]["message"], reply
            assert "product" in (await cdp.call("Browser.getVersion"))["result"]

        async with connect(session["cdp_url"], max_size=None) as socket:  # malformed messages still end it
            for _ in range(60):
                await socket.send("this is not json")
            code, reason, seen = await _closed(socket, timeout=15)
            assert code == 1008 and "malformed" in (reason or "")
            assert all(m["error"]["code"] == -32700 for m in seen)


async def test_a_flood_is_paced_then_closed_and_the_other_tenant_is_answered(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """Before: 20,000 pipelined evaluates were all relayed at once (no pacing, no close)."""
    rate, burst_s, flood_s = 100, 1.0, 3.0
    limits = {"cdp_commands_per_second": rate, "cdp_burst_seconds": burst_s, "cdp_flood_seconds": flood_s}
    async with _daemon(redis_url, prefix, tmp_path, **limits) as served:
        flooder, victim = await served.user(), await served.user()
        mine = await served.create(flooder)
        theirs = await served.create(victim)
        async with connect(mine["cdp_url"], max_size=None) as socket:
            cdp = Cdp(socket)
            child = await cdp.page_session()
            message = {"method": "Runtime.evaluate", "params": {"expression": "1+1"}, "sessionId": child}
            started = time.monotonic()

            async def flood() -> None:
                with contextlib.suppress(ConnectionClosed):
                    for n in range(20_000):
                        await socket.send(json.dumps({"id": 1000 + n, **message}))

            sender = asyncio.create_task(flood())
            try:
                answers = [await _evaluate(served, theirs, victim, "6*7") for _ in range(5)]  # during the flood
                code, reason, seen = await _closed(socket, timeout=30)
            finally:
                sender.cancel()
            elapsed = time.monotonic() - started
        assert answers == [42] * 5
        assert code == 1008 and "rate limit" in (reason or ""), (code, reason)
        results = [m for m in seen if m.get("id", 0) >= 1000]
        assert all("result" in m for m in results)  # paced, not refused: every answer is a real result
        assert len(results) <= rate * burst_s + rate * elapsed + 50, (len(results), elapsed)
        assert flood_s <= elapsed < 30
        assert (await served.client.get(SESSIONS + mine["session_id"], headers=flooder)).json()["status"] == "active"
        async with connect(mine["cdp_url"]) as again:  # only that connection was closed
            assert "result" in await Cdp(again).call("Browser.getVersion")


async def test_a_client_that_stops_reading_holds_up_no_other_tenant(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """Before: the relay's browser side waited on the unread socket for ever: the connection was never
    ended and stopped reading Chromium, which kept its output buffered in the shared browser process.
    Now the browser side only queues (it keeps releasing other tenants' pages its auto-attach paused),
    and the stalled client is closed after BROWSERPOOL_CDP_SEND_TIMEOUT."""
    async with _daemon(redis_url, prefix, tmp_path, cdp_send_timeout=3.0, warm_contexts=0) as served:
        slow, victim = await served.user(), await served.user()
        mine = await served.create(slow)
        client = await StalledClient.open(mine["cdp_url"])
        try:
            targets = await client.call(1, "Target.getTargets")
            page = next(t for t in targets["result"]["targetInfos"] if t["type"] == "page")
            attached = await client.call(2, "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})
            child = attached["result"]["sessionId"]
            auto_attach = {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True}
            await client.call(3, "Target.setAutoAttach", auto_attach)
            big = {"expression": "'x'.repeat(1 << 20)", "returnByValue": True}
            for n in range(48):  # 48 MiB of answers this client will never read
                await client.send(100 + n, "Runtime.evaluate", big, child)
            await asyncio.sleep(1)

            started = time.monotonic()
            theirs = await asyncio.wait_for(served.create(victim, viewport_width=801, viewport_height=601), 20)
            assert await _evaluate(served, theirs, victim, "innerWidth") == 801
            assert time.monotonic() - started < 10

            held = served.worker.held(mine["session_id"])
            await eventually(lambda: _no_relays(held), timeout=15)  # the unread connection was ended
        finally:
            client.close()
        assert (await served.client.get(SESSIONS + mine["session_id"], headers=slow)).json()["status"] == "active"


async def _no_relays(held: Any) -> bool:
    return not held.relays


class StalledClient:
    """A CDP client on a bare socket that can stop reading altogether (websockets' client reads on into
    memory whatever one does), with a small receive buffer so unread data backs up to the server at once."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, url: str) -> "StalledClient":
        address = urlsplit(url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (address.hostname, address.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {address.path}?{address.query} HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 101 " in head.split(b"\r\n")[0], head
        return cls(reader, writer)

    async def send(self, message_id: int, method: str, params: dict | None = None, session: str | None = None) -> None:
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        payload = json.dumps(message).encode()
        assert len(payload) < 65536
        mask = os.urandom(4)
        size = bytes([0x80 | len(payload)]) if len(payload) < 126 else bytes([0x80 | 126]) + len(payload).to_bytes(2)
        self.writer.write(b"\x81" + size + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        await self.writer.drain()

    async def call(self, message_id: int, method: str, params: dict | None = None, session: str | None = None) -> dict:
        await self.send(message_id, method, params, session)
        while True:
            reply = await asyncio.wait_for(self._receive(), 15)
            if reply.get("id") == message_id:
                return reply

    async def _receive(self) -> dict[str, Any]:
        first, second = await self.reader.readexactly(2)
        assert first == 0x81, f"expected one unfragmented text frame, got {first:#x}"
        length = second & 0x7F
        if length >= 126:
            length = int.from_bytes(await self.reader.readexactly(2 if length == 126 else 8))
        reply: dict[str, Any] = json.loads(await self.reader.readexactly(length))
        return reply

    def close(self) -> None:
        self.writer.transport.abort()


async def test_answers_and_commands_above_the_bounds_are_refused_and_the_connection_lives(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """Before: a 100 MiB evaluate result was relayed whole (339 MiB more in the daemon); any command passed."""
    mib = 1024 * 1024
    bounds = {"cdp_max_message_bytes": mib, "cdp_max_command_bytes": 64 * 1024}
    async with _daemon(redis_url, prefix, tmp_path, **bounds) as served:
        me = await served.user()
        session = await served.create(me)
        async with connect(session["cdp_url"], max_size=None) as socket:
            cdp = Cdp(socket)
            child = await cdp.page_session()
            huge = await cdp.call(
                "Runtime.evaluate", {"expression": "'x'.repeat(2 << 20)", "returnByValue": True}, child
            )
            assert "result" not in huge and huge["sessionId"] == child
            assert "BROWSERPOOL_CDP_MAX_MESSAGE_BYTES" in huge["error"]["message"]
            assert "IO.read" in huge["error"]["message"]

            fits = await cdp.call("Runtime.evaluate", {"expression": "'x'.repeat(1000)", "returnByValue": True}, child)
            assert fits["result"]["result"]["value"] == "x" * 1000

            marker = "window.__bigCommandRan = true; " + " " * (100 * 1024)
            refused = await cdp.call("Runtime.evaluate", {"expression": marker}, child)
            assert refused["error"]["code"] == -32600 and refused["sessionId"] == child
            ran = await cdp.call("Runtime.evaluate", {"expression": "window.__bigCommandRan === true"}, child)
            assert ran["result"]["result"]["value"] is False
            assert (await cdp.call("Runtime.evaluate", {"expression": "1+1"}, child))["result"]["result"]["value"] == 2

        async with connect(session["cdp_url"], max_size=None) as socket:  # past 4x the bound it is not even read
            cdp = Cdp(socket)
            child = await cdp.page_session()
            await cdp.send("Runtime.evaluate", {"expression": "'x'.repeat(5 << 20)", "returnByValue": True}, child)
            code, reason, seen = await _closed(socket, timeout=15)
            assert code == 1009 and "4 MiB" in (reason or ""), (code, reason)
            assert not any("result" in m for m in seen)
        assert (await served.client.get(SESSIONS + session["session_id"], headers=me)).json()["status"] == "active"


async def _connect_and_create(cdp_url: str, closed: list[bool]) -> None:
    """Connect, ask at once for browser contexts and a page in them, and read until the server closes."""
    try:
        async with connect(cdp_url, max_size=None, open_timeout=15) as socket:
            cdp = Cdp(socket)
            for _ in range(3):
                await cdp.send("Target.createBrowserContext")
            await cdp.send("Target.createTarget", {"url": "about:blank"})
            with contextlib.suppress(ConnectionClosed):
                async with asyncio.timeout(20):
                    async for raw in socket:
                        reply = json.loads(raw)
                        created = reply.get("result", {}).get("browserContextId")
                        if created:
                            await cdp.send("Target.createTarget", {"url": "about:blank", "browserContextId": created})
            closed.append(True)
    except (InvalidStatus, ConnectionClosed, OSError):
        closed.append(True)  # refused (410/404) or cut during the handshake: nothing was set up
    except TimeoutError:
        closed.append(False)  # still open 20 s after the session was deleted


async def _browser_contexts(endpoint: str) -> set[str]:
    """Every browser context Chromium holds, asked over its own debugging endpoint (not through the relay)."""
    async with connect(endpoint, max_size=None) as socket:
        return set((await Cdp(socket).call("Target.getBrowserContexts"))["result"]["browserContextIds"])


async def test_deleting_a_session_while_clients_connect_leaves_nothing_behind(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """Before: a relay set up while the DELETE ran registered after the close, stayed open and its
    contexts were never disposed."""
    async with _daemon(redis_url, prefix, tmp_path, warm_contexts=0, contexts_per_browser=10) as served:
        me, bystander = await served.user(), await served.user()
        slot = served.worker.browsers()[0]
        other = await served.create(bystander)
        endpoint = browser_endpoint(slot.pid or 0)
        deleted: list[str] = []
        for round_ in range(4):
            session = await served.create(me)
            deleted.append(session["session_id"])
            closed: list[bool] = []
            connects = [asyncio.create_task(_connect_and_create(session["cdp_url"], closed)) for _ in range(12)]
            await asyncio.sleep(0.01 * round_ + random.random() * 0.03)
            assert (await served.client.delete(SESSIONS + session["session_id"], headers=me)).status_code == 204
            await asyncio.gather(*connects)
            assert closed == [True] * 12, f"round {round_}: a CDP socket stayed open after the DELETE"

        live = {await slot.context_id(held) for held in slot.sessions.values()}

        async def only_live_contexts() -> bool:
            return await _browser_contexts(endpoint) == live

        await eventually(only_live_contexts, timeout=10)
        assert (await served.client.get(SESSIONS + other["session_id"], headers=bystander)).json()["status"] == "active"
        for session_id in deleted:
            assert not glob.glob(str(Path(tempfile.gettempdir()) / f"browserpool-downloads-{session_id}-*"))


async def test_a_context_the_browser_creates_after_the_delete_is_disposed_all_the_same(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """Before: the relay waited 2 s for answers after the session's end, then closed; a creation Chromium answered
    later (a loaded machine) made a context nobody knew of, left in the browser for its whole life."""
    async with _daemon(redis_url, prefix, tmp_path, warm_contexts=0) as served:
        me = await served.user()
        slot = served.worker.browsers()[0]
        session = await served.create(me)
        endpoint, browser = browser_endpoint(slot.pid or 0), slot.pid or 0
        async with connect(session["cdp_url"], max_size=None) as socket:
            cdp = Cdp(socket)
            assert "result" in await cdp.call("Browser.getVersion")  # the relay is up, through to the browser
            os.kill(browser, signal.SIGSTOP)  # the creation waits in Chromium's socket, unanswered
            try:
                await cdp.send("Target.createBrowserContext")
                delete = asyncio.create_task(served.client.delete(SESSIONS + session["session_id"], headers=me))
                await asyncio.sleep(8)  # past the close's wait for its relays and the relay's drain of answers
            finally:
                os.kill(browser, signal.SIGCONT)
            assert (await delete).status_code == 204
        held = {await slot.context_id(other) for other in slot.sessions.values()}

        async def nothing_left_over() -> bool:
            return not await _browser_contexts(endpoint) - held

        await eventually(nothing_left_over, timeout=15)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("share", "backlog", "closed"),
    [(0.9, True, False), (0.99, True, False), (1.1, False, False), (3.0, False, False), (1.1, True, True)],
)
def test_only_a_client_that_keeps_a_backlog_above_its_limit_is_closed(
    monkeypatch: pytest.MonkeyPatch, share: float, backlog: bool, closed: bool
) -> None:
    """The pacing rules on a simulated clock: a 2 s burst passes unpaced; clients under their limit, and
    clients at it that wait for their answers (no backlog: Playwright at full speed), are paced and never
    closed however long they run; one that keeps a backlog above its limit is closed after flood_seconds."""
    clock = FakeClock()
    monkeypatch.setattr(cdp_limits.time, "monotonic", clock)
    limits = CdpLimits(commands_per_second=100, burst_seconds=2, flood_seconds=20)
    pacer = ClientPacer(limits)
    assert all(pacer.admit(200, backlog) == (0.0, False) for _ in range(200))  # the burst: no wait at all
    flooded_at = None
    for _ in range(int(120 * 100 * share)):  # two minutes at `share` of the limit, waits honoured
        clock.now += 1 / (100 * share)
        wait, flooded = pacer.admit(200, backlog)
        clock.now += wait
        if flooded:
            flooded_at = clock.now - 1000
            break
    assert (flooded_at is not None) == closed, flooded_at
    if flooded_at is not None:
        assert 20 <= flooded_at < 30
