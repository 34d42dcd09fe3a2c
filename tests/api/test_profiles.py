"""Profiles: log in once, resume in later sessions; one writer; read-only sessions; uploads and downloads in
Playwright's own storage-state format; limits and bad input. Real Redis, real Chromium, a local login site."""

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from orchestrator.config import Settings
from tests.conftest import Daemon, make_settings, serve_daemon, start_daemon
from tests.login_site import WHO, login_site
from tests.support import eventually
from workers.chromium.find import ensure_chromium

SESSIONS = "/v1/browser/sessions/"
PROFILES = "/v1/profiles"


@pytest.fixture(scope="module")
def login() -> Iterator[str]:
    with login_site() as url:
        yield url


async def _navigate(daemon: Daemon, me: dict[str, str], sid: str, url: str) -> None:
    response = await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": url}, headers=me)
    assert response.status_code == 200, response.text


async def _who(daemon: Daemon, me: dict[str, str], sid: str, login: str) -> list[str]:
    """Who the site sees signed in (the cookie) and what its localStorage holds, in a session."""
    await _navigate(daemon, me, sid, login + "/")
    response = await daemon.client.post(f"{SESSIONS}{sid}/evaluate", json={"expression": WHO}, headers=me)
    result: list[str] = response.json()["result"]
    return result


async def _detail(daemon: Daemon, me: dict[str, str], sid: str) -> dict[str, Any]:
    detail: dict[str, Any] = (await daemon.client.get(SESSIONS + sid, headers=me)).json()
    return detail


async def _state(daemon: Daemon, me: dict[str, str], name: str) -> dict[str, Any]:
    response = await daemon.client.get(f"{PROFILES}/{name}/state", headers=me)
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


def _sid_cookie(state: dict[str, Any]) -> str | None:
    return next((c["value"] for c in state["cookies"] if c["name"] == "sid"), None)


async def test_log_in_once_then_every_later_session_starts_signed_in(daemon: Daemon, login: str) -> None:
    me = await daemon.user()
    first = await daemon.create(me, profile={"name": "shop-login", "persist": True})
    assert first["profile"] == {"name": "shop-login", "persist": True}
    assert first["profile_save"] == "pending"
    await _navigate(daemon, me, first["session_id"], login + "/login?user=alice")
    assert (await daemon.client.delete(SESSIONS + first["session_id"], headers=me)).status_code == 204

    ended = await _detail(daemon, me, first["session_id"])  # the close waited for the save
    assert ended["profile_save"] == "saved" and ended["profile_saved_at"] is not None
    listed = (await daemon.client.get(PROFILES, headers=me)).json()
    assert listed["total_count"] == 1
    (profile,) = listed["profiles"]
    assert profile["name"] == "shop-login" and profile["in_use_by"] is None
    assert profile["cookies"] == 1 and profile["origins"] == 1 and profile["size_bytes"] > 0

    # A read-only session starts signed in, with the page on about:blank; what it changes is never written back.
    reader = await daemon.create(me, profile={"name": "shop-login"})
    assert reader["profile"] == {"name": "shop-login", "persist": False} and reader["profile_save"] is None
    page = await daemon.client.post(
        f"{SESSIONS}{reader['session_id']}/evaluate", json={"expression": "location.href"}, headers=me
    )
    assert page.json()["result"] == "about:blank"
    assert await _who(daemon, me, reader["session_id"], login) == ["alice", "alice"]
    await _navigate(daemon, me, reader["session_id"], login + "/login?user=mallory")
    assert await _who(daemon, me, reader["session_id"], login) == ["mallory", "mallory"]
    await daemon.client.delete(SESSIONS + reader["session_id"], headers=me)
    assert _sid_cookie(await _state(daemon, me, "shop-login")) == "token-alice"

    # The next persisting session resumes too, and its checkpoint is saved while it lives on.
    again = await daemon.create(me, profile={"name": "shop-login", "persist": True})
    assert await _who(daemon, me, again["session_id"], login) == ["alice", "alice"]
    await _navigate(daemon, me, again["session_id"], login + "/login?user=bob")
    saved = await daemon.client.post(f"{SESSIONS}{again['session_id']}/profile/save", headers=me)
    assert saved.status_code == 200 and saved.json()["status"] == "active"
    assert saved.json()["profile_saved_at"] is not None
    assert _sid_cookie(await _state(daemon, me, "shop-login")) == "token-bob"
    info = (await daemon.client.get(f"{PROFILES}/shop-login", headers=me)).json()
    assert info["in_use_by"] == again["session_id"]


