"""Waiting with a deadline that a cancellation always stops.

On Python 3.11, asyncio.wait_for returns what it awaited, and drops the cancellation, when the waiting
task is cancelled just as that completes (Python 3.12 rebuilt wait_for on asyncio.timeout). A task
stopped with cancel() then goes on. The Redis client's writes had this fault (orchestrator/redis_connect.py
mends them): an ended CDP relay kept forwarding commands, and a lease renewer never stopped. `within` is
the same bound built on asyncio.timeout; ruff's banned-api rule keeps asyncio.wait_for out of the daemon.
"""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(seconds: float | None, awaitable: Awaitable[T]) -> T:
    """What `awaitable` gives, waited for at most `seconds` (None: no bound); TimeoutError past them."""
    async with asyncio.timeout(seconds):
        return await awaitable
