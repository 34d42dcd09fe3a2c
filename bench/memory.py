"""Proportional set size (PSS) of a process and everything below it, read from /proc."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

KIB_PER_MIB = 1024


def _parent_of(pid_dir: Path) -> int | None:
    try:
        stat = pid_dir.joinpath("stat").read_text()
    except OSError:
        return None
    # The command name sits in parentheses and may hold spaces: the fields after it are fixed.
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid_dir in Path("/proc").iterdir():
        if pid_dir.name.isdigit():
            parent = _parent_of(pid_dir)
            if parent is not None:
                children.setdefault(parent, []).append(int(pid_dir.name))
    return children


def process_tree(root: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """`root` and all its descendants."""
    children = children_map() if children is None else children
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


@dataclass(frozen=True)
class Footprint:
    """Summed over a set of processes: PSS (shared pages split among all who map them) and USS (private)."""

    pss_mib: float
    uss_mib: float
    processes: int


def rollup_kib(pid: int) -> tuple[int, int]:
    """(Pss, Private_Clean + Private_Dirty) from /proc/<pid>/smaps_rollup; zeros for a process that is gone."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                name, _, rest = line.partition(":")
                if name in ("Pss", "Private_Clean", "Private_Dirty"):
                    values[name] = int(rest.split()[0])
    except (OSError, ValueError):
        return 0, 0
    return values.get("Pss", 0), values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)


def trees_footprint(roots: list[int]) -> Footprint:
    """The footprint of the process trees under `roots`."""
    children = children_map()
    pids = {pid for root in roots for pid in process_tree(root, children)}
    rollups = [rollup_kib(pid) for pid in pids]
    pss, uss = sum(r[0] for r in rollups), sum(r[1] for r in rollups)
    return Footprint(pss / KIB_PER_MIB, uss / KIB_PER_MIB, len(pids))


async def settled_reading(read: Callable[[], Footprint], settle_s: float, readings: int, gap_s: float) -> Footprint:
    """Wait `settle_s`, then take `readings` readings `gap_s` apart; the one with the median PSS."""
    await asyncio.sleep(settle_s)
    taken: list[Footprint] = []
    for i in range(readings):
        if i:
            await asyncio.sleep(gap_s)
        taken.append(read())
    return sorted(taken, key=lambda f: f.pss_mib)[len(taken) // 2]
