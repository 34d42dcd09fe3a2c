"""Where a new session goes."""

from collections.abc import Sequence


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
