"""Webhooks: every session event POSTed in order, signed, retried when the receiver fails; targets checked by
the address policy when added and again at every delivery; one slow receiver delays nobody else.

Real daemon, real Redis, receivers on 127.0.0.1. Most daemons here run with the test-only setting
BROWSERPOOL_WEBHOOKS_ALLOW_LOOPBACK (tests.conftest.make_settings sets it) so loopback receivers can be
used at all; the tests about loopback turn it off. Where a DNS answer must change over time (rebinding),
the test injects a resolver into the policy: it stands in for DNS only, and what the name resolves to at
delivery is the system's real answer.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from orchestrator.addresses import system_resolver
from orchestrator.host_spelling import Address
from tests.conftest import Daemon, make_settings, start_daemon
from tests.support import WebhookReceiver, eventually


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver(failures=2)
    yield r
    r.close()


def verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


async def test_events_reach_the_webhook_in_order_signed_and_retried(daemon: Daemon, receiver: WebhookReceiver) -> None:
    assert daemon.runtime.control is not None
    dispatcher = daemon.runtime.control.webhook_dispatcher
    me = await daemon.user()
    created = await daemon.client.post("/v1/webhooks", json={"url": receiver.url}, headers=me)
    assert created.status_code == 201
    hook = created.json()
    assert hook["secret"].startswith("whsec_")
    listed = (await daemon.client.get("/v1/webhooks", headers=me)).json()
    assert [h["webhook_id"] for h in listed] == [hook["webhook_id"]] and "secret" not in listed[0]

    sid = (await daemon.create(me))["session_id"]
    await daemon.client.delete(f"/v1/browser/sessions/{sid}", headers=me)
    await daemon.create(await daemon.user())  # another user's events never reach this webhook

    async def delivered() -> bool:
        await dispatcher.tick()
        return len(receiver.received) >= 4

    await eventually(delivered, timeout=20, interval=0.5)  # two failures first: retried after 1 s, 2 s
    assert receiver.attempts == 6
    events = [json.loads(body) for _, body in receiver.received]
    assert [(e["type"], e["session_id"]) for e in events] == [
        (t, sid) for t in ("created", "active", "closing", "ended")
    ]
    assert events[-1]["reason"] == "deleted"
    for headers, body in receiver.received:
        assert verify(hook["secret"], headers["X-Browserpool-Signature"], body)
        assert not verify("whsec_wrong", headers["X-Browserpool-Signature"], body)

    assert (await daemon.client.delete(f"/v1/webhooks/{hook['webhook_id']}", headers=me)).status_code == 204
    await daemon.create(me)
    await asyncio.sleep(0.2)
    await dispatcher.tick()
    assert len(receiver.received) == 4


async def test_webhook_targets_are_checked(daemon: Daemon) -> None:
    me = await daemon.user()
    for url in ["ftp://example.org/", "http://169.254.169.254/latest", "http://[fe80::1]/x", "not a url"]:
        response = await daemon.client.post("/v1/webhooks", json={"url": url}, headers=me)
        assert response.status_code == 422, url
    other = await daemon.user()
    mine = (await daemon.client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=me)).json()
    assert (await daemon.client.delete(f"/v1/webhooks/{mine['webhook_id']}", headers=other)).status_code == 404


class CountingReceiver:
    """A loopback endpoint that counts every connection and byte. Fast: answers each request 204 and keeps its
    payload with the time it arrived. Slow: answers 3 bytes every 2 s and never finishes."""

    def __init__(self, slow: bool = False) -> None:
        self.slow = slow
        self.connections = 0
        self.bytes = 0
        self.payloads: list[tuple[float, dict[str, str]]] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://localhost:{self.server.sockets[0].getsockname()[1]}/hook"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
            body = await reader.readexactly(length)
            self.bytes += len(head) + len(body)
            if self.slow:
                while True:
                    writer.write(b"HTT")
                    await writer.drain()
                    await asyncio.sleep(2)
            self.payloads.append((time.time(), json.loads(body)))
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        writer.close()

    def close(self) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture
async def counting() -> AsyncIterator[tuple[CountingReceiver, str]]:
    receiver = CountingReceiver()
    url = await receiver.start()
    yield receiver, url
    receiver.close()


async def test_loopback_metadata_and_the_pools_own_ports_are_refused_when_added(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    redis_port = urlsplit(redis_url).port
    async with start_daemon(make_settings(redis_url, prefix, tmp_path, webhooks_allow_loopback=False)) as daemon:
        me = await daemon.user()
        for url in ["http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x", "http://2130706433:9/"]:
            response = await daemon.client.post("/v1/webhooks", json={"url": url}, headers=me)
            assert response.status_code == 422 and "loopback" in response.text, url
    async with start_daemon(make_settings(redis_url, prefix + "b", tmp_path)) as daemon:  # loopback allowed
        me = await daemon.user()
        refused = [
            "http://2852039166/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[fd00:ec2::254]/",
            "http://100.100.100.200/",
            "http://168.63.129.16/",
            "http://metadata.google.internal/",
            f"http://127.0.0.1:{redis_port}/",  # the pool's own Redis
            f"http://localhost:{daemon.runtime.settings.port}/",  # the pool's own API
            f"http://127.0.0.1:{urlsplit(await asyncio.to_thread(daemon.worker.browsers()[0].cdp_endpoint)).port}/",
        ]
        for url in refused:
            response = await daemon.client.post("/v1/webhooks", json={"url": url}, headers=me)
            assert response.status_code == 422 and "refused" in response.text, (url, response.text)


async def test_a_name_that_rebinds_to_a_refused_address_is_not_posted_to(
    redis_url: str, prefix: str, tmp_path: Path, counting: tuple[CountingReceiver, str]
) -> None:
    """DNS rebinding: `localhost` answers a public address when the webhook is added (the injected resolver plays
    that DNS), then its real address, 127.0.0.1, at delivery; webhooks may not reach loopback (the default)."""
    receiver, url = counting
    settings = make_settings(redis_url, prefix, tmp_path, webhooks_allow_loopback=False, webhook_interval=3600)
    async with start_daemon(settings) as daemon:
        assert daemon.runtime.control is not None
        hooks, dispatcher = daemon.runtime.control.webhooks, daemon.runtime.control.webhook_dispatcher
        rebinding = {"localhost": "203.0.113.7"}  # TEST-NET-3: only ever checked, never connected to

        async def dns(host: str, port: int) -> list[Address]:
            if host in rebinding:
                return [ip_address(rebinding.pop(host))]
            return await system_resolver(host, port)

        hooks.policy = replace(hooks.policy, resolver=dns)
        me = await daemon.user()
        created = await daemon.client.post("/v1/webhooks", json={"url": url}, headers=me)
        assert created.status_code == 201, created.text
        sid = (await daemon.create(me))["session_id"]
        await daemon.client.delete(f"/v1/browser/sessions/{sid}", headers=me)

        deliveries = await dispatcher.tick(wait=5)
        assert deliveries and not any(d.ok for d in deliveries)
        await asyncio.sleep(1.2)  # past the first retry's backoff
        deliveries = await dispatcher.tick(wait=5)
        assert deliveries and not any(d.ok for d in deliveries)
        assert receiver.connections == 0 and receiver.bytes == 0

        # The control: allowed to reach loopback, the same hook's events do reach the listener, so it was
        # reachable all along and only the check at delivery kept them from it.
        hooks.policy = replace(hooks.policy, allow_loopback=True)

        async def delivered() -> bool:
            await dispatcher.tick(wait=5)
            return len(receiver.payloads) >= 4

        await eventually(delivered, timeout=15, interval=0.5)
        assert [p["type"] for _, p in receiver.payloads] == ["created", "active", "closing", "ended"]


async def test_a_refused_delete_of_someone_elses_webhook_keeps_its_cursor(
    daemon: Daemon, counting: tuple[CountingReceiver, str]
) -> None:
    """It reset the owner's delivery cursor, so their whole event history was delivered again."""
    receiver, url = counting
    assert daemon.runtime.control is not None
    dispatcher = daemon.runtime.control.webhook_dispatcher
    owner, other = await daemon.user(), await daemon.user()
    hook = (await daemon.client.post("/v1/webhooks", json={"url": url}, headers=owner)).json()
    sid = (await daemon.create(owner))["session_id"]
    await daemon.client.delete(f"/v1/browser/sessions/{sid}", headers=owner)

    async def delivered() -> bool:
        await dispatcher.tick()
        return len(receiver.payloads) >= 4

    await eventually(delivered, timeout=10, interval=0.2)
    cursor = daemon.runtime.control.webhooks.keys.webhook_cursor(hook["webhook_id"])
    redis = daemon.runtime.shared.redis
    before = await redis.get(cursor)
    refused = await daemon.client.delete(f"/v1/webhooks/{hook['webhook_id']}", headers=other)
    assert refused.status_code == 404
    assert await redis.get(cursor) == before
    for _ in range(3):
        await dispatcher.tick()
    assert len(receiver.payloads) == 4  # nothing delivered twice


