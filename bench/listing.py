"""Scenario 3: GET /v1/browser/sessions/ for a user with 10, 100 and 1,000 live session records.

Records go straight into the daemon's Redis through SessionStore.create (status active, a worker id no
daemon holds). Latency is sequential; requests/s uses concurrent clients. Redis work per listing comes
from INFO commandstats deltas (which count commands run inside scripts) and a MONITOR split (client
commands vs script-internal ones). The baseline is GET /healthz: the HTTP floor of the same client.
"""

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from redis.asyncio import Redis

from orchestrator import clock
from orchestrator.keys import Keys
from orchestrator.lifecycle import SessionStatus
from orchestrator.models import SessionRecord
from orchestrator.runtime import connect_redis
from orchestrator.scripts import Scripts
from orchestrator.store import SessionStore

from .daemon import DaemonProcess
from .redis_counts import commands_during, monitor_during, per_op, scripts_counted
from .results import Check, Row, ScenarioResult
from .stats import Summary, summarize
from .timing import Budget, measured, sample, throughput

NAME = "listing"
PATH = "/v1/browser/sessions/"
COUNTS = (10, 100, 1_000)
TARGETS_MS = {100: 5.0, 1_000: 20.0}
CLIENTS = 8
COUNT_BATCH, MONITOR_BATCH = 20, 5
FAKE_WORKER = "bench-listing-worker"


async def seed(daemon: DaemonProcess, count: int) -> httpx.AsyncClient:
    """A user with `count` live session records; a client authenticated as them."""
    credentials = await daemon.new_user(f"list{count}")
    redis = connect_redis(daemon.redis_url)
    try:
        store, now = SessionStore(redis, daemon.keys, retention_seconds=3600), clock.now_ms()
        records = [record(credentials.user.user_id, now - i * 1000, now) for i in range(count)]
        for start in range(0, count, 100):
            await asyncio.gather(*(store.create(r) for r in records[start : start + 100]))
    finally:
        await redis.aclose()
    return daemon.client(credentials)


def record(user_id: str, created: int, now: int) -> SessionRecord:
    return SessionRecord(
        session_id=uuid.uuid4().hex,
        user_id=user_id,
        worker_id=FAKE_WORKER,
        status=SessionStatus.ACTIVE,
        viewport_width=1280,
        viewport_height=720,
        user_agent=None,
        timeout_seconds=3600,
        idle_timeout=3600,
        created_at_ms=created,
        last_activity_ms=now,
        expires_at_ms=now + 3_600_000,
    )


def getter(client: httpx.AsyncClient, path: str, expect_total: int | None = None) -> Callable[[], Awaitable[None]]:
    async def get() -> None:
        response = await client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
        if expect_total is not None and response.json()["total_count"] != expect_total:
            raise RuntimeError(f"listing returned {response.json()['total_count']} sessions, expected {expect_total}")

    return get


async def run(daemon: DaemonProcess, floor_client: httpx.AsyncClient, budget: Budget) -> ScenarioResult:
    out = ScenarioResult(NAME)
    health = getter(floor_client, "/healthz")
    floor = summarize(await sample(measured(health), budget.count(200), budget.seconds(20), warmup=20))
    floor_rps = await throughput(health, CLIENTS, budget.count(600), budget.seconds(15))
    out.rows += [Row.of(NAME, "[baseline] GET /healthz", "ms", floor), rps_row("[baseline] GET /healthz", floor_rps)]
    out.raw["healthz"] = {"latency": floor.as_dict(), "rps": floor_rps[0] / floor_rps[1]}
    info = connect_redis(daemon.redis_url)
    try:
        for count in COUNTS:
            async with await seed(daemon, count) as client:
                figures = await measure(client, info, daemon.keys, count, budget)
            out.rows += rows(count, figures, floor, floor_rps)
            out.raw[str(count)] = describe(figures)
        out.raw["script_internal_counted_in_commandstats"] = await scripts_counted(info)
    finally:
        await info.aclose()
    return out


