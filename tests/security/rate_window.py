"""Rate limits count per wall-clock minute: tests that count up to one start clear of a minute boundary."""

import asyncio

from orchestrator import clock


async def clear_of_a_minute_boundary(margin_s: float = 5.0) -> None:
    """Wait, if need be, until at least `margin_s` of the current minute is left."""
    left = 60 - (clock.now_ms() / 1000) % 60
    if left < margin_s:
        await asyncio.sleep(left + 0.1)
