"""The daemon's moving parts, wired together: Redis, stores, a worker, the reaper and heartbeat jobs."""

import asyncio
import logging
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis

from . import clock
from .accounts import AccountStore
from .cdp_tokens import CdpTokens, load_secret
from .config import Settings
from .keys import Keys
from .lifecycle import LIVE, EndReason, SessionStatus
from .reaper import Reaper
from .redis_server import EmbeddedRedis, resolve_redis_url
from .registry import WorkerRegistry
from .sessions import SessionService
from .store import SessionStore
from .worker import BrowserWorker

log = logging.getLogger(__name__)

WorkerFactory = Callable[[Settings], BrowserWorker]


def connect_redis(url: str) -> Redis:
    return Redis.from_url(
        url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5, health_check_interval=15
    )


class Runtime:
    def __init__(self, settings: Settings, worker_factory: WorkerFactory) -> None:
        self.settings = settings
        self.keys = Keys(settings.redis_prefix)
        self._worker_factory = worker_factory
        self._embedded: EmbeddedRedis | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._started = False

    async def startup(self) -> None:
        settings = self.settings
        self._embedded = EmbeddedRedis(settings.state_dir)
        url = await asyncio.to_thread(resolve_redis_url, settings.redis_url, self._embedded)
        self.redis = connect_redis(url)
        await self.redis.ping()
        self.store = SessionStore(self.redis, self.keys, settings.retention)
        self.accounts = AccountStore(self.redis, self.keys, settings.token_ttl)
        self.registry = WorkerRegistry(self.redis, self.keys, settings.worker_lease_ttl)
        self.worker = self._worker_factory(settings)
        tokens = CdpTokens(await load_secret(self.redis, self.keys))
        self.sessions = SessionService(self.store, self.worker, settings.idle_timeout, tokens)
        self.reaper = Reaper(self.redis, self.keys, self.store, self.registry, self.sessions.after_ended)

        recovered = await self.sessions.recover_previous_incarnation()
        if recovered:
            log.warning("marked %d session(s) of this worker's previous run as ended", recovered)
        await self.worker.start(self.sessions.end_lost)
        await self.heartbeat()
        self._started = True
        self._scheduler = self._schedule()
        await self.bootstrap_admin()

    async def shutdown(self) -> None:
        """Stop taking work, close every session as `closed`, give up the lease. Safe to call twice."""
        if not self._started:
            await self._close_connections()
            return
        self._started = False
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        try:
            await asyncio.wait_for(self._close_all_sessions(), self.settings.shutdown_grace)
        except Exception:
            log.exception("closing sessions at shutdown did not finish cleanly")
        await self.worker.stop()
        try:
            await self.registry.deregister(self.worker.worker_id)
        except Exception:
            log.exception("could not deregister the worker")
        await self._close_connections()

    async def heartbeat(self) -> None:
        await self.registry.heartbeat(self.worker.worker_id, self.worker.load(), clock.now_ms())
        await self.sessions.reconcile()

    async def reap(self) -> None:
        await self.reaper.tick()

    async def ready(self) -> bool:
        try:
            await self.redis.ping()
        except Exception:
            return False
        return self.worker.load().browsers_up > 0

    async def bootstrap_admin(self) -> None:
        """On a first start with no users, create `admin` with an API key and show it once."""
        if await self.accounts.user_count() or not await self.redis.set(self.keys.bootstrap, "1", nx=True):
            return
        admin = await self.accounts.add_user("admin", password=None)
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

    def _schedule(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler()
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        scheduler.add_job(self.reap, "interval", seconds=self.settings.reap_interval, id="reaper", **common)
        scheduler.add_job(
            self.heartbeat, "interval", seconds=self.settings.heartbeat_interval, id="heartbeat", **common
        )
        scheduler.start()
        return scheduler

    async def _close_all_sessions(self) -> None:
        held = self.worker.held_session_ids()
        now = clock.now_ms()
        await self.store.transition_many(held, SessionStatus.CLOSING, now, reason=EndReason.SHUTDOWN, sources=LIVE)
        for session_id in held:
            await self.worker.close_session(session_id, "session closed (the daemon is shutting down)")
        await self.store.transition_many(held, SessionStatus.CLOSED, clock.now_ms(), reason=EndReason.SHUTDOWN)
        await self.sessions.drain()

    async def _close_connections(self) -> None:
        redis = getattr(self, "redis", None)
        if redis is not None:
            await redis.aclose()
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.stop)
