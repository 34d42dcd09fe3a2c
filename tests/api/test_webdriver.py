"""The WebDriver endpoint, driven by the real Selenium client and Debian's chromedriver against a daemon on a
real socket: New Session is a browserpool session (listed, reaped, ended by quit), its capabilities shape the
context, and refusals come back in WebDriver's shape saying what to do instead."""

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import InvalidArgumentException, InvalidSessionIdException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.file_detector import LocalFileDetector

from orchestrator.config import Settings
from tests.api.test_metrics import samples
from tests.conftest import Daemon, make_settings, serve_daemon
from tests.support import eventually, serving, url_of
from workers.chromium.user import resolve_user
from workers.webdriver.spares import KEEP as SPARES

pytestmark = pytest.mark.skipif(shutil.which("chromedriver") is None, reason="chromedriver not installed")

PAGES = {
    "/form": """<title>form</title>
<input id="name"><button id="go" onclick="document.getElementById('out').textContent =
  'hello ' + document.getElementById('name').value">go</button><p id="out"></p>
<a id="pop" href="/popup" target="_blank">popup</a>
<button id="ask" onclick="document.getElementById('out').textContent = String(confirm('sure?'))">ask</button>""",
    "/popup": "<title>popup</title><p id='here'>in the popup</p>",
    "/files": """<title>files</title><input type="file" id="pick">
<a id="dl" href="/report.txt" download>report</a>""",
}
REPORT = b"quarterly figures, fetched through se/files\n"


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/report.txt":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Disposition", 'attachment; filename="report.txt"')
            self.end_headers()
            self.wfile.write(REPORT)
            return
        body = PAGES.get(self.path, "<title>not found</title>")
        self.send_response(200 if self.path in PAGES else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def wd_site() -> Iterator[str]:
    with serving(_Site) as server:
        yield url_of(server)


@pytest.fixture
async def served(daemon_settings: Settings) -> AsyncIterator[Daemon]:
    async with serve_daemon(daemon_settings) as daemon:
        yield daemon


def remote(daemon: Daemon, key: str, options: webdriver.ChromeOptions | None = None) -> webdriver.Remote:
    """What a Selenium user writes: the pool's /webdriver address, the API key as the Basic password."""
    address = f"{str(daemon.client.base_url).rstrip('/')}/webdriver"
    config = ClientConfig(remote_server_addr=address, username="me", password=key)
    return webdriver.Remote(
        command_executor=address,
        options=options or webdriver.ChromeOptions(),
        client_config=config,
    )


def key_of(headers: dict[str, str]) -> str:
    return headers["X-API-Key"]


def driver_pids() -> list[int]:
    """chromedriver processes this test process started and that still run."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text.split("(", 1)[1].rsplit(")", 1)
        fields = rest.split()
        if name == "chromedriver" and int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def driver_of(daemon: Daemon, session_id: str) -> int:
    """The pid of the chromedriver the daemon runs for a session."""
    driven = daemon.app.state.webdriver.driven(session_id)
    assert driven is not None and driven.driver.process is not None
    pid: int = driven.driver.process.pid
    assert pid in driver_pids()
    return pid


async def gone(pid: int) -> bool:
    return pid not in driver_pids()


def uid_of(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("Uid:"))
    return int(line.split()[1])


async def test_a_selenium_session_is_a_pool_session_shaped_by_its_capabilities(served: Daemon, wd_site: str) -> None:
    me = await served.user()
    options = webdriver.ChromeOptions()
    options.add_argument("--window-size=900,700")
    options.add_argument("--user-agent=selenium-through-the-pool/1.0")
    driver = await asyncio.to_thread(remote, served, key_of(me), options)
    sid = driver.session_id
    pid = driver_of(served, sid)
    if os.geteuid() == 0:  # as the browsers it drives: Chromium's own unprivileged user, not the daemon's
        assert uid_of(pid) == resolve_user("auto").uid != 0
    try:
        listed = (await served.client.get("/v1/browser/sessions/", headers=me)).json()
        assert [s["session_id"] for s in listed["sessions"]] == [sid]  # the WebDriver id is the session's id
        assert driver.capabilities["se:cdp"].startswith("ws://")  # the session's own cdp_url, not the door
        assert "goog:chromeOptions" not in driver.capabilities

        def journey() -> dict[str, Any]:
            driver.get(wd_site + "/form")
            driver.find_element(By.ID, "name").send_keys("pool")
            driver.find_element(By.ID, "go").click()
            seen = {
                "out": driver.find_element(By.ID, "out").text,
                "width": driver.execute_script("return innerWidth"),
                "height": driver.execute_script("return innerHeight"),
                "agent": driver.execute_script("return navigator.userAgent"),
                "title": driver.title,
                "png": driver.get_screenshot_as_png()[:8],
            }
            first = driver.current_window_handle
            driver.find_element(By.ID, "pop").click()
            driver.switch_to.window(next(h for h in driver.window_handles if h != first))
            seen["popup"] = driver.find_element(By.ID, "here").text
            driver.close()
            driver.switch_to.window(first)
            driver.find_element(By.ID, "ask").click()
            alert = driver.switch_to.alert
            seen["alert"] = alert.text
            alert.accept()
            seen["confirmed"] = driver.find_element(By.ID, "out").text
            driver.add_cookie({"name": "flavour", "value": "oat"})
            seen["cookie"] = driver.get_cookie("flavour")["value"]
            seen["async"] = driver.execute_async_script("arguments[arguments.length - 1](6 * 7)")
            return seen

        seen = await asyncio.to_thread(journey)
        assert seen["out"] == "hello pool"
        assert (seen["width"], seen["height"]) == (900, 700)
        assert seen["agent"] == "selenium-through-the-pool/1.0"
        assert seen["title"] == "form"
        assert seen["png"] == b"\x89PNG\r\n\x1a\n"
        assert seen["popup"] == "in the popup"
        assert (seen["alert"], seen["confirmed"]) == ("sure?", "true")
        assert seen["cookie"] == "oat"
        assert seen["async"] == 42
        record = (await served.client.get(f"/v1/browser/sessions/{sid}", headers=me)).json()
        assert record["status"] == "active"
        assert (record["viewport_width"], record["viewport_height"]) == (900, 700)
    finally:
        await asyncio.to_thread(driver.quit)
    ended = (await served.client.get(f"/v1/browser/sessions/{sid}", headers=me)).json()
    assert ended["status"] == "closed"  # quit() ended the pool session
    admin = await served.runtime.shared.accounts.add_user("ops", None, admin=True)
    ops = {"X-API-Key": (await served.runtime.shared.accounts.create_api_key(admin, "m")).secret}
    got = samples((await served.client.get("/metrics", headers=ops)).text)
    assert got[("browserpool_webdriver_commands_total", (("outcome", "success"),))] >= 20
    assert got[("browserpool_webdriver_sessions", ())] == 0
    with pytest.raises(KeyError):
        served.worker.held(sid)  # its context is closed
    assert await gone(pid)  # and its chromedriver stopped


async def test_new_session_without_credentials_is_a_webdriver_shaped_401(served: Daemon) -> None:
    body = {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}}
    answer = await served.client.post("/webdriver/session", json=body)
    assert answer.status_code == 401
    value = answer.json()["value"]
    assert value["error"] == "session not created"
    assert "Basic password" in value["message"]
    wrong = await served.client.post("/webdriver/session", json=body, auth=("me", "bp_not_a_key"))
    assert wrong.status_code == 401 and wrong.json()["value"]["error"] == "session not created"


@pytest.mark.parametrize(
    ("capabilities", "error", "names"),
    [
        ({"goog:chromeOptions": {"args": ["--headless=new"]}}, "invalid argument", "always headless"),
        ({"goog:chromeOptions": {"args": ["--user-data-dir=/tmp/x"]}}, "invalid argument", "profile"),
        ({"goog:chromeOptions": {"binary": "/bin/sh"}}, "invalid argument", "binary"),
        ({"goog:chromeOptions": {"extensions": ["UEsDBA=="]}}, "invalid argument", "extensions"),
        ({"browserName": "firefox"}, "session not created", "'chrome' or 'chromium'"),
        ({"webSocketUrl": True}, "invalid argument", "se:cdp"),
        ({"browserpool:options": {"timeout_seconds": 1}}, "invalid argument", "timeout_seconds"),
        ({"goog:chromeOptions": {"args": ["--window-size=wide"]}}, "invalid argument", "W,H"),
        ({"pageLoadStrateg": "eager"}, "invalid argument", "pageLoadStrateg"),
    ],
)
async def test_what_a_context_cannot_honour_is_refused_with_the_reason(
    served: Daemon, capabilities: dict[str, Any], error: str, names: str
) -> None:
    me = await served.user()
    body = {"capabilities": {"alwaysMatch": capabilities}}
    answer = await served.client.post("/webdriver/session", json=body, headers=me)
    value = answer.json()["value"]
    assert (value["error"], answer.status_code) == (error, 400 if error == "invalid argument" else 500), value
    assert names in value["message"]
    assert (await served.client.get("/v1/browser/sessions/", headers=me)).json()["total_count"] == 0  # none left


async def test_another_clients_extension_capabilities_are_its_own(served: Daemon) -> None:
    """W3C: an extension capability (a name with a colon) the remote end does not know is the client's own."""
    me = await served.user()
    always = {"browserName": "chrome", "wdio:enforceWebDriverClassic": True, "acme:trace": {"on": True}}
    created = await served.client.post("/webdriver/session", json={"capabilities": {"alwaysMatch": always}}, headers=me)
    assert created.status_code == 200, created.text
    sid = created.json()["value"]["sessionId"]
    assert (await served.client.delete(f"/webdriver/session/{sid}", headers=me)).status_code == 200
    record = (await served.client.get(f"/v1/browser/sessions/{sid}", headers=me)).json()
    assert record["status"] == "closed"


async def test_another_users_webdriver_session_is_an_invalid_session_id(served: Daemon, wd_site: str) -> None:
    me, other = await served.user(), await served.user()
    driver = await asyncio.to_thread(remote, served, key_of(me))
    try:
        await asyncio.to_thread(driver.get, wd_site + "/form")
        peek = await served.client.get(f"/webdriver/session/{driver.session_id}/url", headers=other)
        assert peek.status_code == 404
        assert peek.json()["value"]["error"] == "invalid session id"
        gone = await served.client.delete(f"/webdriver/session/{driver.session_id}", headers=other)
        assert gone.json()["value"]["error"] == "invalid session id"
        assert await asyncio.to_thread(lambda: driver.current_url) == wd_site + "/form"  # still the owner's
    finally:
        await asyncio.to_thread(driver.quit)


async def test_a_policy_refusal_reaches_execute_cdp_cmd_with_its_message(served: Daemon) -> None:
    me = await served.user()
    driver = await asyncio.to_thread(remote, served, key_of(me))
    try:
        with pytest.raises(WebDriverException) as refused:
            await asyncio.to_thread(driver.execute_cdp_cmd, "Browser.crash", {})
        assert "Page.crash" in str(refused.value)  # the policy's message: what to do instead
        version = await asyncio.to_thread(driver.execute_cdp_cmd, "Browser.getVersion", {})
        assert "product" in version
        assert (await served.client.get("/v1/browser/sessions/", headers=me)).json()["total_count"] == 1
    finally:
        await asyncio.to_thread(driver.quit)


async def test_a_session_ended_elsewhere_answers_invalid_session_id_and_stops_its_driver(
    served: Daemon, wd_site: str
) -> None:
    me = await served.user()
    driver = await asyncio.to_thread(remote, served, key_of(me))
    pid = driver_of(served, driver.session_id)
    deleted = await served.client.delete(f"/v1/browser/sessions/{driver.session_id}", headers=me)
    assert deleted.status_code == 204
    with pytest.raises(InvalidSessionIdException) as ended:
        await asyncio.to_thread(driver.get, wd_site + "/form")
    assert "closed" in str(ended.value)
    assert await gone(pid)


async def test_invalid_arguments_never_start_a_driver(served: Daemon) -> None:
    me = await served.user()
    with pytest.raises(InvalidArgumentException):
        options = webdriver.ChromeOptions()
        options.add_argument("--disable-web-security")
        await asyncio.to_thread(remote, served, key_of(me), options)
    unknown = await served.client.get("/webdriver/nothing-here", headers=me)
    assert unknown.status_code == 404 and unknown.json()["value"]["error"] == "unknown command"
    assert driver_pids() == []  # none, not even a spare: this node has served no WebDriver session yet


async def test_commands_keep_a_session_alive_and_the_idle_reaper_ends_an_abandoned_one(
    redis_url: str, prefix: str, tmp_path: Path, wd_site: str
) -> None:
    async with serve_daemon(make_settings(redis_url, prefix, tmp_path, idle_timeout=3)) as daemon:
        me = await daemon.user()
        driver = await asyncio.to_thread(remote, daemon, key_of(me))
        pid = driver_of(daemon, driver.session_id)
        for _ in range(5):  # 5 s of commands, each under the 3 s idle timeout apart
            assert await asyncio.to_thread(driver.execute_script, "return 1 + 1") == 2
            await asyncio.sleep(1)
        record = (await daemon.client.get(f"/v1/browser/sessions/{driver.session_id}", headers=me)).json()
        assert record["status"] == "active"

        async def reaped() -> bool:
            answer = await daemon.client.get(f"/v1/browser/sessions/{driver.session_id}", headers=me)
            return (answer.json()["status"], answer.json()["end_reason"]) == ("expired", "idle")

        await eventually(reaped, timeout=15)
        with pytest.raises(InvalidSessionIdException):
            await asyncio.to_thread(driver.get, wd_site + "/form")
        await eventually(lambda: gone(pid), timeout=5)
        await eventually(lambda: _spares_ready(daemon), timeout=10)
    assert driver_pids() == []  # the node's spare chromedrivers stopped with it


async def _spares_ready(daemon: Daemon) -> bool:
    return len(driver_pids()) == SPARES


async def test_no_page_reaches_a_sessions_door_or_chromedriver(served: Daemon) -> None:
    """Both listen on loopback: a page of any session (here another user's) navigating there could read the
    session's tab list from the door, or drive chromedriver. The egress guard refuses both as the pool's own."""
    me, other = await served.user(), await served.user()
    driver = await asyncio.to_thread(remote, served, key_of(me))
    try:
        driven = served.app.state.webdriver.driven(driver.session_id)
        assert driven is not None
        hostile = (await served.create(other))["session_id"]
        for port, path in ((driven.door.port, "/json/list"), (driven.driver.port, "/status")):
            went = await served.client.post(
                f"/v1/browser/sessions/{hostile}/navigate",
                json={"url": f"http://127.0.0.1:{port}{path}"},
                headers=other,
            )
            assert went.status_code == 403, went.text
            assert "the pool's own port" in went.json()["detail"]
    finally:
        await asyncio.to_thread(driver.quit)


async def test_files_the_grid_way_upload_by_local_file_detector_and_downloads_by_se_files(
    served: Daemon, wd_site: str, tmp_path: Path
) -> None:
    me = await served.user()
    options = webdriver.ChromeOptions()
    options.set_capability("se:downloadsEnabled", True)
    driver = await asyncio.to_thread(remote, served, key_of(me), options)
    local = tmp_path / "notes.txt"
    local.write_text("from the client's own disk")
    try:

        def upload() -> str:
            driver.file_detector = LocalFileDetector()
            driver.get(wd_site + "/files")
            driver.find_element(By.ID, "pick").send_keys(str(local))  # zipped to se/file, then the browser's path
            text: str = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "const file = document.getElementById('pick').files[0];"
                "file.text().then(t => done(file.name + ':' + t));"
            )
            return text

        assert await asyncio.to_thread(upload) == "notes.txt:from the client's own disk"
        await asyncio.to_thread(lambda: driver.find_element(By.ID, "dl").click())

        async def downloaded() -> bool:
            return "report.txt" in await asyncio.to_thread(driver.get_downloadable_files)

        await eventually(downloaded)
        await asyncio.to_thread(driver.download_file, "report.txt", str(tmp_path / "got"))
        assert (tmp_path / "got" / "report.txt").read_bytes() == REPORT
        listed = await served.client.get(f"/v1/browser/sessions/{driver.session_id}/downloads", headers=me)
        assert [d["name"] for d in listed.json()["downloads"]] == ["report.txt"]  # the files routes' own
    finally:
        await asyncio.to_thread(driver.quit)


