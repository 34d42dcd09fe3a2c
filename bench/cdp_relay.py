"""Issue 3's figure: a CDP round trip (`Runtime.evaluate` of `1+1` on the session's page) through the
per-session relay vs straight to the browser's own debugging endpoint, in alternating rounds."""

import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from workers.devtools import browser_endpoint

from .daemon import DaemonProcess
from .ops import alternate
from .results import Row, ScenarioResult
from .stats import summarize
from .timing import Budget, measured

NAME = "cdp relay"
PATH = "/v1/browser/sessions/"


class RawCdp:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.next_id = 0

    async def call(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None) -> Any:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        await self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(await self.socket.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    async def attach(self, target_id: str) -> str:
        attached = await self.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        return str(attached["sessionId"])


async def run(daemon: DaemonProcess, client: httpx.AsyncClient, budget: Budget) -> ScenarioResult:
    created = await client.post(PATH, json={})
    created.raise_for_status()
    session = created.json()
    pid = daemon.browser_pid()
    if pid is None:
        raise RuntimeError("the daemon's browser is not running")
    try:
        async with connect(session["cdp_url"]) as relayed, connect(browser_endpoint(pid), max_size=None) as direct:
            relay, raw = RawCdp(relayed), RawCdp(direct)
            pages = [t for t in (await relay.call("Target.getTargets"))["targetInfos"] if t["type"] == "page"]
            target = pages[0]["targetId"]
            relay_session, direct_session = await relay.attach(target), await raw.attach(target)

            async def through_relay() -> None:
                await relay.call("Runtime.evaluate", {"expression": "1+1"}, relay_session)

            async def straight() -> None:
                await raw.call("Runtime.evaluate", {"expression": "1+1"}, direct_session)

            relayed_ms, direct_ms = await alternate(
                measured(through_relay), measured(straight), 4, budget.count(100), budget.seconds(60)
            )
    finally:
        await client.delete(PATH + session["session_id"])
    relay_summary, direct_summary = summarize(relayed_ms), summarize(direct_ms)
    return ScenarioResult(
        NAME,
        rows=[
            Row.of(
                NAME,
                "Runtime.evaluate 1+1 through the relay",
                "ms",
                relay_summary,
                baseline_p50=direct_summary.p50,
                baseline_label="straight to Chromium's endpoint",
                notes=f"the relay adds {relay_summary.p50 - direct_summary.p50:.2f} ms at p50",
            ),
            Row.of(NAME, "[baseline] Runtime.evaluate 1+1 straight to Chromium", "ms", direct_summary),
        ],
        raw={"relay": relay_summary.as_dict(), "direct": direct_summary.as_dict()},
    )
