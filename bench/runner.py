"""Runs scenarios one after another, recording rows, raw figures, timings and failures."""

import asyncio
import os
import sys
import time
import traceback
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from .quiet import wait_for_quiet
from .results import Row, ScenarioResult

T = TypeVar("T")
PAUSE_S = 2.0
QUIET_BELOW, MAX_QUIET_WAIT_S = 0.25, 30.0  # wait up to 30 s for other work to leave 75% of the CPUs idle


def noisy(busy: float) -> str:
    return "; other work is running, figures will be noisy" if busy >= QUIET_BELOW else ""


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class Run:
    def __init__(self, only: set[str] | None) -> None:
        self.only = only
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.rows: list[Row] = []
        self.scenarios: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}

    def wants(self, *names: str) -> bool:
        return self.only is None or any(name in self.only for name in names)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def step(self, name: str, work: Awaitable[T]) -> T | None:
        """Await one step; a failure is recorded (with its traceback) and the run goes on."""
        await asyncio.sleep(PAUSE_S)  # let processes of the previous step exit
        busy, waited = await wait_for_quiet(QUIET_BELOW, MAX_QUIET_WAIT_S)
        log(f"{name} ... (at {self.elapsed:.0f} s; CPU {busy:.0%} busy before it{noisy(busy)})")
        before, started = os.getloadavg(), time.monotonic()
        try:
            value = await work
        except Exception:
            self.errors[name] = traceback.format_exc()
            log(f"{name} FAILED:\n{self.errors[name]}")
            return None
        finally:
            self.scenarios.setdefault(name, {}).update(
                duration_s=round(time.monotonic() - started, 1),
                loadavg_before=[round(x, 2) for x in before],
                loadavg_after=[round(x, 2) for x in os.getloadavg()],
                cpu_busy_before=round(busy, 3),
                waited_for_quiet_s=round(waited, 1),
            )
        if isinstance(value, ScenarioResult):
            self.add(name, value)
        return value

    def add(self, name: str, result: ScenarioResult) -> None:
        self.rows += result.rows
        self.scenarios.setdefault(name, {})["raw"] = result.raw

    def document(self, machine: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        return {
            "generated_at": self.started_at.isoformat(timespec="seconds"),
            "duration_s": round(self.elapsed, 1),
            "machine": {**machine, "loadavg_at_end": list(os.getloadavg())},
            "config": config,
            "rows": [row.as_dict() for row in self.rows],
            "scenarios": self.scenarios,
            "errors": self.errors,
        }
