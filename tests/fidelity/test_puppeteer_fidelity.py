"""Puppeteer's own ways (tests/node/fidelity/scenarios.mjs) on a local Chromium and through a pool session.

The script runs every scenario against one endpoint and prints one JSON line each; it runs once against
the reference and once against one pool session, and each scenario's two observations must be equal
(unless known_differences.py lists it). Skipped when node or puppeteer-core is missing.
"""

import asyncio
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import pytest_asyncio

from tests.fidelity.endpoints import PoolSessions, ReferenceChromium
from tests.fidelity.harness import Json, stable
from tests.fidelity.known_differences import KNOWN_DIFFERENCES
from tests.fidelity.site import SiteUrls
from tests.support import repo_root

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

SCRIPT = repo_root() / "tests" / "node" / "fidelity" / "scenarios.mjs"
NAMES = re.findall(r'^scenario\("([a-z0-9_]+)"', SCRIPT.read_text(), re.MULTILINE)
READY = (
    shutil.which("node") is not None and (repo_root() / "tests" / "node" / "node_modules" / "puppeteer-core").exists()
)


async def _run_script(ws_endpoint: str, urls: SiteUrls, tmp: Path) -> dict[str, Json]:
    tmp.mkdir(parents=True, exist_ok=True)
    env = {"main": urls.main, "other": urls.other, "ws": urls.ws, "closed": urls.closed, "tmp": str(tmp)}
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        ws_endpoint,
        json.dumps(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=SCRIPT.parent,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode == 0, err.decode()[-2000:]
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    lines = [{**line, "observation": stable(line["observation"], tmp, urls)} for line in lines]
    if os.environ.get("FIDELITY_RECORD"):
        with open(os.environ["FIDELITY_RECORD"], "a") as record:
            record.writelines(json.dumps({"endpoint": ws_endpoint.split("?")[0], **line}) + "\n" for line in lines)
    return {line["name"]: line["observation"] for line in lines}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def puppeteer_runs(
    reference: ReferenceChromium,
    pool: PoolSessions,
    fidelity_urls: SiteUrls,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, dict[str, Json]]:
    if not READY:
        pytest.skip("node or tests/node/node_modules/puppeteer-core is missing (make setup-dev)")
    tmp = tmp_path_factory.mktemp("puppeteer")
    expected = await _run_script(reference.endpoint, fidelity_urls, tmp / "reference")
    session = await pool.daemon.create(pool.owner)
    try:
        got = await _run_script(session["cdp_url"], fidelity_urls, tmp / "pool")
    finally:
        await pool.daemon.client.delete(f"/v1/browser/sessions/{session['session_id']}", headers=pool.owner)
    return {"reference": expected, "pool": got}


@pytest.mark.parametrize("name", NAMES)
async def test_puppeteer_pool_matches_reference(name: str, puppeteer_runs: dict[str, dict[str, Json]]) -> None:
    expected, got = puppeteer_runs["reference"].get(name), puppeteer_runs["pool"].get(name)
    assert expected is not None, f"{name}: the script printed nothing for it on the reference"
    known = KNOWN_DIFFERENCES.get(name)
    if known is not None:
        assert known.allows(got), f"{name}: the pool no longer gives the documented difference ({known.reason}): {got}"
        return
    shown = json.dumps({"reference": expected, "pool": got}, indent=1, default=str)[:4000]
    assert got == expected, f"{name}: Puppeteer sees the pool differ from a local Chromium\n{shown}"
