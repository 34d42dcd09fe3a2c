"""API nodes and workers as separate processes on one Redis: placement, failure, drain, lapse."""

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis as sync_redis
from playwright.async_api import async_playwright
from websockets.asyncio.client import connect

from tests.api.files_site import REPORT, files_site
from tests.e2e.daemon_process import DaemonProcess

pytestmark = pytest.mark.e2e

SESSIONS = "/v1/browser/sessions/"
LEASE = "2"


class Cluster:
    def __init__(self, tmp: Path, redis_url: str, prefix: str) -> None:
        self.tmp, self.redis_url, self.prefix = tmp, redis_url, prefix
        self.apis: list[DaemonProcess] = []
        self.workers: list[DaemonProcess] = []
        self.redis = sync_redis.Redis.from_url(redis_url, decode_responses=True)

    def api(self) -> DaemonProcess:
        node = DaemonProcess(
            self.tmp,
            self.redis_url,
            self.prefix,
            f"api-{uuid.uuid4().hex[:4]}",
            "api",
            BROWSERPOOL_WORKER_LEASE_TTL=LEASE,
        )
        self.apis.append(node.start())
        return node

    def worker(self, **env: str) -> DaemonProcess:
        env.setdefault("BROWSERPOOL_DRAIN_GRACE", "0")  # tear-down need not wait for sessions to finish
        node = DaemonProcess(
            self.tmp,
            self.redis_url,
            self.prefix,
            f"w{len(self.workers)}-{uuid.uuid4().hex[:4]}",
            "worker",
            BROWSERPOOL_WORKER_LEASE_TTL=LEASE,
            **env,
        )
        self.workers.append(node.start())
        return node

    def holder(self, session_id: str) -> str:
        return str(self.redis.hget(f"{self.prefix}:session:{session_id}", "worker_id"))

    def key(self) -> dict[str, str]:
        user_id = uuid.uuid4().hex
        name = f"u-{user_id[:6]}"
        import subprocess
        import sys

        env = self.apis[0].env
        subprocess.run(
            [sys.executable, "-m", "browserpool", "users", "add", name, "--password-stdin"],
            input="pw\n",
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            [sys.executable, "-m", "browserpool", "keys", "create", name],
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
        return {"X-API-Key": out.stdout.strip()}

    def stop(self) -> None:
        for node in self.apis + self.workers:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGCONT)
            node.stop()
        self.redis.close()


@pytest.fixture
def cluster(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, redis_url, prefix)
    try:
        yield c
    finally:
        c.stop()


def wait_for(check, timeout: float = 15.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last {value!r})")
        time.sleep(interval)


def status_of(api: DaemonProcess, headers: dict[str, str], sid: str) -> str:
    return str(httpx.get(api.url + SESSIONS + sid, headers=headers).json()["status"])


def test_any_api_node_serves_any_session(cluster: Cluster) -> None:
    api1, api2 = cluster.api(), cluster.api()
    for _ in range(3):
        cluster.worker()
    me = cluster.key()
    sids = []
    for _ in range(6):
        response = httpx.post(api1.url + SESSIONS, json={"viewport_width": 640, "viewport_height": 400}, headers=me)
        assert response.status_code == 201, response.text
        sids.append(response.json()["session_id"])
    holders = {cluster.holder(s) for s in sids}
    assert len(holders) == 3, holders  # spread over every worker

    sid = sids[0]
    listed = httpx.get(api2.url + SESSIONS, headers=me).json()
    assert listed["total_count"] == 6
    evaluated = httpx.post(api2.url + f"{SESSIONS}{sid}/evaluate", json={"expression": "innerWidth"}, headers=me)
    assert evaluated.json() == {"result": 640}
    png = httpx.get(api2.url + f"{SESSIONS}{sid}/screenshot", headers=me)
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"

    cdp_url = httpx.get(api2.url + SESSIONS + sid, headers=me).json()["cdp_url"]
    assert f":{api2.port}/" in cdp_url

    async def drive_over_cdp() -> str:
        async with async_playwright() as p:
            browser = await p.chromium.connect_over_cdp(cdp_url)
            page = browser.contexts[0].pages[0]
            await page.goto("data:text/html,<title>through api 2</title>")
            title = await page.title()
            await browser.close()
            return title

    assert asyncio.run(drive_over_cdp()) == "through api 2"
    link = httpx.post(api1.url + f"{SESSIONS}{sid}/live-links", json={}, headers=me).json()
    refused = asyncio.run(view_only_input(api2.url.replace("http", "ws", 1) + f"{SESSIONS}{sid}/cdp", link["url"]))
    assert "view-only live view" in refused  # the link's mode reached the worker that holds the session
    assert httpx.delete(api2.url + SESSIONS + sid, headers=me).status_code == 204
    assert status_of(api1, me, sid) == "closed"
    assert httpx.get(api1.url + SESSIONS, headers=me).json()["total_count"] == 5
    with files_site() as site:
        files_through_another_node(api1, api2, me, sids[1], site)


