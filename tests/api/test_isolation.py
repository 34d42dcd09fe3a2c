"""Isolation levels: `"isolation": "browser"` gives a session a Chromium of its own, closed when it ends."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from orchestrator.config import Settings
from orchestrator.models import SessionSpec
from tests.conftest import Daemon, make_settings, serve_daemon, start_daemon
from tests.support import eventually
from workers.remote.wire import SPEC, spec_body

SESSIONS = "/v1/browser/sessions/"
LISTED = {
    "session_id",
    "status",
    "viewport_width",
    "viewport_height",
    "user_agent",
    "created_at",
    "last_activity",
    "expires_at",
}


@pytest.fixture
def isolating_settings(redis_url: str, prefix: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, prefix, tmp_path, ready_browsers=1, max_dedicated_browsers=3)


@pytest.fixture
async def daemon(isolating_settings: Settings) -> AsyncIterator[Daemon]:
    async with start_daemon(isolating_settings) as d:
        yield d


def browser_pid_of(daemon: Daemon, session_id: str) -> int:
    """The main Chromium process holding the session (the worker's own view)."""
    pid = daemon.worker.browser_of(session_id).pid
    assert pid is not None
    return pid


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


async def evaluate(daemon: Daemon, headers: dict[str, str], sid: str, expression: str) -> object:
    response = await daemon.client.post(f"{SESSIONS}{sid}/evaluate", json={"expression": expression}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def test_a_browser_session_has_a_chromium_of_its_own_that_outlives_a_crash_of_the_shared_one(
    daemon: Daemon,
) -> None:
    me = await daemon.user()
    shared = await daemon.create(me)
    own = await daemon.create(me, isolation="browser")
    other = await daemon.create(me, isolation="browser")
    assert (shared["isolation"], own["isolation"]) == ("context", "browser")
    detail = (await daemon.client.get(f"{SESSIONS}{own['session_id']}", headers=me)).json()
    assert detail["isolation"] == "browser" and detail["status"] == "active"

    shared_pid = daemon.worker.browsers()[0].pid
    own_pid, other_pid = browser_pid_of(daemon, own["session_id"]), browser_pid_of(daemon, other["session_id"])
    assert shared_pid is not None and len({shared_pid, own_pid, other_pid}) == 3
    listing = (await daemon.client.get(SESSIONS, headers=me)).json()
    assert listing["total_count"] == 3 and all(set(item) == LISTED for item in listing["sessions"])  # the contract

    await evaluate(daemon, me, own["session_id"], "window.kept = 42")
    os.kill(shared_pid, signal.SIGKILL)  # whatever crashes the shared browser
    await eventually(lambda: _true(not alive(shared_pid)), timeout=5)
    await asyncio.sleep(1)  # the crash has been handled by now
    for sid in (own["session_id"], other["session_id"]):
        detail = (await daemon.client.get(f"{SESSIONS}{sid}", headers=me)).json()
        assert detail["status"] == "active", detail
    assert await evaluate(daemon, me, own["session_id"], "window.kept") == 42  # its page lived on


async def test_deleting_a_browser_session_ends_its_chromium(daemon: Daemon) -> None:
    me = await daemon.user()
    own = await daemon.create(me, isolation="browser")
    pid = browser_pid_of(daemon, own["session_id"])
    assert await evaluate(daemon, me, own["session_id"], "1 + 1") == 2
    deleted = await daemon.client.delete(f"{SESSIONS}{own['session_id']}", headers=me)
    assert deleted.status_code == 204
    await eventually(lambda: _true(not alive(pid)), timeout=10)
    # The next one gets another fresh browser (a spare launched meanwhile), never the closed one again.
    again = await daemon.create(me, isolation="browser")
    assert browser_pid_of(daemon, again["session_id"]) != pid
    await eventually(lambda: _true(daemon.worker.dedicated.spares == 1), timeout=10)  # the spare is replaced


async def test_the_users_default_from_the_cli_applies_when_the_body_names_none(
    daemon: Daemon, isolating_settings: Settings
) -> None:
    name = f"iso-{uuid.uuid4().hex[:8]}"
    me = await daemon.user(name)
    env = {
        **os.environ,
        "BROWSERPOOL_REDIS_URL": isolating_settings.redis_url or "",
        "BROWSERPOOL_REDIS_PREFIX": isolating_settings.redis_prefix,
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "browserpool", "users", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)

    assert (await daemon.create(me))["isolation"] == "context"
    shown = await asyncio.to_thread(cli, "show", name)
    assert shown.returncode == 0 and "isolation:" in shown.stdout and "context (the default)" in shown.stdout

    done = await asyncio.to_thread(cli, "set", name, "--isolation", "browser")
    assert done.returncode == 0, done.stderr
    shown = await asyncio.to_thread(cli, "show", name)
    assert any(line.split() == ["isolation:", "browser"] for line in shown.stdout.splitlines()), shown.stdout

    by_default = await daemon.create(me)
    assert by_default["isolation"] == "browser"
    assert browser_pid_of(daemon, by_default["session_id"]) != daemon.worker.browsers()[0].pid
    asked = await daemon.create(me, isolation="context")  # the body's own choice wins over the default
    assert (
        asked["isolation"] == "context"
        and browser_pid_of(daemon, asked["session_id"]) == daemon.worker.browsers()[0].pid
    )

    wrong = await asyncio.to_thread(cli, "set", name, "--isolation", "process")
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr
    reset = await asyncio.to_thread(cli, "set", name, "--isolation", "default")
    assert reset.returncode == 0, reset.stderr
    assert (await daemon.create(me))["isolation"] == "context"


async def test_any_other_isolation_is_422(daemon: Daemon) -> None:
    me = await daemon.user()
    for value in ["process", "", "BROWSER", "Context", 1, True, ["browser"], {"level": "browser"}]:
        response = await daemon.client.post(SESSIONS, json={"isolation": value}, headers=me)
        assert response.status_code == 422, (value, response.text)
        assert any(item["loc"][-1] == "isolation" for item in response.json()["detail"]), response.text
    assert (await daemon.client.get(SESSIONS, headers=me)).json()["total_count"] == 0
    for value in ("context", "browser"):  # the two levels there are
        assert (await daemon.create(me, isolation=value))["isolation"] == value


async def test_browser_sessions_past_the_workers_limit_are_refused_and_count_against_capacity(
    daemon: Daemon,
) -> None:
    me = await daemon.user()
    for _ in range(3):
        await daemon.create(me, isolation="browser")
    refused = await daemon.client.post(SESSIONS, json={"isolation": "browser"}, headers=me)
    assert refused.status_code == 503, refused.text
    load = daemon.worker.load()
    assert (load.used, load.capacity) == (3, 5)
    await daemon.create(me)  # a context session still fits
    await daemon.create(me)
    full = await daemon.client.post(SESSIONS, json={}, headers=me)  # 3 own + 2 shared: the worker's 5
    assert full.status_code == 503, full.text


async def test_a_crash_of_a_sessions_own_browser_ends_that_session_only(daemon: Daemon) -> None:
    me = await daemon.user()
    shared = await daemon.create(me)
    own = await daemon.create(me, isolation="browser")
    pid = browser_pid_of(daemon, own["session_id"])
    os.kill(pid, signal.SIGKILL)

    async def ended() -> dict[str, object] | None:
        detail = (await daemon.client.get(f"{SESSIONS}{own['session_id']}", headers=me)).json()
        return detail if detail["status"] == "failed" else None

    detail = await eventually(ended, timeout=5)
    assert detail["end_reason"] == "browser_crashed"
    assert await evaluate(daemon, me, shared["session_id"], "1 + 1") == 2
    assert daemon.worker.load().used == 1
    await eventually(lambda: _true(daemon.worker.dedicated.spares == 1), timeout=10)


async def test_a_browser_session_keeps_the_cdp_scope_egress_guard_and_page_cap(
    isolating_settings: Settings, site: str
) -> None:
    settings = isolating_settings.model_copy(update={"max_pages_per_session": 2})
    async with serve_daemon(settings) as served:
        me = await served.user()
        own = await served.create(me, isolation="browser")
        sid = own["session_id"]
        refused = await served.client.post(
            f"{SESSIONS}{sid}/navigate", json={"url": "http://169.254.169.254/latest/meta-data/"}, headers=me
        )
        assert refused.status_code == 403, refused.text
        slot = served.worker.browser_of(sid)
        port = int((await asyncio.to_thread(slot.cdp_endpoint)).split(":")[2].split("/")[0])
        debugging = await served.client.post(
            f"{SESSIONS}{sid}/navigate", json={"url": f"http://127.0.0.1:{port}/json/version"}, headers=me
        )
        assert debugging.status_code == 403, debugging.text  # its own browser's debugging port, too

        async with async_playwright() as p:
            browser = await p.chromium.connect_over_cdp(own["cdp_url"])
            assert len(browser.contexts) == 1 and len(browser.contexts[0].pages) == 1
            page = browser.contexts[0].pages[0]
            await page.goto(site + "/")
            assert await page.title() == "browserpool test page"
            second = await browser.contexts[0].new_page()
            with pytest.raises(Exception, match="page"):
                await browser.contexts[0].new_page()  # past BROWSERPOOL_MAX_PAGES_PER_SESSION
            await second.close()
            cdp = await browser.new_browser_cdp_session()
            with pytest.raises(Exception, match="launch flags"):
                await cdp.send("Browser.getBrowserCommandLine")  # the same policy table as in a shared browser
            await browser.close()


async def test_a_browser_session_saves_into_a_profile_at_its_end_and_the_next_one_resumes(
    daemon: Daemon, site: str
) -> None:
    me = await daemon.user()
    first = await daemon.create(me, isolation="browser", profile={"name": "own", "persist": True})
    pid = browser_pid_of(daemon, first["session_id"])
    navigated = await daemon.client.post(f"{SESSIONS}{first['session_id']}/navigate", json={"url": site}, headers=me)
    assert navigated.status_code == 200, navigated.text
    await evaluate(daemon, me, first["session_id"], "document.cookie = 'who=alice; max-age=3600'")
    assert (await daemon.client.delete(f"{SESSIONS}{first['session_id']}", headers=me)).status_code == 204
    ended = (await daemon.client.get(f"{SESSIONS}{first['session_id']}", headers=me)).json()
    assert ended["profile_save"] == "saved", ended
    await eventually(lambda: _true(not alive(pid)), timeout=10)

    again = await daemon.create(me, isolation="browser", profile={"name": "own"})
    navigated = await daemon.client.post(f"{SESSIONS}{again['session_id']}/navigate", json={"url": site}, headers=me)
    assert navigated.status_code == 200, navigated.text
    assert await evaluate(daemon, me, again["session_id"], "document.cookie") == "who=alice"


async def test_a_browser_sessions_files_and_recording_are_kept_past_its_end(daemon: Daemon, site: str) -> None:
    me = await daemon.user()
    created = await daemon.create(me, isolation="browser", record=True, viewport_width=640, viewport_height=360)
    sid = created["session_id"]
    await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": site}, headers=me)
    sent = {"files": [("files", ("a.txt", b"own browser"))]}
    uploaded = await daemon.client.post(f"{SESSIONS}{sid}/files", headers=me, **sent)  # type: ignore[arg-type]
    assert uploaded.status_code == 200, uploaded.text
    assert Path(uploaded.json()["files"][0]["path"]).read_bytes() == b"own browser"
    await asyncio.sleep(1.5)
    assert (await daemon.client.delete(f"{SESSIONS}{sid}", headers=me)).status_code == 204

    async def video() -> bytes | None:
        answer = await daemon.client.get(f"{SESSIONS}{sid}/recording", headers=me)
        return answer.content if answer.status_code == 200 else None

    webm = await eventually(video, timeout=20, interval=0.3)
    assert webm[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file


async def test_concurrent_browser_creates_each_get_a_browser_of_their_own(daemon: Daemon) -> None:
    me = await daemon.user()
    answers = await asyncio.gather(
        *(daemon.client.post(SESSIONS, json={"isolation": "browser"}, headers=me) for _ in range(3))
    )
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    pids = {browser_pid_of(daemon, a.json()["session_id"]) for a in answers}
    assert len(pids) == 3 and daemon.worker.browsers()[0].pid not in pids


async def test_null_means_the_default_and_the_level_crosses_to_a_remote_worker(daemon: Daemon) -> None:
    me = await daemon.user()
    assert (await daemon.create(me, isolation=None))["isolation"] == "context"
    spec = SessionSpec(timeout_seconds=300, isolation="browser")
    assert SPEC.validate_python(spec_body(spec)) == spec  # what an API node sends


async def _true(value: bool) -> bool:
    return value
