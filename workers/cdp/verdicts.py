"""The answers CdpScope gives the relay: what to do with one client command or one browser event."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workers.cdp.policy import Channel

Json = dict[str, Any]
Upstream = tuple[str, Json, str | None]  # (method, params, sessionId) the relay sends on its own behalf
After = Callable[[Json], Json]


@dataclass
class Command:
    """The verdict on one client command."""

    params: Json | None = None  # forward with these parameters
    error: str | None = None  # answer the client with this error
    result: Json | None = None  # answer the client with this result, without asking the browser
    after: After | None = None  # rewrite the browser's result before the client sees it
    method: str | None = None  # forward as this method (same session) instead of the client's


@dataclass
class Event:
    """The verdict on one browser event."""

    forward: bool
    upstream: list[Upstream] = field(default_factory=list)


@dataclass(frozen=True)
class Caller:
    """Where a command came from: which session, which channel, and which context it acts in by default."""

    session_id: str | None
    channel: Channel
    context: str


def chain(first: After | None, second: After | None) -> After | None:
    """Both result rewrites, in order."""
    if first is None or second is None:
        return first or second
    earlier, later = first, second
    return lambda result: later(earlier(result))


def denied(why: str) -> Command:
    """A check's refusal: why, and what to do instead (CdpScope puts the method's refusal line before it)."""
    return Command(error=why)
