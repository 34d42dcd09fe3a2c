"""Per client address limits on what arrives without a valid credential (issue 22, finding 7).

Before: /healthz, /readyz, /openapi.json, /ui, /live/... and CDP handshakes with a bad token had no limit
per address at all: any number of them a minute, from anyone.
"""

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from api.client_address import client_address, trusted_networks
from browserpool.compose import build_app
from tests.conftest import Daemon, make_settings, serve_daemon
from tests.security.rate_window import clear_of_a_minute_boundary

SESSIONS = "/v1/browser/sessions/"
Clients = Callable[[str], httpx.AsyncClient]


@contextlib.asynccontextmanager
async def _daemon(redis_url: str, prefix: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[Any, Clients]]:
    """A daemon reached through its ASGI app, and a way to call it from any client address."""
    app = build_app(make_settings(redis_url, prefix, tmp_path, **overrides))
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))

        def client_from(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            client = httpx.AsyncClient(transport=transport, base_url="http://browserpool.test")
            stack.push_async_callback(client.aclose)
            return client

        await clear_of_a_minute_boundary()
        yield app.state.runtime, client_from


async def _user(runtime: Any) -> dict[str, str]:
    user = await runtime.shared.accounts.add_user(f"user-{uuid.uuid4().hex[:8]}", None)
    return {"X-API-Key": (await runtime.shared.accounts.create_api_key(user, "test")).secret}


def _refused(response: httpx.Response) -> bool:
    return (
        response.status_code == 429
        and 0 < int(response.headers["retry-after"]) <= 60
        and "without a valid credential" in response.json()["detail"]
    )


async def test_anonymous_requests_past_the_limit_get_429_and_other_addresses_are_served(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with _daemon(redis_url, prefix, tmp_path, ip_rate_limit=5) as (runtime, client_from):
        me = await _user(runtime)
        hostile, other = client_from("198.51.100.7"), client_from("198.51.100.8")
        for _ in range(50):  # requests with a valid credential are the per-user limit's, not counted here
            assert (await other.get(SESSIONS, headers=me)).status_code == 200
        answers = [(await hostile.get("/healthz")).status_code for _ in range(5)]
        assert answers == [200] * 5
        for path in ("/healthz", "/readyz", "/openapi.json", "/ui", "/live/" + "0" * 32):
            assert _refused(await hostile.get(path)), path
        assert _refused(await hostile.get(SESSIONS, headers=me))  # the address is refused, whatever it sends
        assert (await other.get("/healthz")).status_code == 200  # another address has its own count
        assert (await other.get(SESSIONS, headers=me)).status_code == 200


async def test_failed_credentials_count_and_past_the_limit_even_a_right_key_is_refused(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with _daemon(redis_url, prefix, tmp_path, ip_rate_limit=3) as (runtime, client_from):
        me = await _user(runtime)
        guesser = client_from("203.0.113.50")
        wrong = [{"X-API-Key": f"bp_{n:016x}_guess"} for n in range(4)] + [{"Authorization": "Bearer guess"}]
        answers = [(await guesser.get(SESSIONS, headers=headers)) for headers in wrong]
        assert [a.status_code for a in answers[:4]] == [401] * 4
        assert _refused(answers[4])
        assert _refused(await guesser.get(SESSIONS, headers=me))  # a guess that would have been right learns nothing
        assert (await client_from("203.0.113.51").get(SESSIONS, headers=me)).status_code == 200


async def test_cdp_handshakes_with_a_bad_token_are_counted_per_address(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path, ip_rate_limit=3)) as served:
        await clear_of_a_minute_boundary()
        me = await served.user()
        session = await served.create(me)
        base = session["cdp_url"].split("?")[0]
        statuses = []
        for n in range(4):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"{base}?token=wrong{n}"):
                    pass
            statuses.append(refused.value.response.status_code)
        assert statuses == [401] * 4
        with pytest.raises(InvalidStatus) as refused:
            async with connect(session["cdp_url"]):  # the right token, from the same address: refused
                pass
        response = refused.value.response
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
        assert "without a valid credential" in json.loads(bytes(response.body))["detail"]
        assert (await served.client.get(SESSIONS, headers=me)).status_code == 429  # REST too, from there


async def test_x_forwarded_for_is_believed_from_trusted_proxies_only(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    async with _daemon(redis_url, prefix, tmp_path, ip_rate_limit=2) as (_, client_from):
        direct = client_from("198.51.100.20")  # no trusted proxies: the header is the client's own word
        answers = [await direct.get("/healthz", headers={"X-Forwarded-For": f"192.0.2.{n}"}) for n in range(3)]
        assert [a.status_code for a in answers[:2]] == [200, 200] and _refused(answers[2])

    trusted = {"ip_rate_limit": 2, "trusted_proxies": "10.1.0.0/16, 10.2.0.9"}
    async with _daemon(redis_url, prefix + "-proxied", tmp_path, **trusted) as (_, client_from):
        proxy = client_from("10.1.4.4")

        def via(chain: str) -> dict[str, str]:
            return {"X-Forwarded-For": chain}

        assert (await proxy.get("/healthz", headers=via("192.0.2.1"))).status_code == 200
        assert (await proxy.get("/healthz", headers=via("192.0.2.1"))).status_code == 200
        assert _refused(await proxy.get("/healthz", headers=via("192.0.2.1")))
        assert (await proxy.get("/healthz", headers=via("192.0.2.2"))).status_code == 200  # another client
        # A client naming someone else before itself: the proxy appended the real one, and that one counts.
        assert _refused(await proxy.get("/healthz", headers=via("192.0.2.77, 192.0.2.1")))
        # Through two trusted proxies: the first address that is not one of them is the client.
        assert (await proxy.get("/healthz", headers=via("192.0.2.3, 10.2.0.9"))).status_code == 200
        assert (await client_from("10.1.4.5").get("/healthz", headers=via("192.0.2.3"))).status_code == 200
        assert _refused(await client_from("10.1.4.5").get("/healthz", headers=via("192.0.2.3, 10.1.9.9")))


def test_client_addresses_are_read_carefully() -> None:
    none: tuple = ()
    proxies = trusted_networks("10.0.0.0/8,::1")

    def of(peer: str, *forwarded: str, trusted: tuple = proxies) -> str | None:
        headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
        return client_address({"client": (peer, 1), "headers": headers}, trusted)

    assert of("2001:db8:1:2::1") == of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"  # a host's whole /64
    assert of("::ffff:192.0.2.9") == "192.0.2.9"
    assert of("192.0.2.9", "198.51.100.1", trusted=none) == "192.0.2.9"
    assert of("10.0.0.1", "198.51.100.1:5555") == "198.51.100.1"
    assert of("::1", "[2001:db8::5]:443") == "2001:db8::/64"
    assert of("10.0.0.1", "198.51.100.1", "10.0.0.2") == "198.51.100.1"  # two headers read as one list
    assert of("10.0.0.1", "not-an-address, 10.0.0.3") == "10.0.0.3"  # garbage stops the walk at the last good hop
    assert of("10.0.0.1", "") == "10.0.0.1"
    assert client_address({"headers": []}, proxies) is None


def test_a_bad_trusted_proxy_setting_is_refused_at_start() -> None:
    from orchestrator.config import Settings

    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        Settings(trusted_proxies="10.0.0.0/33")


async def test_the_default_leaves_the_test_suites_loopback_traffic_alone(daemon: Daemon) -> None:
    for _ in range(100):
        assert (await daemon.client.get("/healthz")).status_code == 200
    assert daemon.runtime.settings.ip_rate_limit == 600
