"""Bounded sampling loops: every loop stops at its count or its time budget, whichever comes first."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# A measured operation does its own set-up/tear-down and returns only the milliseconds that count.
Measured = Callable[[], Awaitable[float]]


async def timed(awaitable: Awaitable[T]) -> tuple[float, T]:
    """Await and return (milliseconds taken, result)."""
    start = time.perf_counter()
    result = await awaitable
    return (time.perf_counter() - start) * 1000, result


def measured(op: Callable[[], Awaitable[object]]) -> Measured:
    """Turn an operation whose whole duration counts into a Measured one."""

    async def run() -> float:
        ms, _ = await timed(op())
        return ms

    return run


async def sample(op: Measured, count: int, budget_s: float, warmup: int = 0) -> list[float]:
    """Run `op` `warmup` times unrecorded, then up to `count` times (or until `budget_s` passes)."""
    for _ in range(warmup):
        await op()
    deadline = time.monotonic() + budget_s
    samples: list[float] = []
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        samples.append(await op())
    return samples


async def sample_concurrent(op: Measured, clients: int, per_client: int, budget_s: float) -> list[float]:
    """`clients` loops running `op` at once, each up to `per_client` times within `budget_s`."""
    deadline = time.monotonic() + budget_s

    async def client() -> list[float]:
        mine: list[float] = []
        for _ in range(per_client):
            if time.monotonic() > deadline:
                break
            mine.append(await op())
        return mine

    per = await asyncio.gather(*(client() for _ in range(clients)))
    return [ms for samples in per for ms in samples]


async def throughput(
    op: Callable[[], Awaitable[object]], clients: int, total: int, budget_s: float
) -> tuple[int, float]:
    """Requests completed and seconds taken by `clients` loops sharing `total` operations."""
    remaining = total
    deadline = time.monotonic() + budget_s

    async def client() -> int:
        nonlocal remaining
        done = 0
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            await op()
            done += 1
        return done

    start = time.perf_counter()
    counts = await asyncio.gather(*(client() for _ in range(clients)))
    return sum(counts), time.perf_counter() - start


class Budget:
    """Sample counts and time budgets, scaled down for a quick run (never below a floor)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def count(self, full: int, floor: int = 5) -> int:
        return max(floor, round(full * self.scale)) if self.scale < 1 else full

    def seconds(self, full: float) -> float:
        return max(5.0, full * self.scale) if self.scale < 1 else full
