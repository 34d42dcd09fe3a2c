"""Users and credentials: secrets stored hashed, keys revocable, tokens expiring."""

from redis.asyncio import Redis

from orchestrator.accounts import AccountStore
from orchestrator.keys import Keys


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
