"""The one place Redis clients are made: `redis://`, `rediss://` (TLS), `unix://` and Sentinel URLs.

A Sentinel URL names the sentinels and the primary's name; redis-py's own Sentinel support asks them
for the current primary on every new connection, so a failover needs no restart:

    redis+sentinel://[user:password@]host1:26379,host2:26379,host3:26379/<master-name>/<db>
    rediss+sentinel://...   the same, over TLS to the sentinels and to the data nodes

The URL's user and password are the data nodes' (the ACL user the pool runs as); the sentinels' own
credentials, if they have any, come from BROWSERPOOL_REDIS_SENTINEL_USERNAME / _PASSWORD.

Each client holds at most BROWSERPOOL_REDIS_MAX_CONNECTIONS connections; past that a command waits its
turn (up to POOL_WAIT_SECONDS) instead of failing, so a burst of requests is queued, not answered 503.
A command that waited that long in vain raises RedisBusy, which says "this node is overloaded", never
"Redis is unreachable".
"""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .config import Settings

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme -> TLS
DEFAULT_SENTINEL_PORT = 26379
DEFAULT_MAX_CONNECTIONS = 512
POOL_WAIT_SECONDS = 5.0  # how long a command may wait for one of the client's connections to be free


class RedisBusy(MaxConnectionsError):
    """Every connection of this node's pool stayed busy for POOL_WAIT_SECONDS: the node is overloaded.

    A redis ConnectionError (as redis-py's own MaxConnectionsError is), so code that treats Redis as away
    still backs off; the API answers it 503 "busy" with Retry-After, never "unreachable".
    """


class BadRedisUrl(ValueError):
    """BROWSERPOOL_REDIS_URL cannot be understood; the message says what the forms are."""


@dataclass(frozen=True)
class RedisOptions:
    """What a client needs besides the URL: a private CA (and client certificate) for TLS, the sentinels' auth."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # per client; past it a command waits for a free one

    @classmethod
    def of(cls, settings: Settings) -> "RedisOptions":
        return cls(
            max_connections=settings.redis_max_connections,
            ca_file=settings.redis_ca_file,
            cert_file=settings.redis_cert_file,
            key_file=settings.redis_key_file,
            sentinel_username=settings.redis_sentinel_username,
            sentinel_password=settings.redis_sentinel_password,
        )

    def tls(self) -> dict[str, Any]:
        """redis-py's TLS arguments for these files (its defaults verify the server against the system CAs)."""
        extra: dict[str, Any] = {}
        if self.ca_file:
            extra["ssl_ca_certs"] = str(self.ca_file)
        if self.cert_file:
            extra["ssl_certfile"] = str(self.cert_file)
        if self.key_file:
            extra["ssl_keyfile"] = str(self.key_file)
        return extra


@dataclass(frozen=True)
class SentinelAddress:
    sentinels: tuple[tuple[str, int], ...]
    master_name: str
    db: int
    username: str | None
    password: str | None = field(repr=False)
    tls: bool


def parse_sentinel_url(url: str) -> SentinelAddress | None:
    """The parts of a Sentinel URL; None for any other scheme (redis-py's from_url reads those)."""
    scheme, _, rest = url.partition("://")
    if scheme not in SENTINEL_SCHEMES:
        return None
    location, _, path = rest.partition("/")
    credentials, _, hosts = location.rpartition("@")
    username, _, password = credentials.partition(":")
    parts = [p for p in path.split("?")[0].split("/") if p]
    if not hosts or not parts or len(parts) > 2:
        raise BadRedisUrl(f"a Sentinel URL reads {scheme}://[user:password@]host1:26379,host2:26379/<master-name>/<db>")
    try:
        db = int(parts[1]) if len(parts) == 2 else 0
        sentinels = tuple(_host_port(h) for h in hosts.split(",") if h)
    except ValueError as exc:
        raise BadRedisUrl(f"bad sentinel address or db in BROWSERPOOL_REDIS_URL: {exc}") from None
    return SentinelAddress(
        sentinels=sentinels,
        master_name=unquote(parts[0]),
        db=db,
        username=unquote(username) or None,
        password=unquote(password) or None,
        tls=SENTINEL_SCHEMES[scheme],
    )


def _host_port(text: str) -> tuple[str, int]:
    split = urlsplit(f"//{text}")
    if not split.hostname:
        raise ValueError(f"no host in {text!r}")
    return split.hostname, split.port or DEFAULT_SENTINEL_PORT


