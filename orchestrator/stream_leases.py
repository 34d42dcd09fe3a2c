"""How many event streams (SSE connections) a user holds open, across every API node (and, with another
key and name, how many CDP connections: orchestrator/cdp_totals.py).

Each open stream is a member of a per-user sorted set scored by when its lease runs out; the stream
renews the lease while it is open and removes itself when it ends. A node that dies leaves members
that simply lapse, so a crash never locks a user out for longer than one lease.
"""

import uuid
from collections.abc import Callable

from redis.asyncio import Redis

from . import clock
from .errors import QuotaExceeded
from .keys import Keys

# KEYS[1] the user's stream set; ARGV[1] now (ms), ARGV[2] the new lease's end (ms), ARGV[3] stream id,
# ARGV[4] the most streams a user may hold. Returns 1 if the stream got its lease, 0 if the user is at the limit.
# (Live viewers take their leases with it too: orchestrator/live_viewers.py.)
ACQUIRE_LEASE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
"""


class StreamLeases:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        max_per_user: int,
        lease_ms: int = 30_000,
        key_of: Callable[[str], str] | None = None,
        what: str = "event streams",
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.max_per_user = max_per_user  # 0: no limit
        self.lease_ms = lease_ms
        self.key_of = key_of or keys.user_event_streams  # the user's set of leases
        self.what = what
        self._acquire = redis.register_script(ACQUIRE_LEASE)

    async def acquire(self, user_id: str) -> "StreamLease":
        """A lease for one more stream of the user's; QuotaExceeded when they hold the most they may."""
        lease = StreamLease(self, user_id, uuid.uuid4().hex)
        if self.max_per_user <= 0:
            return lease
        now = clock.now_ms()
        args = [now, now + self.lease_ms, lease.stream_id, self.max_per_user]
        if not await self._acquire(keys=[lease.key], args=args):
            raise QuotaExceeded(
                f"at most {self.max_per_user} {self.what} per user may be open at once; close one first",
                retry_after=5,
            )
        return lease


class StreamLease:
    def __init__(self, leases: StreamLeases, user_id: str, stream_id: str) -> None:
        self._leases = leases
        self.key = leases.key_of(user_id)
        self.stream_id = stream_id

    async def renew(self) -> None:
        """Push the lease's end out (call it more often than the lease's length while the stream is open)."""
        leases = self._leases
        if leases.max_per_user <= 0:
            return
        until = clock.now_ms() + leases.lease_ms
        async with leases.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.key, {self.stream_id: until}, xx=True)
            pipe.pexpireat(self.key, until)
            await pipe.execute()

    async def release(self) -> None:
        if self._leases.max_per_user > 0:
            await self._leases.redis.zrem(self.key, self.stream_id)
