"""Issue 22's figures: start time and memory per session, `"isolation": "context"` vs `"browser"`.

Start: POST /v1/browser/sessions/ until 201, then the first evaluate, timed together; the session is deleted
(untimed) before the next. Each level is measured with a pause after each delete (the worker has put its
next ready context or spare browser in place, as between a user's sessions) and back to back (for `browser`
the next spare is then still launching, and each create waits for it).

Memory: N live sessions of one level, each navigated to a local page; summed PSS of every Chromium tree of
the daemon (shared browser, spares and the sessions' own), minus the same reading with no session, over N.
"""

import asyncio
from pathlib import Path
from typing import Any

import httpx

from workers.chromium.processes import SLOT_FLAG

from .daemon import DaemonProcess
from .memory import Footprint, settled_reading, trees_footprint
from .results import Row, ScenarioResult
from .servers import RedisServer
from .stats import Summary, summarize
from .timing import Budget, Measured, sample, timed

NAME = "isolation"
PATH = "/v1/browser/sessions/"
SPARE_PAUSE_S = 1.5  # time for the worker to launch a spare after one was taken (about 0.2 s of it needed)
SESSIONS_FOR_MEMORY = 5
SETTLE_S, READINGS, GAP_S = 3.0, 3, 1.0


def start_op(client: httpx.AsyncClient, isolation: str, pause_s: float = 0.0) -> Measured:
    async def op() -> float:
        async def start() -> None:
            created = await client.post(PATH, json={"isolation": isolation})
            if created.status_code != 201:
                raise RuntimeError(f"create answered {created.status_code}: {created.text[:300]}")
            evaluated = await client.post(f"{PATH}{created.json()['session_id']}/evaluate", json={"expression": "1"})
            if evaluated.status_code != 200:
                raise RuntimeError(f"evaluate answered {evaluated.status_code}: {evaluated.text[:300]}")
            state["sid"] = created.json()["session_id"]

        state: dict[str, str] = {}
        ms, _ = await timed(start())
        await client.delete(PATH + state["sid"])  # untimed
        if pause_s:
            await asyncio.sleep(pause_s)
        return ms

    return op


def daemon_roots(worker_id: str) -> list[int]:
    """Main Chromium processes of the daemon: every --browserpool-slot=<worker id>/... without a --type."""
    roots = []
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            args = pid_dir.joinpath("cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(a.startswith(f"{SLOT_FLAG}{worker_id}/") for a in args) and not any(
            a.startswith("--type=") for a in args
        ):
            roots.append(int(pid_dir.name))
    return roots


async def footprint(worker_id: str) -> Footprint:
    return await settled_reading(lambda: trees_footprint(daemon_roots(worker_id)), SETTLE_S, READINGS, GAP_S)


async def memory_per_session(client: httpx.AsyncClient, worker_id: str, site: str, isolation: str) -> dict[str, Any]:
    idle = await footprint(worker_id)
    sids = []
    try:
        for _ in range(SESSIONS_FOR_MEMORY):
            created = await client.post(PATH, json={"isolation": isolation})
            created.raise_for_status()
            sids.append(created.json()["session_id"])
            navigated = await client.post(f"{PATH}{sids[-1]}/navigate", json={"url": site})
            navigated.raise_for_status()
        loaded = await footprint(worker_id)
    finally:
        for sid in sids:
            await client.delete(PATH + sid)
    return {
        "sessions": len(sids),
        "idle_pss_mib": round(idle.pss_mib, 1),
        "loaded_pss_mib": round(loaded.pss_mib, 1),
        "pss_mib_per_session": round((loaded.pss_mib - idle.pss_mib) / len(sids), 1),
        "processes": [idle.processes, loaded.processes],
    }


async def run(executable: str, site: str, budget: Budget) -> ScenarioResult:
    with RedisServer() as server:
        daemon = DaemonProcess(server.url, executable)
        daemon.env["BROWSERPOOL_READY_BROWSERS"] = "1"
        daemon.env["BROWSERPOOL_MAX_DEDICATED_BROWSERS"] = str(SESSIONS_FOR_MEMORY + 2)
        try:
            await asyncio.to_thread(daemon.start)
            credentials = await daemon.new_user("isolation")
            async with daemon.client(credentials) as client:
                await asyncio.sleep(2)  # the first spare is up
                starts = {
                    key: await sample(start_op(client, level, pause), budget.count(count), 90, warmup=2)
                    for key, (level, pause, count) in VARIANTS.items()
                }
                await asyncio.sleep(2)
                memory = {
                    level: await memory_per_session(client, daemon.worker_id, site, level)
                    for level in ("context", "browser")
                }
        finally:
            daemon.close()
    return result({k: summarize(v) for k, v in starts.items()}, memory)


# key: (isolation, pause after each delete, samples)
VARIANTS = {
    "context": ("context", SPARE_PAUSE_S, 40),
    "browser": ("browser", SPARE_PAUSE_S, 40),
    "context back to back": ("context", 0.0, 40),
    "browser back to back": ("browser", 0.0, 20),
}
LABELS = {
    "context": "context, a pause between sessions: create + first evaluate",
    "browser": "browser, a pause between sessions (a spare ready): create + first evaluate",
    "context back to back": "context, back to back: create + first evaluate",
    "browser back to back": "browser, back to back (waits for the spare launching): create + first evaluate",
}


def result(starts: dict[str, Summary], memory: dict[str, dict[str, Any]]) -> ScenarioResult:
    out = ScenarioResult(NAME)
    for key, label in LABELS.items():
        row = Row.of(NAME, label, "ms", starts[key])
        if key.startswith("browser"):
            same = key.replace("browser", "context")
            row.baseline_p50, row.baseline_label = starts[same].p50, LABELS[same]
        out.rows.append(row)
    for level, figures in memory.items():
        row = Row(
            NAME,
            f"{level}: PSS per live session ({figures['sessions']} on a local page)",
            "MiB/session",
            n=figures["sessions"],
            p50=figures["pss_mib_per_session"],
            notes=f"all the daemon's Chromium trees: {figures['idle_pss_mib']} MiB idle, "
            f"{figures['loaded_pss_mib']} MiB with the sessions",
        )
        if level == "browser":
            row.baseline_p50, row.baseline_label = memory["context"]["pss_mib_per_session"], "context isolation"
        out.rows.append(row)
    out.raw = {"start": {k: v.as_dict() for k, v in starts.items()}, "memory": memory, "pause_s": SPARE_PAUSE_S}
    return out
