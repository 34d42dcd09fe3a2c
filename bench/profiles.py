"""Scenario: starting a session from a profile (its state restored before the 201) vs an empty session.

Both are create (timed) + delete (untimed) against the same daemon in the same run, read-only sessions, so
nothing is saved. The issue's profile: 50 cookies and 3 origins with localStorage; the origins are three
different sites (Chromium gives each its own renderer) or one site on three ports. Also how much Redis holds
per profile (MEMORY USAGE of its keys).
"""

from typing import Any

import httpx

from orchestrator.keys import Keys
from orchestrator.runtime import connect_redis

from .daemon import Credentials, DaemonProcess
from .results import Check, Row, ScenarioResult
from .stats import summarize
from .timing import Budget, Measured, sample, timed

NAME = "profile start"
PATH = "/v1/browser/sessions/"
ADDED_P50_MS = 30.0
CROSS_SITE = ("http://127.0.0.1:9", "http://localhost:9", "http://127.0.0.2:9")
SAME_SITE = ("http://127.0.0.1:9", "http://127.0.0.1:10", "http://127.0.0.1:11")


def storage_state(cookies: int, origins: tuple[str, ...]) -> dict[str, Any]:
    return {
        "cookies": [
            {"name": f"c{i}", "value": f"{i:04d}" + "v" * 60, "domain": "127.0.0.1", "path": "/",
             "expires": 2_000_000_000, "httpOnly": i % 2 == 0, "secure": False, "sameSite": "Lax"}
            for i in range(cookies)
        ],
        "origins": [
            {"origin": o, "localStorage": [{"name": f"key{j}", "value": f"{o}/{j}" + "x" * 80} for j in range(5)]}
            for o in origins
        ],
    }  # fmt: skip


PROFILES = {
    "empty": None,
    "50 cookies, 0 origins": storage_state(50, ()),
    "50 cookies + 3 origins (3 sites)": storage_state(50, CROSS_SITE),
    "50 cookies + 3 origins (1 site)": storage_state(50, SAME_SITE),
}


def start(client: httpx.AsyncClient, profile: str | None) -> Measured:
    body = {"profile": {"name": profile}} if profile else {}

    async def once() -> float:
        ms, created = await timed(client.post(PATH, json=body))
        if created.status_code != 201:
            raise RuntimeError(f"create answered {created.status_code}: {created.text[:300]}")
        await client.delete(f"{PATH}{created.json()['session_id']}")
        return ms

    return once


async def redis_bytes(daemon: DaemonProcess, credentials: Credentials, name: str) -> int:
    keys = Keys(daemon.prefix)
    user = credentials.user.user_id
    redis = connect_redis(daemon.redis_url)
    try:
        usage = [await redis.memory_usage(k) for k in (keys.profile(user, name), keys.profile_data(user, name))]
        return sum(u or 0 for u in usage)
    finally:
        await redis.aclose()


async def run(
    daemon: DaemonProcess, client: httpx.AsyncClient, credentials: Credentials, budget: Budget
) -> ScenarioResult:
    names = {label: f"bench-{i}" for i, label in enumerate(PROFILES)}
    sizes: dict[str, dict[str, int]] = {}
    for label, state in PROFILES.items():
        if state is not None:
            answer = (await client.put(f"/v1/profiles/{names[label]}", json=state)).json()
            sizes[label] = {
                "size_bytes": answer["size_bytes"],
                "redis_bytes": await redis_bytes(daemon, credentials, names[label]),
            }
    summaries = {}
    for _ in range(2):  # interleaved rounds, so drift on a shared machine hits every variant alike
        for label, state in PROFILES.items():
            op = start(client, names[label] if state is not None else None)
            summaries.setdefault(label, []).extend(await sample(op, budget.count(40), budget.seconds(40), warmup=3))
    figures = {label: summarize(samples) for label, samples in summaries.items()}
    empty = figures["empty"]
    out = ScenarioResult(NAME)
    for label, summary in figures.items():
        if label == "empty":
            continue
        added = summary.p50 - empty.p50
        checks = [Check(f"adds p50 <= {ADDED_P50_MS:g} ms", added <= ADDED_P50_MS)] if "3 sites" in label else []
        row = Row.of(NAME, f"read-only profile, {label}", "ms", summary, baseline_p50=empty.p50, checks=checks)
        row.baseline_label = "empty session, same run"
        row.notes = (
            f"adds {added:.1f} ms at p50; stored {sizes[label]['size_bytes']} B, Redis {sizes[label]['redis_bytes']} B"
        )
        if checks and not checks[0].ok:
            row.notes += "; origins need a hidden page and a renderer per site (see the 'profile restore' rows)"
        out.rows.append(row)
    out.rows.append(Row.of(NAME, "[baseline] empty session ({})", "ms", empty))
    out.raw = {"starts": {k: v.as_dict() for k, v in figures.items()}, "stored": sizes}
    return out
