"""The pool on a Sentinel-managed Redis: kill -9 the primary, a replica is promoted, and nothing a client
was told is lost. Real redis-server and redis-sentinel processes on loopback (tests/redis_ha.py)."""

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from tests.conftest import make_settings, serve_daemon
from tests.e2e.daemon_process import DaemonProcess
from tests.redis_ha import SentinelSet, browserpool_cli
from tests.support import eventually

pytestmark = pytest.mark.e2e

SESSIONS = "/v1/browser/sessions/"
# Leases shorter than the failover (about 2 s here), so every lease has run out on the promoted replica:
# only the reaper's wait (a whole lease period on the new primary) keeps those workers' sessions alive.
LEASE = 1.0
# From the kill to the first create answered 201 again: the failover (about 2 s with a 1 s down-after) plus
# the clients finding the new primary. README, "Redis in production", quotes this figure.
RECOVERY_SECONDS = 10.0


@pytest.fixture
def sentinels() -> Iterator[SentinelSet]:
    topology = SentinelSet().start()
    try:
        yield topology
    finally:
        topology.stop()


@dataclass
class Traffic:
    """A client creating and listing sessions every 100 ms through the failover, noting every answer."""

    bases: list[str]
    headers: dict[str, str]
    max_created: int = 6
    answers: list[tuple[float, str, int, str | None]] = field(default_factory=list)  # (when, what, code, retry)
    created: list[str] = field(default_factory=list)  # sessions answered 201: promised to exist
    running: bool = True
    creating: bool = False  # creates start with the kill, so the first 201 after it is seen

    async def run(self) -> None:
        turn = 0
        async with httpx.AsyncClient(timeout=30) as client:
            while self.running:
                base = self.bases[turn % len(self.bases)]
                turn += 1
                with contextlib.suppress(httpx.TransportError):
                    listed = await client.get(base + SESSIONS, headers=self.headers)
                    self._note("list", listed)
                if self.creating and len(self.created) < self.max_created:
                    with contextlib.suppress(httpx.TransportError):
                        made = await client.post(base + SESSIONS, json={}, headers=self.headers)
                        self._note("create", made)
                        if made.status_code == 201:
                            self.created.append(made.json()["session_id"])
                await asyncio.sleep(0.1)

    def _note(self, what: str, response: httpx.Response) -> None:
        self.answers.append((time.monotonic(), what, response.status_code, response.headers.get("retry-after")))

    def first_success_after(self, moment: float, what: str) -> float | None:
        ok = [t for t, w, code, _ in self.answers if w == what and t > moment and code < 300]
        return min(ok) - moment if ok else None

    def codes(self) -> set[int]:
        return {code for *_, code, _ in self.answers}


async def _cdp_keeps_working(page: Page, until: "asyncio.Task[float]") -> int:
    """Drive the page over CDP while Redis fails over; how many round trips it made."""
    trips = 0
    while not until.done():
        assert await page.evaluate("21 * 2") == 42
        trips += 1
        await asyncio.sleep(0.05)
    return trips


async def _statuses(client: httpx.AsyncClient, base: str, headers: dict[str, str], ids: list[str]) -> dict[str, str]:
    found = {}
    for sid in ids:
        body = (await client.get(f"{base}{SESSIONS}{sid}", headers=headers)).json()
        found[sid] = f"{body['status']}:{body.get('end_reason')}"
    return found


async def test_serve_rides_through_a_primary_killed_by_sigkill(
    sentinels: SentinelSet, prefix: str, tmp_path: Path, site: str
) -> None:
    settings = make_settings(sentinels.url, prefix, tmp_path, worker_lease_ttl=LEASE, contexts_per_browser=20)
    async with serve_daemon(settings) as daemon, async_playwright() as playwright:
        me = await daemon.user()
        before = [(await daemon.create(me))["session_id"] for _ in range(3)]
        driven = await daemon.create(me)
        browser = await playwright.chromium.connect_over_cdp(driven["cdp_url"])
        page = browser.contexts[0].pages[0]
        await page.goto(site + "/")

        traffic = Traffic([str(daemon.client.base_url).rstrip("/")], me)
        load = asyncio.create_task(traffic.run())
        await asyncio.sleep(0.5)
        killed = time.monotonic()
        traffic.creating = True
        sentinels.primary.kill()
        promoted = asyncio.create_task(asyncio.to_thread(sentinels.wait_promoted))
        assert await _cdp_keeps_working(page, promoted) > 0  # its traffic never touches Redis
        await eventually(lambda: _true(traffic.first_success_after(killed, "create")), timeout=RECOVERY_SECONDS)
        recovery = traffic.first_success_after(killed, "create")
        await asyncio.sleep(LEASE * 3)  # past the reaper's wait: a lapse it would declare, it has declared
        traffic.running = False
        await load

        codes = traffic.codes()
        assert codes <= {200, 201, 503}, traffic.answers  # no 500s, no crash
        assert 503 in codes  # the switch was seen, and answered as an outage
        assert all(retry for *_, code, retry in traffic.answers if code == 503)
        acknowledged = [*before, driven["session_id"], *traffic.created]
        statuses = await _statuses(daemon.client, "", me, acknowledged)
        assert set(statuses.values()) == {"active:None"}, statuses  # none lost, none failed worker_lost
        listed = {s["session_id"] for s in (await daemon.client.get(SESSIONS, headers=me)).json()["sessions"]}
        assert set(acknowledged) <= listed

        # Everything works again without a restart: actions, CDP, and records and contexts agree.
        moved = await daemon.client.post(f"{SESSIONS}{before[0]}/navigate", json={"url": site + "/other"}, headers=me)
        assert moved.status_code == 200 and moved.json()["title"] == "other page"
        assert browser.is_connected() and await page.title() == "browserpool test page"
        await eventually(lambda: _records_match_contexts(daemon, me), timeout=20)
        print(f"failover: first create answered 201 again {recovery:.1f}s after kill -9")
        await browser.close()