async def test_one_writer_at_a_time_and_any_number_of_readers(daemon: Daemon) -> None:
    me = await daemon.user()
    writer = await daemon.create(me, profile={"name": "p1", "persist": True})
    second = await daemon.client.post(SESSIONS, json={"profile": {"name": "p1", "persist": True}}, headers=me)
    assert second.status_code == 409
    assert second.json()["session_id"] == writer["session_id"] and writer["session_id"] in second.json()["detail"]
    readers = [await daemon.create(me, profile={"name": "p1"}) for _ in range(2)]
    assert all(r["status"] == "active" for r in readers)
    assert (await daemon.client.delete(f"{PROFILES}/p1", headers=me)).status_code == 409
    upload = await daemon.client.put(f"{PROFILES}/p1", json={"cookies": [], "origins": []}, headers=me)
    assert upload.status_code == 409

    await daemon.client.delete(SESSIONS + writer["session_id"], headers=me)
    assert (await daemon.create(me, profile={"name": "p1", "persist": True}))["status"] == "active"
    unknown = await daemon.client.post(SESSIONS, json={"profile": {"name": "nope"}}, headers=me)
    assert unknown.status_code == 404 and unknown.json() == {"detail": "profile not found"}


async def test_the_reaper_saves_a_session_that_went_idle(
    redis_url: str, prefix: str, tmp_path: Path, login: str
) -> None:
    async with start_daemon(make_settings(redis_url, prefix, tmp_path, idle_timeout=2)) as daemon:
        me = await daemon.user()
        session = await daemon.create(me, profile={"name": "idle", "persist": True})
        await _navigate(daemon, me, session["session_id"], login + "/login?user=carol")

        async def saved() -> bool:
            detail = await _detail(daemon, me, session["session_id"])
            return detail["status"] == "expired" and detail["profile_save"] == "saved"

        await eventually(saved, timeout=15)
        assert (await _detail(daemon, me, session["session_id"]))["end_reason"] == "idle"
        state = await _state(daemon, me, "idle")
        assert _sid_cookie(state) == "token-carol"
        assert state["origins"][0]["localStorage"] == [{"name": "user", "value": "carol"}]


async def test_playwright_storage_state_uploads_and_downloads_unchanged(
    daemon: Daemon, daemon_settings: Settings, login: str, tmp_path: Path
) -> None:
    me = await daemon.user()
    path = tmp_path / "state.json"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=await asyncio.to_thread(ensure_chromium, None))
        try:
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(login + "/login?user=dave")
            await page.evaluate("""() => new Promise(done => {
                const open = indexedDB.open('app', 1);
                open.onupgradeneeded = () => open.result.createObjectStore('kv');
                open.onsuccess = () => {
                    const tx = open.result.transaction('kv', 'readwrite');
                    tx.objectStore('kv').put({token: 'idb-dave'}, 'auth');
                    tx.oncomplete = () => done();
                };
            })""")
            await context.storage_state(path=path, indexed_db=True)
            await context.close()

            uploaded = await daemon.client.put(f"{PROFILES}/from-file", content=path.read_bytes(), headers=me)
            assert uploaded.status_code == 201, uploaded.text
            assert uploaded.json()["cookies"] == 1 and uploaded.json()["origins"] == 1
            assert json.loads(path.read_text()) == await _state(daemon, me, "from-file")  # unchanged in shape

            session = await daemon.create(me, profile={"name": "from-file"})
            assert await _who(daemon, me, session["session_id"], login) == ["dave", "dave"]
            read_idb = """() => new Promise(done => { const open = indexedDB.open('app', 1);
                open.onsuccess = () => { const get = open.result.transaction('kv').objectStore('kv').get('auth');
                get.onsuccess = () => done(get.result && get.result.token) } })"""
            evaluated = await daemon.client.post(
                f"{SESSIONS}{session['session_id']}/evaluate", json={"expression": f"({read_idb})()"}, headers=me
            )
            assert evaluated.json()["result"] == "idb-dave"

            # Downloaded back, it loads into a plain local Playwright context.
            downloaded = await _state(daemon, me, "from-file")
            plain = await browser.new_context(storage_state=downloaded)  # type: ignore[arg-type]
            page = await plain.new_page()
            await page.goto(login + "/")
            assert await page.evaluate(WHO) == ["dave", "dave"]
            await plain.close()
        finally:
            await browser.close()
    replaced = await daemon.client.put(f"{PROFILES}/from-file", json={"cookies": [], "origins": []}, headers=me)
    assert replaced.status_code == 200 and replaced.json()["cookies"] == 0


def _cookie(name: str, value: str) -> dict[str, Any]:
    return {
        "name": name, "value": value, "domain": "127.0.0.1", "path": "/", "expires": -1,
        "httpOnly": False, "secure": False, "sameSite": "Lax",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("bad name", {"cookies": [], "origins": []}),
        ("x" * 65, {"cookies": [], "origins": []}),
        ("ok", {"cookies": "none", "origins": []}),
        ("ok", {"cookies": [{**_cookie("a", "b"), "httpOnly": "yes"}], "origins": []}),
        ("ok", {"cookies": [{**_cookie("a", "b"), "sameSite": "Sometimes"}], "origins": []}),
        ("ok", {"cookies": [], "origins": [{"origin": "not an origin", "localStorage": []}]}),
        ("ok", {"cookies": [], "origins": [{"origin": "http://a.test", "localStorage": [{"name": 1, "value": "v"}]}]}),
        ("ok", {"cookies": [], "origins": [], "opfs": []}),
        ("ok", {"origins": []}),
        ("ok", ["not", "an", "object"]),
    ],
)
async def test_bad_uploads_answer_422_and_store_nothing(daemon: Daemon, name: str, body: object) -> None:
    me = await daemon.user()
    response = await daemon.client.put(f"{PROFILES}/{name}", json=body, headers=me)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)
    assert (await daemon.client.get(PROFILES, headers=me)).json() == {"profiles": [], "total_count": 0}


