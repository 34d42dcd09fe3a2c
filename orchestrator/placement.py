"""Where a new session goes."""

import random
from collections.abc import Sequence

from .registry import WorkerInfo


def least_loaded(loads: Sequence[int | None], capacity: int) -> int | None:
    """Index of the browser with the fewest sessions and room for one more.

    `loads[i]` is None for a browser that cannot take sessions (down, restarting).
    Ties go to the lowest index. None when no browser has room.
    """
    best: int | None = None
    for index, load in enumerate(loads):
        if load is None or load >= capacity:
            continue
        if best is None or load < loads[best]:  # type: ignore[operator]
            best = index
    return best


def rank_workers(workers: Sequence[WorkerInfo], rng: random.Random) -> list[WorkerInfo]:
    """Workers that may take a session, most free capacity first; ties in random order (fair)."""
    open_workers = [w for w in workers if not w.draining and w.free > 0]
    rng.shuffle(open_workers)
    return sorted(open_workers, key=lambda w: w.free, reverse=True)  # stable: the shuffle breaks ties
