"""Scenarios and how one is observed: the registry, what a scenario is given, and how its answer is taken.

A scenario is a plain async function of a Playwright `Browser` (reached by `connect_over_cdp`) and an
`Env`; it returns what a user's test would assert on, as JSON-able data. `observe()` runs one with a
bound on its time, turns an exception into its class and first message line (what `pytest.raises(...,
match=...)` would look at), and closes what the scenario left open so the next one starts clean on a
long-lived connection too.
"""

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page

from tests.fidelity.site import SiteUrls

Json = Any
ScenarioFn = Callable[[Browser, "Env"], Awaitable[Json]]

SCENARIOS: dict[str, ScenarioFn] = {}
STEP_TIMEOUT_MS = 5_000  # Playwright's default timeout inside a scenario: a hang fails in seconds, not 30
SCENARIO_SECONDS = 25.0  # a whole scenario, whatever it awaits


def scenario(fn: ScenarioFn) -> ScenarioFn:
    """Register `fn` under its own name."""
    assert fn.__name__ not in SCENARIOS, f"two scenarios named {fn.__name__}"
    SCENARIOS[fn.__name__] = fn
    return fn


@dataclass
class Env:
    """What a scenario is given besides the browser: the loopback site, a client-side directory, the ports."""

    urls: SiteUrls
    tmp: Path  # a fresh directory on the client's side (uploads come from here, downloads are saved here)
    debugging_port: int  # the DevTools port of the Chromium behind this browser (the pool's or the reference's)
    made: list[BrowserContext]

    @property
    def site(self) -> str:
        return self.urls.main

    @property
    def other(self) -> str:
        return self.urls.other

    async def new_context(self, browser: Browser, **options: Any) -> BrowserContext:
        """A client-made context (browser.new_context) with the short default timeout; closed after the run."""
        context = await browser.new_context(**options)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        self.made.append(context)
        return context

    async def page(self, browser: Browser) -> Page:
        """A new page in the browser's first context (the session's own context through the pool)."""
        return await browser.contexts[0].new_page()


def error_shape(exc: BaseException) -> dict[str, str]:
    """An exception as a user's test sees it: its class and the first line of its message."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    first = text.split("\n", 1)[0].split("Call log:", 1)[0].strip()
    return {"error": type(exc).__name__, "message": first}


async def observe(name: str, browser: Browser, env: Env) -> Json:
    """Run scenario `name` once and return its observation (or the shape of what it raised)."""
    home = browser.contexts[0]
    home.set_default_timeout(STEP_TIMEOUT_MS)
    await home.clear_cookies()  # the reference's first context outlives the run; cookies must not leak into the next
    pages_before = set(home.pages)
    contexts_before = set(browser.contexts)
    try:
        async with asyncio.timeout(SCENARIO_SECONDS):
            return stable(await SCENARIOS[name](browser, env), env.tmp, env.urls)
    except TimeoutError:  # asyncio's: Playwright's own timeouts are its TimeoutError, an Exception like the rest
        return {"error": "ScenarioTimeout", "message": f"did not finish in {SCENARIO_SECONDS:g} s"}
    except Exception as exc:
        return stable(error_shape(exc), env.tmp, env.urls)
    finally:
        await _tidy(browser, env, pages_before, contexts_before)


ARTIFACT = re.compile(r"/\S*playwright-artifacts-\w+/[0-9a-f-]{36}")


def stable(observation: Json, tmp: Path, urls: SiteUrls) -> Json:
    """The observation with what changes from run to run named instead: the client's directory, the file
    Playwright's driver keeps a download in (a fresh directory per driver, a fresh name per download), and
    the loopback site's origins (fresh ports per run). Both sides get the same names, so they still compare."""
    if isinstance(observation, list):
        return [stable(item, tmp, urls) for item in observation]
    if isinstance(observation, dict):
        return {key: stable(value, tmp, urls) for key, value in observation.items()}
    if not isinstance(observation, str):
        return observation
    named = ARTIFACT.sub("<playwright's artifacts dir>/<download guid>", observation.replace(str(tmp), "<client dir>"))
    origins = {urls.closed.rstrip("/"): "<closed>", urls.main: "<site>", urls.other: "<other site>", urls.ws: "<ws>"}
    for origin, name in origins.items():
        named = re.sub(re.escape(origin) + r"(?!\d)", name, named)
    return named


async def _tidy(browser: Browser, env: Env, pages: set[Page], contexts: set[BrowserContext]) -> None:
    """Close the pages and contexts a scenario opened, whatever state it left them in."""
    for context in [*env.made, *(c for c in browser.contexts if c not in contexts)]:
        with contextlib.suppress(Exception):  # a context the scenario broke still must not stop the next one
            await asyncio.wait_for(context.close(), 10)
    env.made.clear()
    if browser.contexts:
        for page in browser.contexts[0].pages:
            if page not in pages and not page.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(page.close(), 10)


def png_size(data: bytes) -> list[int]:
    """Width and height from a PNG's header."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return [int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")]
