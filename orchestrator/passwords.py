"""argon2 password hashing, kept off the event loop and bounded.

One argon2 hash costs tens of milliseconds of CPU and 64 MiB. Run on the event loop, a handful of anonymous
logins stalls every request the process serves (health probes, CDP relays, heartbeats). Here hashes run in a
few worker threads (argon2 releases the GIL), at most `threads` at once. Callers an anonymous client can
start (logins) first take a `turn`: at most `threads + waiting` turns are out at once and anyone past that
is refused at once, so a login flood queues a bounded amount of work and is answered 429 for the rest.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import QuotaExceeded

T = TypeVar("T")

BUSY_RETRY_AFTER = 1  # seconds: a busy answer clears as soon as a hash finishes


class PasswordHashing:
    def __init__(self, threads: int = 2, waiting: int = 8) -> None:
        self.threads = threads
        self.waiting = waiting
        self._hasher = PasswordHasher()
        self._limiter: CapacityLimiter | None = None  # made on first use, inside the loop that uses it
        self._turns = 0

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Admission for one caller; QuotaExceeded (Retry-After 1 s) at once when every turn is out."""
        if self._turns >= self.threads + self.waiting:
            raise QuotaExceeded("too many logins in progress; retry in a second", retry_after=BUSY_RETRY_AFTER)
        self._turns += 1
        try:
            yield
        finally:
            self._turns -= 1

    async def hash(self, password: str) -> str:
        return await self._in_thread(self._hasher.hash, password)

    async def verify(self, stored: str, password: str) -> bool:
        """Whether `password` matches the stored hash; a malformed stored hash matches nothing."""
        return await self._in_thread(self._matches, stored, password)

    def _matches(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _in_thread(self, work: Callable[..., T], *args: str) -> T:
        if self._limiter is None:
            self._limiter = CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(work, *args, limiter=self._limiter)
