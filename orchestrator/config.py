"""Settings, read from the environment with the BROWSERPOOL_ prefix."""

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .proxies import proxy_from_url


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "browserpool"


def fair_share(data: dict[str, Any]) -> int:
    """The default live-session limit per user: half the pool this configuration describes, at least 1."""
    return max(1, int(data.get("browsers", 1)) * int(data.get("contexts_per_browser", 1)) // 2)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BROWSERPOOL_",
        extra="ignore",
        hide_input_in_errors=True,  # inputs may hold passwords
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    public_url: str | None = Field(None, pattern=r"^https?://")  # as clients reach us (behind a proxy or TLS)

    redis_url: str | None = None  # redis://, rediss://, unix://, redis+sentinel:// (orchestrator/redis_connect.py)
    # --- Redis in production: TLS with a private CA, the sentinels' own credentials, durability ---
    redis_ca_file: Path | None = None  # the CA that signed the Redis (and sentinels') TLS certificate
    redis_cert_file: Path | None = None  # a client certificate, for a Redis that asks for one (tls-auth-clients)
    redis_key_file: Path | None = None
    redis_sentinel_username: str | None = None  # the sentinels' ACL user; the URL's user is the data nodes'
    redis_sentinel_password: str | None = Field(None, repr=False)
    # Replicas that must hold a new session before its create answers 201 (WAIT). None: 1 when the primary has
    # a replica online, else 0; 0: never wait. Past redis_wait_timeout the create answers 503 and is undone.
    redis_wait_replicas: int | None = Field(None, ge=0, le=16)
    redis_wait_timeout: float = Field(1.0, gt=0, le=60)
    # serve/api/worker refuse to start on a Redis whose maxmemory-policy evicts keys (lost session state)
    allow_evicting_redis: bool = False
    redis_prefix: str = Field("browserpool", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    # Connections one process holds to Redis at most; past it a command waits (up to 5 s) for a free one, then
    # answers 503 "busy" (never "unreachable"). Each open event stream holds one while it waits for events.
    redis_max_connections: int = Field(512, ge=8, le=100_000)
    state_dir: Path = Field(default_factory=_default_state_dir)

    session_timeout: int = Field(300, ge=5)
    max_session_timeout: int = Field(86400, ge=5)
    idle_timeout: int = Field(300, ge=1)
    retention: int = Field(3600, ge=1)
    reap_interval: float = Field(5.0, gt=0)
    webhook_interval: float = Field(1.0, gt=0)
    expiry_warning: float = Field(60.0, ge=0)  # an `expiring` event this long before a session's deadline

    browsers: int = Field(1, ge=1, le=64)
    contexts_per_browser: int = Field(20, ge=1, le=1000)
    chromium_path: str | None = None
    chromedriver_path: str | None = None  # the chromedriver WebDriver sessions run (None: PATH, then Debian's)
    warm_contexts: int = Field(4, ge=0, le=50)  # ready default-shaped contexts kept per browser
    # Other shapes asked for recently: up to WARM_SHAPES of them, WARM_CONTEXTS_PER_SHAPE ready contexts each.
    warm_shapes: int = Field(4, ge=0, le=50)
    warm_contexts_per_shape: int = Field(2, ge=0, le=20)
    # What pages may reach (link-local and cloud metadata addresses never): private ranges, loopback.
    allow_private_networks: bool = True
    allow_loopback: bool = True
    action_timeout: float = Field(30.0, gt=0)
    # A page whose renderer has not answered this long is reported (`page_unresponsive`) and its renderer killed;
    # the session's page is replaced by a fresh one and the session carries on. 0: pages are not watched.
    page_hang_timeout: float = Field(10.0, ge=0, le=3600)
    # Crash containment: every this many seconds each session's cookies, local storage and page URLs are kept, so
    # a session whose shared browser crashes (with none of its commands in flight) is restarted with them on a
    # fresh browser. 0: not kept (survivors then come back at their page's URL only).
    crash_checkpoint_interval: float = Field(2.0, ge=0, le=3600)
    # A user whose CDP command was in flight when a shared browser crashed gets browsers of their own
    # ("isolation": "browser") for this many seconds. 0: no quarantine.
    crash_quarantine: float = Field(3600.0, ge=0)

    worker_id: str | None = None
    worker_lease_ttl: float = Field(10.0, gt=0)
    advertise_url: str | None = Field(None, pattern=r"^https?://")  # how API nodes reach this worker
    drain_grace: float = Field(30.0, ge=0)
    queue_timeout: float = Field(0.0, ge=0)
    queue_max: int = Field(100, ge=1)

    # Live sessions per user; 0: no limit; `browserpool users limit` overrides. Unset: the fair share, half the
    # pool this configuration describes (browsers x contexts_per_browser / 2, at least 1), so no one user fills it.
    max_sessions_per_user: int = Field(default_factory=fair_share, ge=0)
    rate_limit: int = Field(1200, ge=0)  # API requests per minute per user (all their credentials); 0: no limit
    metrics_public: bool = False  # True: GET /metrics needs no credentials (keep the port private then)
    token_ttl: int = Field(3600, ge=60)
    shutdown_grace: float = Field(10.0, gt=0)

    # --- isolation: the CDP relay's limits ---
    # Per CDP connection. Past its rate a client is paced (its messages wait, a burst's worth at most, then its
    # socket is left unread); one that keeps a full backlog at its limit for cdp_flood_seconds is closed (1008).
    cdp_commands_per_second: float = Field(1000.0, gt=0, le=1_000_000)
    cdp_bytes_per_second: int = Field(8 * 1024 * 1024, ge=64 * 1024)  # client -> browser
    cdp_burst_seconds: float = Field(2.0, gt=0, le=600)  # both budgets save up this many seconds' worth
    cdp_flood_seconds: float = Field(20.0, gt=0, le=86400)
    cdp_max_message_bytes: int = Field(64 * 1024 * 1024, ge=1024 * 1024)  # browser -> client; larger: a CDP error
    cdp_max_command_bytes: int = Field(16 * 1024 * 1024, ge=64 * 1024)  # client -> browser; larger: malformed
    cdp_client_buffer_bytes: int = Field(64 * 1024 * 1024, ge=1024 * 1024)  # left unread by a slow client: closed
    cdp_send_timeout: float = Field(30.0, gt=0, le=3600)  # a client that reads nothing this long is closed
    # Per user, all their CDP connections on every API node together (orchestrator/cdp_totals.py): sockets open at
    # once (past it the handshake answers 429 with Retry-After) and what they all may send; past the rate every
    # one of them is paced, as one connection is past its own. 0: no limit.
    cdp_user_sockets: int = Field(64, ge=0, le=100_000)
    cdp_user_commands_per_second: float = Field(1000.0, ge=0, le=1_000_000)
    cdp_user_bytes_per_second: int = Field(16 * 1024 * 1024, ge=0)

    # --- isolation: Chromium's own user and process ---
    # The user Chromium runs as. "auto": a user of its own (browserpool-chromium, created at start) when the daemon
    # runs as root, else the daemon's own user; a name: that user (created if missing; the daemon's own name
    # turns the separation off). It cannot read the state directory, the embedded Redis's files or the daemon.
    chromium_user: str = Field("auto", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    # Chromium's own sandbox: "auto" on wherever the kernel allows it (user namespaces), "on" refuses to start
    # without it, "off" never (the kernel or the container must then be the only wall around renderers).
    chromium_sandbox: Literal["auto", "on", "off"] = "auto"

    # --- isolation: sessions with a Chromium of their own (`"isolation": "browser"`, workers/pool/dedicated.py) ---
    ready_browsers: int = Field(1, ge=0, le=16)  # spare Chromium processes each worker keeps launched for them
    # How many such sessions a worker holds at once (each also counts as one session of its capacity); 0: none.
    max_dedicated_browsers: int = Field(4, ge=0, le=256)

    # --- isolation: accounts, keys and request limits ---
    max_api_keys_per_user: int = Field(20, ge=1, le=10_000)  # live API keys a user may hold at once
    password_hash_threads: int = Field(2, ge=1, le=64)  # argon2 runs in these threads, never on the event loop
    password_hash_waiting: int = Field(8, ge=0, le=10_000)  # logins that may wait for a thread; more get 429 at once
    # Requests a minute per client address (an IPv6 address counts by its /64) that carry no credential, or whose
    # credential failed (401); past it: 429 with Retry-After, credentials or not, until the minute is over. 0: off.
    ip_rate_limit: int = Field(600, ge=0)
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the client; unset: the header is
    # ignored and the client is the TCP peer.
    trusted_proxies: str = Field("", pattern=r"^[0-9A-Fa-f.:/, ]*$")

    # --- isolation: request bodies (api/body_limit.py) ---
    max_body_bytes: int = Field(1024 * 1024, ge=1024)  # larger request bodies answer 413 before any route reads them
    body_timeout: float = Field(30.0, gt=0)  # a body still arriving after this answers 408
    max_event_streams_per_user: int = Field(5, ge=0)  # open SSE streams per user, all API nodes; 0: no limit

    # --- isolation: what one session may cost ---
    # Private memory of each renderer a session has (its JavaScript heap, ArrayBuffers, DOM, images); past it the
    # renderer is killed and the session ends `failed` with end reason `memory`. 0: not bounded. Chromium's own
    # share of a renderer is 15-40 MiB; keep it below V8's own heap limit (about 4 GiB).
    session_memory_mb: int = Field(1024, ge=0, le=1_048_576)
    max_pages_per_session: int = Field(20, ge=1, le=1000)  # pages across its own and its CDP clients' contexts
    max_download_bytes: int = Field(512 * 1024 * 1024, ge=0)  # what its downloads may hold; past it: cancelled; 0: off
    max_evaluate_result_bytes: int = Field(8 * 1024 * 1024, ge=1024)  # a larger REST evaluate result answers 400
    header_timeout: float = Field(10.0, gt=0, le=3600)  # a request head (line and headers) must arrive within this

    # --- session files: downloads, uploads, PDF, recordings (workers/files/keeper.py) ---
    # What one session's files may hold on its worker, downloads, uploads and recording together; a download that
    # would pass it is cancelled and marked failed, an upload answers 413, a recording stops. 0: not bounded.
    session_disk_quota: int = Field(500 * 1024 * 1024, ge=0)
    file_retention: int = Field(3600, ge=1)  # seconds an ended session's files stay readable, then are deleted
    record_fps: int = Field(10, ge=1, le=30)  # frames a second of a recording (the last frame held between changes)
    record_max_width: int = Field(1280, ge=160, le=3840)  # wider viewports are scaled down to this for recordings

    # --- isolation: egress and webhooks ---
    # Webhooks may target loopback addresses (never the pool's own ports): for tests and single-host setups only.
    webhooks_allow_loopback: bool = False
    webhook_timeout: float = Field(10.0, gt=0, le=300)  # seconds for one whole delivery (connect, send, answer)
    webhook_concurrency: int = Field(64, ge=1, le=1000)  # webhook POSTs in flight at once (each webhook's in order)
    # --- upstream proxies (orchestrator/proxies.py) ---
    # The proxy of sessions that name none: scheme://[user:password@]host:port (http, https, socks5).
    default_proxy: str | None = Field(None, repr=False)
    allow_direct: bool = True  # a session may ask for `"proxy": null` (no upstream) even where a default is set

    # --- live links (shareable live views) ---
    live_link_max_ttl: int = Field(86400, ge=1)  # the longest ttl_seconds a live link may ask for
    # Who may put a live link's page in a frame (CSP frame-ancestors sources); the dashboard itself never.
    live_link_frame_ancestors: str = Field("*", min_length=1, pattern=r"^[^;,\r\n]+$")
    # Caps against floods of links and viewers, across all API nodes (past one: 429 naming it; 0: no cap). A link
    # counts while it works (not expired or revoked, its session live, the credential that minted it not revoked).
    max_live_links_per_session: int = Field(20, ge=0)
    max_live_links_per_user: int = Field(100, ge=0)  # across all of the user's sessions
    # Live-link connections open on one session at once, all its links together (the owner's own don't count).
    max_live_viewers_per_session: int = Field(5, ge=0)
    # --- profiles: browser state kept between sessions ---
    profile_max_bytes: int = Field(5 * 1024 * 1024, ge=1024)  # one profile's stored (compressed) size; past it: 413
    max_profiles_per_user: int = Field(100, ge=1)  # profiles one user may keep; past it: 429
    # What one profile document may hold (an upload past them: 422 for counts, 413 for an origin's size).
    profile_max_cookies: int = Field(3000, ge=1)
    profile_max_origins: int = Field(100, ge=1)
    profile_max_origin_bytes: int = Field(5 * 1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _timeouts_agree(self) -> "Settings":
        if self.session_timeout > self.max_session_timeout:
            raise ValueError("BROWSERPOOL_SESSION_TIMEOUT exceeds BROWSERPOOL_MAX_SESSION_TIMEOUT")
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        for item in value.split(","):
            if item.strip():
                ipaddress.ip_network(item.strip(), strict=False)  # a ValueError names the bad entry
        return value

    @field_validator("default_proxy")
    @classmethod
    def _proxy_usable(cls, value: str | None) -> str | None:
        if value:
            proxy_from_url(value)  # ProxyInvalid (a ValueError) names the problem, never the password
        return value or None

    @property
    def effective_worker_id(self) -> str:
        """A worker id stable across restarts, so a restart can recognise its previous incarnation."""
        return self.worker_id or f"{socket.gethostname()}-{self.port}"

    @property
    def advertised_url(self) -> str:
        if self.advertise_url:
            return self.advertise_url.rstrip("/")
        host = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def heartbeat_interval(self) -> float:
        return max(self.worker_lease_ttl / 3, 0.2)
