"""Live links: a shareable live view of one session, for people without an account.

A link's token is random and stored only as a digest, in one hash per link under the key prefix with a
TTL of the link's life (its ttl_seconds, or the session's remaining life if shorter), so any API node can
check it and an expired link is simply gone. The token names its link (`bpl_<link id>_<secret>`), so a check
is one read. A token opens one session in one mode (view or interactive) and nothing else; it opens nothing
once its session has ended (the relay only serves active sessions), and revoking deletes it at once.

A link is bound to the credential that minted it: it keeps that credential's Redis key and works only while
it exists, so revoking the API key (or a bearer token expiring, or being revoked by a password change) ends
the link, its open views included; a token-minted link never outlives its token. A session and a user hold
at most so many working links (indexes per session and per user, pruned as they are counted), and a session
has at most so many viewers open through its links at once (orchestrator/live_viewers.py).

Also here: the `takeover_started` / `takeover_ended` events an interactive viewer's connection writes to the
owner's event stream, so the automation side can wait for the human.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from . import clock
from .accounts import Credential
from .config import Settings
from .errors import AuthenticationFailed, QuotaExceeded, SessionEnded, SessionNotReady
from .events import EventStream
from .keys import Keys
from .lifecycle import SessionStatus
from .live_viewers import LiveViewers
from .models import SessionRecord
from .scripts import script_source
from .worker import CdpMode

TOKEN_PREFIX = "bpl_"


@dataclass(frozen=True)
class LiveLink:
    link_id: str
    session_id: str
    user_id: str
    mode: CdpMode
    expires_at_ms: int
    credential: str = ""  # the Redis key of the credential that minted it ("": minted before links were bound)


@dataclass(frozen=True)
class LinkCaps:
    per_session: int  # working links one session may have; 0: no cap
    per_user: int  # working links one user may have, all sessions together; 0: no cap


@dataclass(frozen=True)
class LinkListing:
    """A working link as its owner lists it: everything but its token."""

    link_id: str
    mode: CdpMode
    created_at_ms: int
    expires_at_ms: int
    api_key_id: str | None  # the API key that minted it; None: a bearer token
    viewers: int  # its connections open now, all API nodes


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
    def __init__(self, redis: Redis, keys: Keys, events: EventStream, caps: LinkCaps, viewers: LiveViewers) -> None:
        self.redis = redis
        self.keys = keys
        self.events = events
        self.caps = caps
        self.viewers = viewers
        self._mint = redis.register_script(script_source("live_link_mint", "live_link_working"))
        self._list = redis.register_script(script_source("live_link_list", "live_link_working"))

    @classmethod
    def from_settings(cls, redis: Redis, keys: Keys, events: EventStream, settings: Settings) -> "LiveLinks":
        caps = LinkCaps(settings.max_live_links_per_session, settings.max_live_links_per_user)
        return cls(redis, keys, events, caps, LiveViewers(redis, keys, settings.max_live_viewers_per_session))

    async def mint(self, record: SessionRecord, mode: CdpMode, ttl_seconds: int, credential: Credential) -> IssuedLink:
        """A new link to an active session, living `ttl_seconds` or until the session's deadline (or the minting
        credential's end), if sooner. QuotaExceeded past the session's or the user's cap on working links."""
        if record.status is SessionStatus.STARTING:
            raise SessionNotReady(record.status.value)
        if record.status is not SessionStatus.ACTIVE:
            raise SessionEnded(record.status.value)
        now = clock.now_ms()
        link_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        fields = {
            "digest": _digest(secret),
            "session_id": record.session_id,
            "user_id": record.user_id,
            "mode": mode.value,
            "created_at_ms": now,
            "credential": credential.redis_key,
            "api_key_id": credential.api_key_id or "",
        }
        keys = [
            self.keys.live_link(link_id),
            self.keys.session_live_links(record.session_id),
            self.keys.user_live_links(record.user_id),
            credential.redis_key,
        ]
        args: list[str | int] = [now, min(now + ttl_seconds * 1000, record.expires_at_ms)]
        args += [self.caps.per_session, self.caps.per_user]
        args += [self.keys.live_link_prefix, self.keys.session_prefix, link_id]
        outcome, value = await self._mint(keys=keys, args=args + [x for kv in fields.items() for x in kv])
        if outcome != "ok":
            raise _refusal(outcome, int(value), record.session_id, self.caps)
        link = LiveLink(link_id, record.session_id, record.user_id, mode, int(value), credential.redis_key)
        return IssuedLink(link, f"{TOKEN_PREFIX}{link_id}_{secret}")

    async def listing(self, record: SessionRecord) -> list[LinkListing]:
        """The session's working links (none once it has ended), soonest end first, with their open viewers."""
        if not record.status.is_live:
            return []
        keys = [self.keys.session_live_links(record.session_id), self.keys.session_live_viewers(record.session_id)]
        rows = await self._list(keys=keys, args=[clock.now_ms(), self.keys.live_link_prefix, self.keys.session_prefix])
        return [
            LinkListing(link_id, CdpMode(mode), int(created), int(ends), key_id or None, int(viewers))
            for link_id, mode, created, ends, key_id, viewers in rows
        ]

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
            link_id,
            fields["session_id"],
            fields["user_id"],
            CdpMode(fields["mode"]),
            int(fields["expires_at_ms"]),
            fields.get("credential", ""),
        )
        if link.session_id != session_id or not await self.still_valid(link):
            return None
        return link

    async def still_valid(self, link: LiveLink) -> bool:
        """Whether the link has been neither revoked nor reached its end, and the credential that minted it still
        works (checked at the handshake and while its viewer watches)."""
        if link.expires_at_ms <= clock.now_ms():
            return False
        keys = [self.keys.live_link(link.link_id), *([link.credential] if link.credential else [])]
        return int(await self.redis.exists(*keys)) == len(keys)

    async def revoke(self, session_id: str, link_id: str) -> bool:
        """Delete one of the session's links; False if there is no such live link (unknown, expired, another's)."""
        if len(link_id) > 64:
            return False
        key = self.keys.live_link(link_id)
        owner, bound_to = await self.redis.hmget(key, ["user_id", "session_id"])
        if bound_to != session_id:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.zrem(self.keys.session_live_links(session_id), link_id)
            pipe.zrem(self.keys.user_live_links(owner), link_id)
            deleted, *_ = await pipe.execute()
        return bool(deleted)

    async def announce_takeover(self, record: SessionRecord, started: bool, viewer: str) -> None:
        """`takeover_started` / `takeover_ended` on the owner's event stream (and so to their webhooks), with the
        session's status as it is now. `viewer` (the event's reason) says who: `owner` (the dashboard, or the
        owner's own interactive connection) or `live_link:<link id>`."""
        kind = "takeover_started" if started else "takeover_ended"
        status = await self.redis.hget(self.keys.session(record.session_id), "status") or record.status.value
        async with self.redis.pipeline(transaction=False) as pipe:
            self.events.append(pipe, record.user_id, kind, record.session_id, status, clock.now_ms(), viewer)
            await pipe.execute()


def _refusal(outcome: str, count: int, session_id: str, caps: LinkCaps) -> Exception:
    """What a mint the script refused answers: the cap it reached and what to do, or the credential's end."""
    if outcome == "credential":
        return AuthenticationFailed("the credential was revoked while the link was minted")
    listing = f"GET /v1/browser/sessions/{session_id}/live-links lists them, DELETE .../live-links/{{link_id}} revokes"
    if outcome == "session":
        return QuotaExceeded(
            f"session {session_id} has {count} working live links, the most one session may have "
            f"({caps.per_session}, BROWSERPOOL_MAX_LIVE_LINKS_PER_SESSION); revoke one first ({listing})"
        )
    return QuotaExceeded(
        f"you hold {count} working live links across your sessions, the most one user may have "
        f"({caps.per_user}, BROWSERPOOL_MAX_LIVE_LINKS_PER_USER); revoke one first (each session's "
        "GET .../live-links lists its links, DELETE .../live-links/{link_id} revokes), or close sessions you no "
        "longer need (their links end with them)"
    )
