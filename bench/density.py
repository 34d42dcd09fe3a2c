"""Scenario 2: memory per live session (one page on a local site), daemon vs one Chromium per session.

Summed PSS of each Chromium process tree (main process found by its --browserpool-slot flag, plus all
descendants), read after a settle so closing renderers are gone. Nothing is subtracted: the browser's
own processes are shared by the daemon's sessions, so its per-session figure falls as sessions rise.
"""

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.async_api import Playwright

from .browsers import BaselinePage, fresh_page
from .daemon import DaemonProcess
from .memory import Footprint, settled_reading, trees_footprint
from .results import Check, Row, ScenarioResult
from .timing import Budget

NAME = "density"
LEVELS = (1, 10, 25, 50)
TARGET_LEVEL = 25
TARGET_RATIO = 1 / 3
SETTLE_S, READINGS, GAP_S = 3.0, 3, 1.0


@dataclass(frozen=True)
class Reading:
    sessions: int
    footprint: Footprint

    @property
    def total_mib(self) -> float:
        return self.footprint.pss_mib

    @property
    def per_session(self) -> float:
        return self.footprint.pss_mib / self.sessions

    @property
    def uss_per_session(self) -> float:
        return self.footprint.uss_mib / self.sessions

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "pss_total_mib": round(self.total_mib, 1),
            "pss_mib_per_session": round(self.per_session, 2),
            "uss_total_mib": round(self.footprint.uss_mib, 1),
            "uss_mib_per_session": round(self.uss_per_session, 2),
            "processes": self.footprint.processes,
        }


Readings = dict[int, Reading]


def levels(budget: Budget) -> tuple[int, ...]:
    return LEVELS if budget.scale >= 1 else (1, 10, TARGET_LEVEL)


async def measure(sessions: int, roots: list[int]) -> Reading:
    return Reading(sessions, await settled_reading(lambda: trees_footprint(roots), SETTLE_S, READINGS, GAP_S))


async def baseline(playwright: Playwright, executable: str, site: str, budget: Budget) -> Readings:
    """N separate browsers, one context + page each on the site; PSS of all their trees."""
    pages: list[BaselinePage] = []
    readings: Readings = {}
    try:
        for level in levels(budget):
            while len(pages) < level:
                _, page = await fresh_page(playwright, executable, "density")
                pages.append(page)
                await page.page.goto(site)
            roots = [pid for pid in (p.pid() for p in pages) if pid is not None]
            if len(roots) != level:
                raise RuntimeError(f"found {len(roots)} of {level} baseline browser processes")
            readings[level] = await measure(level, roots)
    finally:
        await asyncio.gather(*(p.close() for p in pages), return_exceptions=True)
    return readings


async def daemon_side(daemon: DaemonProcess, client: httpx.AsyncClient, site: str, budget: Budget) -> Readings:
    """N sessions through the API, each navigated to the site; PSS of the daemon's one browser tree."""
    session_ids: list[str] = []
    readings: Readings = {}
    try:
        for level in levels(budget):
            while len(session_ids) < level:
                session_ids.append(await open_on_site(client, site))
            root = daemon.browser_pid()
            if root is None:
                raise RuntimeError("the daemon's browser process was not found")
            readings[level] = await measure(level, [root])
    finally:
        for session_id in session_ids:
            await client.delete(f"/v1/browser/sessions/{session_id}")
    return readings


async def open_on_site(client: httpx.AsyncClient, site: str) -> str:
    created = await client.post("/v1/browser/sessions/", json={})
    created.raise_for_status()
    session_id: str = created.json()["session_id"]
    navigated = await client.post(f"/v1/browser/sessions/{session_id}/navigate", json={"url": site})
    navigated.raise_for_status()
    return session_id


def describe(reading: Reading) -> str:
    footprint = reading.footprint
    return f"{footprint.pss_mib:.0f} MiB PSS in {footprint.processes} procs, USS {reading.uss_per_session:.1f}/session"


def result(daemon: Readings, base: Readings) -> ScenarioResult:
    out = ScenarioResult(NAME)
    for level, reading in daemon.items():
        other = base.get(level)
        checks = []
        if level == TARGET_LEVEL and other is not None:
            checks.append(
                Check("<= 1/3 of one browser per session", reading.per_session <= TARGET_RATIO * other.per_session)
            )
        notes = f"daemon {describe(reading)}" + (f"; baseline {describe(other)}" if other else "")
        out.rows.append(
            Row(
                NAME,
                f"{level} sessions",
                "MiB/session",
                n=level,
                p50=reading.per_session,
                baseline_p50=other.per_session if other else None,
                baseline_label="one Chromium per session (Playwright launch)",
                checks=checks,
                notes=notes,
            )
        )
    out.raw = {
        "daemon": [r.as_dict() for r in daemon.values()],
        "one_browser_per_session": [r.as_dict() for r in base.values()],
        "settle_s": SETTLE_S,
        "readings": READINGS,
    }
    return out
