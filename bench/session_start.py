"""Scenario 1: POST /v1/browser/sessions/ until 201 (page ready), vs a fresh Chromium per session.

Each created session is deleted (untimed) before the next, so the pool never fills. The baseline is
what browserless/Steel do per session: launch + new_context + new_page with the daemon's executable
and flags, the Playwright driver already running; the browser is closed (untimed) afterwards.
"""

from dataclasses import dataclass
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Playwright, ViewportSize

from .browsers import DEFAULT_VIEWPORT, baseline_tag, fresh_page, launch
from .results import Check, Row, ScenarioResult
from .stats import Summary, summarize
from .timing import Budget, Measured, sample, sample_concurrent, timed

NAME = "session start"
PATH = "/v1/browser/sessions/"
CLIENTS = 8
CUSTOM_UA = "browserpool-bench/1.0"
CUSTOM_BODY: dict[str, Any] = {"viewport_width": 1024, "viewport_height": 768, "user_agent": CUSTOM_UA}
CUSTOM_VIEWPORT = ViewportSize(width=1024, height=768)
P50_MS, P99_MS, RATIO = 25.0, 100.0, 1 / 3


@dataclass(frozen=True)
class Shape:
    name: str
    body: dict[str, Any]
    viewport: ViewportSize | None
    user_agent: str | None


DEFAULT = Shape("default ({})", {}, None, None)
CUSTOM = Shape("custom viewport + UA", CUSTOM_BODY, CUSTOM_VIEWPORT, CUSTOM_UA)


def via_api(client: httpx.AsyncClient, shape: Shape, new_each_time: bool = False) -> Measured:
    """Create (timed) and delete one session; `new_each_time` asks for a shape never seen before each time."""
    count = 0

    async def start() -> float:
        nonlocal count
        count += 1
        body = {**shape.body, "user_agent": f"{CUSTOM_UA} new/{count}"} if new_each_time else shape.body
        ms, created = await timed(client.post(PATH, json=body))
        if created.status_code != 201:
            raise RuntimeError(f"create answered {created.status_code}: {created.text[:300]}")
        deleted = await client.delete(f"{PATH}{created.json()['session_id']}")
        if deleted.status_code != 204:
            raise RuntimeError(f"delete answered {deleted.status_code}: {deleted.text[:300]}")
        return ms

    return start


def fresh_browser(playwright: Playwright, executable: str, shape: Shape) -> Measured:
    async def start() -> float:
        ms, page = await fresh_page(playwright, executable, "start", shape.viewport, shape.user_agent)
        await page.close()
        return ms

    return start


def in_running_browser(browser: Browser) -> Measured:
    """The daemon's own Chromium work per session (no HTTP, no Redis): new_context + new_page."""

    async def start() -> float:
        async def open_page() -> BrowserContext:
            context = await browser.new_context(viewport=DEFAULT_VIEWPORT)
            await context.new_page()
            return context

        ms, context = await timed(open_page())
        await context.close()
        return ms

    return start


async def floor(playwright: Playwright, executable: str, budget: Budget) -> list[float]:
    browser = await launch(playwright, executable, baseline_tag("floor"))
    try:
        return await sample(in_running_browser(browser), budget.count(60), 30, warmup=3)
    finally:
        await browser.close()


async def run(client: httpx.AsyncClient, playwright: Playwright, executable: str, budget: Budget) -> ScenarioResult:
    api = {
        "seq default": await sample(via_api(client, DEFAULT), budget.count(120), budget.seconds(60), warmup=10),
        "seq custom": await sample(via_api(client, CUSTOM), budget.count(120), budget.seconds(60), warmup=5),
        "seq new shape": await sample(via_api(client, CUSTOM, True), budget.count(60), budget.seconds(45), warmup=2),
        "concurrent default": await concurrent(via_api(client, DEFAULT), budget.count(20), budget.seconds(60)),
    }
    base = {
        "seq default": await sample(fresh_browser(playwright, executable, DEFAULT), budget.count(30), 60, warmup=2),
        "seq custom": await sample(fresh_browser(playwright, executable, CUSTOM), budget.count(20), 45, warmup=1),
        "seq new shape": await sample(fresh_browser(playwright, executable, CUSTOM), budget.count(10), 30, warmup=1),
        "concurrent default": await concurrent(fresh_browser(playwright, executable, DEFAULT), budget.count(4), 60),
    }
    reference = summarize(await floor(playwright, executable, budget))
    return result({k: summarize(v) for k, v in api.items()}, {k: summarize(v) for k, v in base.items()}, reference)


async def concurrent(op: Measured, per_client: int, budget_s: float) -> list[float]:
    await sample_concurrent(op, CLIENTS, 1, budget_s)  # warm-up round
    return await sample_concurrent(op, CLIENTS, per_client, budget_s)


VARIANTS = {
    "seq default": "default ({}), sequential",
    "seq custom": "1024x768 + UA repeated (a learned shape), sequential",
    "seq new shape": "a shape never asked for before, sequential",
    "concurrent default": f"default ({{}}), {CLIENTS} clients",
}


def result(api: dict[str, Summary], base: dict[str, Summary], reference: Summary) -> ScenarioResult:
    out = ScenarioResult(NAME)
    for key, label in VARIANTS.items():
        summary, baseline = api[key], base[key]
        checks = []
        if key == "seq default":  # the absolute targets are for default-shaped sessions
            p99 = summary.p99 if summary.p99 is not None else summary.max  # too few samples: the max stands in
            checks += [Check(f"p50 < {P50_MS:g} ms", summary.p50 < P50_MS), Check(f"p99 < {P99_MS:g} ms", p99 < P99_MS)]
        checks.append(Check("p50 <= 1/3 fresh browser", summary.p50 <= RATIO * baseline.p50))
        row = Row.of(NAME, label, "ms", summary, baseline_p50=baseline.p50, checks=checks)
        row.baseline_label = f"fresh Chromium per session, {label}"
        if key.startswith("seq"):
            row.notes = f"Chromium's own part (new_context+new_page, in-process) is {reference.p50:.1f} ms at p50"
        out.rows.append(row)
    for key, label in VARIANTS.items():
        out.rows.append(Row.of(NAME, f"[baseline] fresh Chromium, {label}", "ms", base[key]))
    out.rows.append(Row.of(NAME, "[reference] new_context+new_page, running browser", "ms", reference))
    out.raw = {
        "api": {k: v.as_dict() for k, v in api.items()},
        "fresh_browser": {k: v.as_dict() for k, v in base.items()},
        "context_and_page_in_running_browser": reference.as_dict(),
        "clients": CLIENTS,
        "custom_body": CUSTOM_BODY,
    }
    return out
