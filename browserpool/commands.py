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
from orchestrator.errors import InvalidInput, SessionNotFound, UnknownUser, WorkerNotFound
from orchestrator.isolation import DEFAULT_ISOLATION, parse_isolation
from orchestrator.isolation import USER_FIELD as ISOLATION_FIELD
from orchestrator.keys import Keys
from orchestrator.lifecycle import EndReason, SessionStatus
from orchestrator.quarantine import quarantined_until
from orchestrator.redis_connect import RedisOptions, connect_redis
from orchestrator.redis_server import EmbeddedRedis, resolve_redis_url
from orchestrator.registry import WorkerRegistry
from orchestrator.store import SessionStore


@asynccontextmanager
async def _redis(settings: Settings) -> AsyncIterator[tuple[Redis, Keys]]:
    url = await asyncio.to_thread(resolve_redis_url, settings.redis_url, EmbeddedRedis(settings.state_dir), False)
    redis = connect_redis(url, RedisOptions.of(settings))
    try:
        yield redis, Keys(settings.redis_prefix)
    finally:
        await redis.aclose()


def _password(args: argparse.Namespace) -> str:
    if not args.password_stdin:
        raise InvalidInput("pass --password-stdin and the password on standard input")
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise InvalidInput("empty password")
    return password


async def users_passwd(settings: Settings, args: argparse.Namespace) -> str:
    password = _password(args)
    async with _redis(settings) as (redis, keys):
        await AccountStore.from_settings(redis, keys, settings).set_password(args.name, password)
    return f"password of {args.name!r} changed; its bearer tokens are revoked"


async def users_limit(settings: Settings, args: argparse.Namespace) -> str:
    limit = None if args.limit == "default" else int(args.limit)
    async with _redis(settings) as (redis, keys):
        await AccountStore.from_settings(redis, keys, settings).set_session_limit(args.name, limit)
    shown = f"the default ({settings.max_sessions_per_user or 'none'})" if limit is None else str(limit or "none")
    return f"live-session limit of {args.name!r}: {shown}"


async def users_set(settings: Settings, args: argparse.Namespace) -> str:
    """Set what a user's sessions get by default (today: their isolation level)."""
    if args.isolation is None:
        raise InvalidInput("say what to set: --isolation context|browser|default")
    isolation = None if args.isolation == "default" else parse_isolation(args.isolation)
    async with _redis(settings) as (redis, keys):
        await AccountStore.from_settings(redis, keys, settings).set_isolation(args.name, isolation)
    return f"isolation of {args.name!r}'s sessions that name none: {isolation or f'the default ({DEFAULT_ISOLATION})'}"


async def users_show(settings: Settings, args: argparse.Namespace) -> str:
    async with _redis(settings) as (redis, keys):
        accounts = AccountStore.from_settings(redis, keys, settings)
        user = await accounts.user_by_name(args.name)
        chosen = await accounts.user_settings(user)
        until = await quarantined_until(redis, keys, user.user_id)
    default_limit = f"{settings.max_sessions_per_user or 'none'} (the default)"
    limit = chosen.get("max_sessions")
    rows = [
        ("name", user.name),
        ("user id", user.user_id),
        ("admin", "yes" if user.is_admin else "no"),
        ("live-session limit", default_limit if limit is None else (limit if limit != "0" else "none")),
        ("isolation", chosen.get(ISOLATION_FIELD) or f"{DEFAULT_ISOLATION} (the default)"),
        (
            "crash quarantine",
            "no"
            if until is None
            else f"until {clock.to_datetime(until):%Y-%m-%d %H:%M:%S} UTC (its sessions get isolation browser)",
        ),
    ]
    return "\n".join(f"{label + ':':<20}{value}" for label, value in rows)


async def users_add(settings: Settings, args: argparse.Namespace) -> str:
    password = _password(args)
    async with _redis(settings) as (redis, keys):
        user = await AccountStore.from_settings(redis, keys, settings).add_user(args.name, password, admin=args.admin)
    return f"created {'admin ' if user.is_admin else ''}user {user.name!r}"


async def keys_create(settings: Settings, args: argparse.Namespace) -> str:
    async with _redis(settings) as (redis, keys):
        accounts = AccountStore.from_settings(redis, keys, settings)
        issued = await accounts.create_api_key(await accounts.user_by_name(args.name), args.label)
    return issued.secret


async def workers_ls(settings: Settings, args: argparse.Namespace) -> str:
    async with _redis(settings) as (redis, keys):
        now = clock.now_ms()
        workers = await WorkerRegistry(redis, keys, settings.worker_lease_ttl).live(now)
    rows: list[tuple[str, ...]] = [("WORKER", "ADDRESS", "USED/CAPACITY", "STATE", "HEARTBEAT")]
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
    return _table(rows)


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


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def _age(ms: int, now: int) -> str:
    seconds = max(now - ms, 0) // 1000
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m"


async def sessions_ls(settings: Settings, args: argparse.Namespace) -> str:
    """Live sessions of every user (or one); with --all, also those ended within the retention period."""
    async with _redis(settings) as (redis, keys):
        store = SessionStore(redis, keys, settings.retention)
        accounts = AccountStore.from_settings(redis, keys, settings)
        users = {u.user_id: u.name for u in await accounts.users()}
        wanted = [uid for uid, name in users.items() if args.user in (None, name)]
        if args.user and not wanted:
            raise UnknownUser(f"no user named {args.user!r}")
        records = [r for uid in wanted for r in await store.list_live(uid)]
        if args.all:  # an operator's view: SCAN is fine here, never on a request path
            live = {r.session_id for r in records}
            async for key in redis.scan_iter(match=keys.session("*"), count=1000):
                record = await store.get(key.removeprefix(keys.session_prefix))
                if record and record.session_id not in live and record.user_id in wanted:
                    records.append(record)
    now = clock.now_ms()
    rows: list[tuple[str, ...]] = [("SESSION", "USER", "STATUS", "VIEWPORT", "WORKER", "AGE", "IDLE", "LEFT", "ENDED")]
    for r in sorted(records, key=lambda r: r.created_at_ms, reverse=True):
        left = "-" if not r.status.is_live else _age(now, r.expires_at_ms) if r.expires_at_ms > now else "due"
        rows.append(
            (
                r.session_id,
                users.get(r.user_id, r.user_id),
                r.status.value,
                f"{r.viewport_width}x{r.viewport_height}",
                r.worker_id,
                _age(r.created_at_ms, now),
                _age(r.last_activity_ms, now),
                left,
                r.end_reason or "-",
            )
        )
    return _table(rows) if len(rows) > 1 else "no sessions"


async def sessions_close(settings: Settings, args: argparse.Namespace) -> str:
    """Mark a session closing; its worker closes the context and marks it closed on its next heartbeat."""
    async with _redis(settings) as (redis, keys):
        store = SessionStore(redis, keys, settings.retention)
        record = await store.get(args.session_id)
        if record is None:
            raise SessionNotFound(args.session_id)
        if not record.status.is_live:
            return f"session {args.session_id} has already ended ({record.status.value})"
        await store.transition(args.session_id, SessionStatus.CLOSING, clock.now_ms(), reason=EndReason.DELETED)
    return f"session {args.session_id} is closing; worker {record.worker_id} closes it within a heartbeat"
