"""Counting what Redis does: INFO commandstats deltas, a MONITOR split of client vs script commands,
and (in-process) a connection class that counts round trips."""

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection

# Our own bookkeeping calls, which Redis counts like any other.
OWN_COMMANDS = frozenset({"info", "echo", "monitor"})


@dataclass
class Usage:
    """Per-command calls and microseconds, as INFO commandstats reports them (script-internal ones included)."""

    calls: Counter[str] = field(default_factory=Counter)
    usec: Counter[str] = field(default_factory=Counter)

    def __sub__(self, other: "Usage") -> "Usage":
        calls, usec = self.calls - other.calls, self.usec - other.usec
        for own in OWN_COMMANDS:
            calls.pop(own, None)
            usec.pop(own, None)
        return Usage(calls, usec)


async def command_usage(redis: Redis) -> Usage:
    info: dict[str, Any] = await redis.info("commandstats")
    usage = Usage()
    for name, stats in info.items():
        usage.calls[name.removeprefix("cmdstat_")] = int(stats["calls"])
        usage.usec[name.removeprefix("cmdstat_")] = int(stats["usec"])
    return usage


async def commands_during(redis: Redis, action: Callable[[], Awaitable[object]]) -> Usage:
    """What Redis executed while `action` ran (our own INFO calls left out)."""
    before = await command_usage(redis)
    await action()
    return await command_usage(redis) - before


async def scripts_counted(redis: Redis) -> bool:
    """Whether INFO commandstats counts the commands a script runs (Redis 7 does)."""
    before = await command_usage(redis)
    await redis.eval("redis.call('EXISTS', KEYS[1]) return 1", 1, "bench-probe")
    return (await command_usage(redis)).calls["exists"] > before.calls["exists"]


@dataclass
class MonitorSplit:
    """What MONITOR showed: commands clients sent (whole lines: name and arguments) and script-internal ones."""

    client: list[str] = field(default_factory=list)
    script: Counter[str] = field(default_factory=Counter)


async def monitor_during(redis: Redis, action: Callable[[], Awaitable[object]], timeout_s: float = 30) -> MonitorSplit:
    """Watch MONITOR while `action` runs; a sentinel ECHO afterwards marks the end of the stream."""
    sentinel = f"bench-sentinel-{uuid.uuid4().hex}"
    split = MonitorSplit()
    async with redis.monitor() as monitor:

        async def read() -> None:
            while True:
                seen = await monitor.next_command()
                if sentinel in seen["command"]:
                    return
                name = seen["command"].split(" ", 1)[0].lower()
                if seen["client_type"] == "lua":
                    split.script[name] += 1
                elif name not in OWN_COMMANDS:
                    split.client.append(seen["command"])

        reader = asyncio.create_task(read())
        try:
            await action()
            await redis.echo(sentinel)
            await asyncio.wait_for(reader, timeout_s)
        finally:
            reader.cancel()
    return split


class CountingConnection(Connection):
    """A connection that counts writes to the socket: one per command, one per whole pipeline."""

    round_trips: ClassVar[int] = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.round_trips += 1
        await super().send_packed_command(command, check_health)


def counting_client(url: str, max_connections: int = 128) -> Redis:
    pool = ConnectionPool.from_url(
        url, decode_responses=True, connection_class=CountingConnection, max_connections=max_connections
    )
    return Redis(connection_pool=pool)


def per_op(counts: Counter[str], ops: int) -> dict[str, float]:
    return {name: round(calls / ops, 3) for name, calls in sorted(counts.items())}
