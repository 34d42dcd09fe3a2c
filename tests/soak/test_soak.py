"""Soak: many create / evaluate / screenshot / close cycles against `browserpool serve` as a real process, and
nothing may pile up: Chromium processes, the daemon's file descriptors, temporary profile dirs, Redis keys, memory.

Not part of `make test` (marker `soak`; `make soak` runs it). BROWSERPOOL_SOAK_CYCLES (default 2000) cycles,
BROWSERPOOL_SOAK_CONCURRENCY (default 4) at a time, a sample every 100 cycles. The curve is printed and written to
tests/artifacts/soak.json.

The baseline is taken after a short warm-up (WARMUP cycles, then a settle), not straight after start: Chromium
starts helper processes (GPU, network and storage services) and fills its warm-context pool on first use; that is
steady state, not a leak. The cold sample is reported too. After the run and a settle, each count must be back to
the baseline:

- Chromium processes: exactly the baseline (warm contexts are refilled to the same number; a renderer exits a
  few seconds after its context closes, which the settle waits for).
- Temporary dirs (playwright*, browserpool-* in the daemon's private TMPDIR): exactly the baseline.
- Redis keys under the prefix: exactly the baseline. BROWSERPOOL_RETENTION=1, so ended session hashes are gone a
  second (and a reaper pass) after their session ends; per-user streams and stats existed already at baseline.
- Daemon fds: at most baseline + 5 (keep-alive sockets of the HTTP client and to Redis come and go).

Memory is judged on the second half of the run, from the sample at half the cycles to the last one: heaps grow
to a working size first (the Playwright driver's V8 heap by ~90 MiB over the first ~1500 cycles, then it saws up
and down around that), so growth against the warm-up baseline is no leak, while a leak keeps growing to the end.
Over the second half, the daemon's RSS, the driver's RSS and the PSS of all Chromium processes may each grow by at
most max(50 MiB, 20 %), i.e. a leak of more than ~50 KiB a cycle trips it at the default 2000 cycles. The daemon's
RSS is also held to max(50 MiB, 20 %) against the baseline (Python's heap levels off within ~500 cycles).

Finally the daemon is stopped with SIGTERM and none of its Chromium processes may outlive it.
"""

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.runtime import connect_redis
from tests.e2e.daemon_process import DaemonProcess
from tests.soak.measure import Sample, Sampler, table
from tests.support import repo_root

CYCLES = int(os.environ.get("BROWSERPOOL_SOAK_CYCLES", "2000"))
CONCURRENCY = int(os.environ.get("BROWSERPOOL_SOAK_CONCURRENCY", "4"))
SAMPLE_EVERY = 100
WARMUP = 2 * CONCURRENCY * 3
SETTLE_TIMEOUT = 60.0
SESSIONS = "/v1/browser/sessions/"
RETRIES = 50

pytestmark = [pytest.mark.soak, pytest.mark.timeout(900 + CYCLES)]


def grown(before: float, after: float, absolute: float, relative: float) -> bool:
    """True when `after` exceeds `before` by more than both `absolute` and `relative` (a fraction)."""
    return after - before > max(absolute, before * relative)


