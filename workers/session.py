"""A session as the worker holds it: its context and page, what it was opened with, and its last checkpoint.

Every part of the worker that acts on one session (its bounds, files, watchdog, checkpoints, the pool that
holds it) takes this one record; it sits below them all and imports none of them.
"""

from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import BrowserContext, Page

from orchestrator.models import ProfileRef, SessionSpec
from workers.cdp.relay import CdpRelay
from workers.egress.routes import Route


@dataclass(frozen=True)
class Checkpoint:
    cookies: list[dict[str, Any]] = field(default_factory=list)
    origins: list[dict[str, Any]] = field(default_factory=list)  # [{origin, localStorage: [{name, value}]}]
    urls: list[str] = field(default_factory=list)  # the session's page first
    taken_at: float = 0.0  # time.monotonic()

    def state(self) -> dict[str, Any]:
        """As a profile's state (what ProfileKeeper.restore takes)."""
        return {"cookies": self.cookies, "origins": self.origins}


@dataclass
class SessionPage:
    context: BrowserContext
    page: Page
    context_id: str | None = None  # Chromium's browserContextId, looked up when the session opens
    target_id: str | None = None  # its page's CDP target id, looked up with the context id
    extra_contexts: set[str] = field(default_factory=set)  # contexts its CDP clients created
    relays: set[CdpRelay] = field(default_factory=set)
    download_dir: str | None = None  # its own directory: all its downloads land there (never a path of theirs)
    ended: str | None = None  # why it ended: set first thing by BrowserSlot.close; a relay being set up checks it
    profile: ProfileRef | None = None  # the profile it started from (and, if it persists, saves into at its end)
    route: Route | None = None  # its upstream proxy's route through the egress guard (sessions with a proxy)
    spec: SessionSpec | None = None  # what it was opened with: a re-homed session is opened with it again
    checkpoint: Checkpoint | None = None  # its latest state, for a re-home after a crash (workers/pages/checkpoints.py)
    witnessed: list[str] = field(default_factory=list)  # commands in flight on relays its dead browser closed
