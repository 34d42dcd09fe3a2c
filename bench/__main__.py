"""`python -m bench`: every scenario against a real daemon, Redis and Chromium; a table and latest.json."""

import argparse
import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Playwright, async_playwright

from . import (
    cdp_relay,
    cluster,
    density,
    isolation,
    journey,
    listing,
    live_view,
    ops,
    profile_restore,
    profiles,
    proxies,
    reaper,
    recording,
    replicated,
    session_start,
    webdriver,
)
from .browsers import chromium_executable, daemon_flags
from .daemon import QUIET_BACKGROUND, REPO_ROOT, DaemonProcess
from .density import Readings
from .machine import machine_info, source_info
from .report import table, write_json
from .runner import Run, log
from .servers import RedisServer, local_site
from .timing import Budget

SCENARIOS = (
    "reaper",
    "density",
    "listing",
    "start",
    "profiles",
    "proxies",
    "ops",
    "cdp",
    "journey",
    "live",
    "recording",
    "cluster",
    "replicated",
    "isolation",
    "webdriver",
)
QUICK_SCALE = 0.2
API_KEY = re.compile(r"bp_[A-Za-z0-9_-]+")
INFO_LINE = re.compile(r'^INFO:|"level": "info"|\sINFO\s')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"about {QUICK_SCALE:g}x the samples (a smoke run)")
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="run only these scenarios (repeatable)")
    parser.add_argument("--output", type=Path, help="where to write the JSON (default bench/results/latest.json)")
    return parser.parse_args()


async def with_daemon(
    run: Run, playwright: Playwright, executable: str, site: str, budget: Budget, density_base: Readings | None
) -> None:
    """Density (daemon side), listing, session start and ops against one fresh daemon."""
    with RedisServer() as server, contextlib.closing(DaemonProcess(server.url, executable)) as daemon:
        await asyncio.to_thread(daemon.start)
        credentials = await daemon.new_user("bench")
        async with daemon.client(credentials) as client:
            if run.wants("density"):
                readings = await run.step("density: daemon", density.daemon_side(daemon, client, site, budget))
                if readings is not None:
                    run.add("density", density.result(readings, density_base or {}))
            if run.wants("listing"):
                await run.step("listing", listing.run(daemon, client, budget))
            if run.wants("start"):
                await run.step("session start", session_start.run(client, playwright, executable, budget))
            if run.wants("profiles"):
                await run.step("profile start", profiles.run(daemon, client, credentials, budget))
            if run.wants("proxies"):
                await run.step("proxied sessions", proxies.run(client, site, budget))
            if run.wants("ops"):
                await run.step("session ops", ops.run(client, playwright, executable, site, budget))
            if run.wants("cdp"):
                await run.step("cdp relay", cdp_relay.run(daemon, client, budget))
            if run.wants("journey"):
                await run.step("journey", journey.run(daemon, client, playwright, executable, site, budget))
            if run.wants("live"):
                await run.step("live view", live_view.run(daemon, client, budget))
            if run.wants("recording"):
                await run.step("recording", recording.run(daemon, client, budget))
            if run.wants("webdriver"):
                await run.step("webdriver", webdriver.run(daemon, credentials, executable, site, budget))
        run.scenarios["daemon"] = {"env": daemon.env, "log_tail": log_tail(daemon.output())}


async def main_async(args: argparse.Namespace) -> int:
    run = Run(set(args.only) if args.only else None)
    budget = Budget(QUICK_SCALE if args.quick else 1.0)
    executable = chromium_executable()
    density_base: Readings | None = None
    machine = machine_info(executable)
    playwright = await async_playwright().start()
    try:
        with local_site() as site:
            if run.wants("reaper"):
                await run.step("reaper", reaper.run(budget))
            if run.wants("density"):
                # Before any daemon runs: no other Chromium shares pages with (and so lowers the PSS of) these.
                baseline = density.baseline(playwright, executable, site, budget)
                density_base = await run.step("density: one browser per session", baseline)
            if run.wants("profiles"):
                await run.step("profile restore", profile_restore.run(playwright, executable, budget))
            if run.wants(
                "density",
                "listing",
                "start",
                "profiles",
                "proxies",
                "ops",
                "cdp",
                "journey",
                "live",
                "recording",
                "webdriver",
            ):
                await run.step("daemon", with_daemon(run, playwright, executable, site, budget, density_base))
            if run.wants("cluster"):
                with RedisServer() as server:
                    await run.step("api node + worker", cluster.run(server.url, executable, budget))
            if run.wants("replicated"):
                await run.step("replicated create", replicated.run(executable, budget))
            if run.wants("isolation"):
                await run.step("isolation", isolation.run(executable, site, budget))
    finally:
        await playwright.stop()
    document = run.document(machine, config(args, budget))
    path = write_json(document, args.output)
    print(table(run.rows))
    busy = ", ".join(f"{name} {step['cpu_busy_before']:.0%}" for name, step in steps(run))
    print(f"\nCPU busy just before each step (others' work; >25% means noisy figures): {busy}")
    print(f"{len(run.rows)} rows in {run.elapsed:.0f} s; load tool: {machine['load_tool']}; JSON: {path}")
    for name in run.errors:
        log(f"scenario {name!r} failed (traceback in the JSON)")
    return 1 if run.errors else 0


def steps(run: Run) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, step in run.scenarios.items() if "cpu_busy_before" in step]


def config(args: argparse.Namespace, budget: Budget) -> dict[str, Any]:
    return {
        "source": source_info(REPO_ROOT),
        "chromium_flags": list(daemon_flags()),
        "quick": args.quick,
        "sample_scale": budget.scale,
        "scenarios": sorted(args.only or SCENARIOS),
        "daemon_background_jobs": QUIET_BACKGROUND,
        "loopback_only": True,
    }


def log_tail(output: str, lines: int = 40) -> dict[str, Any]:
    """The daemon's last lines above info level (access and lifecycle lines left out), secrets blanked."""
    all_lines = [line for line in output.splitlines() if line.strip()]
    notable = [line for line in all_lines if not INFO_LINE.search(line)]
    return {"lines": len(all_lines), "notable": [API_KEY.sub("bp_<redacted>", line) for line in notable[-lines:]]}


def main() -> None:
    raise SystemExit(asyncio.run(main_async(parse_args())))


if __name__ == "__main__":
    main()
