"""How far a session is kept from other tenants: a browser context in a shared Chromium, or a Chromium of its own.

`context` (the default) puts the session in a browser context of one of the worker's shared browsers: dense and
fast, and the CDP policy keeps every tenant inside its own context; but whatever crashes that Chromium ends every
session in it. `browser` gives the session a Chromium of its own, taken from the worker's ready browsers
(workers/pool/dedicated.py) and closed when the session ends; it is never handed to anyone else.

A session's level is decided in one place, `IsolationPolicy.level_for`: what the create body asked for, else the
user's default (`browserpool users set NAME --isolation browser`), else `context`; a user in crash quarantine
(orchestrator/quarantine.py) gets `browser` whatever they ask.
"""

from typing import Literal, get_args

from redis.asyncio import Redis

from .keys import Keys
from .quarantine import quarantined_until

Isolation = Literal["context", "browser"]
ISOLATION_LEVELS: tuple[str, ...] = get_args(Isolation)
DEFAULT_ISOLATION: Isolation = "context"
USER_FIELD = "isolation"  # the user's default, in their user hash (absent: DEFAULT_ISOLATION)


def parse_isolation(value: str) -> Isolation:
    """The level a string names; ValueError for any other string."""
    if value == "context":
        return "context"
    if value == "browser":
        return "browser"
    raise ValueError(f"isolation must be one of {', '.join(ISOLATION_LEVELS)}, not {value!r}")


class IsolationPolicy:
    """Which isolation a new session gets."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def user_default(self, user_id: str) -> Isolation:
        stored = await self.redis.hget(self.keys.user(user_id), USER_FIELD)
        return parse_isolation(stored) if stored in ISOLATION_LEVELS else DEFAULT_ISOLATION

    async def level_for(self, user_id: str, asked: Isolation | None) -> Isolation:
        """The level of a session the user creates: the request's own, else the user's default. Anything that must
        force `browser` on a user whatever they ask (a crash quarantine) belongs here."""
        if await quarantined_until(self.redis, self.keys, user_id) is not None:
            return "browser"  # their command was in flight at a crash of a shared browser (orchestrator/crashes.py)
        if asked is not None:
            return asked
        return await self.user_default(user_id)
