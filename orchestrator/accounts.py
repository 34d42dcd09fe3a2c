"""Users, API keys and bearer tokens. Secrets are stored hashed; nothing here keeps a secret in clear."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import WatchError

from . import clock
from .config import Settings
from .errors import InvalidInput, QuotaExceeded, UnknownUser, UserExists
from .isolation import USER_FIELD as ISOLATION_FIELD
from .isolation import Isolation
from .keys import Keys
from .passwords import PasswordHashing

API_KEY_PREFIX = "bp_"
LOGIN_FAILURES_ALLOWED = 5  # attempts per name and lockout window; the one after is refused unchecked
LOGIN_LOCKOUT_SECONDS = 300
USER_NAME_MAX = 128


def valid_user_name(name: str) -> bool:
    """The user-name rule: 1 to USER_NAME_MAX printable characters."""
    return 0 < len(name) <= USER_NAME_MAX and name.isprintable()


@dataclass(frozen=True)
class User:
    user_id: str
    name: str
    is_admin: bool = False


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    created_at_ms: int


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKey
    secret: str


@dataclass(frozen=True)
class Credential:
    """The credential a request authenticated with: it works while `redis_key` exists (revoked: deleted)."""

    redis_key: str
    api_key_id: str | None  # None: a bearer token


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def _digest(secret: str) -> str:
    # API keys and tokens are long random strings: a fast hash is enough; passwords get argon2.
    return hashlib.sha256(secret.encode()).hexdigest()


class AccountStore:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        token_ttl: int,
        *,
        max_api_keys: int = 20,
        hashing: PasswordHashing | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.token_ttl = token_ttl
        self.max_api_keys = max_api_keys
        self.hashing = hashing or PasswordHashing()

    @classmethod
    def from_settings(cls, redis: Redis, keys: Keys, settings: Settings) -> "AccountStore":
        hashing = PasswordHashing(settings.password_hash_threads, settings.password_hash_waiting)
        return cls(redis, keys, settings.token_ttl, max_api_keys=settings.max_api_keys_per_user, hashing=hashing)

    # --- users -------------------------------------------------------------------------------

    async def user_count(self) -> int:
        return int(await self.redis.scard(self.keys.users))

    async def add_user(self, name: str, password: str | None, admin: bool = False) -> User:
        if not valid_user_name(name):
            raise InvalidInput(f"a user name is 1 to {USER_NAME_MAX} printable characters", loc=("name",))
        user = User(user_id=uuid.uuid4().hex, name=name, is_admin=admin)
        if not await self.redis.set(self.keys.username(name), user.user_id, nx=True):
            raise UserExists(f"user {name!r} already exists")
        fields = {
            "user_id": user.user_id,
            "name": name,
            "created_at_ms": str(clock.now_ms()),
            "admin": "1" if admin else "0",
        }
        if password is not None:
            fields["password_hash"] = await self.hashing.hash(password)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.user(user.user_id), mapping=fields)
            pipe.sadd(self.keys.users, user.user_id)
            await pipe.execute()
        return user

    async def users(self) -> list[User]:
        """Every user (an operator's listing)."""
        user_ids = sorted(await self.redis.smembers(self.keys.users))
        found = [await self._user(user_id) for user_id in user_ids]
        return [u for u in found if u is not None]

    async def user_by_name(self, name: str) -> User:
        user_id = await self.redis.get(self.keys.username(name))
        user = await self._user(user_id) if user_id else None
        if user is None:
            raise UnknownUser(f"no user named {name!r}")
        return user

    async def check_password(self, name: str, password: str) -> User | None:
        """The user, if the password is theirs. The hash runs in the hashing threads, never on the event loop."""
        user_id = await self.redis.get(self.keys.username(name))
        stored = await self.redis.hget(self.keys.user(user_id), "password_hash") if user_id else None
        if not stored:
            # Spend the same effort for an unknown user, so timing does not reveal who exists.
            await self.hashing.hash(password)
            return None
        if not await self.hashing.verify(stored, password):
            return None
        return await self._user(user_id)

    # --- bearer tokens -----------------------------------------------------------------------

    async def login(self, name: str, password: str) -> User | None:
        """check_password, refusing for a while after repeated failures (against password guessing).

        The attempt is counted before the password is checked, in one atomic step, so concurrent guesses
        cannot all pass the check: at most LOGIN_FAILURES_ALLOWED hashes per name and window, however many
        arrive at once. A name outside the user-name rule exists nowhere and is refused before Redis.
        """
        if not valid_user_name(name):
            return None
        async with self.hashing.turn():  # taken first: a busy answer costs the name none of its attempts
            await self._count_login_attempt(name)
            user = await self.check_password(name, password)
        if user is not None:
            await self.redis.delete(self.keys.login_failures(name))
        return user

    async def _count_login_attempt(self, name: str) -> None:
        """Count one attempt in the name's lockout window (opened by the first); QuotaExceeded past the limit."""
        key = self.keys.login_failures(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=LOGIN_LOCKOUT_SECONDS, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, attempts, ttl = await pipe.execute()
        if int(attempts) > LOGIN_FAILURES_ALLOWED:
            wait = max(int(ttl), 1)
            raise QuotaExceeded(f"too many failed logins for {name!r}; retry in {wait} s", retry_after=wait)

    async def set_password(self, name: str, password: str) -> User:
        """Change a password and revoke every bearer token the user holds, at once."""
        user = await self.user_by_name(name)
        password_hash = await self.hashing.hash(password)
        digests = await self.redis.smembers(self.keys.user_tokens(user.user_id))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.user(user.user_id), "password_hash", password_hash)
            for digest in digests:
                pipe.delete(self.keys.token(digest))
            pipe.delete(self.keys.user_tokens(user.user_id), self.keys.login_failures(name))
            await pipe.execute()
        return user

    async def set_session_limit(self, name: str, limit: int | None) -> User:
        """Override the deployment's live-session limit for one user (None: back to the default)."""
        user = await self.user_by_name(name)
        if limit is None:
            await self.redis.hdel(self.keys.user(user.user_id), "max_sessions")
        else:
            await self.redis.hset(self.keys.user(user.user_id), "max_sessions", limit)
        return user

    async def set_isolation(self, name: str, isolation: Isolation | None) -> User:
        """The isolation a user's sessions get when their create body names none (None: back to `context`)."""
        user = await self.user_by_name(name)
        if isolation is None:
            await self.redis.hdel(self.keys.user(user.user_id), ISOLATION_FIELD)
        else:
            await self.redis.hset(self.keys.user(user.user_id), ISOLATION_FIELD, isolation)
        return user

    async def user_settings(self, user: User) -> dict[str, str]:
        """What an operator set for a user (`max_sessions`, `isolation`); absent ones take the defaults."""
        values = await self.redis.hmget(self.keys.user(user.user_id), ["max_sessions", ISOLATION_FIELD])
        return {k: v for k, v in zip(("max_sessions", ISOLATION_FIELD), values, strict=True) if v is not None}

    async def issue_token(self, user: User) -> IssuedToken:
        token = secrets.token_urlsafe(32)
        digest = _digest(token)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.token(digest), user.user_id, ex=self.token_ttl)
            pipe.sadd(self.keys.user_tokens(user.user_id), digest)
            pipe.expire(self.keys.user_tokens(user.user_id), self.token_ttl)
            await pipe.execute()
        return IssuedToken(access_token=token, expires_in=self.token_ttl)

    async def user_for_token(self, token: str) -> User | None:
        user_id = await self.redis.get(self.keys.token(_digest(token)))
        return await self._user(user_id) if user_id else None

    # --- API keys ----------------------------------------------------------------------------

    async def create_api_key(self, user: User, name: str) -> IssuedApiKey:
        """A new key for the user, unless they already hold `max_api_keys` (QuotaExceeded: revoke one first)."""
        key_id = uuid.uuid4().hex[:16]
        secret = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(key_id=key_id, name=name, created_at_ms=clock.now_ms())
        fields = {
            "user_id": user.user_id,
            "name": name,
            "created_at_ms": str(key.created_at_ms),
            "digest": _digest(secret),
            # the owner, copied in so that checking a key is one round trip
            "user_name": user.name,
            "user_admin": "1" if user.is_admin else "0",
        }
        await self._add_api_key(user.user_id, key_id, fields)
        return IssuedApiKey(key=key, secret=secret)

    async def _add_api_key(self, user_id: str, key_id: str, fields: dict[str, str]) -> None:
        """Store the key if the user is under the cap: checked and written in one WATCHed transaction, so
        concurrent creates cannot pass the cap together."""
        held_key = self.keys.user_api_keys(user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(held_key)
                    if int(await pipe.scard(held_key)) >= self.max_api_keys:
                        raise QuotaExceeded(f"you hold {self.max_api_keys} API keys, the limit; revoke one first")
                    pipe.multi()
                    pipe.hset(self.keys.api_key(key_id), mapping=fields)
                    pipe.sadd(held_key, key_id)
                    await pipe.execute()
                    return
                except WatchError:
                    continue  # another key was created or revoked meanwhile: count again

    async def user_for_api_key(self, secret: str) -> User | None:
        key_id = _key_id_of(secret)
        if key_id is None:
            return None
        fields = ["user_id", "digest", "user_name", "user_admin"]
        user_id, digest, name, admin = await self.redis.hmget(self.keys.api_key(key_id), fields)
        if not digest or not hmac.compare_digest(digest, _digest(secret)):
            return None
        return User(user_id=user_id, name=name, is_admin=admin == "1")

    async def list_api_keys(self, user: User) -> list[ApiKey]:
        key_ids = sorted(await self.redis.smembers(self.keys.user_api_keys(user.user_id)))
        async with self.redis.pipeline(transaction=False) as pipe:
            for key_id in key_ids:
                pipe.hmget(self.keys.api_key(key_id), ["name", "created_at_ms"])
            rows = await pipe.execute()
        keys = [ApiKey(k, name, int(created)) for k, (name, created) in zip(key_ids, rows, strict=True) if name]
        return sorted(keys, key=lambda k: k.created_at_ms)

    async def revoke_api_key(self, user: User, key_id: str) -> bool:
        """Revoke one of the user's keys at once; False if the user has no such key."""
        if not await self.redis.srem(self.keys.user_api_keys(user.user_id), key_id):
            return False  # not this user's key: leave it alone
        await self.redis.delete(self.keys.api_key(key_id))
        return True

    def credential_of(self, token: str | None, api_key: str | None) -> Credential | None:
        """Which credential authenticated a request that sent these (an API key before a token, as checked)."""
        if api_key:
            key_id = _key_id_of(api_key)
            return Credential(self.keys.api_key(key_id), key_id) if key_id else None
        return Credential(self.keys.token(_digest(token)), None) if token else None

    async def _user(self, user_id: str) -> User | None:
        name, admin = await self.redis.hmget(self.keys.user(user_id), ["name", "admin"])
        return User(user_id=user_id, name=name, is_admin=admin == "1") if name else None


def _key_id_of(secret: str) -> str | None:
    if not secret.startswith(API_KEY_PREFIX):
        return None
    key_id, sep, _ = secret[len(API_KEY_PREFIX) :].partition("_")
    return key_id if sep and key_id.isalnum() else None
