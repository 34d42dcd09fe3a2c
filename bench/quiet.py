"""How busy the machine is before a step, and a bounded wait for it to calm down.

The benchmark shares 2 cores with whatever else runs (other test suites, say); a step started while
they are busy measures them too. Each step records the CPU share in use just before it started.
"""

import asyncio
import time
from pathlib import Path

WINDOW_S = 1.0


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies across all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user/nice
    return total - idle, total


async def cpu_busy(window_s: float = WINDOW_S) -> float:
    """Share of all CPUs busy (0..1) over the next `window_s` seconds."""
    busy0, total0 = _cpu_times()
    await asyncio.sleep(window_s)
    busy1, total1 = _cpu_times()
    return (busy1 - busy0) / max(total1 - total0, 1)


async def wait_for_quiet(threshold: float, max_wait_s: float) -> tuple[float, float]:
    """Poll until less than `threshold` of the CPUs is busy, for at most `max_wait_s`; (last share, waited s)."""
    started = time.monotonic()
    busy = await cpu_busy()
    while busy >= threshold and time.monotonic() - started < max_wait_s:
        busy = await cpu_busy()
    return busy, time.monotonic() - started
