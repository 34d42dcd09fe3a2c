"""A task cancelled while it waits on Redis stops there, as every other await does.

The daemon counts on it wherever it cancels a task that may be in a Redis call: a CDP relay's client
reader (its activity write), a socket lease's renewer, the reaper at shutdown. redis-py's own clients
(6.x to 8.x, on Python 3.11) let a command return as if nothing had happened about half the time, so the
cancelled task went on: a relay kept forwarding an ended session's commands to Chromium (contexts nobody
disposed) and a lease renewer never stopped (the CDP route's close waited for it forever, and the user's
socket count never came down). The clients of orchestrator/redis_connect.py bound their writes so that a
cancellation always stops them (CancellableWrites).
"""

import asyncio
import random

from redis.asyncio import Redis

TRIES = 200


async def test_a_task_cancelled_during_a_command_does_not_go_on(redis: Redis, prefix: str) -> None:
    went_on = 0
    key = f"{prefix}:probe"
    for _ in range(TRIES):

        async def commands() -> bool:
            while True:
                await redis.incr(key)
                current = asyncio.current_task()
                if current is not None and current.cancelling():  # cancelled, yet the command returned
                    return True

        task = asyncio.create_task(commands())
        await asyncio.sleep(random.random() * 0.004)  # most cancels land in the middle of a command
        task.cancel()
        try:
            went_on += await task
        except asyncio.CancelledError:
            pass
    await redis.delete(key)
    assert went_on == 0, f"{went_on} of {TRIES} cancelled tasks ran on to the end of their commands"
