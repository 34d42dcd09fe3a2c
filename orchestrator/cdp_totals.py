"""What all of one user's CDP connections may cost together, on every API node at once.

- **Sockets.** Each open connection holds a lease in the user's set (orchestrator/stream_leases.py),
  renewed while it is open and given back when it closes; a node that dies leaves leases that lapse
  within LEASE_MS, so a crash never locks a user out for longer.
- **Rate.** Commands and bytes a second, client to browser, in one budget per user kept in Redis as the
  moment up to which each is spent (a generic cell rate algorithm: idle time saves up at most
  `burst_seconds` of it). A node takes the budget in chunks of CHUNK_SECONDS' worth and spends them
  message by message, so Redis sees one round trip per chunk and none per message. Past the budget a
  chunk comes with a wait: the user's next messages on that node wait their turn (paced, never dropped)
  and meanwhile their sockets are left unread, so the clients' own sends slow down.
- **Redis away.** A chunk Redis cannot hand out is spent unpaced (each connection's own budget,
  workers/cdp/limits.py, still holds); the limit comes back with Redis.
"""

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from .config import Settings
from .keys import Keys
from .redis_watch import REDIS_AWAY
from .stream_leases import StreamLease, StreamLeases
from .worker import CdpClient

log = logging.getLogger(__name__)

UNANSWERED: tuple[type[Exception], ...] = (*REDIS_AWAY, TimeoutError)  # Redis away, or too slow to say

LEASE_MS = 30_000  # a socket's lease; renewed every third of it while the socket is open
CHUNK_SECONDS = 0.05  # a node takes this many seconds' worth of a user's budget at a time
TAKE_TIMEOUT = 1.0  # a chunk Redis has not handed out by then is spent unpaced
AWAY_SECONDS = 1.0  # after Redis failed to hand out a chunk, chunks are spent unpaced this long without asking
WARN_EVERY = 60.0  # seconds between two warnings that Redis could not hand out a chunk

# KEYS[1] the user's budget (hash: commands, bytes = up to when, in ms of Redis's clock, each is spent).
# ARGV[1] commands taken, ARGV[2] bytes taken, ARGV[3] commands a second, ARGV[4] bytes a second,
# ARGV[5] the burst (ms of either budget that idle time may save up). Nothing is refused: the answer is
# how long (ms) the taker must hold its traffic back so that both budgets hold.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local spent = redis.call('HMGET', KEYS[1], 'commands', 'bytes')
local wait, last = 0, now
for i, field in ipairs({'commands', 'bytes'}) do
  local upto = math.max(tonumber(spent[i]) or 0, now)
  local amount = tonumber(ARGV[i])
  if amount > 0 then
    upto = upto + amount * 1000 / tonumber(ARGV[i + 2])
    redis.call('HSET', KEYS[1], field, upto)
    wait = math.max(wait, upto - now - tonumber(ARGV[5]))
  end
  last = math.max(last, upto)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(last - now) + 1000)
return math.ceil(wait)
"""


@dataclass(frozen=True)
class CdpUserLimits:
    """What one user's CDP connections may cost together; 0 is no limit. Defaults: the settings' own."""

    sockets: int = 64
    commands_per_second: float = 1000.0
    bytes_per_second: float = 16 * 1024 * 1024
    burst_seconds: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "CdpUserLimits":
        return cls(
            sockets=settings.cdp_user_sockets,
            commands_per_second=settings.cdp_user_commands_per_second,
            bytes_per_second=settings.cdp_user_bytes_per_second,
            burst_seconds=settings.cdp_burst_seconds,
        )


class CdpTotals:
    """One per API node: the users' socket leases, and each connected user's share of their budget here."""

    def __init__(self, redis: Redis, keys: Keys, limits: CdpUserLimits, lease_ms: int = LEASE_MS) -> None:
        self.keys = keys
        self.limits = limits
        self.leases = StreamLeases(redis, keys, limits.sockets, lease_ms, keys.user_cdp_sockets, "CDP connections")
        self._take = redis.register_script(_TAKE)
        self._budgets: dict[str, UserBudget] = {}
        self._warned = -math.inf
        self._away_until = -math.inf  # until then, budgets are not asked of Redis (it just failed)

    async def open(self, user_id: str) -> "CdpConnection":
        """Count one more connection of the user's; QuotaExceeded (Retry-After) when they hold the most they may."""
        lease = await self.leases.acquire(user_id)
        budget = self._budgets.get(user_id)
        if budget is None:
            budget = self._budgets[user_id] = UserBudget(self, user_id)
        budget.holders += 1
        return CdpConnection(self, lease, budget)

    def _closed(self, budget: "UserBudget") -> None:
        budget.holders -= 1
        if budget.holders <= 0 and self._budgets.get(budget.user_id) is budget:
            del self._budgets[budget.user_id]

    async def take(self, user_id: str, commands: float, size: float) -> float:
        """Take a chunk of the user's budget; the seconds to hold it back (0 when Redis cannot say)."""
        if time.monotonic() < self._away_until:
            return 0.0
        limits = self.limits
        args = [commands, size, limits.commands_per_second or 1, limits.bytes_per_second or 1]
        try:
            async with asyncio.timeout(TAKE_TIMEOUT):
                wait_ms = await self._take(keys=[self.keys.user_cdp_budget(user_id)], args=[*args, self._burst_ms])
        except UNANSWERED as exc:
            now = time.monotonic()
            self._away_until = now + AWAY_SECONDS
            if now - self._warned > WARN_EVERY:
                self._warned = now
                log.warning("per-user CDP budgets go unpaced while Redis cannot hand them out: %r", exc)
            return 0.0
        return max(0, int(wait_ms)) / 1000

    @property
    def _burst_ms(self) -> float:
        return self.limits.burst_seconds * 1000


