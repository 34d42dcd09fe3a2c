"""Users and credentials: secrets stored hashed, keys revocable, tokens expiring."""

import asyncio
import threading

import pytest
from redis.asyncio import Redis

from orchestrator.accounts import (
    LOGIN_FAILURES_ALLOWED,
    LOGIN_LOCKOUT_SECONDS,
    USER_NAME_MAX,
    AccountStore,
    IssuedApiKey,
)
from orchestrator.errors import InvalidInput, QuotaExceeded
from orchestrator.keys import Keys
from orchestrator.passwords import PasswordHashing
from tests.security.argon2_spy import Argon2Spy


async def test_passwords_and_keys_are_stored_hashed(redis: Redis, keys: Keys) -> None:
    accounts = AccountStore(redis, keys, token_ttl=120)
    user = await accounts.add_user("dora", "s3cret-pass")
    stored = await redis.hgetall(keys.user(user.user_id))
    assert stored["password_hash"].startswith("$argon2")
    assert "s3cret-pass" not in str(stored)
    assert await accounts.check_password("dora", "s3cret-pass") == user
    assert await accounts.check_password("dora", "wrong") is None

    issued = await accounts.create_api_key(user, "laptop")
    raw = await redis.hgetall(keys.api_key(issued.key.key_id))
    assert issued.secret not in str(raw)
    assert await accounts.user_for_api_key(issued.secret) == user
    assert await accounts.user_for_api_key(issued.secret + "x") is None
    assert await accounts.user_for_api_key("bp_" + issued.key.key_id + "_forged") is None


async def test_tokens_expire_with_their_ttl(redis: Redis, keys: Keys) -> None:
    accounts = AccountStore(redis, keys, token_ttl=1)
    user = await accounts.add_user("erin", "pw")
    token = await accounts.issue_token(user)
    assert await accounts.user_for_token(token.access_token) == user
    import asyncio

    await asyncio.sleep(1.2)
    assert await accounts.user_for_token(token.access_token) is None


async def test_user_names_are_unique(redis: Redis, keys: Keys) -> None:
    from orchestrator.errors import UserExists

    accounts = AccountStore(redis, keys, token_ttl=60)
    await accounts.add_user("frank", None)
    try:
        await accounts.add_user("frank", None)
    except UserExists:
        pass
    else:
        raise AssertionError("a second 'frank' was created")


async def test_login_attempts_are_counted_before_any_password_is_checked(
    redis: Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = AccountStore(redis, keys, token_ttl=60, hashing=PasswordHashing(threads=2, waiting=50))
    await accounts.add_user("gwen", "right")
    spy = Argon2Spy(monkeypatch)
    outcomes = await asyncio.gather(*(accounts.login("gwen", f"wrong-{n}") for n in range(25)), return_exceptions=True)
    assert outcomes.count(None) == LOGIN_FAILURES_ALLOWED
    assert sum(isinstance(o, QuotaExceeded) for o in outcomes) == 25 - LOGIN_FAILURES_ALLOWED
    assert spy.calls == LOGIN_FAILURES_ALLOWED  # the refused ones never reached argon2
    with pytest.raises(QuotaExceeded) as locked:
        await accounts.login("gwen", "right")
    assert 0 < (locked.value.retry_after or 0) <= LOGIN_LOCKOUT_SECONDS

    await accounts.set_password("gwen", "right")  # an operator's reset lifts the lockout
    for _ in range(LOGIN_FAILURES_ALLOWED - 1):
        assert await accounts.login("gwen", "wrong") is None
    assert await accounts.login("gwen", "right") is not None  # the fifth attempt is still checked
    assert not await redis.exists(keys.login_failures("gwen"))  # and a success starts the count again


async def test_user_names_are_bounded_and_never_stored_from_a_login(redis: Redis, keys: Keys) -> None:
    accounts = AccountStore(redis, keys, token_ttl=60)
    for bad in ["", "x" * (USER_NAME_MAX + 1), "line\nbreak"]:
        with pytest.raises(InvalidInput):
            await accounts.add_user(bad, "pw")
    await accounts.add_user("y" * USER_NAME_MAX, "pw")

    before = {key async for key in redis.scan_iter(f"{keys.prefix}:*")}
    assert await accounts.login("z" * 1_000_000, "pw") is None  # refused before Redis is asked anything
    assert {key async for key in redis.scan_iter(f"{keys.prefix}:*")} == before
    assert await accounts.login("zed", "pw") is None
    (counter,) = {key async for key in redis.scan_iter(f"{keys.prefix}:*")} - before
    assert "zed" not in counter and counter == keys.login_failures("zed")


async def test_hashing_runs_in_a_bounded_number_of_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    hashing = PasswordHashing(threads=1, waiting=1)
    spy = Argon2Spy(monkeypatch)

    async def one_login() -> str:
        async with hashing.turn():
            return await hashing.hash("pw")

    outcomes = await asyncio.gather(*(one_login() for _ in range(5)), return_exceptions=True)
    assert sum(isinstance(o, str) for o in outcomes) == 2  # the thread and the one waiting place
    refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
    assert len(refused) == 3 and all(o.retry_after == 1 for o in refused)
    assert spy.calls == 2 and spy.most_at_once == 1 and threading.get_ident() not in spy.threads
    stored = next(o for o in outcomes if isinstance(o, str))
    assert await hashing.verify(stored, "pw") and not await hashing.verify(stored, "other")
    assert not await hashing.verify("not-a-hash", "pw")


async def test_api_keys_per_user_are_capped_even_when_created_together(redis: Redis, keys: Keys) -> None:
    accounts = AccountStore(redis, keys, token_ttl=60, max_api_keys=3)
    holly, ivan = await accounts.add_user("holly", None), await accounts.add_user("ivan", None)
    outcomes = await asyncio.gather(
        *(accounts.create_api_key(holly, f"k{n}") for n in range(10)), return_exceptions=True
    )
    issued = [o for o in outcomes if isinstance(o, IssuedApiKey)]
    assert len(issued) == 3 and all(isinstance(o, QuotaExceeded) for o in outcomes if o not in issued)
    assert await redis.scard(keys.user_api_keys(holly.user_id)) == 3
    assert await accounts.create_api_key(ivan, "own")  # the cap is per user

    assert await accounts.revoke_api_key(holly, issued[0].key.key_id)
    replacement = await accounts.create_api_key(holly, "replacement")
    assert await accounts.user_for_api_key(replacement.secret) == holly
