"""The CDP relay: its cost per message and for a large answer, a flood's effect on another tenant, and
the daemon's memory for an answer far above the bound.

- Round trips (`Runtime.evaluate` of `1+1`, and of a 5 MB string) through the per-session relay vs
  straight to the browser's own debugging endpoint, in alternating rounds; the 5 MB one also with a
  client that does not offer permessage-deflate (Playwright's client offers it, Puppeteer's does not).
- Fair share (issue 17): another tenant's REST `evaluate` p50 while one socket floods 40,000
  `Runtime.evaluate` commands as fast as it can, vs the same calls before and after the flood.
- Bounds: how much the daemon's peak RSS grows while a 100 MiB evaluate answer passes (or is refused).
"""

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from workers.chromium.devtools import browser_endpoint

from .daemon import DaemonProcess
from .ops import alternate
from .results import Check, Row, ScenarioResult
from .stats import Summary, summarize
from .timing import Budget, measured, sample, timed

NAME = "cdp relay"
PATH = "/v1/browser/sessions/"
FLOOD_COMMANDS = 40_000
FLOOD_MAX_RATIO = 2.0
BIG_RESULT = "'x'.repeat(5_000_000)"
HUGE_RESULT_MIB = 100
VICTIM_PAUSE_S = 0.1


class RawCdp:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.next_id = 0

    async def call(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None) -> Any:
        reply = await self.reply(method, params, session_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def reply(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None) -> Any:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        await self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(await self.socket.recv())
            if reply.get("id") == self.next_id:
                return reply

    async def attach_page(self) -> str:
        pages = [t for t in (await self.call("Target.getTargets"))["targetInfos"] if t["type"] == "page"]
        attached = await self.call("Target.attachToTarget", {"targetId": pages[0]["targetId"], "flatten": True})
        return str(attached["sessionId"])


async def run(daemon: DaemonProcess, client: httpx.AsyncClient, budget: Budget) -> ScenarioResult:
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    session = await _create(client)
    try:
        rows += await _round_trips(daemon, session, budget, raw)
        rows += await _huge_answer(daemon, session, raw)
    finally:
        await client.delete(PATH + session["session_id"])
    rows += await _flood(daemon, client, budget, raw)
    return ScenarioResult(NAME, rows=rows, raw=raw)


async def _create(client: httpx.AsyncClient) -> dict[str, Any]:
    created = await client.post(PATH, json={})
    created.raise_for_status()
    session: dict[str, Any] = created.json()
    return session


# --- round trips ---------------------------------------------------------------------------------


async def _round_trips(
    daemon: DaemonProcess, session: dict[str, Any], budget: Budget, raw: dict[str, Any]
) -> list[Row]:
    pid = daemon.browser_pid()
    if pid is None:
        raise RuntimeError("the daemon's browser is not running")
    big = {"expression": BIG_RESULT, "returnByValue": True}
    # The relayed client offers permessage-deflate, as Playwright's does (Chromium's endpoint offers none);
    # the plain one does not, as Puppeteer's.
    async with (
        connect(session["cdp_url"], max_size=None) as relayed,
        connect(session["cdp_url"], max_size=None, compression=None) as relayed_plain,
        connect(browser_endpoint(pid), max_size=None) as straight,
    ):
        relay, plain, direct = RawCdp(relayed), RawCdp(relayed_plain), RawCdp(straight)
        relay_session, plain_session = await relay.attach_page(), await plain.attach_page()
        direct_session = await direct.attach_page()

        def evaluating(cdp: RawCdp, child: str, params: dict[str, Any]) -> Callable[[], Awaitable[None]]:
            async def op() -> None:
                await cdp.call("Runtime.evaluate", params, child)

            return op

        one = {"expression": "1+1"}
        small = await alternate(
            measured(evaluating(relay, relay_session, one)),
            measured(evaluating(direct, direct_session, one)),
            4,
            budget.count(100),
            budget.seconds(60),
        )
        large = await alternate(
            measured(evaluating(relay, relay_session, big)),
            measured(evaluating(direct, direct_session, big)),
            4,
            budget.count(10),
            budget.seconds(60),
        )
        large_plain = await alternate(
            measured(evaluating(plain, plain_session, big)),
            measured(evaluating(direct, direct_session, big)),
            4,
            budget.count(10),
            budget.seconds(60),
        )
    rows = _versus("Runtime.evaluate 1+1", small, raw, "small")
    rows += _versus("Runtime.evaluate returning a 5 MB string", large, raw, "5mb")
    return rows + _versus("the same 5 MB, client without permessage-deflate", large_plain, raw, "5mb_plain")


def _versus(what: str, samples: tuple[list[float], list[float]], raw: dict[str, Any], key: str) -> list[Row]:
    relay, direct = summarize(samples[0]), summarize(samples[1])
    raw[key] = {"relay": relay.as_dict(), "direct": direct.as_dict()}
    return [
        Row.of(
            NAME,
            f"{what} through the relay",
            "ms",
            relay,
            baseline_p50=direct.p50,
            baseline_label="straight to Chromium's endpoint",
            notes=f"the relay adds {relay.p50 - direct.p50:.2f} ms at p50",
        ),
        Row.of(NAME, f"[baseline] {what} straight to Chromium", "ms", direct),
    ]


# --- a huge answer -------------------------------------------------------------------------------


async def _huge_answer(daemon: DaemonProcess, session: dict[str, Any], raw: dict[str, Any]) -> list[Row]:
    """The daemon's peak RSS growth while a 100 MiB evaluate answer passes through (or is refused by) it."""
    assert daemon.process is not None
    pid = daemon.process.pid
    if not _reset_peak(pid):
        return []  # not our process to reset: no honest peak to report
    before = _status_kib(pid, "VmRSS")
    expression = f"'x'.repeat({HUGE_RESULT_MIB} * 1024 * 1024)"
    async with connect(session["cdp_url"], max_size=None) as socket:
        cdp = RawCdp(socket)
        reply = await cdp.reply(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, await cdp.attach_page()
        )
    added_mib = (_status_kib(pid, "VmHWM") - before) / 1024
    answered = "an error (above the bound)" if "error" in reply else "the whole result"
    raw["huge_answer"] = {"added_peak_rss_mib": round(added_mib, 1), "answered": answered}
    summary = Summary(n=1, p50=added_mib, p95=None, p99=None, mean=added_mib, min=added_mib, max=added_mib)
    what = f"daemon peak RSS added by a {HUGE_RESULT_MIB} MiB Runtime.evaluate answer"
    return [Row.of(NAME, what, "MiB", summary, notes=f"the client got {answered}")]


def _reset_peak(pid: int) -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS; False where that is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


# --- a flood next door ---------------------------------------------------------------------------


async def _flood(daemon: DaemonProcess, client: httpx.AsyncClient, budget: Budget, raw: dict[str, Any]) -> list[Row]:
    """Another tenant's REST evaluate, quiet and while one socket floods the relay."""
    flooder_session = await _create(client)
    victim = await daemon.new_user("victim")
    async with daemon.client(victim) as victim_client:
        target = await _create(victim_client)
        url = f"{PATH}{target['session_id']}/evaluate"

        async def evaluate() -> float:
            """One timed call, then a pause: 10 calls a second stay well inside the API's per-user rate limit."""
            ms, response = await timed(victim_client.post(url, json={"expression": "1+1"}))
            if response.status_code != 200 or response.json() != {"result": 2}:
                raise RuntimeError(f"evaluate answered {response.status_code}: {response.text[:300]}")
            await asyncio.sleep(VICTIM_PAUSE_S)
            return ms

        try:
            quiet = await sample(evaluate, budget.count(60), budget.seconds(10), warmup=5)
            flooded, flood = await _during_flood(flooder_session["cdp_url"], evaluate, budget)
            quiet += await sample(evaluate, budget.count(60), budget.seconds(10))
        finally:
            await victim_client.delete(PATH + target["session_id"])
            await client.delete(PATH + flooder_session["session_id"])
    calm, busy = summarize(quiet), summarize(flooded)
    raw["flood"] = {"quiet": calm.as_dict(), "flooded": busy.as_dict(), **flood}
    limit = FLOOD_MAX_RATIO * calm.p50
    ended = f"flood ended: {flood['ended']}; {flood['answered']} of {FLOOD_COMMANDS} answered in {flood['seconds']} s"
    return [
        Row.of(
            NAME,
            f"another tenant's REST evaluate during a {FLOOD_COMMANDS:,}-command CDP flood",
            "ms",
            busy,
            baseline_p50=calm.p50,
            baseline_label="the same calls with no flood (before and after it)",
            checks=[Check(f"p50 <= {FLOOD_MAX_RATIO:g}x no flood", busy.p50 <= limit)],
            notes=ended,
        ),
        Row.of(NAME, "[baseline] another tenant's REST evaluate, no flood", "ms", calm),
    ]


async def _during_flood(
    cdp_url: str, evaluate: Callable[[], Awaitable[float]], budget: Budget
) -> tuple[list[float], dict[str, Any]]:
    """Samples of `evaluate` while 40,000 evaluates are pipelined into one socket (and their answers read)."""
    samples: list[float] = []
    answered = 0
    # No keepalive pings: a flooder's pings wait behind its own unread backlog, and its client library
    # would drop the connection before the relay's rate limit closes it.
    async with connect(cdp_url, max_size=None, ping_interval=None) as socket:
        child = await RawCdp(socket).attach_page()
        command = {"method": "Runtime.evaluate", "params": {"expression": "1+1"}, "sessionId": child}

        async def send_all() -> None:
            with contextlib.suppress(ConnectionClosed):
                for n in range(FLOOD_COMMANDS):
                    await socket.send(json.dumps({"id": 100 + n, **command}))

        async def read_all() -> None:
            nonlocal answered
            with contextlib.suppress(ConnectionClosed):
                async for message in socket:
                    answered += json.loads(message).get("id", 0) >= 100
                    if answered >= FLOOD_COMMANDS:
                        return

        started = time.monotonic()
        sender, reader = asyncio.create_task(send_all()), asyncio.create_task(read_all())
        deadline = started + budget.seconds(90)
        while not reader.done() and time.monotonic() < deadline:
            samples.append(await evaluate())
        seconds = time.monotonic() - started
        sender.cancel()
        reader.cancel()
        await asyncio.gather(sender, reader, return_exceptions=True)
        if socket.close_code is not None:
            ended = f"closed {socket.close_code} {socket.close_reason!r}"
        else:
            ended = "all answered" if answered >= FLOOD_COMMANDS else "still flooding at the time budget"
    if not samples:
        raise RuntimeError("the flood ended before a single evaluate was timed")
    return samples, {"answered": answered, "seconds": round(seconds, 1), "ended": ended}
