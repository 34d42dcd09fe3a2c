"""Profiles: browser state (cookies, localStorage, IndexedDB) a user keeps between sessions, in Redis.

Per user, under the configured prefix (keys.py): a metadata hash per profile, its current version (zlib-compressed
Playwright storage-state JSON), an index of the user's profiles, and a lease naming the one session that persists
into it. Every change is one Lua script (lua/profile_*.lua) sharing one rule for who holds a lease
(lua/profile_rules.lua): a version is written whole under a key of its own and renamed over the current one,
so a failed save never loses the previous version, and no save lands from a session that lost the lease.

The lease follows its session: held while it is live or closing, and after a graceful end (delete, timeout,
idle, shutdown) until its final save is done, for at most SAVE_GRACE_MS; released by any other end (crash,
lost worker), which cannot save, without anyone having to clean up after the crashed process.
"""

import asyncio
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.commands.core import AsyncScript

from . import clock
from .errors import ProfileInUse, ProfileLeaseLost, ProfileNotFound, ProfileTooLarge, QuotaExceeded
from .keys import Keys
from .lifecycle import EndReason, SessionStatus
from .models import ProfileRef, SessionRecord
from .profile_state import EncodedState, decode, encode
from .scripts import prelude

# The end reasons after which a persisting session saves its state (its context is still there to read).
SAVED_ENDS = frozenset({EndReason.DELETED, EndReason.TIMEOUT, EndReason.IDLE, EndReason.SHUTDOWN})
# How long a gracefully ended session keeps its lease for its final save; past it the lease is free again.
SAVE_GRACE_MS = 30_000
SAVE_FAILED = "failed"  # a persisting session's `profile_save` once its final save was tried and failed
NEW_VERSION_TTL = 120  # seconds a version being written may wait for its swap before Redis drops it
ENCODE_IN_THREAD_BYTES = 64 * 1024  # documents at least this large are (de)compressed off the event loop


@dataclass(frozen=True)
class ProfileInfo:
    name: str
    size_bytes: int
    raw_bytes: int
    cookies: int
    origins: int
    created_at_ms: int
    updated_at_ms: int
    in_use_by: str | None

    @classmethod
    def of(cls, row: list[str]) -> "ProfileInfo":
        name, size, raw, cookies, origins, created, updated, holder = row
        return cls(name, int(size), int(raw), int(cookies), int(origins), int(created), int(updated), holder or None)


def save_status(record: SessionRecord, now_ms: int) -> str | None:
    """What became of a persisting session's final save: pending, saved, failed, or not_saved (it ended in a
    way that cannot save: a crash, a lost worker, or its save never came within SAVE_GRACE_MS)."""
    if not record.profile_persist:
        return None
    status = record.profile_save or "pending"
    if status != "pending" or not record.status.is_terminal:
        return status
    ended = record.ended_at_ms or 0
    if record.end_reason in SAVED_ENDS and now_ms - ended < SAVE_GRACE_MS:
        return "pending"
    return "not_saved"


def _source(name: str) -> str:
    return resources.files("orchestrator").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


@cache
def _profile_prelude() -> str:
    ends = ", ".join(f"['{reason.value}'] = true" for reason in sorted(SAVED_ENDS))
    generated = f"local CLOSING = '{SessionStatus.CLOSING.value}'\nlocal SAVED_ENDS = {{{ends}}}\n"
    return prelude() + generated + _source("profile_rules") + "\n"


def _binary_twin(redis: Redis) -> Redis:
    """A client on the same server that leaves values as bytes (profile versions are compressed bytes)."""
    pool = redis.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    return Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs))


