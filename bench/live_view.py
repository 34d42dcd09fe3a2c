"""The live view's cost: the daemon's and its Chromium's CPU while one viewer watches an animating page.

One session shows a page that repaints every animation frame. In alternating rounds of a fixed window, the
CPU seconds of the daemon's whole process tree (the daemon, its Playwright driver, Chromium and its
renderers) are read from /proc with no viewer, then with one live-link viewer that acknowledges frames at
10 fps, then at 30 fps: the screencast's extra cost, beside the no-viewer baseline of the same run. The
viewer is a small websocket client in this process (its own cost, decoding and drawing, is the viewer
machine's and not counted); it paces its acknowledgements the way the live view page does, and Chromium
sends the next frame only after one.
"""

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from websockets.asyncio.client import connect

from .daemon import DaemonProcess
from .memory import process_tree
from .results import Row, ScenarioResult
from .stats import summarize
from .timing import Budget

NAME = "live view"
PATH = "/v1/browser/sessions/"
TICKS = os.sysconf("SC_CLK_TCK")
ANIMATION = (
    "data:text/html,<body style='margin:0'><div id=b style='width:200px;height:200px;background:%23c33'></div>"
    "<script>let t=0;(function s(){t++;b.style.transform=`translateX(${(t*7)%25800}px)`;"
    "requestAnimationFrame(s)})()</script>"
)
FPS = (10, 30)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used (processes that exit meanwhile are not counted)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


class Viewer:
    """One live-link viewer: attaches to the session's page, runs a screencast and acks at most `fps` a second."""

    def __init__(self, url: str, fps: int) -> None:
        self.url, self.gap, self.frames = url, 1 / fps, 0
        self.next_id = 0

    async def watch(self, stop: asyncio.Event) -> None:
        async with connect(self.url, max_size=None) as socket:
            send = lambda method, params, session=None: self._send(socket, method, params, session)  # noqa: E731
            targets = await self._answer(socket, await send("Target.getTargets", {}))
            page = next(t for t in targets["result"]["targetInfos"] if t["type"] == "page")
            attached = await self._answer(
                socket, await send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})
            )
            session = attached["result"]["sessionId"]
            await send(
                "Page.startScreencast", {"format": "jpeg", "quality": 70, "maxWidth": 1280, "maxHeight": 720}, session
            )
            last_ack = 0.0
            while not stop.is_set():
                try:
                    message = json.loads(await asyncio.wait_for(socket.recv(), 0.5))
                except TimeoutError:
                    continue
                if message.get("method") != "Page.screencastFrame":
                    continue
                self.frames += 1
                await asyncio.sleep(max(0.0, last_ack + self.gap - time.monotonic()))
                last_ack = time.monotonic()
                await send("Page.screencastFrameAck", {"sessionId": message["params"]["sessionId"]}, session)

    async def _send(self, socket: Any, method: str, params: dict[str, Any], session: str | None) -> int:
        self.next_id += 1
        await socket.send(
            json.dumps(
                {"id": self.next_id, "method": method, "params": params, **({"sessionId": session} if session else {})}
            )
        )
        return self.next_id

    @staticmethod
    async def _answer(socket: Any, call_id: int) -> dict[str, Any]:
        while True:
            message = json.loads(await socket.recv())
            if message.get("id") == call_id:
                return dict(message)


async def window(daemon: DaemonProcess, seconds: float, viewer: Viewer | None) -> tuple[float, float]:
    """(CPU % of one core, frames per second) of the daemon's tree over `seconds`, with or without a viewer."""
    assert daemon.process is not None
    stop = asyncio.Event()
    watching = asyncio.create_task(viewer.watch(stop)) if viewer else None
    await asyncio.sleep(1.0)  # the screencast has started and settled
    pids = process_tree(daemon.process.pid)
    frames0 = viewer.frames if viewer else 0
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = cpu_seconds(pids), time.monotonic()
    frames1 = viewer.frames if viewer else 0
    stop.set()
    if watching is not None:
        await watching
    return 100 * (cpu1 - cpu0) / (t1 - t0), (frames1 - frames0) / (t1 - t0)


async def run(daemon: DaemonProcess, client: httpx.AsyncClient, budget: Budget) -> ScenarioResult:
    created = (await client.post(PATH, json={})).raise_for_status().json()
    sid = created["session_id"]
    try:
        (await client.post(f"{PATH}{sid}/navigate", json={"url": ANIMATION})).raise_for_status()
        link = (await client.post(f"{PATH}{sid}/live-links", json={"ttl_seconds": 3600})).raise_for_status().json()
        token = link["url"].partition("#token=")[2].partition("&")[0]
        url = daemon.url.replace("http", "ws", 1) + f"{PATH}{sid}/cdp?link={quote(token)}"
        rounds, seconds = budget.count(5, floor=2), budget.seconds(8.0)
        cpu: dict[str, list[float]] = {"none": [], **{f"{f} fps": [] for f in FPS}}
        fps_seen: dict[str, list[float]] = {f"{f} fps": [] for f in FPS}
        for _ in range(rounds):  # alternating, so drift in the machine's load spreads over every variant
            cpu["none"].append((await window(daemon, seconds, None))[0])
            for fps in FPS:
                used, rate = await window(daemon, seconds, Viewer(url, fps))
                cpu[f"{fps} fps"].append(used)
                fps_seen[f"{fps} fps"].append(rate)
    finally:
        await client.delete(PATH + sid)
    base = summarize(cpu["none"])
    rows = [Row.of(NAME, "no viewer, animating page", "% of a core", base, notes=f"{seconds:g} s windows")]
    for fps in FPS:
        key = f"{fps} fps"
        rows.append(
            Row.of(
                NAME,
                f"one viewer acking at {fps} fps",
                "% of a core",
                summarize(cpu[key]),
                baseline_p50=base.p50,
                baseline_label="no viewer",
                notes=f"frames received: median {summarize(fps_seen[key]).p50:.1f}/s",
            )
        )
    return ScenarioResult(NAME, rows=rows, raw={"cpu_percent": cpu, "frames_per_second": fps_seen, "window_s": seconds})
