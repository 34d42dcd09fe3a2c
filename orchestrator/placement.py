"""Which worker a new session goes to.

Which browser inside a worker takes it is the worker's own choice: workers.pool.placement.
"""

import random
from collections.abc import Sequence

from .registry import WorkerInfo


def rank_workers(workers: Sequence[WorkerInfo], rng: random.Random) -> list[WorkerInfo]:
    """Workers that may take a session, most free capacity first; ties in random order (fair)."""
    open_workers = [w for w in workers if not w.draining and w.free > 0]
    rng.shuffle(open_workers)
    return sorted(open_workers, key=lambda w: w.free, reverse=True)  # stable: the shuffle breaks ties
