"""Issue 16's figure: what a create's WAIT for one replica costs. The same primary with one replica, two
daemons on it in the same run, in alternating rounds: one waits for the replica before answering 201 (the
default once a replica is online), the other does not (BROWSERPOOL_REDIS_WAIT_REPLICAS=0)."""

import asyncio
import time

import redis

from .cluster import start_op
from .daemon import DaemonProcess
from .ops import alternate
from .results import Row, ScenarioResult
from .servers import RedisServer
from .stats import summarize
from .timing import Budget

NAME = "replicated create"


def _wait_calls(primary: RedisServer) -> int:
    """How many WAITs the primary served: the proof the confirming daemon confirmed."""
    with redis.Redis(port=primary.port, decode_responses=True) as client:
        return int(client.info("commandstats").get("cmdstat_wait", {}).get("calls", 0))


def _wait_in_sync(replica: RedisServer, timeout: float = 20) -> None:
    client = redis.Redis(port=replica.port, decode_responses=True)
    deadline = time.monotonic() + timeout
    try:
        while client.info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not sync")
            time.sleep(0.1)
    finally:
        client.close()


async def run(chromium: str, budget: Budget) -> ScenarioResult:
    with RedisServer() as primary, RedisServer(replica_of=primary.port) as replica:
        await asyncio.to_thread(_wait_in_sync, replica)
        waiting = DaemonProcess(primary.url, chromium)
        plain = DaemonProcess(primary.url, chromium)
        plain.env["BROWSERPOOL_REDIS_WAIT_REPLICAS"] = "0"
        try:
            for node in (waiting, plain):
                await asyncio.to_thread(node.start)
            async with (
                waiting.client(await waiting.new_user("bench")) as confirmed,
                plain.client(await plain.new_user("bench")) as unconfirmed,
            ):
                starts = await alternate(
                    start_op(confirmed), start_op(unconfirmed), 4, budget.count(30), budget.seconds(90)
                )
            waits = await asyncio.to_thread(_wait_calls, primary)
        finally:
            for node in (waiting, plain):
                node.close()
    with_wait, without = map(summarize, starts)
    return ScenarioResult(
        NAME,
        rows=[
            Row.of(
                NAME,
                "session start, WAIT 1 replica before 201",
                "ms",
                with_wait,
                baseline_p50=without.p50,
                baseline_label="same primary + replica, no WAIT",
                notes=f"the primary served {waits} WAIT(s) in all",
            ),
            Row.of(NAME, "[baseline] session start, no WAIT", "ms", without),
        ],
        raw={"start": {"wait_1": with_wait.as_dict(), "no_wait": without.as_dict()}, "wait_calls": waits},
    )