class Load:
    """The cycles, CONCURRENCY at a time, with a sample every SAMPLE_EVERY finished cycles."""

    def __init__(self, client: httpx.AsyncClient, sampler: Sampler) -> None:
        self.client = client
        self.sampler = sampler
        self.done = 0
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.retries = 0
        self.samples: list[Sample] = []

    async def _call(self, method: str, path: str, expect: int, **kwargs: Any) -> httpx.Response:
        """One request; a 503 (full for a moment: a closed context frees its slot asynchronously) or a 429 is
        retried after its Retry-After, as a client would, and counted."""
        for _ in range(RETRIES):
            response = await self.client.request(method, path, **kwargs)
            if response.status_code in (429, 503):
                self.retries += 1
                await asyncio.sleep(min(max(float(response.headers.get("Retry-After", 0)), 0.2), 5.0))
                continue
            if response.status_code != expect:
                raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:200]}")
            return response
        raise AssertionError(f"{method} {path}: still {response.status_code} after {RETRIES} tries")

    async def cycle(self, n: int) -> None:
        session = await self._call("POST", SESSIONS, 201, json={"viewport_width": 800, "viewport_height": 600})
        sid = session.json()["session_id"]
        try:
            script = f"document.body.innerHTML = '<h1>soak {n}</h1>' + 'x'.repeat({n % 500}); document.title = 'c{n}'"
            await self._call("POST", f"{SESSIONS}{sid}/evaluate", 200, json={"expression": script})
            shot = await self._call("GET", f"{SESSIONS}{sid}/screenshot", 200)
            assert shot.content.startswith(b"\x89PNG"), shot.content[:16]
        finally:
            await self._call("DELETE", f"{SESSIONS}{sid}", 204)

    async def worker(self, numbers: "itertools.count[int]", total: int) -> None:
        while (n := next(numbers)) < total:
            started = time.perf_counter()
            try:
                await self.cycle(n)
            except (AssertionError, httpx.HTTPError) as exc:
                self.errors.append(f"cycle {n}: {exc!r}")
            self.latencies.append((time.perf_counter() - started) * 1000)
            self.done += 1
            if self.done % SAMPLE_EVERY == 0:
                await self.take_sample()

    async def take_sample(self) -> None:
        sample = await self.sampler.sample(self.done)
        window = self.latencies[-SAMPLE_EVERY:]
        sample.errors = len(self.errors)
        sample.p50_ms = round(statistics.median(window), 1)
        sample.p95_ms = round(statistics.quantiles(window, n=20)[-1], 1) if len(window) >= 2 else sample.p50_ms
        self.samples.append(sample)

    async def run(self, total: int) -> None:
        numbers = itertools.count()
        await asyncio.gather(*(self.worker(numbers, total) for _ in range(CONCURRENCY)))


async def settle(sampler: Sampler, done: Callable[[Sample], bool], cycles: int) -> tuple[Sample, float]:
    """Sample every second until `done` holds for two samples in a row, or SETTLE_TIMEOUT; the last sample."""
    started = time.monotonic()
    streak = 0
    while True:
        await asyncio.sleep(1)
        sample = await sampler.sample(cycles)
        streak = streak + 1 if done(sample) else 0
        if streak >= 2 or time.monotonic() - started > SETTLE_TIMEOUT:
            return sample, round(time.monotonic() - started, 1)


def slopes(middle: Sample, end: Sample) -> dict[str, float]:
    """MiB per 1000 cycles from the middle of the run to its end, for the report."""
    span = max(end.cycles - middle.cycles, 1) / 1000
    names = ("daemon_rss_mib", "driver_rss_mib", "chromium_pss_mib", "browser_pss_mib")
    return {name: round((getattr(end, name) - getattr(middle, name)) / span, 2) for name in names}


async def outlived(sampler: Sampler) -> list[int]:
    """Chromium processes of the stopped daemon still there after 5 s; killed (they are ours), then returned."""
    for _ in range(50):
        survivors = sampler.chromium_pids()
        if not survivors:
            return []
        await asyncio.sleep(0.1)
    for pid in survivors:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return survivors


def bootstrap_key(daemon: DaemonProcess) -> str:
    match = re.search(r"bp_[A-Za-z0-9_-]+", daemon.output())
    assert match, daemon.output()
    return match.group(0)


@pytest.fixture(autouse=True)
def _only_when_asked(request: pytest.FixtureRequest) -> None:
    """Belt and braces next to `-m "not soak"` in addopts: never run as part of a plain `pytest`."""
    expression = request.config.option.markexpr or ""
    if "soak" not in expression or "not soak" in expression:
        pytest.skip("the soak test runs with -m soak (make soak)")


