"""The bounds of one CDP connection, and the pacing that enforces its rate limits.

A client is paced, not punished: past its budget its messages wait their turn, and once a burst's worth
is waiting the relay stops reading its socket, so the client's own sends slow down (TCP backpressure).
Only a client that keeps that backlog full at its limit for a long time is closed, with a reason.
"""

import time
from dataclasses import dataclass

from orchestrator.config import Settings

MIB = 1024 * 1024
SLACK_SECONDS = 0.05  # budget saved up that shows a client is not at its limit
CALM_SECONDS = 1.0  # a break this long without flooding ends a flood


@dataclass(frozen=True)
class CdpLimits:
    """What one CDP connection may cost; the defaults are the settings' defaults (orchestrator/config.py)."""

    commands_per_second: float = 1000.0
    bytes_per_second: float = 8 * MIB
    burst_seconds: float = 2.0  # both buckets hold this many seconds' worth: short bursts pass unpaced
    flood_seconds: float = 20.0  # at the limit with a full backlog for this long: closed (1008)
    max_message_bytes: int = 64 * MIB  # browser -> client; a larger result is answered with an error
    max_command_bytes: int = 16 * MIB  # client -> browser; a larger command is malformed
    client_buffer_bytes: int = 64 * MIB  # unread messages waiting for a slow client before it is closed
    send_timeout: float = 30.0  # a client that reads nothing for this long is closed

    @classmethod
    def from_settings(cls, settings: Settings) -> "CdpLimits":
        return cls(
            commands_per_second=settings.cdp_commands_per_second,
            bytes_per_second=settings.cdp_bytes_per_second,
            burst_seconds=settings.cdp_burst_seconds,
            flood_seconds=settings.cdp_flood_seconds,
            max_message_bytes=settings.cdp_max_message_bytes,
            max_command_bytes=settings.cdp_max_command_bytes,
            client_buffer_bytes=settings.cdp_client_buffer_bytes,
            send_timeout=settings.cdp_send_timeout,
        )

    @property
    def flood_reason(self) -> str:
        """The close reason of a flooding client (a websocket close reason must stay under 123 bytes)."""
        per_second = f"{self.commands_per_second:g} commands/s or {self.bytes_per_second / MIB:g} MiB/s"
        return f"CDP rate limit: sent more than {per_second} for {self.flood_seconds:g} s"


class TokenBucket:
    """`rate` tokens a second, at most `capacity` saved up; a take larger than the capacity goes into debt."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.saved = capacity  # what the last take found
        self.stamp = time.monotonic()

    def take(self, amount: float) -> float:
        """Spend `amount`; returns the seconds to wait before acting on it (0 while the budget lasts)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.saved = self.tokens
        wait = max(0.0, (min(amount, self.capacity) - self.tokens) / self.rate)
        self.tokens -= amount
        return wait

    @property
    def drained(self) -> bool:
        """Whether the last take found less than SLACK_SECONDS' worth saved up: its sender is at the limit."""
        return self.saved < self.rate * SLACK_SECONDS


class FloodMeter:
    """How long a client has been flooding: at its limit, with a burst's worth of messages waiting.

    Only a break of CALM_SECONDS without either resets it (a single message that finds the backlog one
    short, or a little budget saved after a scheduling hiccup, is no break). Bursts, clients running
    under their limit, and clients that wait for their answers (however fast) never reach
    `flood_seconds`; a client that keeps sending faster than its limit does.
    """

    def __init__(self, flood_seconds: float) -> None:
        self.flood_seconds = flood_seconds
        self.since: float | None = None  # when the current flood began
        self.last = 0.0  # when a message last showed flooding

    def at_limit(self, flooding: bool) -> bool:
        """Record one message; True when the client has now flooded for too long."""
        now = time.monotonic()
        if flooding:
            self.last = now
            if self.since is None:
                self.since = now
            return now - self.since > self.flood_seconds
        if self.since is not None and now - self.last > CALM_SECONDS:
            self.since = None
        return False


class ClientPacer:
    """Both rate limits of one connection and its flood meter."""

    def __init__(self, limits: CdpLimits) -> None:
        self.commands = TokenBucket(limits.commands_per_second, limits.commands_per_second * limits.burst_seconds)
        self.bytes = TokenBucket(limits.bytes_per_second, limits.bytes_per_second * limits.burst_seconds)
        self.flood = FloodMeter(limits.flood_seconds)

    def admit(self, size: int, backlogged: bool) -> tuple[float, bool]:
        """(seconds to hold this message back, whether the client has flooded past its bound).

        `backlogged`: a burst's worth of the client's messages was waiting behind this one.
        """
        wait = max(self.commands.take(1), self.bytes.take(size))
        return wait, self.flood.at_limit(backlogged and (self.commands.drained or self.bytes.drained))


def too_large(size: int, limits: CdpLimits) -> str:
    """The refusal of a browser answer above the bound of one CDP message."""
    return (
        f"the answer is {size / MIB:.1f} MiB, above this pool's bound of {limits.max_message_bytes / MIB:g} MiB "
        "per CDP message (BROWSERPOOL_CDP_MAX_MESSAGE_BYTES). Fetch large data in parts: keep it in the page "
        "(Runtime.evaluate with returnByValue false) and read slices, or read a stream with IO.read "
        "(Page.printToPDF with transferMode ReturnAsStream, Fetch.takeResponseBodyAsStream)."
    )
