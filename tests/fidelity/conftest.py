"""Session-wide fixtures of the fidelity suite: one daemon, one reference Chromium, one Playwright, one site.

Session-scoped async fixtures run on the session's event loop (pytest-asyncio's `loop_scope`), and so
must every test that uses them (their modules set `pytest.mark.asyncio(loop_scope="session")`).
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Playwright, async_playwright

from tests.conftest import Daemon, make_settings, serve_daemon
from tests.fidelity.cdp_tap import CdpTap, running_tap
from tests.fidelity.endpoints import (
    PoolSessions,
    ReferenceChromium,
    pool_command_line,
    reference_chromium,
    reference_flags,
)
from tests.fidelity.site import SiteUrls, fidelity_site


@pytest.fixture(scope="session")
def fidelity_urls() -> Iterator[SiteUrls]:
    with fidelity_site() as urls:
        yield urls


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fidelity_daemon(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Daemon]:
    settings = make_settings(
        redis_url,
        f"test-fidelity-{uuid.uuid4().hex[:8]}",
        Path(tmp_path_factory.mktemp("fidelity-state")),
        contexts_per_browser=8,
        rate_limit=0,  # a few hundred session creations in minutes: test fidelity, not the rate limiter
        action_timeout=20.0,
    )
    async with serve_daemon(settings) as daemon:
        yield daemon


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def tap() -> AsyncIterator[CdpTap]:
    async with running_tap() as started:
        yield started


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as started:
        yield started


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def reference(fidelity_daemon: Daemon, tap: CdpTap) -> AsyncIterator[ReferenceChromium]:
    with reference_chromium(reference_flags(pool_command_line(fidelity_daemon)), tap) as started:
        yield started


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pool(fidelity_daemon: Daemon, tap: CdpTap) -> PoolSessions:
    return PoolSessions(fidelity_daemon, await fidelity_daemon.user(), tap)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/fidelity carries the `fidelity` marker (`make fidelity` selects them)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fidelity)