async def _latencies(receiver: CountingReceiver, session_ids: set[str]) -> list[float]:
    """Seconds from each of these sessions' events to its arrival at the receiver."""
    return [at - int(p["at_ms"]) / 1000 for at, p in receiver.payloads if p["session_id"] in session_ids]


async def _bobs_latencies(daemon: Daemon, bob: dict[str, str], receiver: CountingReceiver, n: int) -> list[float]:
    mine = set()
    for _ in range(n):
        mine.add((await daemon.create(bob))["session_id"])
        await asyncio.sleep(0.4)
    await eventually(lambda: _enough(receiver, mine, 2 * n), timeout=10, interval=0.1)
    return await _latencies(receiver, mine)


async def _enough(receiver: CountingReceiver, session_ids: set[str], n: int) -> bool:
    return len(await _latencies(receiver, session_ids)) >= n


async def test_one_slow_receiver_never_delays_another_users_deliveries(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """Carol's receiver answers 3 bytes every 2 s and never finishes; Bob's still gets each event within ~1 s.
    The baseline is measured in the same run, before Carol has events (beside Alice's fast receiver)."""
    settings = make_settings(
        redis_url, prefix, tmp_path, webhook_interval=0.2, webhook_timeout=3, contexts_per_browser=12
    )
    alices, carols, bobs = CountingReceiver(), CountingReceiver(slow=True), CountingReceiver()
    urls = [await r.start() for r in (alices, carols, bobs)]
    try:
        async with start_daemon(settings) as daemon:
            alice, bob, carol = await daemon.user(), await daemon.user(), await daemon.user()
            for who, url in ((alice, urls[0]), (carol, urls[1]), (bob, urls[2])):
                assert (await daemon.client.post("/v1/webhooks", json={"url": url}, headers=who)).status_code == 201
            await daemon.create(alice)
            baseline = await _bobs_latencies(daemon, bob, bobs, 3)
            await daemon.create(carol)  # carol's receiver is the slow one: her lane is stuck from here on
            await eventually(lambda: _connected(carols), timeout=5, interval=0.05)
            slowed = await _bobs_latencies(daemon, bob, bobs, 5)
            assert carols.connections >= 1 and not carols.payloads
    finally:
        for receiver in (alices, carols, bobs):
            receiver.close()
    print(
        f"\nbob's delivery latency: baseline median {statistics.median(baseline):.3f}s "
        f"(max {max(baseline):.3f}s); beside a slow receiver median {statistics.median(slowed):.3f}s "
        f"(max {max(slowed):.3f}s)"
    )
    assert statistics.median(slowed) < 1.0 and max(slowed) < 1.5, slowed


async def _connected(receiver: CountingReceiver) -> bool:
    return receiver.connections > 0
