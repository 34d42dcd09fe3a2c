"""The egress guard: what a session's pages may reach, by every road a page has (navigation, redirect,
iframe, subresource, fetch, popup, worker, websocket), with listeners that must see no connection.

Real daemon, real Chromium, real sockets on 127.0.0.0/8 only. Metadata addresses with a listener of their
own are tested in tests/security/test_hostile_egress.py (a network namespace); here a navigation to them
is refused before any connection is tried, so no packet leaves this machine.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from orchestrator.config import Settings
from tests.conftest import Daemon, make_settings, serve_daemon, start_daemon
from tests.support import free_port, serving, url_of

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
    """Pages that each try one road to `target` (http://127.0.0.1:<port>)."""
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


@asynccontextmanager
async def site(body: dict[str, str], redirect_to: str) -> AsyncIterator[str]:
    """A loopback web site serving `body` by path; /redirect answers 302 to `redirect_to`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", redirect_to)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body.get(self.path, "").encode())

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as server:
        yield url_of(server)


@pytest.fixture
async def origin(listener: tuple[Listener, int]) -> AsyncIterator[str]:
    target = f"http://127.0.0.1:{listener[1]}"
    async with site(pages(target), f"{target}/redirected") as url:
        yield url


@pytest.fixture
async def served(daemon_settings: Settings) -> AsyncIterator[Daemon]:
    async with serve_daemon(daemon_settings) as daemon:
        yield daemon


async def navigate(daemon: Daemon, me: dict[str, str], sid: str, url: str) -> httpx.Response:
    return await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": url}, headers=me)


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

    refused = await navigate(daemon, me, sid, f"http://127.0.0.1:{port}/")
    assert refused.status_code == 403 and "refused" in refused.json()["detail"]
    for road in ("/redirect", "/iframe", "/img", "/fetch", "/popup", "/worker", "/websocket"):
        response = await navigate(daemon, me, sid, origin + road)
        assert response.status_code in (200, 403), (road, response.text)
    async with connect(session["cdp_url"]) as cdp:  # a CDP client's own navigation goes the same way
        create = {"id": 1, "method": "Target.createTarget", "params": {"url": f"http://127.0.0.1:{port}/cdp"}}
        await cdp.send(json.dumps(create))
        await asyncio.wait_for(cdp.recv(), 10)
        await cdp.send('{"id": 2, "method": "Target.createTarget", "params": {"url": "file:///etc/passwd"}}')
        assert "not allowed" in await asyncio.wait_for(cdp.recv(), 10)
    await asyncio.sleep(1.5)  # give popups, workers and sockets their chance
    assert counting.connections == 0

    ok = await navigate(daemon, me, sid, origin + "/ok")
    assert ok.status_code == 200 and ok.json()["title"] == "allowed"  # the session lives on


async def test_loopback_can_be_denied(redis_url: str, prefix: str, tmp_path: Path, origin: str) -> None:
    async with start_daemon(make_settings(redis_url, prefix, tmp_path, allow_loopback=False)) as daemon:
        me = await daemon.user()
        sid = (await daemon.create(me))["session_id"]
        response = await navigate(daemon, me, sid, origin + "/ok")
        assert response.status_code == 403
        assert "loopback" in response.json()["detail"]


METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/",
    "http://169.254.43518/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://168.63.129.16/machine?comp=goalstate",
    "http://100.100.100.200/latest/meta-data/",
    "http://192.0.0.192/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "https://169.254.169.254/",  # through a CONNECT tunnel
    "ws://169.254.169.254/",
]


async def test_metadata_navigations_answer_403_in_every_spelling_and_by_redirect(daemon: Daemon) -> None:
    me = await daemon.user()
    sid = (await daemon.create(me))["session_id"]
    for url in METADATA_URLS:
        if url.startswith("ws:"):
            continue  # not navigable; the guard's own test covers websockets
        response = await navigate(daemon, me, sid, url)
        assert response.status_code == 403, (url, response.status_code, response.text)
        detail = response.json()["detail"]
        assert "refused" in detail and ("metadata" in detail or "link-local" in detail), detail
    async with site({}, "http://2852039166/latest/meta-data/") as redirector:
        response = await navigate(daemon, me, sid, redirector + "/redirect")
        assert response.status_code == 403 and "metadata" in response.json()["detail"], response.text


async def test_one_sessions_refusal_never_labels_anothers_failure(daemon: Daemon) -> None:
    """The refusal is decided for the navigating session's own URLs: A's refusal of 127.0.0.1:<blocked> must not
    turn B's plain network failure at 127.0.0.1:<nothing listening> into a 403 (it did: memory keyed by host)."""
    blocked, dead = free_port(), free_port()
    assert daemon.worker.egress is not None
    daemon.worker.egress.block_ports([blocked])
    alice, bob = await daemon.user(), await daemon.user()
    a, b = (await daemon.create(alice))["session_id"], (await daemon.create(bob))["session_id"]
    assert (await navigate(daemon, alice, a, f"http://127.0.0.1:{blocked}/")).status_code == 403
    failed = await navigate(daemon, bob, b, f"http://127.0.0.1:{dead}/")
    assert failed.status_code == 502 and "refused:" not in failed.json()["detail"], failed.text


def serve_on_own_port(settings: Settings) -> AbstractAsyncContextManager[Daemon]:
    return serve_daemon(settings, on_own_port=True)


def lockout_page(api: str, victim: str) -> str:
    """A page that tries the victim's name with wrong passwords at the pool's own API (five lock it out)."""
    return f"""<title>attack</title><script>
    window.results = [];
    for (let i = 0; i < 8; i++) {{
      fetch('{api}/v1/auth/token', {{method: 'POST', mode: 'no-cors',
        headers: {{'Content-Type': 'application/x-www-form-urlencoded'}},
        body: 'username={victim}&password=wrong' + i}})
        .then(() => window.results.push('sent'), () => window.results.push('failed'));
    }}</script>"""


async def cdp_call(cdp: ClientConnection, message: dict[str, Any]) -> dict[str, Any]:
    await cdp.send(json.dumps(message))
    while True:
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(cdp.recv(), 15))
        if reply.get("id") == message["id"]:
            return reply