class UserBudget:
    """One user's share of their budget on this node: what is left of the chunks it took, spent in turn."""

    def __init__(self, totals: CdpTotals, user_id: str) -> None:
        self.totals = totals
        self.user_id = user_id
        self.holders = 0  # this user's connections on this node
        limits = totals.limits
        self._rates = (limits.commands_per_second, limits.bytes_per_second)
        self._chunks = tuple(max(1.0, rate * CHUNK_SECONDS) for rate in self._rates)
        self._left = [0.0 if rate else math.inf for rate in self._rates]  # commands, bytes
        self._turn = asyncio.Lock()  # first come, first served: the user's connections wait in line

    async def spend(self, size: int) -> None:
        """Spend one message of `size`; waits while the user's budget is spent (across all their connections)."""
        if self._left == [math.inf, math.inf]:
            return
        async with self._turn:
            commands, data = self._left
            ask_commands = self._chunks[0] if commands < 1 else 0.0
            ask_bytes = max(self._chunks[1], size - data) if data < size else 0.0
            if ask_commands or ask_bytes:
                wait = await self.totals.take(self.user_id, ask_commands, ask_bytes)
                commands, data = commands + ask_commands, data + ask_bytes
                if wait > 0:
                    await asyncio.sleep(wait)  # the lock is held: the user's other messages here wait too
            self._left = [commands - 1, data - size]


class CdpConnection:
    """One open CDP connection of a user's: its socket lease (kept renewed) and its share of the budget."""

    def __init__(self, totals: CdpTotals, lease: StreamLease, budget: UserBudget) -> None:
        self._totals = totals
        self._lease = lease
        self.budget = budget
        self._renewer: asyncio.Task[None] | None = None  # without a socket cap there is no lease to renew
        if totals.leases.max_per_user > 0:
            self._renewer = asyncio.create_task(self._renew(totals.leases.lease_ms / 3000))
        self._closed = False

    def paced(self, client: CdpClient) -> CdpClient:
        """The client, whose messages wait for the user's budget before the relay sees them."""
        return PacedClient(client, self.budget)

    async def close(self) -> None:
        """Give the lease back (a failure leaves it to lapse). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        self._totals._closed(self.budget)
        try:
            await self._lease.release()
        except REDIS_AWAY:
            log.info("could not give back a CDP socket lease; it lapses on its own")

    async def _renew(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self._lease.renew()
            except REDIS_AWAY as exc:  # the next renewal may make it; if none does, the lease lapses
                log.info("could not renew a CDP socket lease: %r", exc)


class PacedClient:
    """A CdpClient whose received messages are paid for out of the user's budget first."""

    def __init__(self, client: CdpClient, budget: UserBudget) -> None:
        self.client = client
        self.budget = budget

    async def receive_text(self) -> str:
        raw = await self.client.receive_text()
        await self.budget.spend(len(raw))
        return raw

    async def send_text(self, data: str) -> None:
        await self.client.send_text(data)

    async def close(self, code: int, reason: str) -> None:
        await self.client.close(code, reason)
