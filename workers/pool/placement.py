"""Which of a worker's browsers a new session goes to."""

from collections.abc import Sequence


def least_loaded(loads: Sequence[int | None], capacity: int) -> int | None:
    """Index of the browser with the fewest sessions and room for one more.

    `loads[i]` is None for a browser that cannot take sessions (down, restarting).
    Ties go to the lowest index. None when no browser has room.
    """
    best: int | None = None
    best_load = capacity
    for index, load in enumerate(loads):
        if load is not None and load < best_load:
            best, best_load = index, load
    return best