async def measure(client: httpx.AsyncClient, info: Redis, keys: Keys, count: int, budget: Budget) -> dict[str, Any]:
    listing = getter(client, PATH)
    await getter(client, PATH, expect_total=count)()
    n = budget.count(200 if count < 1_000 else 120)
    latency = summarize(await sample(measured(listing), n, budget.seconds(30), warmup=10))
    rps = await throughput(listing, CLIENTS, budget.count(600 if count < 1_000 else 200), budget.seconds(15))

    async def batch(size: int) -> None:
        for _ in range(size):
            await listing()

    commands = await commands_during(info, lambda: batch(COUNT_BATCH))
    split = await monitor_during(info, lambda: batch(MONITOR_BATCH))
    return {
        "latency": latency,
        "rps": rps,
        "commands": commands.calls,
        "script_usec": commands.usec["evalsha"] / max(commands.calls["evalsha"], 1),
        "client": classify(split.client, keys, Scripts.register(info).list_live.sha),  # registering sends nothing
        "script": split.script,
    }


# What the daemon sent while we listed, by purpose: the listing script, the API-key check, connection
# upkeep (redis-py health-check PINGs, handshakes), and anything else (its background jobs).
PURPOSES = ("list_live evalsha", "auth", "upkeep", "other")
UPKEEP = frozenset({"ping", "hello", "client"})


def classify(commands: list[str], keys: Keys, listing_sha: str) -> Counter[str]:
    auth_keys = (keys.api_key(""), keys.user(""))
    counts: Counter[str] = Counter({purpose: 0 for purpose in PURPOSES})
    for line in commands:
        name, _, rest = line.partition(" ")
        name = name.lower()
        if name == "evalsha" and rest.startswith(listing_sha):
            counts["list_live evalsha"] += 1
        elif name in ("hget", "hmget", "hgetall") and rest.startswith(auth_keys):
            counts["auth"] += 1
        else:
            counts["upkeep" if name in UPKEEP else "other"] += 1
    return counts


def rps_row(variant: str, done_and_seconds: tuple[int, float], baseline: tuple[int, float] | None = None) -> Row:
    done, seconds = done_and_seconds
    row = Row(NAME, f"{variant}, {CLIENTS} clients", "req/s", n=done, p50=done / seconds)
    if baseline is not None:
        row.baseline_p50, row.baseline_label = baseline[0] / baseline[1], "GET /healthz req/s"
    return row


def rows(count: int, f: dict[str, Any], floor: Summary, floor_rps: tuple[int, float]) -> list[Row]:
    latency: Summary = f["latency"]
    per = {purpose: calls / MONITOR_BATCH for purpose, calls in f["client"].items()}
    checks = [Check("1 round trip (evalsha)", per["list_live evalsha"] == 1)]
    if count in TARGETS_MS:
        checks.insert(0, Check(f"p50 < {TARGETS_MS[count]:g} ms", latency.p50 < TARGETS_MS[count]))
    notes = (
        f"per listing: {per['list_live evalsha']:g} list_live EVALSHA ({f['script_usec'] / 1000:.2f} ms in Redis) "
        f"+ {per['auth']:g} auth + {per['upkeep']:g} upkeep cmds sent; {per['other']:g} other (background jobs); "
        f"commandstats {sum(f['commands'].values()) / COUNT_BATCH:g} cmds incl. in-script"
    )
    variant = f"{count} live sessions"
    latency_row = Row.of(NAME, variant, "ms", latency, baseline_p50=floor.p50, checks=checks, notes=notes)
    latency_row.baseline_label = "GET /healthz"
    return [latency_row, rps_row(variant, f["rps"], floor_rps)]


def describe(f: dict[str, Any]) -> dict[str, Any]:
    done, seconds = f["rps"]
    per: dict[str, Counter[str]] = {"client_sent_by_purpose": f["client"], "script_internal": f["script"]}
    return {
        "latency": f["latency"].as_dict(),
        "rps": {"requests": done, "seconds": round(seconds, 3), "per_second": round(done / seconds, 1)},
        "redis_commandstats_per_listing": per_op(f["commands"], COUNT_BATCH),
        "redis_usec_per_evalsha": round(f["script_usec"], 1),
        "monitor_per_listing": {k: per_op(v, MONITOR_BATCH) for k, v in per.items()},
    }
