"""Live links: a shareable live view of one session, for people without an account.

A link's token is random and stored only as a digest, in one hash per link under the key prefix with a
TTL of the link's life (its ttl_seconds, or the session's remaining life if shorter), so any API node can
check it and an expired link is simply gone. The token names its link (`bpl_<link id>_<secret>`), so a check
is one read. A token opens one session in one mode (view or interactive) and nothing else; it opens nothing
once its session has ended (the relay only serves active sessions), and revoking deletes it at once.

Also here: the `takeover_started` / `takeover_ended` events an interactive viewer's connection writes to the
owner's event stream, so the automation side can wait for the human.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from . import clock
from .errors import SessionEnded, SessionNotReady
from .events import EventStream
from .keys import Keys
from .lifecycle import SessionStatus
from .models import SessionRecord
from .worker import CdpMode

TOKEN_PREFIX = "bpl_"


@dataclass(frozen=True)
class LiveLink:
    link_id: str
    session_id: str
    user_id: str
    mode: CdpMode
    expires_at_ms: int


@dataclass(frozen=True)
class IssuedLink:
    link: LiveLink
    token: str  # shown once, in the link's URL; only its digest is kept


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _parts(token: str) -> tuple[str, str] | None:
    """(link id, secret) of a token, or None for anything not shaped like one."""
    if not token.isascii() or not token.startswith(TOKEN_PREFIX):
        return None
    link_id, _, secret = token.removeprefix(TOKEN_PREFIX).partition("_")
    if len(link_id) != 16 or not all(c in "0123456789abcdef" for c in link_id) or not secret:
        return None
    return link_id, secret


class LiveLinks:
    def __init__(self, redis: Redis, keys: Keys, events: EventStream) -> None:
        self.redis = redis
        self.keys = keys
        self.events = events

    async def mint(self, record: SessionRecord, mode: CdpMode, ttl_seconds: int) -> IssuedLink:
        """A new link to an active session, living `ttl_seconds` or until the session's deadline, if sooner."""
        if record.status is SessionStatus.STARTING:
            raise SessionNotReady(record.status.value)
        if record.status is not SessionStatus.ACTIVE:
            raise SessionEnded(record.status.value)
        now = clock.now_ms()
        expires_at = min(now + ttl_seconds * 1000, record.expires_at_ms)
        link = LiveLink(secrets.token_hex(8), record.session_id, record.user_id, mode, expires_at)
        secret = secrets.token_urlsafe(32)
        fields = {
            "digest": _digest(secret),
            "session_id": link.session_id,
            "user_id": link.user_id,
            "mode": mode.value,
            "expires_at_ms": expires_at,
        }
        key = self.keys.live_link(link.link_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.pexpireat(key, max(expires_at, now + 1))
            await pipe.execute()
        return IssuedLink(link, f"{TOKEN_PREFIX}{link.link_id}_{secret}")

    async def resolve(self, session_id: str, token: str) -> LiveLink | None:
        """The live link `token` stands for, if it is live and for `session_id`; None for anything else
        (malformed, wrong secret, expired, revoked, another session's)."""
        parts = _parts(token)
        if parts is None:
            return None
        link_id, secret = parts
        fields = await self.redis.hgetall(self.keys.live_link(link_id))
        if not fields or not hmac.compare_digest(fields["digest"], _digest(secret)):
            return None
        link = LiveLink(
            link_id, fields["session_id"], fields["user_id"], CdpMode(fields["mode"]), int(fields["expires_at_ms"])
        )
        if link.session_id != session_id or link.expires_at_ms <= clock.now_ms():
            return None
        return link

    async def still_valid(self, link: LiveLink) -> bool:
        """Whether the link has been neither revoked nor reached its end (checked while its viewer watches)."""
        return link.expires_at_ms > clock.now_ms() and bool(await self.redis.exists(self.keys.live_link(link.link_id)))

    async def revoke(self, session_id: str, link_id: str) -> bool:
        """Delete one of the session's links; False if there is no such live link (unknown, expired, another's)."""
        if len(link_id) > 64:
            return False
        key = self.keys.live_link(link_id)
        if await self.redis.hget(key, "session_id") != session_id:
            return False
        return bool(await self.redis.delete(key))

    async def announce_takeover(self, record: SessionRecord, started: bool, viewer: str) -> None:
        """`takeover_started` / `takeover_ended` on the owner's event stream (and so to their webhooks), with the
        session's status as it is now. `viewer` (the event's reason) says who: `owner` (the dashboard, or the
        owner's own interactive connection) or `live_link:<link id>`."""
        kind = "takeover_started" if started else "takeover_ended"
        status = await self.redis.hget(self.keys.session(record.session_id), "status") or record.status.value
        async with self.redis.pipeline(transaction=False) as pipe:
            self.events.append(pipe, record.user_id, kind, record.session_id, status, clock.now_ms(), viewer)
            await pipe.execute()
