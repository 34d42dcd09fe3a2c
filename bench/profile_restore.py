"""Scenario: the restore alone, in one Chromium launched like a daemon slot: the daemon's (cookies in one call,
origins written from iframes side by side, workers/pages/profile_restore.py) vs Playwright's
`set_storage_state` (origins visited one after another), and a hidden page opened and closed, the floor of any
restore made from a page.

Every variant runs on a fresh context holding one about:blank page (like a ready session), in interleaved rounds
of the same run, so a busy machine slows all of them alike; the ratio is what to read.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import BrowserContext, Playwright

from workers.pages.profiles import ProfileKeeper

from .browsers import baseline_tag, launch
from .profiles import CROSS_SITE, SAME_SITE, storage_state
from .results import Row, ScenarioResult
from .stats import summarize
from .timing import Budget, timed

NAME = "profile restore"
Restore = Callable[[BrowserContext, dict[str, Any]], Awaitable[object]]


async def _daemon_restore(context: BrowserContext, state: dict[str, Any]) -> None:
    await ProfileKeeper(None, 30).restore(context, state)


async def _playwright_restore(context: BrowserContext, state: dict[str, Any]) -> None:
    await context.set_storage_state(state)  # type: ignore[arg-type]


async def _page_only(context: BrowserContext, state: dict[str, Any]) -> None:
    page = await context.new_page()
    await page.close()


VARIANTS: dict[str, tuple[Restore, str]] = {
    "daemon, 3 sites": (_daemon_restore, "cross"),
    "Playwright set_storage_state, 3 sites": (_playwright_restore, "cross"),
    "daemon, 1 site (3 ports)": (_daemon_restore, "same"),
    "Playwright set_storage_state, 1 site": (_playwright_restore, "same"),
    "daemon, 1 origin": (_daemon_restore, "one"),
    "Playwright set_storage_state, 1 origin": (_playwright_restore, "one"),
    "hidden page opened and closed, nothing written": (_page_only, "cross"),
}


async def run(playwright: Playwright, executable: str, budget: Budget) -> ScenarioResult:
    states = {
        "cross": storage_state(50, CROSS_SITE),
        "same": storage_state(50, SAME_SITE),
        "one": storage_state(50, CROSS_SITE[:1]),
    }
    browser = await launch(playwright, executable, baseline_tag("restore"))
    samples: dict[str, list[float]] = {label: [] for label in VARIANTS}
    try:
        for round_ in range(3 + budget.count(40)):
            for label, (restore, which) in VARIANTS.items():
                context = await browser.new_context()
                await context.new_page()
                ms, _ = await timed(restore(context, states[which]))
                await context.close()
                if round_ >= 3:  # the first rounds warm up
                    samples[label].append(ms)
    finally:
        await browser.close()
    figures = {label: summarize(values) for label, values in samples.items()}
    out = ScenarioResult(NAME)
    for label, summary in figures.items():
        if label.startswith("daemon"):
            playwright_label = label.replace("daemon", "Playwright set_storage_state").removesuffix(" (3 ports)")
            origins = "1 origin" if label.endswith("1 origin") else "3 origins"
            row = Row.of(NAME, f"50 cookies + {origins}, {label}", "ms", summary)
            row.baseline_p50 = figures[playwright_label].p50
            row.baseline_label = f"{playwright_label}, same run"
            out.rows.append(row)
        else:
            row = Row.of(NAME, f"[baseline] {label}", "ms", summary)
            if label.startswith("hidden page"):
                row.notes = "the floor of any restore written from a page (storage needs a document of its origin)"
            out.rows.append(row)
    out.raw = {"restores": {k: v.as_dict() for k, v in figures.items()}}
    return out
