"""How many browser contexts a session's CDP clients may create: creations still in flight count too.

Every connection of a session shares the session's set of created contexts (the worker disposes them
when the session ends). A cap checked against that set alone lets a pipelined burst through: thirty
Target.createBrowserContext sent before the first answer all see an empty set. So each connection also
counts its creations the browser has not answered yet, and the cap is checked against the created
contexts plus the creations in flight on every live connection of the session.

A creation whose answer never comes (an error answer, which the relay does not report back, or a
connection that ended first) stops counting when its connection is freed or, at the latest, after
PENDING_SECONDS: Chromium answers a creation in milliseconds.
"""

import time
import weakref
from typing import ClassVar

MAX_EXTRA_CONTEXTS = 8
PENDING_SECONDS = 30.0
_PRUNE_EVERY = 256


class ContextCreations:
    """One connection's share of its session's context allowance."""

    _by_session: ClassVar[dict[str, "weakref.WeakSet[ContextCreations]"]] = {}
    _added_since_prune: ClassVar[int] = 0

    def __init__(self, session_key: str, created: set[str]) -> None:
        self.created = created  # the session's created contexts, shared by all its connections
        self._pending: list[float] = []  # when each of this connection's unanswered creations was sent
        self._peers = self._peers_of(session_key)
        self._peers.add(self)

    @classmethod
    def _peers_of(cls, session_key: str) -> "weakref.WeakSet[ContextCreations]":
        cls._added_since_prune += 1
        if cls._added_since_prune >= _PRUNE_EVERY:  # sessions whose connections are all gone
            cls._added_since_prune = 0
            for key in [key for key, peers in cls._by_session.items() if not peers]:
                del cls._by_session[key]
        return cls._by_session.setdefault(session_key, weakref.WeakSet())

    def has_room(self) -> bool:
        in_flight = sum(peer.pending() for peer in self._peers)
        return len(self.created) + in_flight < MAX_EXTRA_CONTEXTS

    def pending(self) -> int:
        """This connection's creations still waiting for an answer (and not yet given up on)."""
        horizon = time.monotonic() - PENDING_SECONDS
        while self._pending and self._pending[0] < horizon:
            self._pending.pop(0)
        return len(self._pending)

    def begin(self) -> None:
        self._pending.append(time.monotonic())

    def finish(self, context_id: str | None) -> None:
        """The browser answered one creation (with the new context's id, or without one)."""
        if self._pending:
            self._pending.pop(0)
        if context_id:
            self.created.add(context_id)
