"""A bounded, fair (first come, first served) wait for capacity, shared by every API node through Redis.

A waiting request holds a ticket: a member of a sorted set scored by arrival, plus a key with a short
expiry that it refreshes while it waits. A ticket whose key lapsed (its API node died) is swept from
the head, so a crash never blocks the queue.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from . import clock
from .errors import PoolFull
from .keys import Keys

TICKET_TTL_MS = 5000


class QueueFull(PoolFull):
    pass


class Ticket:
    def __init__(self, queue: "CreateQueue", ticket_id: str) -> None:
        self.queue = queue
        self.id = ticket_id

    async def ahead(self) -> int:
        """How many live tickets are ahead of this one (refreshing this one on the way)."""
        return await self.queue.ahead_of(self.id)


class CreateQueue:
    def __init__(self, redis: Redis, keys: Keys, max_waiting: int) -> None:
        self.redis = redis
        self.keys = keys
        self.max_waiting = max_waiting

    async def waiting(self) -> int:
        return int(await self.redis.zcard(self.keys.queue))

    @asynccontextmanager
    async def ticket(self) -> AsyncIterator[Ticket]:
        ticket_id = uuid.uuid4().hex
        await self._sweep()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.keys.queue, {ticket_id: clock.now_ms()})
            pipe.set(self.keys.queue_ticket(ticket_id), "1", px=TICKET_TTL_MS)
            pipe.zrank(self.keys.queue, ticket_id)
            _, _, rank = await pipe.execute()
        try:
            if rank is not None and rank >= self.max_waiting:
                raise QueueFull()
            yield Ticket(self, ticket_id)
        finally:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self.keys.queue, ticket_id)
                pipe.delete(self.keys.queue_ticket(ticket_id))
                await pipe.execute()

    async def ahead_of(self, ticket_id: str) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.queue_ticket(ticket_id), "1", px=TICKET_TTL_MS)
            pipe.zrank(self.keys.queue, ticket_id)
            _, rank = await pipe.execute()
        if rank:
            await self._sweep(limit=int(rank))
            rank = await self.redis.zrank(self.keys.queue, ticket_id)
        return int(rank or 0)

    async def _sweep(self, limit: int = 20) -> None:
        """Drop tickets at the head whose requests are gone."""
        head = await self.redis.zrange(self.keys.queue, 0, max(limit - 1, 0))
        if not head:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for ticket_id in head:
                pipe.exists(self.keys.queue_ticket(ticket_id))
            alive = await pipe.execute()
        stale = [t for t, live in zip(head, alive, strict=True) if not live]
        if stale:
            await self.redis.zrem(self.keys.queue, *stale)


async def wait_for_turn(
    ticket: Ticket,
    free_slots: Callable[[], Awaitable[int]],
    deadline_ms: int,
    gave_up: Callable[[], Awaitable[bool]],
    poll: float = 0.1,
) -> bool:
    """Wait until this ticket is within the free capacity; False if the deadline passes first."""
    while clock.now_ms() < deadline_ms:
        if await gave_up():
            return False
        if await ticket.ahead() < await free_slots():
            return True
        await asyncio.sleep(poll)
    return False
