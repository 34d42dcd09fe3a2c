"""Running one scenario on one endpoint: a fresh connection (a fresh session through the pool)."""

from pathlib import Path

from playwright.async_api import Browser, Playwright

from tests.fidelity.cdp_tap import TapLog
from tests.fidelity.endpoints import Endpoint
from tests.fidelity.harness import Env, Json, observe
from tests.fidelity.site import SiteUrls


async def run_fresh(
    endpoint: Endpoint, playwright: Playwright, name: str, urls: SiteUrls, tmp: Path
) -> tuple[Json, TapLog]:
    tmp.mkdir(parents=True, exist_ok=True)
    async with endpoint.connect(playwright) as (browser, log):
        return await observe(name, browser, Env(urls, tmp, endpoint.debugging_port, [])), log


async def run_many(browser: Browser, endpoint: Endpoint, names: list[str], urls: SiteUrls, tmp: Path) -> list[Json]:
    """Scenarios one after another on one connection."""
    observations = []
    for index, name in enumerate(names):
        where = tmp / f"{index}-{name}"
        where.mkdir(parents=True, exist_ok=True)
        observations.append(await observe(name, browser, Env(urls, where, endpoint.debugging_port, [])))
    return observations
