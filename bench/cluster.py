"""Issue 5's figures: session start and listing through an API node whose sessions live on a separate
worker process, vs the all-in-one daemon, same machine, same run, in alternating rounds."""

import contextlib
from collections.abc import Iterator

import httpx

from .daemon import DaemonProcess
from .ops import alternate
from .results import Row, ScenarioResult
from .stats import summarize
from .timing import Budget, Measured, timed

NAME = "api node + worker"
PATH = "/v1/browser/sessions/"
LISTED = 10


def start_op(client: httpx.AsyncClient) -> Measured:
    async def op() -> float:
        ms, response = await timed(client.post(PATH, json={}))
        if response.status_code != 201:
            raise RuntimeError(f"create answered {response.status_code}: {response.text[:200]}")
        await client.delete(PATH + response.json()["session_id"])  # untimed
        return ms

    return op


def list_op(client: httpx.AsyncClient) -> Measured:
    async def op() -> float:
        ms, response = await timed(client.get(PATH))
        if response.status_code != 200 or response.json()["total_count"] != LISTED:
            raise RuntimeError(f"list answered {response.status_code}: {response.text[:200]}")
        return ms

    return op


@contextlib.contextmanager
def processes(redis_url: str, chromium: str) -> Iterator[tuple[DaemonProcess, DaemonProcess, DaemonProcess]]:
    serve = DaemonProcess(redis_url, chromium)
    api = DaemonProcess(redis_url, chromium, command="api")
    worker = DaemonProcess(redis_url, chromium, command="worker", prefix=api.prefix)
    try:
        for node in (serve, worker, api):
            node.start()
        yield serve, api, worker
    finally:
        for node in (api, worker, serve):
            node.close()


async def run(redis_url: str, chromium: str, budget: Budget) -> ScenarioResult:
    with processes(redis_url, chromium) as (serve, api, _):
        async with (
            serve.client(await serve.new_user("bench")) as local,
            api.client(await api.new_user("bench")) as remote,
        ):
            starts = await alternate(start_op(remote), start_op(local), 4, budget.count(30), budget.seconds(90))
            for client in (remote, local):
                for _ in range(LISTED):
                    (await client.post(PATH, json={})).raise_for_status()
            lists = await alternate(list_op(remote), list_op(local), 4, budget.count(50), budget.seconds(30))
    (remote_start, local_start), (remote_list, local_list) = map(summarize, starts), map(summarize, lists)
    return ScenarioResult(
        NAME,
        rows=[
            Row.of(
                NAME,
                "session start via API node -> worker",
                "ms",
                remote_start,
                baseline_p50=local_start.p50,
                baseline_label="all-in-one daemon",
            ),
            Row.of(NAME, "[baseline] session start, all-in-one", "ms", local_start),
            Row.of(
                NAME,
                f"listing ({LISTED} sessions) via API node",
                "ms",
                remote_list,
                baseline_p50=local_list.p50,
                baseline_label="all-in-one daemon",
            ),
            Row.of(NAME, f"[baseline] listing ({LISTED} sessions), all-in-one", "ms", local_list),
        ],
        raw={
            "start": {"remote": remote_start.as_dict(), "local": local_start.as_dict()},
            "listing": {"remote": remote_list.as_dict(), "local": local_list.as_dict()},
        },
    )
