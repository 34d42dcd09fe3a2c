"""What a soak run watches, read from /proc, the daemon's private TMPDIR and Redis.

Chromium's helpers (zygotes, renderers, GPU and utility processes) carry no `--browserpool-slot=` flag and
Chromium overwrites their /proc/PID/environ, but Playwright starts each browser in a session of its own
(setsid), so every helper shares the session id of its browser's main process; and that survives the main
process dying. A browser's processes are therefore: mains found by the slot flag, plus every process in one of
their sessions, plus any Chromium still under the daemon. Mains seen once stay remembered, so helpers orphaned by
a browser restart still count.
"""

import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from workers.chromium.processes import SLOT_FLAG

PROC = Path("/proc")
TEMP_PATTERNS = ("playwright*", "browserpool-*")


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _cmdline(pid: int) -> list[str]:
    """Its arguments; Chromium's helpers rewrite theirs into one space-separated string."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _status_field(pid: int, field_name: str) -> int:
    """A numeric field of /proc/PID/status (VmRSS in KiB, Threads...)."""
    match = re.search(rf"^{field_name}:\s+(\d+)", _read(PROC / str(pid) / "status"), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _pss_kib(pid: int) -> int:
    match = re.search(r"^Pss:\s+(\d+) kB", _read(PROC / str(pid) / "smaps_rollup"), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(PROC / str(pid) / "fd"))
    except OSError:
        return 0


def _pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def _ppid(pid: int) -> int:
    match = re.search(r"^PPid:\s+(\d+)", _read(PROC / str(pid) / "status"), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _is_chromium(pid: int) -> bool:
    args = _cmdline(pid)
    return bool(args) and "chrom" in os.path.basename(args[0]).lower()


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid in _pids():
        children.setdefault(_ppid(pid), []).append(pid)
    found, stack = [], list(children.get(root, []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def count_dirs(directory: Path) -> dict[str, int]:
    return {pattern: sum(1 for p in directory.glob(pattern) if p.is_dir()) for pattern in TEMP_PATTERNS}


@dataclass
class Sample:
    cycles: int
    at_s: float
    chromium: int  # processes of this daemon's browsers, orphans included
    renderers: int
    chromium_pss_mib: float
    browser_pss_mib: float  # the browsers' main processes alone
    daemon_rss_mib: float
    daemon_fds: int
    daemon_threads: int
    driver_rss_mib: float  # the Playwright driver (node) under the daemon
    driver_anon_mib: float  # its anonymous (heap) part
    driver_fds: int
    tmp_dirs: int  # playwright* and browserpool-* in the daemon's private TMPDIR
    global_tmp_dirs: int  # the same in /tmp (other runs on this machine count too: for information)
    redis_keys: int
    errors: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("extra")
        return row


class Sampler:
    def __init__(self, daemon_pid: int, worker_id: str, tmpdir: Path, redis: Redis, prefix: str) -> None:
        self.daemon_pid = daemon_pid
        self.flag = f"{SLOT_FLAG}{worker_id}/"
        self.tmpdir = tmpdir
        self.redis = redis
        self.prefix = prefix
        self.started = time.monotonic()
        self.browser_sessions: set[int] = set()  # session ids (= pids) of every browser main ever seen

    def chromium_pids(self) -> list[int]:
        pids = _pids()
        for pid in pids:
            args = _cmdline(pid)
            if any(a.startswith(self.flag) for a in args) and not any(a.startswith("--type=") for a in args):
                self.browser_sessions.add(pid)
        found = {pid for pid in descendants(self.daemon_pid) if _is_chromium(pid)}
        for pid in pids:
            try:
                if os.getsid(pid) in self.browser_sessions and _is_chromium(pid):
                    found.add(pid)
            except OSError:
                pass
        return sorted(found)

    def driver_pid(self) -> int | None:
        for pid in descendants(self.daemon_pid):
            args = _cmdline(pid)
            if args and os.path.basename(args[0]) == "node":
                return pid
        return None

    async def redis_keys(self) -> int:
        count = 0
        async for _ in self.redis.scan_iter(match=f"{self.prefix}:*", count=1000):
            count += 1
        return count

    async def sample(self, cycles: int) -> Sample:
        chromium = self.chromium_pids()
        driver = self.driver_pid()
        by_type: dict[str, float] = {}
        for pid in chromium:
            kind = re.search(r"--type=([\w-]+)", " ".join(_cmdline(pid)))
            name = kind.group(1) if kind else "browser"
            by_type[name] = round(by_type.get(name, 0) + _pss_kib(pid) / 1024, 1)
        return Sample(
            cycles=cycles,
            at_s=round(time.monotonic() - self.started, 1),
            chromium=len(chromium),
            renderers=sum(1 for pid in chromium if "--type=renderer" in " ".join(_cmdline(pid))),
            chromium_pss_mib=round(sum(_pss_kib(pid) for pid in chromium) / 1024, 1),
            daemon_rss_mib=round(_status_field(self.daemon_pid, "VmRSS") / 1024, 1),
            daemon_fds=_fds(self.daemon_pid),
            daemon_threads=_status_field(self.daemon_pid, "Threads"),
            driver_rss_mib=round(_status_field(driver, "VmRSS") / 1024, 1) if driver else 0.0,
            driver_fds=_fds(driver) if driver else 0,
            tmp_dirs=sum(count_dirs(self.tmpdir).values()),
            global_tmp_dirs=sum(count_dirs(Path("/tmp")).values()),
            redis_keys=await self.redis_keys(),
            browser_pss_mib=by_type.get("browser", 0.0),
            driver_anon_mib=round(_status_field(driver, "RssAnon") / 1024, 1) if driver else 0.0,
            extra={"pss_mib_by_type": by_type},
        )


COLUMNS = (
    ("cycles", 6),
    ("at_s", 7),
    ("chromium", 8),
    ("renderers", 9),
    ("chromium_pss_mib", 16),
    ("browser_pss_mib", 15),
    ("daemon_rss_mib", 14),
    ("daemon_fds", 10),
    ("daemon_threads", 14),
    ("driver_rss_mib", 14),
    ("driver_anon_mib", 15),
    ("driver_fds", 10),
    ("tmp_dirs", 8),
    ("global_tmp_dirs", 15),
    ("redis_keys", 10),
    ("errors", 6),
    ("p50_ms", 7),
    ("p95_ms", 7),
)


def table(rows: list[tuple[str, Sample]]) -> str:
    head = f"{'':9}" + " ".join(f"{name:>{width}}" for name, width in COLUMNS)
    lines = [head]
    for label, sample in rows:
        values = sample.row()
        lines.append(f"{label:9}" + " ".join(f"{values[name]!s:>{width}}" for name, width in COLUMNS))
    return "\n".join(lines)
