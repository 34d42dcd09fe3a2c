"""Scenario 4: one reaper tick over 1k/10k/100k session records, 1% (or none) of them due.

In-process against a throwaway Redis. Records are written through SessionStore.create (many at once
with asyncio.gather, so whatever create writes stays in step); the due ones are rewritten before
every timed tick, since a tick expires them.
"""

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from orchestrator.keys import Keys
from orchestrator.lifecycle import SessionStatus
from orchestrator.models import SessionRecord
from orchestrator.reaper import Reaper
from orchestrator.registry import WorkerRegistry
from orchestrator.runtime import connect_redis
from orchestrator.store import SessionStore, Transition

from .redis_counts import CountingConnection, commands_during, counting_client, per_op, scripts_counted
from .results import Check, Row, ScenarioResult
from .servers import RedisServer
from .stats import summarize
from .timing import Budget

NAME = "reaper tick"
TOTALS = (1_000, 10_000, 100_000)
USERS = 100
WORKER = "bench-reaper-worker"
CREATE_BATCH = 100  # creates in flight at once (one pooled connection each)
TARGET_MS = 100.0
ROUGHLY_CONSTANT = 2.0  # "roughly constant time": within 2x of the 1k-records tick


@dataclass
class Fixture:
    redis: Redis
    info: Redis
    keys: Keys
    store: SessionStore
    reaper: Reaper
    now: int
    population: int = 0
    toggles: list[str] = field(default_factory=list)


def make_record(session_id: str, index: int, now: int, due: bool) -> SessionRecord:
    """An active record; a due one passed its hard deadline a minute ago, the others end in an hour."""
    expires, last = (now - 60_000, now - 120_000) if due else (now + 3_600_000, now)
    return SessionRecord(
        session_id=session_id,
        user_id=f"bench-user-{index % USERS}",
        worker_id=WORKER,
        status=SessionStatus.ACTIVE,
        viewport_width=1280,
        viewport_height=720,
        user_agent=None,
        timeout_seconds=3600,
        idle_timeout=3600,
        created_at_ms=now - 600_000 + index,
        last_activity_ms=last,
        expires_at_ms=expires,
    )


async def write(fx: Fixture, records: Sequence[SessionRecord], replace: bool = False) -> None:
    """SessionStore.create for each record, `CREATE_BATCH` at a time (after deleting old hashes if asked)."""
    for start in range(0, len(records), CREATE_BATCH):
        batch = records[start : start + CREATE_BATCH]
        if replace:
            await fx.redis.delete(*(fx.keys.session(r.session_id) for r in batch))
        await asyncio.gather(*(fx.store.create(r) for r in batch))


def with_ids(ids: Sequence[str], now: int, due_count: int) -> list[SessionRecord]:
    """Records for `ids`, the first `due_count` of them due."""
    return [make_record(sid, i, now, i < due_count) for i, sid in enumerate(ids)]


