"""Per-session upstream proxies: a session's traffic, by every road a page has, leaves through its own proxy.

Real proxies from PyPI on loopback (proxy.py for HTTP with Basic auth, asyncio-socks-server for SOCKS5 with
username/password), a real daemon and Chromium, and a target site that looks up which process connected to it.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright
from redis.asyncio import Redis

from browserpool_client import AsyncClient
from tests.conftest import Daemon, make_settings, serve_daemon, start_daemon
from tests.proxy_servers import PeerSite, ProxyProcess, start_http_proxy, start_socks_proxy
from tests.support import eventually

SESSIONS = "/v1/browser/sessions/"
PASSWORD_HTTP = "pw-http-7c1e9a"
PASSWORD_SOCKS = "pw-socks-52bd04"
DIRECT = os.getpgid(0)  # the egress guard runs in this process: a direct connection is ours


@pytest.fixture(scope="module")
def http_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    proxy = start_http_proxy(tmp_path_factory.mktemp("http-proxy"), "alice", PASSWORD_HTTP)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def socks_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    proxy = start_socks_proxy(tmp_path_factory.mktemp("socks-proxy"), "bob", PASSWORD_SOCKS)
    yield proxy
    proxy.stop()


@pytest.fixture
async def target() -> AsyncIterator[PeerSite]:
    site = await PeerSite().start()
    yield site
    await site.stop()


def via(proxy: ProxyProcess, password: str, username: str | None = None, **extra: Any) -> dict[str, Any]:
    user = username or ("alice" if proxy.scheme == "http" else "bob")
    return {"proxy": {"server": proxy.server, "username": user, "password": password, **extra}}


async def navigate(daemon: Daemon, headers: dict[str, str], sid: str, url: str) -> Any:
    return await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": url}, headers=headers)


async def evaluate(daemon: Daemon, headers: dict[str, str], sid: str, expression: str) -> Any:
    response = await daemon.client.post(f"{SESSIONS}{sid}/evaluate", json={"expression": expression}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def test_every_road_of_a_page_goes_through_its_proxy_while_another_session_goes_direct(
    daemon: Daemon, http_proxy: ProxyProcess, socks_proxy: ProxyProcess, target: PeerSite
) -> None:
    headers = await daemon.user()
    for proxy, password in ((http_proxy, PASSWORD_HTTP), (socks_proxy, PASSWORD_SOCKS)):
        target.seen.clear()
        proxied = await daemon.create(headers, **via(proxy, password))
        direct = await daemon.create(headers)
        assert proxied["proxy"] == {"server": proxy.server, "username": "alice" if proxy is http_proxy else "bob"}
        assert direct["proxy"] is None
        sid, other = proxied["session_id"], direct["session_id"]
        answers = await asyncio.gather(
            navigate(daemon, headers, sid, target.url + "/page?p"),
            navigate(daemon, headers, other, target.url + "/page?d"),
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert await evaluate(daemon, headers, sid, "window.done") == "ok"
        assert await evaluate(daemon, headers, other, "window.done") == "ok"
        await evaluate(daemon, headers, sid, "window.open(location.origin + '/popup') && null")
        for _ in range(100):
            if target.groups("/popup"):
                break
            await asyncio.sleep(0.05)
        for path in ("/page?p", "/img.svg?p", "/fetch?p", "/ws?p", "/popup"):
            assert target.groups(path) == [proxy.group], (path, target.seen)
        for path in ("/page?d", "/img.svg?d", "/fetch?d", "/ws?d"):
            assert target.groups(path) == [DIRECT], (path, target.seen)
        for s in (sid, other):  # proxy.py logs a connection when it ends
            await daemon.client.delete(f"{SESSIONS}{s}", headers=headers)
        await eventually(lambda p=proxy: _logged(p, target.port))  # type: ignore[misc]


async def _logged(proxy: ProxyProcess, port: int) -> bool:
    return proxy.carried("127.0.0.1", port)


async def test_contexts_a_cdp_client_creates_go_through_the_session_proxy_and_their_own_proxy_is_refused(
    daemon_settings: Any, http_proxy: ProxyProcess, target: PeerSite
) -> None:
    async with serve_daemon(daemon_settings) as daemon:
        key = (await daemon.user())["X-API-Key"]
        async with AsyncClient(str(daemon.client.base_url), api_key=key) as pool:  # the proxy as one URL
            session = await pool.create(proxy=f"http://alice:{PASSWORD_HTTP}@127.0.0.1:{http_proxy.port}")
        assert session.proxy == {"server": http_proxy.server, "username": "alice"}
        async with async_playwright() as p:
            browser = await p.chromium.connect_over_cdp(session.cdp_url or "")
            try:
                context = await browser.new_context()
                page = await context.new_page()
                await page.goto(target.url + "/cdp-context")
                assert target.groups("/cdp-context") == [http_proxy.group]
                with pytest.raises(PlaywrightError) as refused:
                    await browser.new_context(proxy={"server": http_proxy.server, "username": "alice", "password": "x"})
                assert "create the session with the proxy instead" in str(refused.value)
                page = browser.contexts[0].pages[0]  # the session's own context still works
                await page.goto(target.url + "/own-context")
                assert target.groups("/own-context") == [http_proxy.group]
            finally:
                await browser.close()


async def test_a_wrong_password_answers_502_naming_the_proxy_and_the_session_stays_usable(
    daemon: Daemon, http_proxy: ProxyProcess, socks_proxy: ProxyProcess, target: PeerSite
) -> None:
    headers = await daemon.user()
    for proxy in (http_proxy, socks_proxy):
        created = await daemon.create(headers, **via(proxy, "not-the-password", bypass="localhost"))
        sid = created["session_id"]
        failed = await navigate(daemon, headers, sid, target.url + "/refused")
        assert failed.status_code == 502, failed.text
        detail = failed.json()["detail"]
        assert proxy.server in detail and "refused the credentials" in detail
        assert "not-the-password" not in failed.text
        assert target.groups("/refused") == []
        bypassed = await navigate(daemon, headers, sid, f"http://localhost:{target.port}/bypassed")
        assert bypassed.status_code == 200, bypassed.text
        assert target.groups("/bypassed")[-1] == DIRECT


async def test_an_unreachable_proxy_answers_502(daemon: Daemon, target: PeerSite) -> None:
    headers = await daemon.user()
    created = await daemon.create(headers, proxy={"server": "socks5://127.0.0.1:9", "username": "u", "password": "p"})
    failed = await navigate(daemon, headers, created["session_id"], target.url + "/x")
    assert failed.status_code == 502
    assert "proxy socks5://127.0.0.1:9 is unreachable" in failed.json()["detail"]


@pytest.mark.parametrize(
    ("proxy", "complaint"),
    [
        ({"server": "http://169.254.169.254:80"}, "cloud metadata address"),
        ({"server": "socks5://metadata.google.internal:1080"}, "cloud metadata name"),
        ({"server": "http://[fe80::1]:3128"}, "link-local"),
        ({"server": "ftp://proxy.example:21"}, "must start with one of"),
        ({"server": "http://u:p@proxy.example:80"}, "as username and password"),
        ({"server": "http://proxy.example:99999"}, "not a valid URL"),
        ({"server": "http://proxy.example:0"}, "port must be 1-65535"),
        ({"server": "socks5://proxy.example:0"}, "port must be 1-65535"),
        ({"server": "http://proxy.example:80/path"}, "without a path"),
        ({"server": "http://proxy.example:80", "username": "u", "password": "p\r\nX: y"}, "control characters"),
        ({"server": "http://proxy.example:80", "password": "lonely-secret"}, "needs a username"),
        ({"server": "http://proxy.example:80", "username": "u" * 300}, "at most 255"),
    ],
)
async def test_unusable_proxies_are_refused_at_create(daemon: Daemon, proxy: dict[str, Any], complaint: str) -> None:
    headers = await daemon.user()
    response = await daemon.client.post(SESSIONS, json={"proxy": proxy}, headers=headers)
    assert response.status_code == 422, response.text
    assert complaint in response.text
    for secret in ("lonely-secret", "p\r\nX: y", "p\\r\\nX: y"):
        assert secret not in response.text
    listed = await daemon.client.get(SESSIONS, headers=headers)
    assert listed.json()["total_count"] == 0


async def test_the_upstream_address_is_checked_when_connecting(
    redis_url: str, prefix: str, tmp_path: Path, http_proxy: ProxyProcess, target: PeerSite
) -> None:
    """`localhost` passes at create (a name); the guard resolves it when connecting, and loopback is refused."""
    settings = make_settings(redis_url, prefix, tmp_path, allow_loopback=False, warm_contexts=0)
    async with start_daemon(settings) as daemon:
        headers = await daemon.user()
        server = f"http://localhost:{http_proxy.port}"
        created = await daemon.create(headers, proxy={"server": server, "username": "alice", "password": "x"})
        failed = await navigate(daemon, headers, created["session_id"], "http://proxied.example/")
        assert failed.status_code == 502, failed.text
        assert f"proxy {server} is refused: loopback address" in failed.json()["detail"]
    assert not http_proxy.carried("proxied.example", 80)


async def test_the_password_appears_in_no_response_log_event_metric_or_redis_value(
    daemon: Daemon,
    http_proxy: ProxyProcess,
    target: PeerSite,
    redis: Redis,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    headers = await daemon.user()
    seen: list[str] = []
    created = await daemon.client.post(SESSIONS, json=via(http_proxy, PASSWORD_HTTP), headers=headers)
    sid = created.json()["session_id"]
    bad = await daemon.create(headers, **via(http_proxy, PASSWORD_HTTP + "-wrong"))
    seen += [created.text, str(bad)]
    seen.append((await navigate(daemon, headers, sid, target.url + "/page?x")).text)
    seen.append((await navigate(daemon, headers, bad["session_id"], target.url + "/page?y")).text)
    seen.append((await daemon.client.get(f"{SESSIONS}{sid}", headers=headers)).text)
    seen.append((await daemon.client.get(SESSIONS, headers=headers)).text)
    seen.append((await daemon.client.get("/metrics", headers=headers)).text)
    for s in (sid, bad["session_id"]):
        await daemon.client.delete(f"{SESSIONS}{s}", headers=headers)
    async for key in redis.scan_iter(f"{prefix}*"):
        kind = await redis.type(key)
        seen.append(repr(key))
        if kind == "hash":
            seen.append(repr(await redis.hgetall(key)))
        elif kind == "string":
            seen.append(repr(await redis.get(key)))
        elif kind == "stream":
            seen.append(repr(await redis.xrange(key)))
        elif kind == "zset":
            seen.append(repr(await redis.zrange(key, 0, -1)))
        elif kind in ("list", "set"):
            seen.append(repr(await (redis.lrange(key, 0, -1) if kind == "list" else redis.smembers(key))))
    seen += [r.getMessage() + repr(r.args) + str(r.exc_info) for r in caplog.records]
    everything = "\n".join(seen)
    assert sid in everything and http_proxy.server in everything  # the dump holds the session and its proxy
    assert PASSWORD_HTTP not in everything


async def test_fifty_sessions_on_two_proxies_never_mix(
    redis_url: str,
    prefix: str,
    tmp_path: Path,
    http_proxy: ProxyProcess,
    socks_proxy: ProxyProcess,
    target: PeerSite,
) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, browsers=2, contexts_per_browser=25, warm_contexts=0)
    async with start_daemon(settings) as daemon:
        headers = await daemon.user()
        proxies = [(http_proxy, PASSWORD_HTTP), (socks_proxy, PASSWORD_SOCKS)]
        gate = asyncio.Semaphore(10)

        async def one(n: int) -> tuple[int, str]:
            proxy, password = proxies[n % 2]
            async with gate:
                created = await daemon.create(headers, **via(proxy, password))
                answer = await navigate(daemon, headers, created["session_id"], f"{target.url}/n{n}")
                assert answer.status_code == 200, answer.text
                return n, created["session_id"]

        opened = await asyncio.gather(*(one(n) for n in range(50)))
        for n, _ in opened:
            assert target.groups(f"/n{n}") == [proxies[n % 2][0].group], n
        await asyncio.gather(*(daemon.client.delete(f"{SESSIONS}{sid}", headers=headers) for _, sid in opened))
