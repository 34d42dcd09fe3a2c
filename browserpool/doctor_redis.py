"""doctor's Redis lines: topology, persistence, eviction policy, TLS and replication lag of the configured Redis."""

import asyncio

from orchestrator.config import Settings
from orchestrator.redis_connect import BadRedisUrl, RedisOptions, connect_redis, redacted
from orchestrator.redis_health import REQUIRED_POLICY, RedisSurvey, eviction_problem, survey
from workers.chromium.isolation_report import Finding

LAG_WARN_BYTES = 1024 * 1024


def configured_redis_checks(settings: Settings) -> list[Finding]:
    assert settings.redis_url
    url = settings.redis_url
    try:
        found = asyncio.run(_survey(url, RedisOptions.of(settings)))
    except BadRedisUrl as exc:
        return [Finding("redis", False, str(exc), "fix BROWSERPOOL_REDIS_URL")]
    except Exception as exc:
        detail = f"BROWSERPOOL_REDIS_URL={redacted(url)} does not answer: {exc}"
        return [Finding("redis", False, detail, "start that Redis, or fix BROWSERPOOL_REDIS_URL")]
    return [
        _topology(found),
        _replication(found),
        _persistence(found),
        _eviction(found, settings.allow_evicting_redis),
        _tls(found, settings),
    ]


async def _survey(url: str, options: RedisOptions) -> RedisSurvey:
    redis = connect_redis(url, options)
    try:
        return await survey(redis, url)
    finally:
        await redis.aclose()


def _topology(found: RedisSurvey) -> Finding:
    if found.topology == "sentinel":
        replicas = ", ".join(found.sentinel_replicas) or "none"
        detail = f"sentinel: primary {found.primary}, replicas {replicas}; Redis {found.version}"
    else:
        detail = f"standalone at {found.primary}; Redis {found.version}"
    return Finding("redis", True, detail)


def _replication(found: RedisSurvey) -> Finding:
    if not found.replicas:
        note = "no replica: losing this Redis loses the pool's state (see README, Redis in production)"
        return Finding("replicas", True, note)
    parts = [f"{r.address} {r.state}, {r.lag_bytes} bytes / {r.lag_seconds}s behind" for r in found.replicas]
    behind = [r for r in found.replicas if r.state != "online" or r.lag_bytes > LAG_WARN_BYTES or r.lag_seconds > 10]
    fix = "a replica is syncing or far behind: check its link to the primary" if behind else ""
    return Finding("replicas", not behind, "; ".join(parts), fix)


def _persistence(found: RedisSurvey) -> Finding:
    aof = f"AOF on (appendfsync {found.appendfsync or 'unknown'})" if found.aof else "AOF off"
    if found.rdb_save is None:
        rdb = "RDB schedule unknown (CONFIG not allowed)"
    else:
        rdb = f"RDB save '{found.rdb_save}'" if found.rdb_save else "RDB off"
    if not found.aof and found.rdb_save == "":
        return Finding("persist", True, f"{aof}, {rdb}: a restart of this Redis loses every session, user and key")
    return Finding("persist", True, f"{aof}, {rdb}")


def _eviction(found: RedisSurvey, allowed: bool) -> Finding:
    problem = eviction_problem(found.maxmemory_policy)
    if problem is None:
        return Finding("eviction", True, f"maxmemory-policy {REQUIRED_POLICY}")
    if allowed:
        return Finding("eviction", True, f"{problem} (allowed by BROWSERPOOL_ALLOW_EVICTING_REDIS)")
    return Finding("eviction", False, problem, "CONFIG SET maxmemory-policy noeviction (and in redis.conf)")


def _tls(found: RedisSurvey, settings: Settings) -> Finding:
    if not found.tls:
        return Finding("tls", True, "off (plain TCP or a unix socket): keep Redis on a private network")
    ca = f"the CA in {settings.redis_ca_file}" if settings.redis_ca_file else "the system's CAs"
    client = ", with a client certificate" if settings.redis_cert_file else ""
    return Finding("tls", True, f"on, server verified against {ca}{client}")