async def _true(value: object) -> bool:
    return bool(value)


async def _records_match_contexts(daemon, headers: dict[str, str]) -> bool:  # type: ignore[no-untyped-def]
    listed = {s["session_id"] for s in (await daemon.client.get(SESSIONS, headers=headers)).json()["sessions"]}
    return listed == set(daemon.worker.held_session_ids())


def _api_key(node: DaemonProcess) -> dict[str, str]:
    name = f"u-{uuid.uuid4().hex[:6]}"
    cli = [sys.executable, "-m", "browserpool"]
    subprocess.run([*cli, "users", "add", name, "--password-stdin"], input="pw\n", text=True, env=node.env, check=True)
    made = subprocess.run([*cli, "keys", "create", name], text=True, env=node.env, check=True, capture_output=True)
    return {"X-API-Key": made.stdout.strip()}


async def test_a_cluster_rides_through_a_failover(
    sentinels: SentinelSet, prefix: str, tmp_path: Path, site: str
) -> None:
    lease = {"BROWSERPOOL_WORKER_LEASE_TTL": str(LEASE), "BROWSERPOOL_DRAIN_GRACE": "0"}
    nodes: list[DaemonProcess] = []

    def node(role: str, name: str) -> DaemonProcess:
        started = DaemonProcess(tmp_path, sentinels.url, prefix, f"{name}-{uuid.uuid4().hex[:4]}", role, **lease)
        nodes.append(started)
        return started.start()

    try:
        node("worker", "w0"), node("worker", "w1")
        apis = [node("api", "a0"), node("api", "a1")]
        me = _api_key(apis[0])
        doctor = browserpool_cli(tmp_path, "doctor", BROWSERPOOL_REDIS_URL=sentinels.url)
        topology = (
            f"sentinel: primary 127.0.0.1:{sentinels.primary.port} (pool), replicas 127.0.0.1:{sentinels.replica.port}"
        )
        assert f"ok  redis     {topology}" in doctor.stdout, doctor.stdout
        assert f"ok  replicas  127.0.0.1:{sentinels.replica.port} online" in doctor.stdout, doctor.stdout
        bases = [api.url for api in apis]
        async with httpx.AsyncClient(timeout=30) as client, async_playwright() as playwright:
            before = []
            for i in range(4):
                made = await client.post(bases[i % 2] + SESSIONS, json={}, headers=me)
                assert made.status_code == 201, made.text
                before.append(made.json())
            browser = await playwright.chromium.connect_over_cdp(before[0]["cdp_url"])  # through API node 0
            page = browser.contexts[0].pages[0]
            await page.goto(site + "/")

            traffic = Traffic(bases, me, max_created=4)
            load = asyncio.create_task(traffic.run())
            await asyncio.sleep(0.5)
            killed = time.monotonic()
            traffic.creating = True
            sentinels.primary.kill()
            promoted = asyncio.create_task(asyncio.to_thread(sentinels.wait_promoted))
            assert await _cdp_keeps_working(page, promoted) > 0
            await eventually(lambda: _true(traffic.first_success_after(killed, "create")), timeout=RECOVERY_SECONDS)
            await asyncio.sleep(LEASE * 3)
            traffic.running = False
            await load

            assert traffic.codes() <= {200, 201, 503}, traffic.answers
            assert 503 in traffic.codes()
            acknowledged = [s["session_id"] for s in before] + traffic.created
            statuses = await _statuses(client, bases[1], me, acknowledged)
            assert set(statuses.values()) == {"active:None"}, statuses
            listed = {s["session_id"] for s in (await client.get(bases[0] + SESSIONS, headers=me)).json()["sessions"]}
            assert set(acknowledged) <= listed
            for sid in acknowledged[:2]:  # an action on each worker's side of the pool, through either node
                moved = await client.post(f"{bases[1]}{SESSIONS}{sid}/navigate", json={"url": site}, headers=me)
                assert moved.status_code == 200, moved.text
            assert browser.is_connected() and await page.evaluate("1 + 1") == 2
            assert all(n.process is not None and n.process.poll() is None for n in nodes)  # nothing restarted
            await browser.close()
    finally:
        for started in nodes:
            started.stop()
