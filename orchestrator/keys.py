"""Every Redis key browserpool uses. Nobody else builds a key string."""

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str

    # sessions
    @property
    def session_prefix(self) -> str:
        """A session hash key is this prefix followed by the session id (the listing script relies on it)."""
        return f"{self.prefix}:session:"

    def session(self, session_id: str) -> str:
        return f"{self.session_prefix}{session_id}"

    def user_sessions(self, user_id: str) -> str:
        """Sorted set of the user's live session ids, scored by creation time (ms)."""
        return f"{self.prefix}:user:{user_id}:sessions"

    def user_events(self, user_id: str) -> str:
        """Stream of the user's session lifecycle events."""
        return f"{self.prefix}:user:{user_id}:events"

    def user_event_streams(self, user_id: str) -> str:
        """Sorted set of the user's open event-stream (SSE) connections, scored by when their lease runs out (ms)."""
        return f"{self.prefix}:user:{user_id}:event-streams"

    @property
    def stats(self) -> str:
        """Hash of deployment-wide counters: status:<s> (sessions in each status), ended:<reason>, created."""
        return f"{self.prefix}:stats"

    @property
    def deadlines(self) -> str:
        """Sorted set of live session ids, scored by the moment they are due to end (ms)."""
        return f"{self.prefix}:deadlines"

    # workers
    @property
    def workers(self) -> str:
        """Sorted set of registered worker ids, scored by when their lease runs out (ms)."""
        return f"{self.prefix}:workers"

    def worker(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}"

    def worker_lease(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}:lease"

    def worker_drain(self, worker_id: str) -> str:
        """Present while an operator wants the worker to drain."""
        return f"{self.prefix}:worker:{worker_id}:drain"

    def worker_sessions(self, worker_id: str) -> str:
        """Set of the not-yet-ended session ids a worker holds."""
        return f"{self.prefix}:worker:{worker_id}:sessions"

    @property
    def queue(self) -> str:
        """Sorted set of waiting create requests (tickets), scored by arrival (ms)."""
        return f"{self.prefix}:queue"

    def queue_ticket(self, ticket: str) -> str:
        """Present while the ticket's request is still waiting (refreshed; expires if its node died)."""
        return f"{self.prefix}:queue:ticket:{ticket}"

    @property
    def reaper_lock(self) -> str:
        return f"{self.prefix}:lock:reaper"

    # users and credentials
    @property
    def users(self) -> str:
        return f"{self.prefix}:users"

    def user(self, user_id: str) -> str:
        return f"{self.prefix}:user:{user_id}"

    def username(self, name: str) -> str:
        return f"{self.prefix}:username:{name}"

    def api_key(self, key_id: str) -> str:
        return f"{self.prefix}:apikey:{key_id}"

    def user_api_keys(self, user_id: str) -> str:
        return f"{self.prefix}:user:{user_id}:apikeys"

    def token(self, token_digest: str) -> str:
        return f"{self.prefix}:token:{token_digest}"

    @property
    def internal_secret(self) -> str:
        """Shared by API nodes and workers to authenticate worker-internal calls."""
        return f"{self.prefix}:secret:internal"

    @property
    def cdp_secret(self) -> str:
        return f"{self.prefix}:secret:cdp"

    # live links
    @property
    def live_link_prefix(self) -> str:
        """A live link's hash key is this prefix followed by its id (the live-link scripts rely on it)."""
        return f"{self.prefix}:live-link:"

    def live_link(self, link_id: str) -> str:
        """Hash of one live link (its token's digest, session, owner, mode, deadline, the key of the credential
        that minted it); expires with the link."""
        return f"{self.live_link_prefix}{link_id}"

    def session_live_links(self, session_id: str) -> str:
        """Sorted set of a session's live link ids, scored by when each ends (ms). Not under `session:`, which
        holds session hashes only."""
        return f"{self.prefix}:session-live-links:{session_id}"

    def user_live_links(self, user_id: str) -> str:
        """Sorted set of a user's live link ids (all their sessions), scored by when each ends (ms)."""
        return f"{self.prefix}:user:{user_id}:live-links"

    def session_live_viewers(self, session_id: str) -> str:
        """Sorted set of the live-link connections open on a session, `<link id>:<viewer id>`, scored by when
        their lease runs out (ms)."""
        return f"{self.prefix}:session-live-viewers:{session_id}"

    # webhooks
    def user_webhooks(self, user_id: str) -> str:
        return f"{self.prefix}:user:{user_id}:webhooks"

    @property
    def webhook_users(self) -> str:
        """Set of users with at least one webhook (what the dispatcher walks)."""
        return f"{self.prefix}:webhook-users"

    def webhook_cursor(self, webhook_id: str) -> str:
        """Id of the last event delivered to the webhook."""
        return f"{self.prefix}:webhook:{webhook_id}:cursor"

    def webhook_retry(self, webhook_id: str) -> str:
        """Hash {attempts, next_at_ms} while the event after the cursor keeps failing."""
        return f"{self.prefix}:webhook:{webhook_id}:retry"

    @property
    def webhook_lock(self) -> str:
        return f"{self.prefix}:lock:webhooks"

    def rate(self, user_id: str, minute: int) -> str:
        """Requests counted for one user (all their credentials together) in one minute (expires with it)."""
        return f"{self.prefix}:rate:user:{user_id}:{minute}"

    def address_rate(self, address: str, minute: int) -> str:
        """Anonymous and failed-credential requests counted for one client address in one minute."""
        return f"{self.prefix}:rate:address:{address}:{minute}"

    # per-user CDP totals (orchestrator/cdp_totals.py)
    def user_cdp_sockets(self, user_id: str) -> str:
        """Sorted set of the user's open CDP connections, scored by when their lease runs out (ms)."""
        return f"{self.prefix}:user:{user_id}:cdp-sockets"

    def user_cdp_budget(self, user_id: str) -> str:
        """Hash: up to when (ms) the user's CDP commands and bytes budgets are spent."""
        return f"{self.prefix}:user:{user_id}:cdp-budget"

    def login_failures(self, name: str) -> str:
        """Login attempts on one name in its lockout window. Named by a digest: the name comes from anyone."""
        return f"{self.prefix}:login-failures:{hashlib.sha256(name.encode()).hexdigest()[:32]}"

    def user_tokens(self, user_id: str) -> str:
        """Digests of the user's live bearer tokens (revoked together on a password change)."""
        return f"{self.prefix}:user:{user_id}:tokens"

    # profiles (browser state kept between sessions)
    def user_profiles(self, user_id: str) -> str:
        """Sorted set of the user's profile names, scored by creation time (ms)."""
        return f"{self.prefix}:user:{user_id}:profiles"

    def profile(self, user_id: str, name: str) -> str:
        """Hash of one profile's metadata; `:data`, `:lease` and `:new:<session>` keys follow this name."""
        return f"{self.prefix}:user:{user_id}:profile:{name}"

    def profile_data(self, user_id: str, name: str) -> str:
        """The profile's storage state: zlib-compressed Playwright storage-state JSON."""
        return f"{self.profile(user_id, name)}:data"

    def profile_new_data(self, user_id: str, name: str, writer: str) -> str:
        """A version being written (by a session or an upload), renamed over `:data` once complete."""
        return f"{self.profile(user_id, name)}:new:{writer}"

    def profile_lease(self, user_id: str, name: str) -> str:
        """The id of the session that persists into the profile (its one writer), while it does."""
        return f"{self.profile(user_id, name)}:lease"

    @property
    def bootstrap(self) -> str:
        return f"{self.prefix}:bootstrap"

    # crash containment
    @property
    def crashes(self) -> str:
        """List of the latest shared-browser crash reports (JSON, newest first, capped)."""
        return f"{self.prefix}:crashes"

    @property
    def quarantine(self) -> str:
        """Sorted set of users quarantined after a crash, scored by when their quarantine ends (ms)."""
        return f"{self.prefix}:quarantine"
