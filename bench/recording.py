"""What recording a session costs (issue 14): CPU of the whole daemon tree (daemon, Playwright driver, Chromium,
ffmpeg) per session, recorded vs not, in the same run.

Two pages: an animated one (a colour and a counter changed every animation frame: Chromium's screencast
sends a frame at every change, the worst case for the recorder) and a still one (no new frames: the
recorder only repeats the last one, 10 a second). For each, N sessions are opened on the page, left to
settle, and the CPU time of the daemon's process tree is read from /proc over a few windows (the median
counts), then the sessions are closed; the same with `"record": true`. The figure is % of one core per
session; the recording's own cost is the difference, and a 2-core worker carries about
1.6 cores / that cost recorded sessions (20% of the machine left for everything else).
"""

import asyncio
import os
import statistics
import time
from urllib.parse import quote

import httpx

from .daemon import DaemonProcess
from .memory import children_map, process_tree
from .results import Row, ScenarioResult
from .timing import Budget

NAME = "recording"
PATH = "/v1/browser/sessions/"
SESSIONS = 4
SETTLE_S = 3.0
WINDOW_S = 4.0
CORES_FOR_SESSIONS = 1.6  # of a 2-core worker, leaving 20% for the daemon, the API and the rest
TICKS = os.sysconf("SC_CLK_TCK")

ANIMATED = (
    "<body style='margin:0;font:40px sans-serif'><div id=n></div><script>let i=0;(function f(){"
    "document.body.style.background='hsl('+(i%360)+',70%,50%)';n.textContent=i++;requestAnimationFrame(f)})()"
    "</script></body>"
)
STILL = "<body style='margin:0;background:#3a6'><h1>still</h1></body>"
PAGES = {"animated page": ANIMATED, "still page": STILL}


def tree_cpu(root: int) -> dict[int, float]:
    """User + system CPU seconds of `root` and of every process below it, by pid, right now."""
    used: dict[int, float] = {}
    for pid in process_tree(root, children_map()):
        try:
            with open(f"/proc/{pid}/stat") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        used[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return used


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the tree used between two readings: per process, so one that exits meanwhile (a closing
    renderer) does not take its whole life's CPU time out of the sum (what it used in the window is lost)."""
    return sum(max(0.0, seconds - before.get(pid, 0.0)) for pid, seconds in after.items())


async def cpu_per_session(
    daemon: DaemonProcess, client: httpx.AsyncClient, page: str, record: bool, sessions: int, windows: int
) -> float:
    """% of one core per session for `sessions` sessions on `page` (median of `windows` windows)."""
    assert daemon.process is not None
    body = {"viewport_width": 1280, "viewport_height": 720, "record": record}
    opened: list[str] = []
    try:
        for _ in range(sessions):
            created = await client.post(PATH, json=body)
            created.raise_for_status()
            opened.append(created.json()["session_id"])
            url = "data:text/html," + quote(page)
            (await client.post(f"{PATH}{opened[-1]}/navigate", json={"url": url})).raise_for_status()
        await asyncio.sleep(SETTLE_S)
        readings = []
        for _ in range(windows):
            before, started = tree_cpu(daemon.process.pid), time.monotonic()
            await asyncio.sleep(WINDOW_S)
            used, elapsed = cpu_between(before, tree_cpu(daemon.process.pid)), time.monotonic() - started
            readings.append(100 * used / elapsed / sessions)
        return statistics.median(readings)
    finally:
        for session_id in opened:
            await client.delete(f"{PATH}{session_id}")
        await asyncio.sleep(SETTLE_S)  # recordings finish, contexts close, renderers exit


async def run(daemon: DaemonProcess, client: httpx.AsyncClient, budget: Budget) -> ScenarioResult:
    out = ScenarioResult(NAME)
    sessions = SESSIONS if budget.scale >= 1 else 2
    windows = 3 if budget.scale >= 1 else 1
    for variant, page in PAGES.items():
        plain = await cpu_per_session(daemon, client, page, False, sessions, windows)
        recorded = await cpu_per_session(daemon, client, page, True, sessions, windows)
        cost = max(recorded - plain, 0.01)
        carried = int(CORES_FOR_SESSIONS * 100 / max(recorded, 0.01))
        out.rows.append(
            Row(
                NAME,
                f"{variant}, {sessions} sessions",
                "% core/session",
                n=windows,
                p50=recorded,
                baseline_p50=plain,
                baseline_label="the same sessions unrecorded",
                notes=(
                    f"recording adds {cost:.1f}% of a core per session; a 2-core worker carries about {carried} "
                    f"such recorded sessions at {CORES_FOR_SESSIONS:g} cores"
                ),
                extra={"recording_cost_pct": round(cost, 2), "recorded_sessions_per_2_cores": carried},
            )
        )
    out.raw = {"sessions": sessions, "windows": windows, "window_s": WINDOW_S, "settle_s": SETTLE_S}
    return out