async def test_soak(redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worker_id = f"soak-{uuid.uuid4().hex[:8]}"
    prefix = f"soak-{uuid.uuid4().hex[:8]}"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    daemon = DaemonProcess(
        tmp_path,
        redis_url,
        prefix,
        worker_id,
        TMPDIR=str(private_tmp),
        BROWSERPOOL_RETENTION="1",
        BROWSERPOOL_CONTEXTS_PER_BROWSER=str(max(10, 3 * CONCURRENCY)),
        BROWSERPOOL_RATE_LIMIT="0",  # ~40 requests a second from one key: soak the pool, not the rate limiter
    )
    redis = connect_redis(redis_url)
    report: dict[str, Any] = {"cycles": CYCLES, "concurrency": CONCURRENCY, "worker_id": worker_id}
    shown: dict[str, Sample] = {}  # cold, baseline, settled: printed with the curve, even when the run fails
    load: Load | None = None
    try:
        daemon.start()
        assert daemon.process is not None
        sampler = Sampler(daemon.process.pid, worker_id, private_tmp, redis, prefix)
        headers = {"X-API-Key": bootstrap_key(daemon)}
        async with httpx.AsyncClient(base_url=daemon.url, headers=headers, timeout=60) as client:
            load = Load(client, sampler)
            cold = shown["cold"] = await sampler.sample(0)

            await load.run(WARMUP)
            assert not load.errors, load.errors
            steady: list[int] = []

            def stable(sample: Sample) -> bool:
                steady.append(sample.chromium)
                return len(steady) >= 3 and len(set(steady[-3:])) == 1

            baseline, _ = await settle(sampler, stable, 0)
            shown["baseline"] = baseline
            load.latencies.clear()
            started = time.monotonic()

            load.done = 0
            await load.run(CYCLES)
            elapsed = time.monotonic() - started

            def back(sample: Sample) -> bool:
                return (
                    sample.chromium <= baseline.chromium
                    and sample.tmp_dirs <= baseline.tmp_dirs
                    and sample.redis_keys <= baseline.redis_keys
                )

            final, settled_in = await settle(sampler, back, load.done)
            shown["settled"] = final
        middle = min(load.samples, key=lambda s: abs(s.cycles - CYCLES / 2), default=baseline)
        end = load.samples[-1] if load.samples else final  # under load like `middle` (renderers not yet gone)

        report.update(
            seconds=round(elapsed, 1),
            cycles_per_second=round(CYCLES / elapsed, 2),
            retries_on_503=load.retries,
            errors=load.errors[:20],
            error_count=len(load.errors),
            settle_seconds=settled_in,
            cold=asdict(cold),
            baseline=asdict(baseline),
            middle_cycles=middle.cycles,
            per_1000_cycles_second_half=slopes(middle, end),
            samples=[asdict(s) for s in load.samples],
            final=asdict(final),
        )

        daemon.stop()
        survivors = await outlived(sampler)
        report["after_stop"] = {"exit_code": daemon.process.returncode, "chromium_survivors": survivors}
    finally:
        daemon.stop()
        await redis.aclose()
        write_report(report, capsys)
        samples = [(str(s.cycles), s) for s in (load.samples if load else [])]
        rows = [(k, shown[k]) for k in ("cold", "baseline") if k in shown] + samples
        with capsys.disabled():
            took, settled = report.get("seconds"), report.get("settle_seconds")
            print(f"\nsoak: {CYCLES} cycles x{CONCURRENCY} in {took}s, settled in {settled}s")
            print(table(rows + ([("settled", shown["settled"])] if "settled" in shown else [])))

    assert not load.errors, load.errors[:20]
    assert final.chromium == baseline.chromium, "Chromium processes did not return to the baseline"
    assert final.tmp_dirs == baseline.tmp_dirs, "temporary profile/download dirs were left behind"
    assert final.redis_keys == baseline.redis_keys, "Redis keys under the prefix did not return to the baseline"
    assert final.daemon_fds <= baseline.daemon_fds + 5, "the daemon leaks file descriptors"
    assert not grown(baseline.daemon_rss_mib, final.daemon_rss_mib, 50, 0.20), "the daemon's RSS grew"
    for measure in ("daemon_rss_mib", "driver_rss_mib", "chromium_pss_mib"):
        before, after = getattr(middle, measure), getattr(end, measure)
        assert not grown(before, after, 50, 0.20), f"{measure} kept growing in the second half: {before} -> {after}"
    assert not survivors, f"Chromium processes outlived the daemon: {survivors}"


def write_report(report: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    path = repo_root() / "tests" / "artifacts" / "soak.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    with capsys.disabled():
        print(f"\nsoak: report written to {path}")
