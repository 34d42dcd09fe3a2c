"""A crash of the shared browser ends only the sessions whose commands were in flight; the others come back.

The crash is real: the test sends Browser.crash through the worker's own channel to the browser (no
tenant can), while tenant A has a CDP command in flight through its relay and tenant B only has state
(a cookie, local storage, a page at a URL). A ends `failed` and is quarantined; B's session keeps its id,
cdp_url and `active` status and its page is back at its URL with its cookie and local storage.
"""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from orchestrator.events import BEFORE_ALL
from tests.conftest import Daemon, make_settings, serve_daemon
from tests.security.test_hostile_cdp import Cdp
from tests.support import eventually

SESSIONS = "/v1/browser/sessions/"
CHECKPOINT = 0.3  # BROWSERPOOL_CRASH_CHECKPOINT_INTERVAL for these tests
FOREVER = "new Promise(() => {})"  # a command the browser answers only when it is gone


@pytest.fixture
async def served(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[Daemon]:
    settings = make_settings(
        redis_url, prefix, tmp_path, warm_contexts=0, crash_checkpoint_interval=CHECKPOINT, ready_browsers=1
    )
    async with serve_daemon(settings) as daemon:
        yield daemon


async def _status(served: Daemon, session: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    response = await served.client.get(f"{SESSIONS}{session['session_id']}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _evaluate(served: Daemon, session_id: str, headers: dict[str, str], expression: str) -> Any:
    response = await served.client.post(
        f"{SESSIONS}{session_id}/evaluate", json={"expression": expression}, headers=headers
    )
    return response.json()["result"] if response.status_code == 200 else None


async def test_a_crash_ends_only_the_tenant_in_flight_and_the_others_come_back(
    served: Daemon, site: str, redis_url: str, prefix: str
) -> None:
    name = f"alice-{uuid.uuid4().hex[:8]}"
    alice, bob = await served.user(name), await served.user()
    culprit = await served.create(alice)
    survivor = await served.create(bob)
    sid = survivor["session_id"]
    navigated = await served.client.post(f"{SESSIONS}{sid}/navigate", json={"url": site + "/other"}, headers=bob)
    assert navigated.status_code == 200, navigated.text
    state = "document.cookie = 'kept=yes; path=/'; localStorage.setItem('draft', 'unsaved words'); true"
    assert await _evaluate(served, sid, bob, state) is True
    await asyncio.sleep(CHECKPOINT * 4)  # at least one checkpoint of bob's state

    slot = served.worker.browsers()[0]
    old_pid = slot.pid
    async with Cdp.open(culprit["cdp_url"]) as cdp:
        _, page = await cdp.page_session()
        await cdp.send("Runtime.evaluate", {"expression": FOREVER, "awaitPromise": True}, page)  # in flight
        await asyncio.sleep(0.2)
        crashed_at = time.monotonic()
        with contextlib.suppress(Exception):  # the browser dies before it can answer
            await asyncio.wait_for(slot.browser_cdp_send("Browser.crash", {}), 2)

        back = await eventually(lambda: _evaluate(served, sid, bob, "location.href"), timeout=15, interval=0.05)
        restarted_in = time.monotonic() - crashed_at

    assert slot.pid != old_pid  # it really was the shared browser that died
    assert back == site + "/other"
    assert await _evaluate(served, sid, bob, "document.cookie") == "kept=yes"
    assert await _evaluate(served, sid, bob, "localStorage.getItem('draft')") == "unsaved words"
    print(f"survivor back at its URL with its state {restarted_in * 1000:.0f} ms after the crash")
    assert restarted_in < 10  # the target is 2 s on a quiet machine: make bench quotes the figure

    after = await _status(served, survivor, bob)
    assert after["status"] == "active" and after["cdp_url"] == survivor["cdp_url"]
    failed = await _status(served, culprit, alice)
    assert (failed["status"], failed["end_reason"]) == ("failed", "browser_crashed"), failed

    bob_id = (await served.runtime.shared.store.get(sid)).user_id  # type: ignore[union-attr]
    events = await served.runtime.shared.store.events.after(bob_id, BEFORE_ALL)
    restarted = [e for e in events if e.type == "session_restarted"]
    assert restarted and restarted[0].session_id == sid and "cookies" in restarted[0].reason

    alice_id = (await served.runtime.shared.store.get(culprit["session_id"])).user_id  # type: ignore[union-attr]
    admin = await served.runtime.shared.accounts.add_user("operator", None, admin=True)
    operator = {"X-API-Key": (await served.runtime.shared.accounts.create_api_key(admin, "ops")).secret}
    seen = await served.client.get("/v1/admin/crashes", headers=operator)
    assert seen.status_code == 200, seen.text
    report = seen.json()["crashes"][0]
    assert report["in_flight"][0]["session_id"] == culprit["session_id"]
    assert "Runtime.evaluate" in report["in_flight"][0]["methods"]
    assert report["restarted"] == [sid] and report["quarantined"] == [alice_id]
    assert [q["user_id"] for q in seen.json()["quarantined"]] == [alice_id]  # bob is not
    assert (await served.client.get("/v1/admin/crashes", headers=bob)).status_code == 403
    metrics = (await served.client.get("/metrics", headers=operator)).text
    assert "browserpool_browser_crashes_total 1.0" in metrics
    assert "browserpool_sessions_restarted_total 1.0" in metrics
    assert "browserpool_crash_quarantined_users 1.0" in metrics

    # Quarantined: alice's next session gets a browser of its own, whatever she asks; bob's stays shared.
    own = await served.create(alice, isolation="context")
    assert own["isolation"] == "browser"
    assert (await served.create(bob))["isolation"] == "context"
    env = {**os.environ, "BROWSERPOOL_REDIS_URL": redis_url, "BROWSERPOOL_REDIS_PREFIX": prefix}
    shown = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "browserpool", "users", "show", name],
        capture_output=True,
        text=True,
        env=env,
    )
    assert "crash quarantine:   until " in shown.stdout, shown.stdout + shown.stderr

    async with async_playwright() as p:  # a reconnect reaches the re-homed context
        browser = await p.chromium.connect_over_cdp(survivor["cdp_url"])
        page = browser.contexts[0].pages[0]
        assert page.url == site + "/other"
        assert await page.evaluate("localStorage.getItem('draft')") == "unsaved words"
        await browser.close()
