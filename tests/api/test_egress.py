"""The egress guard: what a session's pages may reach, by every road a page has (navigation, redirect,
iframe, subresource, fetch, popup, worker, websocket), with a listener that must see no connection."""

import asyncio
import ipaddress
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from orchestrator.config import Settings
from tests.conftest import Daemon, make_settings, serve_daemon, start_daemon
from workers.egress import EgressPolicy, checked_address

SESSIONS = "/v1/browser/sessions/"


class Listener:
    """A TCP port that counts every connection made to it."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def listener() -> AsyncIterator[tuple[Listener, int]]:
    listening = Listener()
    port = await listening.start()
    yield listening, port
    assert listening.server is not None
    listening.server.close()


def pages(target: str) -> dict[str, str]:
    """Pages that each try one road to `target` (http://127.0.0.1:<listener port>)."""
    ws = target.replace("http://", "ws://")
    return {
        "/iframe": f"<iframe src='{target}/iframe'></iframe>",
        "/img": f"<img src='{target}/img.png'>",
        "/fetch": f"<script>fetch('{target}/fetch').catch(() => {{}})</script>",
        "/popup": f"<script>window.open('{target}/popup')</script>",
        "/worker": f"<script>new Worker(URL.createObjectURL(new Blob([\"fetch('{target}/w')\"])))</script>",
        "/websocket": f"<script>try {{ new WebSocket('{ws}/ws') }} catch (e) {{}}</script>",
        "/ok": "<title>allowed</title>",
    }


@pytest.fixture
def origin(listener: tuple[Listener, int]) -> Iterator[str]:
    target = f"http://127.0.0.1:{listener[1]}"
    body = pages(target)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", f"{target}/redirected")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body.get(self.path, "").encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
async def served(daemon_settings: Settings) -> AsyncIterator[Daemon]:
    async with serve_daemon(daemon_settings) as daemon:
        yield daemon


async def test_no_road_reaches_a_refused_destination(
    served: Daemon, origin: str, listener: tuple[Listener, int]
) -> None:
    daemon = served
    counting, port = listener
    assert daemon.worker.egress is not None
    daemon.worker.egress.block_ports([port])  # the listener stands in for a metadata service
    me = await daemon.user()
    session = await daemon.create(me)
    sid = session["session_id"]

    refused = await daemon.client.post(
        f"{SESSIONS}{sid}/navigate", json={"url": f"http://127.0.0.1:{port}/"}, headers=me
    )
    assert refused.status_code == 403 and "refused" in refused.json()["detail"]
    for road in ("/redirect", "/iframe", "/img", "/fetch", "/popup", "/worker", "/websocket"):
        response = await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": origin + road}, headers=me)
        assert response.status_code in (200, 403), (road, response.text)
    async with connect(session["cdp_url"]) as cdp:  # a CDP client's own navigation goes the same way
        create = {"id": 1, "method": "Target.createTarget", "params": {"url": f"http://127.0.0.1:{port}/cdp"}}
        await cdp.send(json.dumps(create))
        await asyncio.wait_for(cdp.recv(), 10)
        await cdp.send('{"id": 2, "method": "Target.createTarget", "params": {"url": "file:///etc/passwd"}}')
        assert "not allowed" in await asyncio.wait_for(cdp.recv(), 10)
    await asyncio.sleep(1.5)  # give popups, workers and sockets their chance
    assert counting.connections == 0

    ok = await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": origin + "/ok"}, headers=me)
    assert ok.status_code == 200 and ok.json()["title"] == "allowed"  # the session lives on


async def test_loopback_can_be_denied(redis_url: str, prefix: str, tmp_path: Path, origin: str) -> None:
    async with start_daemon(make_settings(redis_url, prefix, tmp_path, allow_loopback=False)) as daemon:
        me = await daemon.user()
        sid = (await daemon.create(me))["session_id"]
        response = await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": origin + "/ok"}, headers=me)
        assert response.status_code == 403
        assert "loopback" in response.json()["detail"]


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "169.254.0.1",
        "::ffff:169.254.169.254",
        "fe80::1",
        "2852039166",  # 169.254.169.254 as one decimal number
        "0xa9fea9fe",  # ... in hex
        "0251.0376.0251.0376",  # ... in octal
        "metadata.google.internal",
        "0.0.0.0",
    ],
)
async def test_link_local_and_metadata_are_refused_in_every_spelling(host: str) -> None:
    address, why = await checked_address(EgressPolicy(), host, 80)
    assert address is None and why


async def test_private_ranges_follow_the_setting() -> None:
    assert (await checked_address(EgressPolicy(), "10.1.2.3", 80))[0] == ipaddress.ip_address("10.1.2.3")
    assert (await checked_address(EgressPolicy(allow_private=False), "10.1.2.3", 80))[1] == "private address"
    assert (await checked_address(EgressPolicy(allow_loopback=False), "127.0.0.1", 80))[1] == "loopback address"