async def test_pages_never_reach_the_pools_own_ports_whatever_loopback_says(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, port=free_port(), allow_loopback=True)
    api, redis_port = f"http://127.0.0.1:{settings.port}", urlsplit(redis_url).port
    async with serve_on_own_port(settings) as daemon:
        victim_name = "victim-" + prefix
        await daemon.user(victim_name, "correct horse battery")
        me = await daemon.user()
        session = await daemon.create(me)
        sid = session["session_id"]
        own = [f"{api}/healthz", f"http://localhost:{settings.port}/", f"http://127.0.0.7:{settings.port}/"]
        debugging = urlsplit(await asyncio.to_thread(daemon.worker.browsers()[0].cdp_endpoint)).port  # its browser
        others = [f"http://[::1]:{settings.port}/", f"http://127.0.0.1:{redis_port}/", f"http://127.0.0.1:{debugging}/"]
        for url in [*own, *others]:
            response = await navigate(daemon, me, sid, url)
            assert response.status_code == 403 and "the pool's own port" in response.json()["detail"], url

        async with site({"/attack": lockout_page(api, victim_name)}, api) as attacker:
            assert (await navigate(daemon, me, sid, attacker + "/attack")).status_code == 200
            for _ in range(50):
                results = (
                    await daemon.client.post(
                        f"{SESSIONS}{sid}/evaluate", json={"expression": "window.results"}, headers=me
                    )
                ).json()["result"]
                if len(results) == 8:
                    break
                await asyncio.sleep(0.1)
            assert results == ["failed"] * 8
            login = await daemon.client.post(
                "/v1/auth/token", data={"username": victim_name, "password": "correct horse battery"}
            )
            assert login.status_code == 200, login.text  # not locked out: no attempt reached the API

            async with connect(session["cdp_url"]) as cdp:  # a CDP client's navigation is refused the same way
                targets = await cdp_call(cdp, {"id": 1, "method": "Target.getTargets"})
                page = next(t for t in targets["result"]["targetInfos"] if t["type"] == "page")
                attach = {"targetId": page["targetId"], "flatten": True}
                attached = await cdp_call(cdp, {"id": 2, "method": "Target.attachToTarget", "params": attach})
                on_page = {"sessionId": attached["result"]["sessionId"], "method": "Page.navigate"}
                for n, url in enumerate([*own, f"{attacker}/attack"], start=3):
                    result = (await cdp_call(cdp, {"id": n, **on_page, "params": {"url": url}}))["result"]
                    assert ("errorText" in result) is (url in own), (url, result)
