"""A Selenium job's journey through the pool's WebDriver endpoint, against Selenium's own local way.

- Journey: `webdriver.Remote(".../webdriver")` (New Session: a pool session and its chromedriver) → `get()` of
  a loopback page → `quit()`; vs the baseline, `webdriver.Chrome()` with the same chromedriver launching a
  Chromium of its own per job (the daemon's executable and flags), in alternating rounds.
- chromedriver's own memory: the private memory (smaps_rollup Private_*) of each chromedriver the daemon runs,
  with 10 WebDriver sessions open.

Target: journey p50 <= 1/2 of a local chromedriver launching a browser per job.
"""

import asyncio
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.client_config import ClientConfig

from workers.chromium.processes import SLOT_FLAG
from workers.pool.slot import CHROMIUM_ARGS
from workers.webdriver.chromedriver import find_chromedriver

from .browsers import baseline_tag
from .daemon import Credentials, DaemonProcess
from .ops import alternate
from .results import Check, Row, ScenarioResult
from .stats import Summary, summarize
from .timing import Budget

NAME = "webdriver"
JOURNEY_RATIO = 0.5
HELD = 10  # sessions open while chromedriver's memory is read


async def run(
    daemon: DaemonProcess, credentials: Credentials, executable: str, site: str, budget: Budget
) -> ScenarioResult:
    chromedriver = find_chromedriver(None)
    if chromedriver is None:
        raise RuntimeError("no chromedriver: make setup installs Debian's chromium-driver")
    address = f"{daemon.url}/webdriver"

    def remote() -> webdriver.Remote:
        config = ClientConfig(remote_server_addr=address, username="bench", password=credentials.api_key)
        return webdriver.Remote(command_executor=address, options=webdriver.ChromeOptions(), client_config=config)

    def through_pool() -> float:
        started = time.perf_counter()
        driver = remote()
        driver.get(site + "/")
        driver.quit()
        return _ms(started)

    def local() -> float:
        options = webdriver.ChromeOptions()
        options.binary_location = executable
        for arg in (f"{SLOT_FLAG}{baseline_tag('webdriver')}", *CHROMIUM_ARGS):
            options.add_argument(arg)
        options.add_argument("--no-sandbox")  # as Playwright launches it: a root daemon's own browser cannot sandbox
        started = time.perf_counter()
        driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        driver.get(site + "/")
        driver.quit()
        return _ms(started)

    async def pooled() -> float:
        return await asyncio.to_thread(through_pool)

    async def own() -> float:
        return await asyncio.to_thread(local)

    journey, baseline = await alternate(pooled, own, 4, budget.count(8), budget.seconds(90))
    held = [await asyncio.to_thread(remote) for _ in range(HELD)]
    try:
        memory = _chromedriver_private_kib(daemon)
    finally:
        for driver in held:
            await asyncio.to_thread(driver.quit)
    return _result(summarize(journey), summarize(baseline), memory)


def _chromedriver_private_kib(daemon: DaemonProcess) -> list[float]:
    """Private memory of each chromedriver process the daemon started."""
    assert daemon.process is not None
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            rollup = (stat.parent / "smaps_rollup").read_text()
        except OSError:
            continue
        name, rest = text.split("(", 1)[1].rsplit(")", 1)
        if name != "chromedriver" or int(rest.split()[1]) != daemon.process.pid:
            continue
        found.append(sum(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Private_")))
    return [float(kib) for kib in found]


def _result(journey: Summary, baseline: Summary, memory: list[float]) -> ScenarioResult:
    out = ScenarioResult(NAME)
    row = Row.of(NAME, "Remote(/webdriver) → get → quit", "ms", journey)
    row.baseline_p50, row.baseline_label = baseline.p50, "local chromedriver launching a Chromium per job"
    row.checks = [Check(f"p50 <= {JOURNEY_RATIO:g}x local chromedriver", journey.p50 <= JOURNEY_RATIO * baseline.p50)]
    out.rows.append(row)
    out.rows.append(Row.of(NAME, "[baseline] local chromedriver + own Chromium", "ms", baseline))
    if memory:
        label = f"chromedriver private memory ({len(memory)} sessions open)"
        out.rows.append(Row.of(NAME, label, "KiB", summarize(memory)))
    out.raw = {"journey": journey.as_dict(), "local": baseline.as_dict(), "chromedriver_private_kib": memory}
    return out


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
