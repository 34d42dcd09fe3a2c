"""The daemon the security tests fuzz, once per module."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.security.fuzz_target import (
    ErrorLog,
    Target,
    ThreadedDaemon,
)
from tests.support import local_site


@pytest.fixture(scope="module")
def target(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    daemon_settings = make_settings(
        redis_url,
        f"test-fuzz-{uuid.uuid4().hex[:8]}",
        Path(tmp_path_factory.mktemp("fuzz")),
        contexts_per_browser=20,
        action_timeout=5.0,
        retention=60,
        rate_limit=0,  # thousands of requests a minute from one key: fuzz the API, not its rate limiter
        ip_rate_limit=0,  # thousands of anonymous and bad-credential requests from loopback: the same
        max_api_keys_per_user=10_000,  # every key case mints a victim key: fuzz the API, not the key cap
    )
    threaded = ThreadedDaemon(daemon_settings)
    with local_site() as site, ErrorLog() as errors:
        threaded.start()
        try:
            yield Target(threaded, site, errors)
        finally:
            threaded.stop()
