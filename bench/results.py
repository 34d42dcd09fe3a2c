"""What a scenario hands back: table rows (one figure each, with its baseline and targets) and raw data."""

from dataclasses import dataclass, field
from typing import Any

from .stats import Summary, ratio


@dataclass(frozen=True)
class Check:
    """One target, already evaluated: `label` says what was asked, `ok` whether this run met it."""

    label: str
    ok: bool


@dataclass
class Row:
    scenario: str
    variant: str
    unit: str
    n: int
    p50: float
    p95: float | None = None
    p99: float | None = None
    baseline_p50: float | None = None
    baseline_label: str = ""
    checks: list[Check] = field(default_factory=list)
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, scenario: str, variant: str, unit: str, summary: Summary, **kwargs: Any) -> "Row":
        return cls(scenario, variant, unit, summary.n, summary.p50, summary.p95, summary.p99, **kwargs)

    @property
    def ratio(self) -> float | None:
        return ratio(self.p50, self.baseline_p50)

    @property
    def target(self) -> str:
        return "; ".join(c.label for c in self.checks)

    @property
    def met(self) -> bool | None:
        return all(c.ok for c in self.checks) if self.checks else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "variant": self.variant,
            "unit": self.unit,
            "n": self.n,
            "p50": _r(self.p50),
            "p95": _r(self.p95),
            "p99": _r(self.p99),
            "baseline": self.baseline_label or None,
            "baseline_p50": _r(self.baseline_p50),
            "ratio": _r(self.ratio),
            "targets": [{"target": c.label, "met": c.ok} for c in self.checks],
            "met": self.met,
            "notes": self.notes or None,
            **({"extra": self.extra} if self.extra else {}),
        }


@dataclass
class ScenarioResult:
    name: str
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
