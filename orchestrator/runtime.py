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
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from .accounts import AccountStore
from .agent import WorkerAgent
from .cdp_tokens import CdpTokens, load_secret
from .config import Settings
from .directory import RemoteFactory, WorkerDirectory
from .keys import Keys
from .metrics import Metrics
from .queue import CreateQueue
from .ratelimit import RateLimiter
from .reaper import Reaper
from .redis_server import EmbeddedRedis, resolve_redis_url
from .registry import WorkerRegistry
from .sessions import SessionService
from .store import SessionStore
from .webhook_delivery import WebhookDispatcher
from .webhooks import WebhookStore
from .worker import OwnedWorker

log = logging.getLogger(__name__)

WorkerFactory = Callable[[Settings], OwnedWorker]
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


def connect_redis(url: str) -> Redis:
    # Two quick retries: a pooled connection that died with a restarted Redis is replaced, not reported.
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
    )


class Runtime:
    def __init__(
        self,
        settings: Settings,
        role: Role,
        worker_factory: WorkerFactory | None = None,
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
        self.agent: WorkerAgent | None = None
        self.request_exit: Callable[[], None] = lambda: None  # set by whoever runs the server
        self._drain_task: asyncio.Task[None] | None = None
        self.metrics = Metrics()

    async def startup(self) -> None:
        settings = self.settings
        self._embedded = EmbeddedRedis(settings.state_dir)
        start_embedded = self.role is Role.SERVE  # api and worker nodes join a Redis; they never own one
        url = await asyncio.to_thread(resolve_redis_url, settings.redis_url, self._embedded, start_embedded)
        self.redis = connect_redis(url)
        await self.redis.ping()
        self.store = SessionStore(self.redis, self.keys, settings.retention)
        self.accounts = AccountStore(self.redis, self.keys, settings.token_ttl)
        self.rate_limiter = RateLimiter(self.redis, self.keys, settings.rate_limit)
        self.registry = WorkerRegistry(self.redis, self.keys, settings.worker_lease_ttl)
        self.internal_secret = await self._shared_secret(self.keys.internal_secret)
        if self._worker_factory is not None and self.role.has_browsers:
            worker = self._worker_factory(settings)
            self.agent = WorkerAgent(worker, self.store, self.registry, settings.advertised_url)
        remote = self._remote_factory(self.internal_secret, settings) if self._remote_factory else None
        self.directory = WorkerDirectory(self.registry, self.agent.worker if self.agent else None, remote)
        if self.role.has_api:
            tokens = CdpTokens(await load_secret(self.redis, self.keys))
            queue = CreateQueue(self.redis, self.keys, settings.queue_max)
            self.sessions = SessionService(
                self.store,
                self.directory,
                queue,
                tokens,
                settings.idle_timeout,
                settings.queue_timeout,
                settings.max_sessions_per_user,
            )
            self.webhooks = WebhookStore(self.redis, self.keys)
            self.webhook_dispatcher = WebhookDispatcher(self.redis, self.keys, self.webhooks)
            self.reaper = Reaper(
                self.redis,
                self.keys,
                self.store,
                self.registry,
                self.sessions.after_ended,
                warning_seconds=settings.expiry_warning,
            )
        if self.agent is not None:
            await self.agent.start()
        self._started = True
        self._scheduler = self._schedule()
        if self.role.has_api:
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
                await asyncio.wait_for(
                    self.agent.close_all("the daemon is shutting down"), self.settings.shutdown_grace
                )
            except Exception:
                log.exception("closing sessions at shutdown did not finish cleanly")
            await self.agent.stop()
        if self.role.has_api:
            await self.sessions.drain()
            await self.webhook_dispatcher.close()
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
        await self.agent.heartbeat()
        if self.agent.drain_requested.is_set() and self._drain_task is None:
            self.begin_drain()

    async def reap(self) -> None:
        with self.metrics.reaper_tick.time():
            result = await self.reaper.tick()
        self.metrics.reaped.labels("expired").inc(len(result.expired))
        self.metrics.reaped.labels("failed").inc(len(result.failed))

    async def ready(self) -> bool:
        try:
            await self.redis.ping()
        except Exception:
            return False
        if self.agent is None:
            return True
        return self.agent.worker.load().browsers_up > 0 and not self.agent.draining

    async def bootstrap_admin(self) -> None:
        """On a first start with no users, create `admin` with an API key and show it once."""
        if await self.accounts.user_count() or not await self.redis.set(self.keys.bootstrap, "1", nx=True):
            return
        admin = await self.accounts.add_user("admin", password=None, admin=True)
        issued = await self.accounts.create_api_key(admin, "bootstrap")
        base = f"http://{self.settings.host}:{self.settings.port}"
        print(
            "\nbrowserpool: first start, created user 'admin'. Its API key (shown only this once):\n"
            f"  {issued.secret}\n"
            "Create a browser session:\n"
            f"  curl -s -X POST {base}/v1/browser/sessions/ -H 'X-API-Key: {issued.secret}' "
            "-H 'Content-Type: application/json' -d '{}'\n",
            flush=True,
        )

    async def _shared_secret(self, key: str) -> str:
        await self.redis.set(key, secrets.token_urlsafe(32), nx=True)
        return str(await self.redis.get(key))

    def _schedule(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler()
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        if self.role.has_api:
            scheduler.add_job(self.reap, "interval", seconds=self.settings.reap_interval, id="reaper", **common)
            scheduler.add_job(
                self.webhook_dispatcher.tick,
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
        redis = getattr(self, "redis", None)
        if redis is not None:
            await redis.aclose()
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.stop)
