"""The whole daemon as a process: crash and restart, graceful stop, the operator CLI, the embedded Redis."""

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.redis_server import DEFAULT_LOCAL_URL, answers
from tests.e2e.daemon_process import DaemonProcess

pytestmark = pytest.mark.e2e

SESSIONS = "/v1/browser/sessions/"


@pytest.fixture
def processes() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.stop()


def bootstrap_key(daemon: DaemonProcess) -> str:
    match = re.search(r"(bp_\S+)", daemon.output())
    assert match, daemon.output()
    return match.group(1)


def wait_until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_restart_after_kill_9_leaves_nothing_live_and_no_chromium(
    redis_url: str, prefix: str, tmp_path: Path, processes: list[DaemonProcess]
) -> None:
    worker_id = f"e2e-{uuid.uuid4().hex[:6]}"
    first = DaemonProcess(tmp_path, redis_url, prefix, worker_id).start()
    processes.append(first)
    headers = {"X-API-Key": bootstrap_key(first)}
    sids = [httpx.post(first.url + SESSIONS, json={}, headers=headers).json()["session_id"] for _ in range(2)]
    assert first.chromium_pids()

    first.signal(signal.SIGKILL)
    first.wait(timeout=10)
    wait_until(lambda: not first.chromium_pids(), timeout=15)  # Chromium does not outlive its daemon

    second = DaemonProcess(tmp_path, redis_url, prefix, worker_id).start()
    processes.append(second)
    listed = httpx.get(second.url + SESSIONS, headers=headers).json()
    assert listed == {"sessions": [], "total_count": 0}
    for sid in sids:
        assert httpx.get(second.url + SESSIONS + sid, headers=headers).json()["status"] == "failed"
    assert httpx.post(second.url + SESSIONS, json={}, headers=headers).status_code == 201


def test_sigterm_closes_sessions_and_exits_promptly(
    redis_url: str, prefix: str, tmp_path: Path, processes: list[DaemonProcess]
) -> None:
    daemon = DaemonProcess(tmp_path, redis_url, prefix, f"e2e-{uuid.uuid4().hex[:6]}").start()
    processes.append(daemon)
    headers = {"X-API-Key": bootstrap_key(daemon)}
    sid = httpx.post(daemon.url + SESSIONS, json={}, headers=headers).json()["session_id"]

    started = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait(timeout=20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean stop
    assert time.monotonic() - started < 15
    assert not daemon.chromium_pids()

    lines = [json.loads(line) for line in daemon.output().splitlines() if line.startswith("{")]
    mine = [(e["event"], e["worker_id"]) for e in lines if e.get("session_id") == sid]
    assert mine == [(event, daemon.worker_id) for event in ("created", "active", "closing", "closed")]

    successor = DaemonProcess(tmp_path, redis_url, prefix, f"e2e-{uuid.uuid4().hex[:6]}").start()
    processes.append(successor)
    assert httpx.get(successor.url + SESSIONS + sid, headers=headers).json()["status"] == "closed"


def test_operator_cli_adds_users_and_keys(
    redis_url: str, prefix: str, tmp_path: Path, processes: list[DaemonProcess]
) -> None:
    daemon = DaemonProcess(tmp_path, redis_url, prefix, f"e2e-{uuid.uuid4().hex[:6]}").start()
    processes.append(daemon)

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "browserpool", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=daemon.env,
            timeout=30,
        )

    added = cli("users", "add", "grace", "--password-stdin", stdin="hunter2-long\n")
    assert added.returncode == 0, added.stderr
    again = cli("users", "add", "grace", "--password-stdin", stdin="x\n")
    assert again.returncode == 1 and "exists" in again.stderr

    created = cli("keys", "create", "grace")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert re.fullmatch(r"bp_\w+_[\w-]+", key), created.stdout
    assert httpx.get(daemon.url + SESSIONS, headers={"X-API-Key": key}).status_code == 200

    token = httpx.post(daemon.url + "/v1/auth/token", data={"username": "grace", "password": "hunter2-long"})
    assert token.status_code == 200
    assert cli("keys", "create", "nobody").returncode == 1

    sid = httpx.post(daemon.url + SESSIONS, json={"viewport_width": 640}, headers={"X-API-Key": key}).json()
    listed = cli("sessions", "ls", "--user", "grace")
    assert listed.returncode == 0 and sid["session_id"] in listed.stdout and "640x720" in listed.stdout
    assert "grace" in cli("sessions", "ls").stdout
    assert cli("sessions", "ls", "--user", "nobody").returncode == 1
    workers = cli("workers", "ls")
    assert daemon.worker_id in workers.stdout and "1/20" in workers.stdout

    closed = cli("sessions", "close", sid["session_id"])
    assert closed.returncode == 0, closed.stderr
    wait_until(
        lambda: (
            httpx.get(daemon.url + SESSIONS + sid["session_id"], headers={"X-API-Key": key}).json()["status"]
            == "closed"
        )
    )
    assert sid["session_id"] not in cli("sessions", "ls").stdout
    assert sid["session_id"] in cli("sessions", "ls", "--all").stdout
    assert cli("sessions", "close", "nope").returncode == 1

    doctor = cli("doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "chromium" in doctor.stdout and "all good" in doctor.stdout


def test_embedded_redis_when_none_is_configured(tmp_path: Path, processes: list[DaemonProcess]) -> None:
    if answers(DEFAULT_LOCAL_URL):
        pytest.skip("a Redis answers on 127.0.0.1:6379, so the daemon would use it instead")
    daemon = DaemonProcess(tmp_path, None, "browserpool", f"e2e-{uuid.uuid4().hex[:6]}").start()
    processes.append(daemon)
    assert "started a private redis-server" in daemon.output()
    headers = {"X-API-Key": bootstrap_key(daemon)}
    assert httpx.post(daemon.url + SESSIONS, json={}, headers=headers).status_code == 201

    daemon.signal(signal.SIGTERM)
    assert daemon.wait(timeout=20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean stop
    socket_path = tmp_path / "state" / "redis" / "redis.sock"
    wait_until(lambda: not answers(f"unix://{socket_path}"), timeout=10)  # no orphaned Redis