def _client_arguments() -> dict[str, Any]:
    # Two quick retries: a pooled connection that died with a restarted Redis is replaced, not reported.
    return {
        "decode_responses": True,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "health_check_interval": 15,
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
    }


class CancellableWrites:
    """A connection whose writes a cancellation always stops (mixed into whichever class the URL's scheme picks).

    redis-py bounds each write by socket_timeout with asyncio.wait_for, which on Python 3.11 returns the
    write's result, and drops the cancellation, when the task is cancelled as the write completes: the
    cancelled task goes on (a relay kept forwarding an ended session's commands, a lease renewer never
    stopped). Here the write is bounded by asyncio.timeout instead, which hands a cancellation on.
    """

    socket_timeout: float | None

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        timeout = self.socket_timeout
        if not timeout:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
            return
        self.socket_timeout = None  # the library's own bound (wait_for) steps aside for the one below
        try:
            async with asyncio.timeout(timeout):
                await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except TimeoutError as exc:
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
            raise RedisTimeoutError("Timeout writing to socket") from exc
        finally:
            self.socket_timeout = timeout


def _cancellable(connection_class: type) -> type:
    if issubclass(connection_class, CancellableWrites):
        return connection_class
    return type(f"Cancellable{connection_class.__name__}", (CancellableWrites, connection_class), {})


class WaitingPool(BlockingConnectionPool):
    """redis-py's blocking pool, whose wait in vain raises RedisBusy (its own raises a bare ConnectionError), of
    connections whose writes a cancellation stops (CancellableWrites)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_class = _cancellable(self.connection_class)  # type: ignore[has-type]

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        try:
            return await super().get_connection(*args, **kwargs)
        except RedisConnectionError as exc:
            if isinstance(exc.__cause__, asyncio.TimeoutError):  # the wait for a free connection, not a connect
                raise RedisBusy(f"all {self.max_connections} Redis connections of this node stayed busy") from exc
            raise


class WaitingSentinelPool(SentinelConnectionPool, WaitingPool):
    """The same wait for a client of the sentinels' primary."""


def _pool_arguments(options: RedisOptions) -> dict[str, Any]:
    return {"max_connections": options.max_connections, "timeout": POOL_WAIT_SECONDS}


class SentinelPrimary(Redis):
    """A client of whichever node the sentinels name as primary; closing it closes its sentinel clients too."""

    sentinel: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        sentinel, self.sentinel = self.sentinel, None
        if sentinel is not None:
            await sentinel.aclose()


def connect_redis(url: str, options: RedisOptions | None = None) -> Redis:
    """A client for BROWSERPOOL_REDIS_URL, any of its forms. Connects lazily (the first command connects)."""
    options = options or RedisOptions()
    address = parse_sentinel_url(url)
    if address is None:
        if url.partition("://")[0] not in ("redis", "rediss", "unix"):
            raise BadRedisUrl(
                "BROWSERPOOL_REDIS_URL must start with redis://, rediss://, unix://, redis+sentinel:// "
                "or rediss+sentinel://"
            )
        tls = options.tls() if url.startswith("rediss://") else {}
        return Redis.from_pool(WaitingPool.from_url(url, **_pool_arguments(options), **_client_arguments(), **tls))
    return _sentinel_primary(address, options)


def _sentinel_primary(address: SentinelAddress, options: RedisOptions) -> Redis:
    tls: dict[str, Any] = {"ssl": True, **options.tls()} if address.tls else {}
    sentinel_auth = {"username": options.sentinel_username, "password": options.sentinel_password}
    sentinel = Sentinel(
        list(address.sentinels),
        sentinel_kwargs={"socket_connect_timeout": 1, "socket_timeout": 2, **sentinel_auth, **tls},
    )
    client: SentinelPrimary = sentinel.master_for(
        address.master_name,
        redis_class=SentinelPrimary,
        connection_pool_class=WaitingSentinelPool,
        **_pool_arguments(options),
        db=address.db,
        username=address.username,
        password=address.password,
        **_client_arguments(),
        **tls,
    )
    client.sentinel = sentinel
    return client


def redacted(url: str) -> str:
    """The URL with its password replaced, for logs and doctor."""
    scheme, sep, rest = url.partition("://")
    location, slash, path = rest.partition("/")
    credentials, at, hosts = location.rpartition("@")
    if not at:
        return url
    user, colon, _ = credentials.partition(":")
    return f"{scheme}{sep}{user}{':***' if colon else ''}@{hosts}{slash}{path}"
