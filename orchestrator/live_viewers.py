"""How many live-link viewers a session has open, across every API node, and the cap on them.

Each open live-link connection holds a lease: a member `<link id>:<viewer id>` of the session's viewer set,
scored by when the lease runs out. The connection renews it while open and removes it when it ends; a node
that dies leaves members that simply lapse, so its viewers stop counting within one lease (LEASE_MS). The
session's owner's own connections (its cdp_url, the dashboard's live view) hold none: they are the owner's
CDP connections, not a shared link's.
"""

import uuid

from redis.asyncio import Redis

from . import clock
from .errors import QuotaExceeded
from .keys import Keys
from .stream_leases import ACQUIRE_LEASE

LEASE_MS = 15_000  # a viewer's lease; its connection renews it every couple of seconds


class LiveViewers:
    def __init__(self, redis: Redis, keys: Keys, max_per_session: int, lease_ms: int = LEASE_MS) -> None:
        self.redis = redis
        self.keys = keys
        self.max_per_session = max_per_session  # 0: no cap
        self.lease_ms = lease_ms
        self._acquire = redis.register_script(ACQUIRE_LEASE)

    async def admit(self, session_id: str, link_id: str) -> "ViewerLease":
        """A lease for one more viewer of the session through link `link_id`; QuotaExceeded (429) when the
        session has as many open as allowed."""
        lease = ViewerLease(self, session_id, f"{link_id}:{uuid.uuid4().hex}")
        now = clock.now_ms()
        cap = self.max_per_session if self.max_per_session > 0 else 2**53  # counted anyway, for the listing
        if not await self._acquire(keys=[lease.key], args=[now, now + self.lease_ms, lease.member, cap]):
            raise QuotaExceeded(
                f"session {session_id} has {self.max_per_session} live viewers open, the most one session may have "
                "at once (all its live links together; BROWSERPOOL_MAX_LIVE_VIEWERS_PER_SESSION); close an open "
                "live view of it and retry (its owner can also revoke a link, which closes that link's views)",
                retry_after=5,
            )
        return lease


class ViewerLease:
    def __init__(self, viewers: LiveViewers, session_id: str, member: str) -> None:
        self._viewers = viewers
        self.key = viewers.keys.session_live_viewers(session_id)
        self.member = member

    async def renew(self) -> None:
        """Push the lease's end out (more often than the lease's length, while the viewer is connected)."""
        until = clock.now_ms() + self._viewers.lease_ms
        async with self._viewers.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.key, {self.member: until}, xx=True)
            pipe.pexpireat(self.key, until)
            await pipe.execute()

    async def release(self) -> None:
        await self._viewers.redis.zrem(self.key, self.member)