async def grow_to(fx: Fixture, total: int) -> None:
    """Population becomes `total` records: the old toggle set joins the rest, a new 1% toggle set is made."""
    toggles = [uuid.uuid4().hex for _ in range(total // 100)]
    added = range(fx.population, total - len(toggles))
    await write(fx, [make_record(uuid.uuid4().hex, i, fx.now, False) for i in added])
    await write(fx, with_ids(toggles, fx.now, 0))
    fx.toggles, fx.population = toggles, total
    live = await fx.redis.zcard(fx.keys.deadlines)
    if live != total:
        raise RuntimeError(f"expected {total} records in the deadline index, found {live}")


async def tick(fx: Fixture, due: int) -> tuple[float, int]:
    """One timed tick: (ms, round trips). Raises if it did not expire exactly the due sessions."""
    trips = CountingConnection.round_trips
    start = time.perf_counter()
    result = await fx.reaper.tick(now_ms=fx.now)
    ms = (time.perf_counter() - start) * 1000
    if result.skipped or len(result.expired) != due:
        raise RuntimeError(f"tick expired {len(result.expired)} of {due} due session(s) (skipped={result.skipped})")
    return ms, CountingConnection.round_trips - trips


async def measure(fx: Fixture, due: int, budget: Budget) -> dict[str, Any]:
    await write(fx, with_ids(fx.toggles, fx.now, due), replace=True)
    due_records = with_ids(fx.toggles[:due], fx.now, due)
    count = budget.count(40 if due else 100)
    times, trips = [], []
    deadline = time.monotonic() + budget.seconds(30)
    for i in range(count + 3):
        if time.monotonic() > deadline:
            break
        await write(fx, due_records, replace=True)
        ms, rt = await tick(fx, due)
        if i >= 3:  # the first ticks warm up
            times.append(ms)
            trips.append(rt)
    await write(fx, due_records, replace=True)
    commands = (await commands_during(fx.info, lambda: tick(fx, due))).calls
    return {"summary": summarize(times), "round_trips": sorted(trips)[len(trips) // 2], "commands": commands}


async def run(budget: Budget) -> ScenarioResult:
    result = ScenarioResult(NAME)
    with RedisServer() as server:
        fx = await fixture(server.url)
        try:
            measured: dict[tuple[int, int], dict[str, Any]] = {}
            for total in TOTALS:
                started = time.perf_counter()
                await grow_to(fx, total)
                result.raw[f"setup_s_{total}"] = round(time.perf_counter() - started, 2)
                variants = [total // 100, 0] + ([10] if total == TOTALS[-1] else [])
                for due in variants:
                    measured[(total, due)] = await measure(fx, due, budget)
            result.raw["redis_used_memory_100k"] = (await fx.info.info("memory")).get("used_memory_human")
            result.raw["script_internal_counted"] = await scripts_counted(fx.info)
        finally:
            await fx.redis.aclose()
            await fx.info.aclose()
    result.rows = [row(total, due, m, measured) for (total, due), m in measured.items()]
    result.raw["ticks"] = {f"{t}/{d}": describe(m) for (t, d), m in measured.items()}
    return result


async def fixture(url: str) -> Fixture:
    redis, keys = counting_client(url), Keys(f"bench-reaper-{uuid.uuid4().hex[:8]}")
    store = SessionStore(redis, keys, retention_seconds=3600)

    async def nothing(_: Sequence[Transition]) -> None:
        return None

    reaper = Reaper(redis, keys, store, WorkerRegistry(redis, keys, 10.0), nothing)
    return Fixture(redis, connect_redis(url), keys, store, reaper, now=int(time.time() * 1000))


def row(total: int, due: int, m: dict[str, Any], measured: dict[tuple[int, int], dict[str, Any]]) -> Row:
    base = measured[(TOTALS[0], TOTALS[0] // 100 if due else 0)]["summary"]
    summary = m["summary"]
    commands = sum(m["commands"].values())
    checks = []
    if (total, due) == (100_000, 1_000):
        checks.append(Check(f"p50 < {TARGET_MS:g} ms", summary.p50 < TARGET_MS))
    if total > TOTALS[0] and due in (0, 10):
        checks.append(Check(f"~constant: <= {ROUGHLY_CONSTANT:g}x 1k tick", summary.p50 <= ROUGHLY_CONSTANT * base.p50))
    label = "1k records, " + (f"{TOTALS[0] // 100} due" if due else "none due")
    notes = f"{m['round_trips']} round trips, {commands} redis cmds (incl. in-script)"
    if due:
        notes += f", {summary.p50 * 1000 / due:.0f} us per due session"
    return Row.of(
        NAME,
        f"{total // 1000}k records, {due or 'none'} due",
        "ms",
        summary,
        baseline_p50=base.p50,
        baseline_label=label,
        checks=checks,
        notes=notes,
        extra=describe(m),
    )


def describe(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": m["summary"].as_dict(),
        "round_trips": m["round_trips"],
        "redis_commands": per_op(m["commands"], 1),
    }