class ProfileStore:
    def __init__(self, redis: Redis, keys: Keys, max_bytes: int, max_per_user: int) -> None:
        self.redis = redis
        self.keys = keys
        self.max_bytes = max_bytes
        self.max_per_user = max_per_user
        self._binary = _binary_twin(redis)
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(_profile_prelude() + _source(f"profile_{name}"))
            for name in ("claim", "swap", "give_up", "release", "delete", "list")
        }

    async def close(self) -> None:
        await self._binary.aclose()
        await self._binary.connection_pool.disconnect()

    # --- reading -----------------------------------------------------------------------------

    async def of_user(self, user_id: str) -> list[ProfileInfo]:
        return [ProfileInfo.of(row) for row in await self._list(user_id, "")]

    async def info(self, user_id: str, name: str) -> ProfileInfo:
        rows = await self._list(user_id, name)
        if not rows:
            raise ProfileNotFound(name)
        return ProfileInfo.of(rows[0])

    async def exists(self, user_id: str, name: str) -> bool:
        return bool(await self.redis.exists(self.keys.profile(user_id, name)))

    async def state(self, user_id: str, name: str) -> dict[str, Any]:
        """The profile's storage-state document (empty for a profile nothing was saved into yet)."""
        async with self._binary.pipeline(transaction=True) as pipe:
            pipe.exists(self.keys.profile(user_id, name))
            pipe.get(self.keys.profile_data(user_id, name))
            exists, data = await pipe.execute()
        if not exists:
            raise ProfileNotFound(name)
        if data is not None and len(data) >= ENCODE_IN_THREAD_BYTES // 8:
            return await asyncio.to_thread(decode, data)
        return decode(data)

    # --- writing -----------------------------------------------------------------------------

    async def upload(self, user_id: str, name: str, document: dict[str, Any]) -> tuple[ProfileInfo, bool]:
        """Store a checked storage-state document as the profile's new version; True if that made the profile.
        Raises ProfileTooLarge, ProfileInUse (a session persists into it) or QuotaExceeded (too many profiles)."""
        encoded = await self._encode(document)
        answer = await self._swap(ProfileRef(user_id, name), "", encoded, "upload")
        return await self.info(user_id, name), answer == "created"

    async def save(self, ref: ProfileRef, session_id: str, document: dict[str, Any], *, final: bool) -> None:
        """A persisting session's save (a checkpoint, or its `final` one, which also gives the lease up).
        Raises ProfileTooLarge, or ProfileLeaseLost when the session no longer holds the lease."""
        encoded = await self._encode(document)
        await self._swap(ref, session_id, encoded, "final" if final else "checkpoint")

    async def give_up(self, ref: ProfileRef, session_id: str) -> None:
        """The session's final save failed: record it, count it, free the lease."""
        await self._scripts["give_up"](
            keys=[self.keys.profile_lease(ref.user_id, ref.name), self.keys.session(session_id), self.keys.stats],
            args=[session_id, SAVE_FAILED],
        )

    async def claim(self, ref: ProfileRef, session_id: str) -> None:
        """Make the session (its record already written) the profile's one writer, making the profile if new."""
        answer = await self._scripts["claim"](
            keys=[
                self.keys.profile(ref.user_id, ref.name),
                self.keys.profile_lease(ref.user_id, ref.name),
                self.keys.user_profiles(ref.user_id),
                self.keys.stats,
            ],
            args=[self.keys.session_prefix, session_id, clock.now_ms(), ref.name, self.max_per_user, SAVE_GRACE_MS],
        )
        self._raise_for(ref.name, answer)

    async def release(self, ref: ProfileRef, session_id: str) -> None:
        """Give the lease up if the session holds it (its create did not go through)."""
        await self._scripts["release"](keys=[self.keys.profile_lease(ref.user_id, ref.name)], args=[session_id])

    async def delete(self, user_id: str, name: str) -> None:
        answer = await self._scripts["delete"](
            keys=[
                self.keys.profile(user_id, name),
                self.keys.profile_data(user_id, name),
                self.keys.profile_lease(user_id, name),
                self.keys.user_profiles(user_id),
                self.keys.stats,
            ],
            args=[self.keys.session_prefix, clock.now_ms(), name, SAVE_GRACE_MS],
        )
        if answer[0] == "missing":
            raise ProfileNotFound(name)
        self._raise_for(name, answer)

    # --- internals ---------------------------------------------------------------------------

    async def _encode(self, document: dict[str, Any]) -> EncodedState:
        small = len(document["cookies"]) + len(document["origins"]) < 200
        encoded = encode(document) if small else await asyncio.to_thread(encode, document)
        if encoded.size_bytes > self.max_bytes:
            raise ProfileTooLarge(encoded.size_bytes, self.max_bytes)
        return encoded

    async def _swap(self, ref: ProfileRef, session_id: str, encoded: EncodedState, mode: str) -> str:
        writer = session_id or f"upload-{clock.now_ms()}-{id(encoded):x}"
        new_key = self.keys.profile_new_data(ref.user_id, ref.name, writer)
        await self._binary.set(new_key, encoded.data, ex=NEW_VERSION_TTL)
        lease = self.keys.profile_lease(ref.user_id, ref.name)
        answer = await self._scripts["swap"](
            keys=[
                new_key,
                self.keys.profile_data(ref.user_id, ref.name),
                self.keys.profile(ref.user_id, ref.name),
                lease,
                self.keys.user_profiles(ref.user_id),
                self.keys.stats,
                self.keys.session(session_id) if session_id else lease,
            ],
            args=[
                self.keys.session_prefix,
                session_id,
                clock.now_ms(),
                ref.name,
                encoded.size_bytes,
                encoded.raw_bytes,
                encoded.cookies,
                encoded.origins,
                self.max_per_user,
                SAVE_GRACE_MS,
                mode,
            ],
        )
        if answer[0] == "lost":
            raise ProfileLeaseLost(f"session {session_id} no longer holds profile {ref.name!r}; nothing was saved")
        self._raise_for(ref.name, answer)
        return str(answer[0])

    def _raise_for(self, name: str, answer: list[str]) -> None:
        if answer[0] == "held":
            raise ProfileInUse(name, answer[1])
        if answer[0] == "quota":
            raise QuotaExceeded(f"you already keep {answer[1]} profiles, your limit; delete one first")

    async def _list(self, user_id: str, name: str) -> list[list[str]]:
        rows: list[list[str]] = await self._scripts["list"](
            keys=[self.keys.user_profiles(user_id)],
            args=[f"{self.keys.profile(user_id, '')}", self.keys.session_prefix, clock.now_ms(), SAVE_GRACE_MS, name],
        )
        return rows
