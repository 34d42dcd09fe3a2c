"""What a started role holds: `Shared` (every role) and `ControlPlane` (roles with an API), and how the
control plane is built on the shared parts."""

from dataclasses import dataclass

from redis.asyncio import Redis

from .accounts import AccountStore
from .address_policies import webhook_policy
from .cdp_tokens import CdpTokens, load_secret
from .cdp_totals import CdpTotals, CdpUserLimits
from .config import Settings
from .crashes import CrashLog
from .create_policy import CreatePolicy
from .directory import WorkerDirectory
from .keys import Keys
from .live_links import LiveLinks
from .profiles import ProfileStore
from .queue import CreateQueue
from .ratelimit import RateLimiter
from .reaper import Reaper
from .redis_watch import RedisWatch, ReplicaWait
from .registry import WorkerRegistry
from .sessions import SessionService
from .store import SessionStore
from .stream_leases import StreamLeases
from .webhook_delivery import WebhookDispatcher
from .webhooks import WebhookStore


@dataclass(frozen=True)
class Shared:
    """What every role holds once it has started: the store and what reads or writes it."""

    redis: Redis
    watch: RedisWatch
    store: SessionStore
    accounts: AccountStore
    rate_limiter: RateLimiter
    registry: WorkerRegistry
    directory: WorkerDirectory
    internal_secret: str
    profiles: ProfileStore
    crashes: CrashLog  # shared-browser crash reports and the users quarantined after one


@dataclass(frozen=True)
class ControlPlane:
    """What only a role with an API holds: sessions, webhooks and the reaper."""

    sessions: SessionService
    webhooks: WebhookStore
    webhook_dispatcher: WebhookDispatcher
    reaper: Reaper
    event_streams: StreamLeases
    live_links: LiveLinks
    cdp_totals: CdpTotals  # what all of a user's CDP connections may cost together
    address_limiter: RateLimiter  # anonymous and failed-credential requests per client address


async def control_plane(shared: Shared, settings: Settings, keys: Keys) -> ControlPlane:
    """The parts of a role with an API, on the shared ones."""
    sessions = SessionService(
        shared.store,
        shared.directory,
        CreateQueue(shared.redis, keys, settings.queue_max),
        CdpTokens(await load_secret(shared.redis, keys)),
        CreatePolicy.of(settings),
        ReplicaWait(shared.watch, settings.redis_wait_replicas, settings.redis_wait_timeout),
        shared.profiles,
    )
    webhooks = WebhookStore(shared.redis, keys, webhook_policy(settings))
    return ControlPlane(
        sessions=sessions,
        webhooks=webhooks,
        webhook_dispatcher=WebhookDispatcher(
            shared.redis, keys, webhooks, settings.webhook_timeout, settings.webhook_concurrency
        ),
        reaper=Reaper(
            shared.redis,
            keys,
            shared.store,
            shared.registry,
            sessions.after_ended,
            warning_seconds=settings.expiry_warning,
            may_declare_lapses=lambda: shared.watch.steady_for() >= settings.worker_lease_ttl,
        ),
        event_streams=StreamLeases(shared.redis, keys, settings.max_event_streams_per_user),
        live_links=LiveLinks.from_settings(shared.redis, keys, shared.store.events, settings),
        cdp_totals=CdpTotals(shared.redis, keys, CdpUserLimits.from_settings(settings)),
        address_limiter=RateLimiter.for_addresses(shared.redis, keys, settings.ip_rate_limit),
    )
