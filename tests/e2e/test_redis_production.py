"""Redis as production runs it: TLS with a private CA, a least-privilege ACL user, an eviction policy that
would lose state. Real redis-server processes on loopback."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import make_settings, start_daemon
from tests.e2e.daemon_process import DaemonProcess
from tests.redis_ha import RedisNode, browserpool_cli, self_signed_ca
from tests.support import eventually, free_port

pytestmark = pytest.mark.e2e

SESSIONS = "/v1/browser/sessions/"
PASSWORD = "s3cret-acl-password"


def acl_rule(prefix: str) -> list[str]:
    """README's ACL line for the pool's user (the key pattern follows BROWSERPOOL_REDIS_PREFIX)."""
    rules = f"on >{PASSWORD} ~{prefix}:* resetchannels -@all +@read +@write +@scripting +@transaction"
    return ["--user", "browserpool", *rules.split(), "+@connection", "-@dangerous", "+info"]


@pytest.fixture
def tls_redis(tmp_path: Path, prefix: str) -> Iterator[tuple[RedisNode, Path]]:
    ca, cert, key = self_signed_ca(tmp_path)
    port = free_port()
    node = RedisNode(
        tmp_path,
        *("--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"),
        *("--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca)),
        *acl_rule(prefix),
        port=port,
    ).start()
    try:
        yield node, ca
    finally:
        node.stop()


async def test_tls_and_a_least_privilege_acl_user_run_the_whole_pool(
    tls_redis: tuple[RedisNode, Path], prefix: str, tmp_path: Path, site: str, caplog: pytest.LogCaptureFixture
) -> None:
    node, ca = tls_redis
    url = f"rediss://browserpool:{PASSWORD}@127.0.0.1:{node.port}/0"
    settings = make_settings(url, prefix, tmp_path, redis_ca_file=ca, worker_lease_ttl=1.0)
    caplog.set_level(logging.WARNING)
    async with start_daemon(settings) as daemon:
        me = await daemon.user()
        short = await daemon.create(me, timeout_seconds=5)
        kept = await daemon.create(me)
        listed = (await daemon.client.get(SESSIONS, headers=me)).json()["sessions"]
        assert {s["session_id"] for s in listed} == {short["session_id"], kept["session_id"]}
        sid = kept["session_id"]
        moved = await daemon.client.post(f"{SESSIONS}{sid}/navigate", json={"url": site + "/other"}, headers=me)
        assert moved.status_code == 200 and moved.json()["title"] == "other page"
        assert (await daemon.client.post(f"{SESSIONS}{sid}/keepalive", headers=me)).status_code == 200
        assert (await daemon.client.delete(f"{SESSIONS}{sid}", headers=me)).status_code == 204

        async def reaped() -> bool:  # the reaper (its lock script, the deadline index) works under the ACL
            body = (await daemon.client.get(f"{SESSIONS}{short['session_id']}", headers=me)).json()
            return bool(body["status"] == "expired")

        await eventually(reaped, timeout=15)
    as_the_pool = redis.Redis(
        host="127.0.0.1", port=node.port, username="browserpool", password=PASSWORD, ssl=True, ssl_ca_certs=str(ca)
    )
    with as_the_pool:  # the rule is narrow: no key outside the prefix, no KEYS, no CONFIG
        for refused_command in (("GET", "elsewhere"), ("KEYS", "*"), ("CONFIG", "GET", "save"), ("FLUSHALL",)):
            with pytest.raises(redis.exceptions.NoPermissionError):
                as_the_pool.execute_command(*refused_command)
    refused = [r.getMessage() for r in caplog.records if "NOPERM" in r.getMessage() or "NOPERM" in str(r.exc_info)]
    assert not refused


def test_doctor_reports_tls_and_a_verified_server(tls_redis: tuple[RedisNode, Path], tmp_path: Path) -> None:
    node, ca = tls_redis
    url = f"rediss://browserpool:{PASSWORD}@127.0.0.1:{node.port}/0"
    doctor = browserpool_cli(tmp_path, "doctor", BROWSERPOOL_REDIS_URL=url, BROWSERPOOL_REDIS_CA_FILE=str(ca))
    lines = doctor.stdout.splitlines()
    assert any(line.startswith("ok  redis") and "standalone" in line for line in lines), doctor.stdout
    assert any(line.startswith("ok  tls") and str(ca) in line for line in lines), doctor.stdout
    assert any(line.startswith("ok  eviction") and "noeviction" in line for line in lines), doctor.stdout
    # the ACL user may not read CONFIG: doctor says it does not know rather than guessing
    assert any(line.startswith("ok  persist") and "unknown" in line for line in lines), doctor.stdout
    assert PASSWORD not in doctor.stdout

    unverified = browserpool_cli(
        tmp_path, "doctor", BROWSERPOOL_REDIS_URL=url
    )  # the private CA is not among the system's
    assert unverified.returncode == 1
    assert "BAD redis" in unverified.stdout and "certificate verify failed" in unverified.stdout


def test_an_evicting_redis_is_refused_unless_allowed(tmp_path: Path, prefix: str) -> None:
    node = RedisNode(tmp_path, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru").start()
    url = f"redis://127.0.0.1:{node.port}/0"
    try:
        doctor = browserpool_cli(tmp_path, "doctor", BROWSERPOOL_REDIS_URL=url)
        assert doctor.returncode == 1
        eviction = [line for line in doctor.stdout.splitlines() if line.startswith("BAD eviction")]
        assert eviction and "maxmemory-policy is allkeys-lru" in eviction[0], doctor.stdout

        serve = browserpool_cli(tmp_path, "serve", BROWSERPOOL_REDIS_URL=url, BROWSERPOOL_REDIS_PREFIX=prefix)
        assert serve.returncode == 1
        assert "maxmemory-policy is allkeys-lru" in serve.stderr and "noeviction" in serve.stderr
        assert "BROWSERPOOL_ALLOW_EVICTING_REDIS" in serve.stderr

        allowed = DaemonProcess(tmp_path, url, prefix, "api-evicting", "api", BROWSERPOOL_ALLOW_EVICTING_REDIS="true")
        try:
            allowed.start()  # ready: it runs, and says why it should not
            assert "allowed by BROWSERPOOL_ALLOW_EVICTING_REDIS" in allowed.output()
        finally:
            allowed.stop()
    finally:
        node.stop()
