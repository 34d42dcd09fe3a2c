"""The daemon's moving parts, wired together for one role.

- `serve`: API, reaper and a worker in one process (the embedded default);
- `api`: API and reaper; sessions live on workers reached over their internal HTTP API;
- `worker`: browsers only, reached by API nodes; heart-beats and drains.
"""

import asyncio
import logging
import secrets
from collections.abc import Callable
from enum import StrEnum

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis

from .accounts import AccountStore
from .config import Settings
from .crashes import CrashLog
from .deadlines import within
from .directory import RemoteFactory, WorkerDirectory
from .keys import Keys
from .metrics import Metrics
from .parts import ControlPlane, Shared, control_plane
from .presence import PresenceFactory, PresenceParts, WorkerPresence
from .profiles import ProfileStore
from .ratelimit import RateLimiter
from .redis_connect import RedisOptions, connect_redis
from .redis_health import refuse_evicting
from .redis_server import EmbeddedRedis, resolve_redis_url
from .redis_watch import REDIS_AWAY, RedisWatch
from .registry import WorkerRegistry
from .store import SessionStore

log = logging.getLogger(__name__)

RemoteFactoryMaker = Callable[[str, Settings], RemoteFactory]  # (internal secret, settings) -> factory


class Role(StrEnum):
    SERVE = "serve"
    API = "api"
    WORKER = "worker"

    @property
    def has_api(self) -> bool:
        return self is not Role.WORKER

    @property
    def has_browsers(self) -> bool:
        return self is not Role.API


__all__ = ["Role", "Runtime", "connect_redis"]  # connect_redis: where callers have always found it


class NotStarted(RuntimeError):
    """A part of the runtime was asked for before start-up (or after shutdown)."""


