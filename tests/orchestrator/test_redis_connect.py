"""BROWSERPOOL_REDIS_URL's forms, read the way the pool's one client factory reads them."""

import asyncio

import pytest

from orchestrator.redis_connect import BadRedisUrl, RedisBusy, RedisOptions, connect_redis, parse_sentinel_url, redacted


def test_a_sentinel_url_names_every_sentinel_the_primary_and_the_db() -> None:
    address = parse_sentinel_url("redis+sentinel://pool:p%40ss@s1:26379,s2,10.0.0.3:26380/mymaster/3")
    assert address is not None
    assert address.sentinels == (("s1", 26379), ("s2", 26379), ("10.0.0.3", 26380))
    assert (address.master_name, address.db, address.username, address.password) == ("mymaster", 3, "pool", "p@ss")
    assert not address.tls
    tls = parse_sentinel_url("rediss+sentinel://s1/mymaster")
    assert tls is not None and tls.tls and tls.db == 0 and tls.username is None and tls.password is None


def test_other_schemes_are_left_to_redis_py() -> None:
    for url in ("redis://127.0.0.1:6379/0", "rediss://u:p@h:6380/1", "unix:///run/redis.sock?db=2"):
        assert parse_sentinel_url(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://s1:26379",  # no primary name
        "redis+sentinel:///mymaster/0",  # no sentinel
        "redis+sentinel://s1:notaport/mymaster",
        "redis+sentinel://s1/mymaster/zero",
        "http://127.0.0.1:6379/0",
    ],
)
def test_a_url_it_cannot_read_says_which_forms_it_can(url: str) -> None:
    with pytest.raises(BadRedisUrl, match=r"sentinel|must start with"):
        connect_redis(url)


def test_passwords_never_reach_logs_or_doctor() -> None:
    assert redacted("redis+sentinel://pool:secret@s1,s2/m/0") == "redis+sentinel://pool:***@s1,s2/m/0"
    assert redacted("rediss://:secret@h:6380/0") == "rediss://:***@h:6380/0"
    assert redacted("unix:///run/redis.sock") == "unix:///run/redis.sock"


async def test_a_burst_past_the_pool_waits_for_a_connection_and_a_wait_in_vain_says_busy(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: redis-py's pool (100 connections) raised at the 101st command in flight, which the API answered
    `503 the session store (Redis) is unreachable` while Redis was fine."""
    redis = connect_redis(redis_url, RedisOptions(max_connections=4))
    try:
        answers = await asyncio.gather(*(redis.blpop([f"nothing-{n}"], timeout=0.05) for n in range(40)))
        assert len(answers) == 40  # queued behind 4 connections, none refused

        monkeypatch.setattr(redis.connection_pool, "timeout", 0.2)
        held = [asyncio.create_task(redis.blpop([f"nothing-{n}"], timeout=1)) for n in range(4)]
        await asyncio.sleep(0.1)
        with pytest.raises(RedisBusy, match="4 Redis connections"):
            await redis.ping()
        await asyncio.gather(*held)
        assert await redis.ping()
    finally:
        await redis.aclose()
