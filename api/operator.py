"""Operator commands that act on Redis directly: users, API keys, workers."""

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from orchestrator import clock
from orchestrator.accounts import AccountStore
from orchestrator.config import Settings
from orchestrator.errors import InvalidInput, WorkerNotFound
from orchestrator.keys import Keys
from orchestrator.redis_server import EmbeddedRedis, resolve_redis_url
from orchestrator.registry import WorkerRegistry
from orchestrator.runtime import connect_redis


@asynccontextmanager
async def _redis(settings: Settings) -> AsyncIterator[tuple[Redis, Keys]]:
    url = await asyncio.to_thread(resolve_redis_url, settings.redis_url, EmbeddedRedis(settings.state_dir), False)
    redis = connect_redis(url)
    try:
        yield redis, Keys(settings.redis_prefix)
    finally:
        await redis.aclose()


async def users_add(settings: Settings, args: argparse.Namespace) -> str:
    if not args.password_stdin:
        raise InvalidInput("pass --password-stdin and the password on standard input")
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise InvalidInput("empty password")
    async with _redis(settings) as (redis, keys):
        user = await AccountStore(redis, keys, settings.token_ttl).add_user(args.name, password, admin=args.admin)
    return f"created {'admin ' if user.is_admin else ''}user {user.name!r}"


async def keys_create(settings: Settings, args: argparse.Namespace) -> str:
    async with _redis(settings) as (redis, keys):
        accounts = AccountStore(redis, keys, settings.token_ttl)
        issued = await accounts.create_api_key(await accounts.user_by_name(args.name), args.label)
    return issued.secret


async def workers_ls(settings: Settings, args: argparse.Namespace) -> str:
    async with _redis(settings) as (redis, keys):
        now = clock.now_ms()
        workers = await WorkerRegistry(redis, keys, settings.worker_lease_ttl).live(now)
    rows = [("WORKER", "ADDRESS", "USED/CAPACITY", "STATE", "HEARTBEAT")]
    for w in sorted(workers, key=lambda w: w.worker_id):
        state = "draining" if w.draining else "ready"
        rows.append(
            (
                w.worker_id,
                w.address or "-",
                f"{w.used}/{w.capacity}",
                state,
                f"{(now - w.heartbeat_ms) / 1000:.1f}s ago",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)


async def workers_drain(settings: Settings, args: argparse.Namespace) -> str:
    async with _redis(settings) as (redis, keys):
        registry = WorkerRegistry(redis, keys, settings.worker_lease_ttl)
        if not await registry.request_drain(args.worker_id):
            raise WorkerNotFound(f"no registered worker {args.worker_id!r}")
        if not args.wait:
            return f"worker {args.worker_id} is draining"
        deadline = clock.now_ms() + int((settings.drain_grace + 15) * 1000)
        while await registry.is_registered(args.worker_id) and clock.now_ms() < deadline:
            await asyncio.sleep(0.5)
        if await registry.is_registered(args.worker_id):
            return f"worker {args.worker_id} is still registered after the drain grace"
    return f"worker {args.worker_id} drained and left"
