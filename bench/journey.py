"""The whole journey of a job that brings its own Playwright (issue 11), and the connect step on its own.

- Journey: create a session → `connect_over_cdp(cdp_url)` → goto a loopback page → close the client's
  browser → DELETE the session; vs the baseline, a private Chromium per job (launch → new page → goto →
  close) with the daemon's executable and flags, the Playwright driver already running.
- Connect: `connect_over_cdp` to a fresh session's `cdp_url` (through the API and the relay) vs
  `connect_over_cdp` straight to the browser's own debugging endpoint, in alternating rounds.
- Delete: how long DELETE takes to answer (the record says `closed` first; the context closes after).

Targets: journey p50 <= 1/2 of a browser per job; connect through the relay <= 1.5x direct.
"""

import time
from typing import Any

import httpx
from playwright.async_api import Playwright

from workers.chromium.devtools import browser_endpoint

from .browsers import baseline_tag, launch
from .daemon import DaemonProcess
from .ops import alternate
from .results import Check, Row, ScenarioResult
from .stats import Summary, summarize
from .timing import Budget, sample

NAME = "journey"
PATH = "/v1/browser/sessions/"
JOURNEY_RATIO = 0.5
CONNECT_RATIO = 1.5


async def run(
    daemon: DaemonProcess, client: httpx.AsyncClient, playwright: Playwright, executable: str, site: str, budget: Budget
) -> ScenarioResult:
    split: dict[str, list[float]] = {"create": [], "connect": [], "goto": [], "delete": []}

    async def through_pool() -> float:
        started = time.perf_counter()
        created = await client.post(PATH, json={})
        if created.status_code != 201:
            raise RuntimeError(f"create answered {created.status_code}: {created.text[:300]}")
        session = created.json()
        split["create"].append(_ms(started))
        mark = time.perf_counter()
        browser = await playwright.chromium.connect_over_cdp(session["cdp_url"])
        split["connect"].append(_ms(mark))
        mark = time.perf_counter()
        context = browser.contexts[0]
        page = context.pages[0] if context.pages else await context.new_page()
        await page.goto(site + "/")
        split["goto"].append(_ms(mark))
        await browser.close()
        mark = time.perf_counter()
        deleted = await client.delete(PATH + session["session_id"])
        if deleted.status_code != 204:
            raise RuntimeError(f"delete answered {deleted.status_code}")
        split["delete"].append(_ms(mark))
        return _ms(started)

    async def private_browser() -> float:
        started = time.perf_counter()
        browser = await launch(playwright, executable, baseline_tag("journey"))
        page = await browser.new_page()
        await page.goto(site + "/")
        await browser.close()
        return _ms(started)

    journey = summarize(await sample(through_pool, budget.count(60), budget.seconds(60), warmup=5))
    for part in split.values():
        del part[:5]  # the warm-up rounds
    baseline = summarize(await sample(private_browser, budget.count(30), budget.seconds(60), warmup=2))
    relayed, direct = await _connects(daemon, client, playwright, budget)
    return _result(journey, baseline, {k: summarize(v) for k, v in split.items()}, relayed, direct)


async def _connects(
    daemon: DaemonProcess, client: httpx.AsyncClient, playwright: Playwright, budget: Budget
) -> tuple[Summary, Summary]:
    pid = daemon.browser_pid()
    if pid is None:
        raise RuntimeError("the daemon's browser is not running")
    endpoint = browser_endpoint(pid)

    async def relayed() -> float:
        session: dict[str, Any] = (await client.post(PATH, json={})).json()
        started = time.perf_counter()
        browser = await playwright.chromium.connect_over_cdp(session["cdp_url"])
        ms = _ms(started)
        await browser.close()
        await client.delete(PATH + session["session_id"])
        return ms

    async def straight() -> float:
        started = time.perf_counter()
        browser = await playwright.chromium.connect_over_cdp(endpoint)
        ms = _ms(started)
        await browser.close()
        return ms

    through, direct = await alternate(relayed, straight, 4, budget.count(10), budget.seconds(60))
    return summarize(through), summarize(direct)


def _result(
    journey: Summary, baseline: Summary, split: dict[str, Summary], relayed: Summary, direct: Summary
) -> ScenarioResult:
    out = ScenarioResult(NAME)
    row = Row.of(NAME, "create → connect_over_cdp → goto → close → delete", "ms", journey)
    row.baseline_p50, row.baseline_label = baseline.p50, "a private Chromium per job (launch → page → goto → close)"
    row.checks = [Check(f"p50 <= {JOURNEY_RATIO:g}x a browser per job", journey.p50 <= JOURNEY_RATIO * baseline.p50)]
    row.notes = ", ".join(f"{k} {v.p50:.1f} ms" for k, v in split.items())
    out.rows.append(row)
    connect = Row.of(NAME, "connect_over_cdp through the relay", "ms", relayed)
    connect.baseline_p50, connect.baseline_label = direct.p50, "connect_over_cdp straight to Chromium"
    connect.checks = [Check(f"p50 <= {CONNECT_RATIO:g}x direct", relayed.p50 <= CONNECT_RATIO * direct.p50)]
    out.rows.append(connect)
    out.rows.append(Row.of(NAME, "DELETE answered (the context closes after)", "ms", split["delete"]))
    out.rows.append(Row.of(NAME, "[baseline] a private Chromium per job", "ms", baseline))
    out.rows.append(Row.of(NAME, "[baseline] connect_over_cdp straight to Chromium", "ms", direct))
    out.raw = {
        "journey": journey.as_dict(),
        "private_browser": baseline.as_dict(),
        "split": {k: v.as_dict() for k, v in split.items()},
        "connect_relayed": relayed.as_dict(),
        "connect_direct": direct.as_dict(),
    }
    return out


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
