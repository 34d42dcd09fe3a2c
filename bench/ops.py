"""Scenario 5: evaluate (`1+1`) and screenshot round trips through the API vs Playwright in-process.

The direct page is opened with the same executable, flags and viewport (1280x720) as a default
session, both on the same local page. API and direct samples alternate in rounds, so drift in the
machine's load hits both alike.
"""

from typing import Any

import httpx
from playwright.async_api import Playwright

from .browsers import BaselinePage, fresh_page
from .results import Check, Row, ScenarioResult
from .stats import Summary, summarize
from .timing import Budget, Measured, measured, sample

NAME = "session ops"
PATH = "/v1/browser/sessions/"
PNG = b"\x89PNG\r\n\x1a\n"
WITHIN_MS = 5.0


def api_ops(client: httpx.AsyncClient, session_id: str, sizes: list[int]) -> tuple[Measured, Measured]:
    async def evaluate() -> None:
        response = await client.post(f"{PATH}{session_id}/evaluate", json={"expression": "1+1"})
        if response.status_code != 200 or response.json() != {"result": 2}:
            raise RuntimeError(f"evaluate answered {response.status_code}: {response.text[:300]}")

    async def screenshot() -> None:
        response = await client.get(f"{PATH}{session_id}/screenshot")
        if response.status_code != 200 or not response.content.startswith(PNG):
            raise RuntimeError(f"screenshot answered {response.status_code}")
        sizes.append(len(response.content))

    return measured(evaluate), measured(screenshot)


def direct_ops(page: BaselinePage, sizes: list[int]) -> tuple[Measured, Measured]:
    async def evaluate() -> None:
        if await page.page.evaluate("1+1") != 2:
            raise RuntimeError("page.evaluate('1+1') was not 2")

    async def screenshot() -> None:
        sizes.append(len(await page.page.screenshot(type="png")))

    return measured(evaluate), measured(screenshot)


async def alternate(
    a: Measured, b: Measured, rounds: int, per_round: int, budget_s: float
) -> tuple[list[float], list[float]]:
    """Samples of `a` and `b` in alternating rounds (after 5 unrecorded runs of each)."""
    first: list[float] = []
    second: list[float] = []
    for op in (a, b):
        await sample(op, 0, budget_s, warmup=5)
    for _ in range(rounds):
        first += await sample(a, per_round, budget_s / rounds / 2)
        second += await sample(b, per_round, budget_s / rounds / 2)
    return first, second


async def run(
    client: httpx.AsyncClient, playwright: Playwright, executable: str, site: str, budget: Budget
) -> ScenarioResult:
    api_sizes: list[int] = []
    direct_sizes: list[int] = []
    created = await client.post(PATH, json={})
    created.raise_for_status()
    session_id = created.json()["session_id"]
    direct: BaselinePage | None = None
    try:
        (await client.post(f"{PATH}{session_id}/navigate", json={"url": site})).raise_for_status()
        _, direct = await fresh_page(playwright, executable, "ops")
        await direct.page.goto(site)
        api_eval, api_shot = api_ops(client, session_id, api_sizes)
        direct_eval, direct_shot = direct_ops(direct, direct_sizes)
        evaluate = await alternate(api_eval, direct_eval, 4, budget.count(50), budget.seconds(60))
        shots = await alternate(api_shot, direct_shot, 3, budget.count(20), budget.seconds(60))
    finally:
        await client.delete(f"{PATH}{session_id}")
        if direct is not None:
            await direct.close()
    sizes = {"api_png_bytes": api_sizes[-1:], "direct_png_bytes": direct_sizes[-1:]}
    return result([summarize(s) for s in evaluate], [summarize(s) for s in shots], sizes)


def result(evaluate: list[Summary], shots: list[Summary], sizes: dict[str, Any]) -> ScenarioResult:
    (api_eval, direct_eval), (api_shot, direct_shot) = evaluate, shots
    gap = api_eval.p50 - direct_eval.p50
    eval_row = Row.of(
        NAME,
        "evaluate 1+1 via API",
        "ms",
        api_eval,
        baseline_p50=direct_eval.p50,
        baseline_label="page.evaluate in-process",
        checks=[Check(f"p50 within {WITHIN_MS:g} ms of direct", gap <= WITHIN_MS)],
        notes=f"API adds {gap:.2f} ms at p50",
    )
    shot_row = Row.of(
        NAME,
        "screenshot via API",
        "ms",
        api_shot,
        baseline_p50=direct_shot.p50,
        baseline_label="page.screenshot in-process",
        notes=f"API adds {api_shot.p50 - direct_shot.p50:.2f} ms at p50 (captures wait for frames); PNG bytes {sizes}",
    )
    return ScenarioResult(
        NAME,
        rows=[
            eval_row,
            shot_row,
            Row.of(NAME, "[baseline] page.evaluate direct", "ms", direct_eval),
            Row.of(NAME, "[baseline] page.screenshot direct", "ms", direct_shot),
        ],
        raw={
            "evaluate": {"api": api_eval.as_dict(), "direct": direct_eval.as_dict()},
            "screenshot": {"api": api_shot.as_dict(), "direct": direct_shot.as_dict()},
            **sizes,
        },
    )
