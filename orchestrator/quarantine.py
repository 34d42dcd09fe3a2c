"""Who is in crash quarantine: users whose CDP command was in flight when a shared browser crashed.

Written by orchestrator/crashes.py; read here by the isolation policy (a quarantined user's new sessions get
a browser of their own) and the operator tools. A sorted set of user ids scored by when the quarantine ends.
"""

from redis.asyncio import Redis

from . import clock
from .keys import Keys


async def quarantined_until(redis: Redis, keys: Keys, user_id: str) -> int | None:
    """When the user's crash quarantine ends (ms), or None if they are not quarantined."""
    score = await redis.zscore(keys.quarantine, user_id)
    return int(score) if score is not None and score > clock.now_ms() else None