def files_through_another_node(
    api1: DaemonProcess, api2: DaemonProcess, me: dict[str, str], sid: str, site: str
) -> None:
    """A session's files, made through one API node, read and sent through another (streamed from its worker)."""
    session = f"{SESSIONS}{sid}"
    httpx.post(api1.url + f"{session}/navigate", json={"url": f"{site}/download"}, headers=me)
    httpx.post(
        api1.url + f"{session}/evaluate", json={"expression": "document.getElementById('dl').click()"}, headers=me
    )

    def listed() -> list[dict[str, str]]:
        found = httpx.get(api2.url + f"{session}/downloads", headers=me).json()["downloads"]
        return found if found and found[0]["state"] == "complete" else []

    assert wait_for(listed)[0]["name"] == "report.bin"
    assert httpx.get(api2.url + f"{session}/downloads/report.bin", headers=me).content == REPORT
    httpx.post(api1.url + f"{session}/navigate", json={"url": f"{site}/upload"}, headers=me)
    sent = httpx.post(api2.url + f"{session}/files", files={"files": ("cv.txt", b"curriculum")}, headers=me)
    assert sent.status_code == 200 and sent.json()["files"][0]["size_bytes"] == 10, sent.text
    chosen = httpx.post(api2.url + f"{session}/upload", json={"selector": "#f", "files": ["cv.txt"]}, headers=me)
    assert chosen.status_code == 204, chosen.text
    picked = httpx.post(api1.url + f"{session}/evaluate", json={"expression": "f.files[0].name"}, headers=me)
    assert picked.json() == {"result": "cv.txt"}
    assert httpx.get(api2.url + f"{session}/pdf", headers=me).content.startswith(b"%PDF")
    assert httpx.delete(api1.url + session, headers=me).status_code == 204
    after = wait_for(lambda: httpx.get(api2.url + f"{session}/downloads/report.bin", headers=me).content == REPORT)
    assert after


async def view_only_input(socket_url: str, link_url: str) -> str:
    """The error a view-only live link's connection gets for input, through an API node to a worker."""
    token = link_url.partition("#token=")[2].partition("&")[0]
    async with connect(f"{socket_url}?link={token}") as socket:
        await socket.send(json.dumps({"id": 1, "method": "Target.getTargets"}))
        targets = json.loads(await socket.recv())["result"]["targetInfos"]
        attach = {"targetId": targets[0]["targetId"], "flatten": True}
        await socket.send(json.dumps({"id": 2, "method": "Target.attachToTarget", "params": attach}))
        while "sessionId" not in (answer := json.loads(await socket.recv())).get("result", {}):
            pass
        text = {
            "id": 3,
            "method": "Input.insertText",
            "params": {"text": "x"},
            "sessionId": answer["result"]["sessionId"],
        }
        await socket.send(json.dumps(text))
        while (answer := json.loads(await socket.recv())).get("id") != 3:
            pass
        return str(answer["error"]["message"])


