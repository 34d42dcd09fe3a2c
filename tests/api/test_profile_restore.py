"""Restoring a profile's origins (localStorage and IndexedDB on three sites) before the 201: inside the browser
only, the session's page untouched on about:blank, no restore page left for its CDP client, and everything read
back by the next save. And a save that fails keeps the previous version. Real Redis, real Chromium."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Route, async_playwright

from orchestrator.config import Settings
from tests.conftest import Daemon, make_settings, serve_daemon, start_daemon
from tests.login_site import login_site
from tests.support import serving
from workers.chromium.find import ensure_chromium

SESSIONS = "/v1/browser/sessions/"
PROFILES = "/v1/profiles"

# Run in a page of each origin by a plain local Playwright: what a logged-in app keeps, with IndexedDB values
# Playwright can only store encoded (a Date, a Set, a typed array) and a store with a key path, autoIncrement
# and an index.
WRITE_APP_STATE = """async (withIndexedDB) => {
  localStorage.setItem('who', location.origin);
  if (!withIndexedDB) return;
  await new Promise((done, fail) => {
    const open = indexedDB.open('app', 2);
    open.onupgradeneeded = () => {
      open.result.createObjectStore('kv');
      open.result.createObjectStore('items', { keyPath: 'id', autoIncrement: true })
        .createIndex('by_name', 'name', { unique: true });
    };
    open.onsuccess = () => {
      const tx = open.result.transaction(['kv', 'items'], 'readwrite');
      tx.objectStore('kv').put({ token: 't-' + location.origin, when: new Date(0), tags: new Set(['a']),
                                 bytes: new Uint8Array([1, 2, 3]) }, 'auth');
      tx.objectStore('items').add({ name: 'x' });
      tx.objectStore('items').add({ name: 'y' });
      tx.oncomplete = () => { open.result.close(); done(); };
      tx.onerror = () => fail(tx.error);
    };
  });
}"""

# Read in the session's own page on the real site: the app's IndexedDB as the app itself sees it.
READ_APP_STATE = """() => new Promise((done) => {
  const open = indexedDB.open('app');
  open.onsuccess = () => {
    const tx = open.result.transaction(['kv', 'items']);
    const auth = tx.objectStore('kv').get('auth');
    const y = tx.objectStore('items').index('by_name').get('y');
    tx.oncomplete = () => {
      const v = auth.result;
      done([localStorage.getItem('who'), open.result.version, v.token, v.when instanceof Date && v.when.getTime(),
            v.tags instanceof Set && [...v.tags], v.bytes instanceof Uint8Array && [...v.bytes], y.result.id]);
    };
  };
})"""


class _Counting(BaseHTTPRequestHandler):
    requests = 0

    def do_GET(self) -> None:
        type(self).requests += 1
        data = b"<!doctype html><title>app</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
async def served(daemon_settings: Settings) -> AsyncIterator[Daemon]:
    """A daemon on a real port: the session's CDP client connects to it."""
    async with serve_daemon(daemon_settings) as daemon:
        yield daemon


@pytest.fixture
def app_port() -> Iterator[int]:
    """A local site that counts the requests it is sent."""
    _Counting.requests = 0
    with serving(_Counting) as server:
        yield server.server_address[1]


async def _playwright_state(origins: list[str]) -> dict[str, Any]:
    """A storage state written by Playwright's own `storage_state(indexed_db=True)`, its pages answered locally."""

    async def answer(route: Route) -> None:
        await route.fulfill(content_type="text/html", body="<!doctype html><html></html>")

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=await asyncio.to_thread(ensure_chromium, None))
        try:
            context = await browser.new_context()
            await context.route("**/*", answer)
            await context.add_cookies([{"name": "sid", "value": "token-zoe", "url": origins[0]}])
            page = await context.new_page()
            for i, origin in enumerate(origins):
                await page.goto(origin + "/")
                await page.evaluate(WRITE_APP_STATE, i != 1)
            state: dict[str, Any] = dict(await context.storage_state(indexed_db=True))
            return state
        finally:
            await browser.close()


def _by_origin(state: dict[str, Any]) -> dict[str, Any]:
    return {o["origin"]: o for o in state["origins"]}


