"""Webhooks: every session event POSTed in order, signed, retried when the receiver fails."""

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest

from tests.conftest import Daemon
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
        await daemon.runtime.webhook_dispatcher.tick()
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
    await daemon.runtime.webhook_dispatcher.tick()
    assert len(receiver.received) == 4


async def test_webhook_targets_are_checked(daemon: Daemon) -> None:
    me = await daemon.user()
    for url in ["ftp://example.org/", "http://169.254.169.254/latest", "http://[fe80::1]/x", "not a url"]:
        response = await daemon.client.post("/v1/webhooks", json={"url": url}, headers=me)
        assert response.status_code == 422, url
    other = await daemon.user()
    mine = (await daemon.client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=me)).json()
    assert (await daemon.client.delete(f"/v1/webhooks/{mine['webhook_id']}", headers=other)).status_code == 404
