"""Whether a Redis is fit to hold the pool: its eviction policy, persistence, replicas and their lag.

`refuse_evicting` runs at every start; `survey` is what `browserpool doctor` reports.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from .redis_connect import SentinelPrimary, parse_sentinel_url

log = logging.getLogger(__name__)

REQUIRED_POLICY = "noeviction"


class RedisUnsuitable(RuntimeError):
    """The Redis would lose the pool's state by design; the message says what to change."""


def eviction_problem(policy: str) -> str | None:
    if policy == REQUIRED_POLICY:
        return None
    return (
        f"Redis's maxmemory-policy is {policy}: when full it deletes keys, and a deleted session record, lease or "
        "user is lost state. Set `maxmemory-policy noeviction` (redis.conf, or CONFIG SET), or set "
        "BROWSERPOOL_ALLOW_EVICTING_REDIS=true to run anyway"
    )


async def eviction_policy(redis: Redis) -> str:
    info = await redis.info("memory")
    return str(info.get("maxmemory_policy", REQUIRED_POLICY))


async def refuse_evicting(redis: Redis, allowed: bool) -> None:
    """Raise RedisUnsuitable on an evicting Redis, unless the operator allowed it (then only warn)."""
    try:
        problem = eviction_problem(await eviction_policy(redis))
    except ResponseError as exc:  # INFO refused (a narrower ACL than the README's): say so, do not guess
        log.warning("could not read Redis's maxmemory-policy (%s); it must be noeviction", exc)
        return
    if problem and not allowed:
        raise RedisUnsuitable(problem)
    if problem:
        log.warning("%s (allowed by BROWSERPOOL_ALLOW_EVICTING_REDIS)", problem)


@dataclass(frozen=True)
class Replica:
    address: str
    state: str  # online once past its initial sync
    lag_bytes: int  # the primary's replication offset minus this replica's
    lag_seconds: int  # since its last acknowledgement


@dataclass
class RedisSurvey:
    topology: str  # standalone | sentinel
    primary: str
    version: str
    tls: bool
    maxmemory_policy: str
    aof: bool
    appendfsync: str | None  # None when the ACL user may not use CONFIG
    rdb_save: str | None  # the `save` schedule ("": no snapshots); None when CONFIG is not allowed
    replicas: list[Replica] = field(default_factory=list)
    sentinel_replicas: list[str] = field(default_factory=list)  # as the sentinels list them


async def _config(redis: Redis, name: str) -> str | None:
    """A CONFIG value, or None where the ACL user may not read it (managed Redis often forbids CONFIG)."""
    try:
        return str((await redis.config_get(name)).get(name, ""))
    except ResponseError:
        return None


def _replicas(info: dict[str, Any]) -> list[Replica]:
    offset = int(info.get("master_repl_offset", 0))
    found = []
    for name, value in info.items():
        if name.startswith("slave") and isinstance(value, dict):
            found.append(
                Replica(
                    address=f"{value.get('ip')}:{value.get('port')}",
                    state=str(value.get("state", "")),
                    lag_bytes=max(offset - int(value.get("offset", 0)), 0),
                    lag_seconds=int(value.get("lag", 0)),
                )
            )
    return found


async def survey(redis: Redis, url: str) -> RedisSurvey:
    """What doctor shows of the Redis this URL reaches (raises the client's errors if it cannot)."""
    info = await redis.info("server", "replication", "persistence", "memory")
    sentinel = parse_sentinel_url(url)
    found = RedisSurvey(
        topology="sentinel" if sentinel else "standalone",
        primary=url.partition("://")[2].rpartition("@")[2] if not sentinel else "",
        version=str(info.get("redis_version", "")),
        tls=url.startswith("rediss"),
        maxmemory_policy=str(info.get("maxmemory_policy", REQUIRED_POLICY)),
        aof=bool(int(info.get("aof_enabled", 0))),
        appendfsync=await _config(redis, "appendfsync"),
        rdb_save=await _config(redis, "save"),
        replicas=_replicas(info),
    )
    if sentinel and isinstance(redis, SentinelPrimary) and redis.sentinel is not None:
        host, port = await redis.sentinel.discover_master(sentinel.master_name)
        found.primary = f"{host}:{port} ({sentinel.master_name})"
        found.sentinel_replicas = [f"{h}:{p}" for h, p in await redis.sentinel.discover_slaves(sentinel.master_name)]
    return found