async def test_three_sites_restored_inside_the_browser_and_read_back_by_the_next_save(
    served: Daemon, app_port: int
) -> None:
    daemon = served
    origins = [f"http://127.0.0.1:{app_port}", f"http://localhost:{app_port}", f"http://127.0.0.2:{app_port}"]
    state = await _playwright_state(origins)
    assert len(state["origins"]) == 3 and "valueEncoded" in str(state)  # the encoded IndexedDB form is in play
    me = await daemon.user()
    assert (await daemon.client.put(f"{PROFILES}/app", json=state, headers=me)).status_code == 201

    session = await daemon.create(me, profile={"name": "app", "persist": True})
    sid = session["session_id"]
    assert _Counting.requests == 0  # every request of the restore was answered inside the browser

    # The session's page is untouched, and its CDP client sees no page but it.
    page = await daemon.client.post(
        f"{SESSIONS}{sid}/evaluate", json={"expression": "[location.href, history.length]"}, headers=me
    )
    assert page.json()["result"] == ["about:blank", 1]
    async with async_playwright() as p:
        browser = await p.chromium.connect_over_cdp(session["cdp_url"])
        cdp = await browser.new_browser_cdp_session()
        targets = (await cdp.send("Target.getTargets"))["targetInfos"]
        assert [(t["type"], t["url"]) for t in targets] == [("page", "about:blank")], targets
        await browser.close()

    # A checkpoint right away (the session opened none of the origins) gives back exactly what was uploaded.
    saved = await daemon.client.post(f"{SESSIONS}{sid}/profile/save", headers=me)
    assert saved.status_code == 200, saved.text
    back = (await daemon.client.get(f"{PROFILES}/app/state", headers=me)).json()
    assert _by_origin(back) == _by_origin(state)
    assert back["cookies"] == state["cookies"]

    # The app itself, on the real site, finds its storage as it left it.
    navigated = await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": origins[0] + "/"}, headers=me)
    assert navigated.status_code == 200, navigated.text
    assert _Counting.requests == 1
    seen = await daemon.client.post(
        f"{SESSIONS}{sid}/evaluate", json={"expression": f"({READ_APP_STATE})()"}, headers=me
    )
    assert seen.json()["result"] == [origins[0], 2, f"t-{origins[0]}", 0, ["a"], [1, 2, 3], 2]


async def test_a_save_that_fails_keeps_the_previous_version(redis_url: str, prefix: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, prefix, tmp_path, profile_max_bytes=4096, metrics_public=True)
    with login_site() as site:
        async with start_daemon(settings) as daemon:
            me = await daemon.user()
            before = {"cookies": [], "origins": [{"origin": site, "localStorage": [{"name": "v", "value": "1"}]}]}
            assert (await daemon.client.put(f"{PROFILES}/small", json=before, headers=me)).status_code == 201
            session = await daemon.create(me, profile={"name": "small", "persist": True})
            sid = session["session_id"]
            await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": site + "/"}, headers=me)
            # 16 KB of random hex: past the 4096-byte limit even compressed.
            grow = """(() => { const b = new Uint8Array(8192); crypto.getRandomValues(b);
                localStorage.setItem('v', Array.from(b, x => x.toString(16).padStart(2, '0')).join('')); })()"""
            await daemon.client.post(f"{SESSIONS}{sid}/evaluate", json={"expression": grow}, headers=me)

            checkpoint = await daemon.client.post(f"{SESSIONS}{sid}/profile/save", headers=me)
            assert checkpoint.status_code == 413 and "4096" in checkpoint.json()["detail"]
            assert (await daemon.client.delete(SESSIONS + sid, headers=me)).status_code == 204

            ended = (await daemon.client.get(SESSIONS + sid, headers=me)).json()
            assert ended["profile_save"] == "failed" and ended["profile_saved_at"] is None
            assert (await daemon.client.get(f"{PROFILES}/small/state", headers=me)).json() == before
            profile = (await daemon.client.get(f"{PROFILES}/small", headers=me)).json()
            assert profile["in_use_by"] is None
            metrics = (await daemon.client.get("/metrics")).text
            assert "browserpool_profile_save_failures_total 1.0" in metrics