async def test_se_files_needs_downloads_enabled(served: Daemon) -> None:
    me = await served.user()
    driver = await asyncio.to_thread(remote, served, key_of(me))
    try:
        assert driver.capabilities["se:downloadsEnabled"] is False
        listed = await served.client.get(f"/webdriver/session/{driver.session_id}/se/files", headers=me)
        assert listed.status_code == 500
        assert "se:downloadsEnabled" in listed.json()["value"]["message"]
    finally:
        await asyncio.to_thread(driver.quit)


def test_doctor_names_a_chromedriver_of_another_release_than_chromium() -> None:
    from browserpool.doctor import driver_check

    driver = "ChromeDriver 155.0.7999.10 (abc-refs/branch-heads/7999@{#1})"
    mismatch = driver_check("/usr/bin/chromedriver", driver, "Chromium 156.0.8078.129")
    assert not mismatch.ok and "does not match Chromium 156.0.8078.129" in mismatch.detail
    same = driver_check("/usr/bin/chromedriver", "ChromeDriver 156.0.8078.129 (x)", "Chromium 156.0.8078.129")
    assert same.ok and "the same build" in same.detail


async def test_a_chromedriver_that_dies_fails_its_session_with_the_reason(served: Daemon, wd_site: str) -> None:
    me = await served.user()
    driver = await asyncio.to_thread(remote, served, key_of(me))
    driven = served.app.state.webdriver.driven(driver.session_id)
    assert driven is not None and driven.driver.process is not None
    driven.driver.process.kill()
    detail = f"/v1/browser/sessions/{driver.session_id}"

    async def failed() -> bool:
        record = (await served.client.get(detail, headers=me)).json()
        return (record["status"], record["end_reason"]) == ("failed", "webdriver_lost")

    await eventually(failed)
    with pytest.raises(InvalidSessionIdException) as ended:
        await asyncio.to_thread(driver.get, wd_site + "/form")
    assert "webdriver_lost" in str(ended.value)

    async def context_closed() -> bool:
        try:
            served.worker.held(driver.session_id)
        except KeyError:
            return True
        return False

    await eventually(context_closed)


NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "webdriverio").is_dir(),
    reason="webdriverio not installed (make setup-dev: npm ci in tests/node)",
)
async def test_a_webdriverio_session_types_clicks_and_quits(served: Daemon, wd_site: str) -> None:
    me = await served.user()
    address = f"{str(served.client.base_url).rstrip('/')}/webdriver"
    run = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "wdio_smoke.mjs"),
        address,
        key_of(me),
        wd_site,
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await run.communicate()
    assert run.returncode == 0, err.decode()[-2000:]
    seen = json.loads(out.decode().strip().splitlines()[-1])
    assert (seen["out"], seen["width"]) == ("hello wdio", 800)
    record = (await served.client.get(f"/v1/browser/sessions/{seen['sessionId']}", headers=me)).json()
    assert record["status"] == "closed"  # deleteSession ended the pool session