async def test_bad_session_profiles_answer_422_and_open_nothing(daemon: Daemon) -> None:
    me = await daemon.user()
    for profile in ({"name": "a/b"}, {"name": ""}, {"name": "p", "persist": "yes"}, {"name": "p", "other": 1}, "p"):
        response = await daemon.client.post(SESSIONS, json={"profile": profile}, headers=me)
        assert response.status_code == 422, (profile, response.text)
    malformed = await daemon.client.put(f"{PROFILES}/p", content=b"{not json", headers=me)
    assert malformed.status_code == 422
    assert (await daemon.client.get(SESSIONS, headers=me)).json()["total_count"] == 0
    assert (await daemon.client.get(PROFILES, headers=me)).json()["total_count"] == 0


async def test_limits_size_count_and_other_users(redis_url: str, prefix: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, profile_max_bytes=4096, max_profiles_per_user=2)
    async with start_daemon(settings) as daemon:
        me, other = await daemon.user(), await daemon.user()
        noise = os.urandom(8192).hex()  # does not compress
        big = await daemon.client.put(
            f"{PROFILES}/big", json={"cookies": [_cookie("n", noise)], "origins": []}, headers=me
        )
        assert big.status_code == 413
        assert "over the limit of 4096 bytes" in big.json()["detail"] and big.json()["size_bytes"] > 4096
        assert (await daemon.client.get(PROFILES, headers=me)).json()["total_count"] == 0

        small = {"cookies": [_cookie("a", "b")], "origins": []}
        for name in ("one", "two"):
            assert (await daemon.client.put(f"{PROFILES}/{name}", json=small, headers=me)).status_code == 201
        third = await daemon.client.put(f"{PROFILES}/three", json=small, headers=me)
        assert third.status_code == 429 and "limit" in third.json()["detail"]
        made_by_session = await daemon.client.post(
            SESSIONS, json={"profile": {"name": "four", "persist": True}}, headers=me
        )
        assert made_by_session.status_code == 429
        assert (await daemon.client.get(SESSIONS, headers=me)).json()["total_count"] == 0

        # Another user's profile is 404, exactly like an unknown one, on every path.
        for method, path in (("GET", "/one"), ("GET", "/one/state"), ("DELETE", "/one")):
            answer = await daemon.client.request(method, PROFILES + path, headers=other)
            assert answer.status_code == 404 and answer.json() == {"detail": "profile not found"}
        foreign = await daemon.client.post(SESSIONS, json={"profile": {"name": "one"}}, headers=other)
        assert foreign.status_code == 404
        assert (await daemon.client.get(PROFILES, headers=other)).json()["total_count"] == 0
        # The other user's own profile of the same name is theirs alone.
        assert (
            await daemon.client.put(f"{PROFILES}/one", json={"cookies": [], "origins": []}, headers=other)
        ).status_code == 201
        assert (await daemon.client.get(f"{PROFILES}/one", headers=me)).json()["cookies"] == 1

        assert (await daemon.client.delete(f"{PROFILES}/one", headers=me)).status_code == 204
        assert (await daemon.client.get(f"{PROFILES}/one", headers=me)).status_code == 404
        metrics = (await daemon.client.get("/metrics", headers=me)).status_code
        assert metrics in (200, 403)


@pytest.fixture
async def served(daemon_settings: Settings) -> AsyncIterator[Daemon]:
    async with serve_daemon(daemon_settings) as daemon:
        yield daemon


async def test_profile_cookies_stay_in_their_own_session_over_cdp(served: Daemon, login: str) -> None:
    me = await served.user()
    writer = await served.create(me, profile={"name": "secret", "persist": True})
    await _navigate(served, me, writer["session_id"], login + "/login?user=erin")
    plain = await served.create(me)
    stranger_headers = await served.user()
    stranger = await served.create(stranger_headers)
    async with async_playwright() as p:
        for session in (plain, stranger):
            browser = await p.chromium.connect_over_cdp(session["cdp_url"])
            cdp = await browser.new_browser_cdp_session()
            cookies = (await cdp.send("Storage.getCookies"))["cookies"]
            assert not [c for c in cookies if c["name"] == "sid"], cookies
            assert await browser.contexts[0].cookies() == []
            await browser.close()
        browser = await p.chromium.connect_over_cdp(writer["cdp_url"])
        cdp = await browser.new_browser_cdp_session()
        assert [c["value"] for c in (await cdp.send("Storage.getCookies"))["cookies"]] == ["token-erin"]
        await browser.close()
