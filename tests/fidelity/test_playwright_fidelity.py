"""Each scenario on a plain local Chromium and through a pool session: the observations must be equal.

A difference fails unless known_differences.py lists the scenario as a deliberate difference (a row of
README's table), in which case the pool must give exactly the documented observation. A failure prints
both observations and the CDP errors each side's connection saw (the relay's refusals show there, method
by method).
"""

import json
import os
import time
from pathlib import Path

import pytest
from playwright.async_api import Playwright

import tests.fidelity.scenarios  # noqa: F401 - registers the scenarios
from tests.fidelity.endpoints import PoolSessions, ReferenceChromium
from tests.fidelity.harness import SCENARIOS
from tests.fidelity.known_differences import KNOWN_DIFFERENCES
from tests.fidelity.runs import run_fresh
from tests.fidelity.site import SiteUrls

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


def _show(value: object) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)[:3000]


def _record(name: str, seen: dict[str, object]) -> None:
    """With FIDELITY_RECORD=<file>, append both observations and the CDP errors of both connections as one JSON line."""
    target = os.environ.get("FIDELITY_RECORD")
    if target:
        with open(target, "a") as out:
            out.write(json.dumps({"name": name, **seen}, default=str) + "\n")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_pool_matches_reference(
    name: str,
    playwright: Playwright,
    reference: ReferenceChromium,
    pool: PoolSessions,
    fidelity_urls: SiteUrls,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    expected, reference_log = await run_fresh(reference, playwright, name, fidelity_urls, tmp_path / "reference")
    halfway = time.monotonic()
    got, pool_log = await run_fresh(pool, playwright, name, fidelity_urls, tmp_path / "pool")
    seconds = [round(halfway - started, 3), round(time.monotonic() - halfway, 3)]
    _record(
        name,
        {"reference": expected, "pool": got, "errors": [reference_log.errors, pool_log.errors], "seconds": seconds},
    )
    known = KNOWN_DIFFERENCES.get(name)
    if known is not None:
        assert known.allows(got), (
            f"{name}: the pool no longer gives the documented difference ({known.reason})\n{_show(got)}"
        )
        return
    assert got == expected, (
        f"{name}: the pool differs from a local Chromium\n--- reference:\n{_show(expected)}\n--- pool:\n{_show(got)}"
        f"\n--- CDP errors through the pool:\n{pool_log.summary()}\n--- CDP errors on the reference:\n"
        f"{reference_log.summary()}"
    )


async def test_every_known_difference_has_its_readme_row() -> None:
    """A deliberate difference is one docs/cdp.md's table lists: its row exists and says the reason quoted."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "cdp.md").read_text()
    table = readme.split("What behaves differently from a browser of your own, on purpose", 1)[1].split("\n\n#", 1)[0]
    rows = {line.split(" | ", 1)[0].removeprefix("| "): line for line in table.splitlines() if line.startswith("| ")}
    for name, known in KNOWN_DIFFERENCES.items():
        assert known.row in rows, f"{name}: docs/cdp.md's table has no row {known.row!r}"
        assert known.reason in rows[known.row], f"{name}: its docs/cdp.md row does not say {known.reason!r}"
