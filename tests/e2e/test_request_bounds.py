"""What the public listener bounds and hides: body size and arrival time, internal routes, credentials in logs."""

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import make_settings, serve_daemon
from tests.e2e.daemon_process import DaemonProcess

SESSIONS = "/v1/browser/sessions/"


async def test_an_oversized_body_is_refused_before_authentication(redis_url: str, prefix: str, tmp_path: Path) -> None:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path, max_body_bytes=64 * 1024)) as daemon:
        status, body = await _post_raw(daemon.client.base_url, 100 * 1024 * 1024, b"{")  # sends 1 byte of 100 MB
        assert status == 413 and b"larger than 65536 bytes" in body
        chunk = b"{" + b" " * (128 * 1024)  # no Content-Length at all: the bytes are counted as they come
        status, _ = await _exchange(
            daemon.client.base_url, "Transfer-Encoding: chunked", b"%x\r\n%s\r\n" % (len(chunk), chunk)
        )
        assert status == 413
        headers = await daemon.user()
        small = await daemon.client.post(SESSIONS, json={"viewport_width": 800}, headers=headers)
        assert small.status_code == 201  # an ordinary body still gets through


async def test_a_trickling_body_is_cut_off(redis_url: str, prefix: str, tmp_path: Path) -> None:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path, body_timeout=1.0)) as daemon:
        status, body = await _post_raw(daemon.client.base_url, 1000, b"{")  # never sends the other 999 bytes
        assert status == 408 and b"did not arrive within 1s" in body


async def test_serve_has_no_internal_routes_on_its_public_port(redis_url: str, prefix: str, tmp_path: Path) -> None:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path)) as daemon:
        headers = await daemon.user()
        sid = (await daemon.create(headers))["session_id"]
        secret = daemon.runtime.shared.internal_secret
        internal = {"X-Browserpool-Internal": secret}
        answer = await daemon.client.post(
            f"/internal/sessions/{sid}/evaluate", json={"expression": "1"}, headers=internal
        )
        assert answer.status_code == 404  # not even the right secret reaches a session through `serve`


async def _post_raw(base: httpx.URL, declared: int, sent: bytes) -> tuple[int, bytes]:
    """POST a body that claims `declared` bytes but sends only `sent`; the status and body of the answer."""
    return await _exchange(base, f"Content-Length: {declared}", sent)


async def _exchange(base: httpx.URL, length_header: str, sent: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(base.host, base.port)
    try:
        head = f"POST {SESSIONS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{length_header}"
        writer.write(head.encode() + b"\r\n\r\n" + sent)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.e2e
def test_cdp_tokens_never_reach_the_log(tmp_path: Path, redis_url: str) -> None:
    daemon = DaemonProcess(tmp_path, redis_url, f"test-{uuid.uuid4().hex[:8]}", f"e2e-{uuid.uuid4().hex[:6]}")
    daemon.start()
    try:
        key = _bootstrap_key(daemon)
        created = httpx.post(daemon.url + SESSIONS, json={}, headers={"X-API-Key": key}).json()
        cdp_url = created["cdp_url"]
        token = cdp_url.split("token=")[1]

        async def use_cdp() -> None:
            async with connect(cdp_url) as ws:
                await ws.send('{"id": 1, "method": "Browser.getVersion"}')
                await ws.recv()

        asyncio.run(use_cdp())
        minted = httpx.post(
            daemon.url + f"{SESSIONS}{created['session_id']}/live-links", json={}, headers={"X-API-Key": key}
        ).json()
        link = minted["url"].split("token=")[1].split("&")[0]

        async def watch() -> None:  # what the live link's page does: the session's CDP socket, by the link
            async with connect(cdp_url.split("?")[0] + f"?link={link}") as ws:
                await ws.send('{"id": 1, "method": "Target.getTargets"}')
                assert "targetInfos" in await ws.recv()

        asyncio.run(watch())
        httpx.get(daemon.url + f"/healthz?token={token}")
        httpx.get(daemon.url + f"{SESSIONS}{created['session_id']}/cdp?token={token}")  # a plain GET: 4xx, logged
        log = daemon.output()
        assert token not in log
        assert link not in log
        assert "token=[redacted]" in log
        assert "link=[redacted]" in log
    finally:
        daemon.stop()


def _bootstrap_key(daemon: DaemonProcess) -> str:
    for word in daemon.output().split():
        if word.startswith("bp_"):
            return word
    raise AssertionError(daemon.output())