def test_a_killed_workers_sessions_fail_and_new_ones_avoid_it(cluster: Cluster) -> None:
    api = cluster.api()
    doomed, survivor = cluster.worker(), cluster.worker()
    me = cluster.key()
    sids = [httpx.post(api.url + SESSIONS, json={}, headers=me).json()["session_id"] for _ in range(4)]
    on_doomed = [s for s in sids if cluster.holder(s) == doomed.worker_id]
    on_survivor = [s for s in sids if cluster.holder(s) == survivor.worker_id]
    assert on_doomed and on_survivor

    doomed.signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    started = time.monotonic()
    wait_for(lambda: all(status_of(api, me, s) == "failed" for s in on_doomed), timeout=15)
    assert time.monotonic() - started < 10  # lease 2 s + a reaper tick
    assert all(status_of(api, me, s) == "active" for s in on_survivor)
    ok = httpx.post(api.url + f"{SESSIONS}{on_survivor[0]}/evaluate", json={"expression": "1+1"}, headers=me)
    assert ok.json() == {"result": 2}
    for _ in range(3):
        created = httpx.post(api.url + SESSIONS, json={}, headers=me)
        assert created.status_code == 201
        assert cluster.holder(created.json()["session_id"]) == survivor.worker_id


def test_sigterm_drains_a_worker(cluster: Cluster) -> None:
    api = cluster.api()
    draining = cluster.worker(BROWSERPOOL_DRAIN_GRACE="3")
    cluster.worker()
    me = cluster.key()
    sids = [httpx.post(api.url + SESSIONS, json={}, headers=me).json()["session_id"] for _ in range(4)]
    mine = [s for s in sids if cluster.holder(s) == draining.worker_id]
    assert mine

    started = time.monotonic()
    draining.signal(signal.SIGTERM)
    time.sleep(0.5)
    # still serving its sessions while it drains, but taking no new ones
    still = httpx.post(api.url + f"{SESSIONS}{mine[0]}/evaluate", json={"expression": "1"}, headers=me)
    assert still.json() == {"result": 1}
    for _ in range(3):
        created = httpx.post(api.url + SESSIONS, json={}, headers=me).json()["session_id"]
        assert cluster.holder(created) != draining.worker_id
    draining.wait(timeout=20)
    assert time.monotonic() - started < 3 + 10
    for sid in mine:
        assert status_of(api, me, sid) == "closed"
    assert not draining.chromium_pids()
    assert cluster.redis.zscore(f"{cluster.prefix}:workers", draining.worker_id) is None


def test_operator_drain_through_the_api(cluster: Cluster) -> None:
    api = cluster.api()
    worker = cluster.worker(BROWSERPOOL_DRAIN_GRACE="1")
    admin = {"X-API-Key": __import__("re").search(r"(bp_\S+)", api.output()).group(1)}
    plain = cluster.key()
    assert httpx.post(api.url + f"/v1/admin/workers/{worker.worker_id}/drain", headers=plain).status_code == 403
    assert httpx.post(api.url + "/v1/admin/workers/nope/drain", headers=admin).status_code == 404
    pool = httpx.get(api.url + "/v1/admin/pool", headers=admin).json()
    assert [w["worker_id"] for w in pool["workers"]] == [worker.worker_id]
    assert pool["capacity"] == 20 and pool["utilisation"] == 0

    response = httpx.post(api.url + f"/v1/admin/workers/{worker.worker_id}/drain", headers=admin)
    assert response.status_code == 202
    worker.wait(timeout=20)
    assert httpx.post(api.url + SESSIONS, json={}, headers=plain).status_code == 503


def test_a_stopped_worker_does_not_resurrect_failed_sessions(cluster: Cluster) -> None:
    api = cluster.api()
    frozen = cluster.worker()
    me = cluster.key()
    sids = [httpx.post(api.url + SESSIONS, json={}, headers=me).json()["session_id"] for _ in range(2)]
    assert cluster.redis.hget(f"{cluster.prefix}:worker:{frozen.worker_id}", "used") == "2"

    frozen.signal(signal.SIGSTOP)
    wait_for(lambda: all(status_of(api, me, s) == "failed" for s in sids), timeout=15)
    frozen.signal(signal.SIGCONT)
    # back: it heart-beats again, closes the stale contexts, and the sessions stay failed
    wait_for(lambda: cluster.redis.hget(f"{cluster.prefix}:worker:{frozen.worker_id}", "used") == "0", timeout=15)
    assert all(status_of(api, me, s) == "failed" for s in sids)
    assert httpx.get(api.url + SESSIONS, headers=me).json()["total_count"] == 0
    created = httpx.post(api.url + SESSIONS, json={}, headers=me)
    assert created.status_code == 201