class Runtime:
    def __init__(
        self,
        settings: Settings,
        role: Role,
        worker_factory: PresenceFactory | None = None,
        remote_factory: RemoteFactoryMaker | None = None,
    ) -> None:
        if role.has_browsers and worker_factory is None:
            raise ValueError(f"role {role} needs a worker factory")
        self.settings = settings
        self.role = role
        self.keys = Keys(settings.redis_prefix)
        self._worker_factory = worker_factory
        self._remote_factory = remote_factory
        self._embedded: EmbeddedRedis | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._started = False
        self._shared: Shared | None = None
        self._redis: Redis | None = None  # from the start of start-up, so a failed start-up still closes it
        self._profiles: ProfileStore | None = None  # holds a second connection pool (profile versions are bytes)
        self.control: ControlPlane | None = None  # roles with an API, once started
        self.agent: WorkerPresence | None = None  # roles with browsers, once started
        self.request_exit: Callable[[], None] = lambda: None  # set by whoever runs the server
        self._drain_task: asyncio.Task[None] | None = None
        self.metrics = Metrics()

    @property
    def shared(self) -> Shared:
        if self._shared is None:
            raise NotStarted("the runtime has not started")
        return self._shared

    async def startup(self) -> None:
        settings = self.settings
        self._embedded = EmbeddedRedis(settings.state_dir)
        start_embedded = self.role is Role.SERVE  # api and worker nodes join a Redis; they never own one
        url = await asyncio.to_thread(resolve_redis_url, settings.redis_url, self._embedded, start_embedded)
        redis = connect_redis(url, RedisOptions.of(settings))
        self._redis = redis
        await redis.ping()
        await refuse_evicting(redis, settings.allow_evicting_redis)
        watch = RedisWatch(redis)
        await watch.probe()
        store = SessionStore(redis, self.keys, settings.retention)
        registry = WorkerRegistry(redis, self.keys, settings.worker_lease_ttl)
        internal_secret = await self._shared_secret(redis, self.keys.internal_secret)
        profiles = ProfileStore(redis, self.keys, settings.profile_max_bytes, settings.max_profiles_per_user)
        self._profiles = profiles
        crashes = CrashLog(redis, self.keys, settings.crash_quarantine)
        if self._worker_factory is not None and self.role.has_browsers:
            # Only a worker role is reachable by other nodes; `serve` keeps its browsers to itself.
            address = settings.advertised_url if self.role is Role.WORKER else ""
            self.agent = self._worker_factory(settings, PresenceParts(store, registry, address, profiles, crashes))
        remote = self._remote_factory(internal_secret, settings) if self._remote_factory else None
        self._shared = Shared(
            redis=redis,
            watch=watch,
            store=store,
            accounts=AccountStore.from_settings(redis, self.keys, settings),
            rate_limiter=RateLimiter(redis, self.keys, settings.rate_limit),
            registry=registry,
            directory=WorkerDirectory(registry, self.agent.worker if self.agent else None, remote),
            internal_secret=internal_secret,
            profiles=profiles,
            crashes=crashes,
        )
        if self.role.has_api:
            self.control = await control_plane(self._shared, self.settings, self.keys)
        if self.agent is not None:
            await self.agent.start()
        self._started = True
        self._scheduler = self._schedule()
        if self.control is not None:
            await self.bootstrap_admin()

    async def shutdown(self) -> None:
        """Stop taking work, close held sessions as `closed`, give up the lease. Safe to call twice."""
        if not self._started:
            await self._close_connections()
            return
        self._started = False
        if self._drain_task is not None and not self._drain_task.done():
            self._drain_task.cancel()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        if self.agent is not None:
            try:
                await within(self.settings.shutdown_grace, self.agent.close_all("the daemon is shutting down"))
            except Exception:
                log.exception("closing sessions at shutdown did not finish cleanly")
            await self.agent.stop()
        if self.control is not None:
            await self.control.sessions.drain()
            await self.control.webhook_dispatcher.close()
        await self._close_connections()

    def begin_drain(self) -> None:
        """Drain this process's worker (SIGTERM on a worker, or an operator's request), then exit."""
        if self.agent is None:
            self.request_exit()
            return
        if self._drain_task is not None:
            return  # already draining: it exits when done
        self._drain_task = asyncio.get_running_loop().create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        assert self.agent is not None
        log.warning("draining worker %s for up to %ss", self.agent.worker_id, self.settings.drain_grace)
        try:
            await self.agent.drain(self.settings.drain_grace)
        finally:
            self.request_exit()

    async def heartbeat(self) -> None:
        if self.agent is None:
            return
        try:
            await self.agent.heartbeat()
        except REDIS_AWAY as exc:
            self.shared.watch.broken(exc)
            raise
        if self.agent.drain_requested.is_set() and self._drain_task is None:
            self.begin_drain()

    async def watch_redis(self) -> None:
        """Probe Redis; once it is back after an outage or a failover, heart-beat at once (a worker re-asserts
        its lease and reconciles its contexts with the records the new primary holds)."""
        if await self.shared.watch.probe() and self.agent is not None:
            await self.heartbeat()

    async def reap(self) -> None:
        assert self.control is not None
        with self.metrics.reaper_tick.time():
            try:
                result = await self.control.reaper.tick()
            except REDIS_AWAY as exc:
                self.shared.watch.broken(exc)
                raise
        self.metrics.reaped.labels("expired").inc(len(result.expired))
        self.metrics.reaped.labels("failed").inc(len(result.failed))

    async def ready(self) -> bool:
        try:
            await self.shared.redis.ping()
        except Exception:
            return False
        if self.agent is None:
            return True
        return self.agent.worker.load().browsers_up > 0 and not self.agent.draining

    async def bootstrap_admin(self) -> None:
        """On a first start with no users, create `admin` with an API key and show it once."""
        accounts, redis = self.shared.accounts, self.shared.redis
        if await accounts.user_count() or not await redis.set(self.keys.bootstrap, "1", nx=True):
            return
        admin = await accounts.add_user("admin", password=None, admin=True)
        issued = await accounts.create_api_key(admin, "bootstrap")
        base = f"http://{self.settings.host}:{self.settings.port}"
        print(
            "\nbrowserpool: first start, created user 'admin'. Its API key (shown only this once):\n"
            f"  {issued.secret}\n"
            "Create a browser session:\n"
            f"  curl -s -X POST {base}/v1/browser/sessions/ -H 'X-API-Key: {issued.secret}' "
            "-H 'Content-Type: application/json' -d '{}'\n",
            flush=True,
        )

    @staticmethod
    async def _shared_secret(redis: Redis, key: str) -> str:
        await redis.set(key, secrets.token_urlsafe(32), nx=True)
        return str(await redis.get(key))

    def _schedule(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler()
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        probe_every = min(1.0, self.settings.heartbeat_interval)
        scheduler.add_job(self.watch_redis, "interval", seconds=probe_every, id="redis-watch", **common)
        if self.control is not None:
            scheduler.add_job(self.reap, "interval", seconds=self.settings.reap_interval, id="reaper", **common)
            scheduler.add_job(
                self.control.webhook_dispatcher.tick,
                "interval",
                seconds=self.settings.webhook_interval,
                id="webhooks",
                **common,
            )
        if self.agent is not None:
            interval = self.settings.heartbeat_interval
            scheduler.add_job(self.heartbeat, "interval", seconds=interval, id="heartbeat", **common)
        scheduler.start()
        return scheduler

    async def _close_connections(self) -> None:
        profiles, self._profiles = self._profiles, None
        if profiles is not None:
            await profiles.close()
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.stop)
