"""What the fuzzing found (BUG-1..6 of its first report), pinned by plain regression tests."""

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings, start_daemon
from tests.security.fuzz_target import (
    CHECKS,
    Target,
    schema,
)
from tests.support import WebhookReceiver

pytestmark = pytest.mark.timeout(150)


# --- what the fuzzing found, pinned ------------------------------------------------------------------------
# Each of these failed when this suite first ran (reported as BUG-1..6) and was fixed in 8ba7e67.


def conforms(target: Target, method: str, path: str, params: dict[str, str] | None = None, **request: Any) -> int:
    """Send one request by hand, hold its answer to the fuzzer's checks (FailureGroup if it fails); its status."""
    response = target.request(method, path.format(**(params or {})), **request)
    schema[path][method].Case(path_parameters=params).validate_response(response, checks=CHECKS)
    return response.status_code


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/browser/sessions/", {"timeout_seconds": 86401}),
        ("/v1/browser/sessions/{session_id}/navigate", {"url": "ftp://127.0.0.1/"}),
        ("/v1/webhooks", {"url": "https://"}),
    ],
    ids=["create-timeout-over-max", "navigate-scheme", "webhook-without-host"],
)
def test_refusals_of_schema_valid_input_are_documented_422s(target: Target, path: str, body: dict[str, Any]) -> None:
    """BUG-1: they answered {"detail": "<text>"}; the schema documents 422 as a list of {loc, msg, type}."""
    params = {"session_id": target.live_session()} if "{session_id}" in path else None
    headers = target.fresh_user() if "webhooks" in path else {}
    assert conforms(target, "POST", path, params, json=body, headers=headers) == 422


def test_a_json_body_that_is_not_utf8_is_a_documented_422(target: Target) -> None:
    """BUG-2: FastAPI's bare 400 'There was an error parsing the body', documented nowhere."""
    assert conforms(target, "POST", "/v1/api-keys", data=b"\xff", headers={"Content-Type": "application/json"}) == 422


def test_a_script_that_throws_is_a_documented_400(target: Target) -> None:
    """BUG-3: the 400 was right (README) but undocumented for POST .../evaluate."""
    path, params = "/v1/browser/sessions/{session_id}/evaluate", {"session_id": target.live_session()}
    assert conforms(target, "POST", path, params, json={"expression": "throw new Error('boom')"}) == 400


def test_navigate_to_a_url_urlsplit_cannot_parse_is_a_422(target: Target) -> None:
    """BUG-4: '//[' made urlsplit raise ValueError('Invalid IPv6 URL') in the route: a 500."""
    path = "/v1/browser/sessions/{session_id}/navigate"
    assert conforms(target, "POST", path, {"session_id": target.live_session()}, json={"url": "//["}) == 422


@pytest.mark.parametrize(
    "url",
    ["http://[", "http://a..b/", "http://" + "a" * 64 + "/", "http://\x80/", "http://127.0.0.1:8080a/"],
    ids=["ipv6", "empty-label", "64-label", "x80", "bad-port"],
)
def test_webhook_urls_that_cannot_be_checked_or_sent_to_are_422s(target: Target, url: str) -> None:
    """BUG-5: a 500 from urlsplit (ValueError) or the IDNA codec in getaddrinfo (UnicodeError); BUG-6: a port httpx
    refuses was accepted, and delivery to it raised httpx.InvalidURL."""
    assert conforms(target, "POST", "/v1/webhooks", json={"url": url}, headers=target.fresh_user()) == 422


async def test_a_stored_webhook_delivery_cannot_send_to_does_not_starve_the_others(
    redis_url: str, tmp_path: Path
) -> None:
    """BUG-6: such a hook (stored before creation refused it) made every dispatcher tick raise httpx.InvalidURL,
    so the hooks of users iterated after its owner got nothing."""
    settings_ = make_settings(redis_url, f"test-{uuid.uuid4().hex[:12]}", tmp_path, webhook_interval=3600)
    sink = WebhookReceiver()
    try:
        async with start_daemon(settings_) as daemon:  # ticked by hand below: the interval never comes
            accounts, hooks = daemon.runtime.shared.accounts, daemon.runtime.control.webhooks
            for name, url in (("mallory", "http://127.0.0.1:8080a/"), ("alice", sink.url)):
                user = await accounts.add_user(f"{name}-{uuid.uuid4().hex[:6]}", None)
                headers = {"X-API-Key": (await accounts.create_api_key(user, "t")).secret}
                await hooks.create(user.user_id, url)  # past the API's check, as a hook stored before it
                sid = (await daemon.create(headers))["session_id"]
                assert (await daemon.client.delete(f"/v1/browser/sessions/{sid}", headers=headers)).status_code == 204
            await daemon.runtime.control.webhook_dispatcher.tick()
            assert sink.received, "alice's webhook got nothing"
    finally:
        sink.close()
