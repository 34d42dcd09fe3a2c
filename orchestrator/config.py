"""Settings, read from the environment with the BROWSERPOOL_ prefix."""

import os
import socket
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "browserpool"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BROWSERPOOL_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    public_url: str | None = Field(None, pattern=r"^https?://")  # as clients reach us (behind a proxy or TLS)

    redis_url: str | None = None
    redis_prefix: str = Field("browserpool", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
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
    warm_contexts: int = Field(4, ge=0, le=50)  # ready default-shaped contexts kept per browser
    # What pages may reach (link-local and cloud metadata addresses never): private ranges, loopback.
    allow_private_networks: bool = True
    allow_loopback: bool = True
    action_timeout: float = Field(30.0, gt=0)

    worker_id: str | None = None
    worker_lease_ttl: float = Field(10.0, gt=0)
    advertise_url: str | None = Field(None, pattern=r"^https?://")  # how API nodes reach this worker
    drain_grace: float = Field(30.0, ge=0)
    queue_timeout: float = Field(0.0, ge=0)
    queue_max: int = Field(100, ge=1)

    max_sessions_per_user: int = Field(50, ge=0)  # live sessions; 0: no limit; `browserpool users limit` overrides
    rate_limit: int = Field(1200, ge=0)  # API requests per minute per credential; 0: no limit
    metrics_public: bool = False  # True: GET /metrics needs no credentials (keep the port private then)
    token_ttl: int = Field(3600, ge=60)
    shutdown_grace: float = Field(10.0, gt=0)

    # --- isolation: the CDP relay's limits ---

    # --- isolation: Chromium's own user and process ---

    # --- isolation: accounts, keys and request limits ---

    # --- isolation: egress and webhooks ---

    @model_validator(mode="after")
    def _timeouts_agree(self) -> "Settings":
        if self.session_timeout > self.max_session_timeout:
            raise ValueError("BROWSERPOOL_SESSION_TIMEOUT exceeds BROWSERPOOL_MAX_SESSION_TIMEOUT")
        return self

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
