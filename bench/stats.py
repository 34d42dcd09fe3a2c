"""Order statistics over samples: median, p95, p99 (each only where there are enough samples)."""

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# Fewer samples than this and the percentile is not reported (it would be the maximum, or noise).
MIN_SAMPLES_P95 = 20
MIN_SAMPLES_P99 = 100


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not sorted_values:
        raise ValueError("no samples")
    position = (len(sorted_values) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    weight = position - low
    return sorted_values[low] * (1 - weight) + sorted_values[high] * weight


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p95: float | None
    p99: float | None
    mean: float
    min: float
    max: float

    def as_dict(self) -> dict[str, Any]:
        return {k: _rounded(v) for k, v in asdict(self).items()}


def summarize(samples: Sequence[float]) -> Summary:
    ordered = sorted(samples)
    n = len(ordered)
    return Summary(
        n=n,
        p50=statistics.median(ordered),
        p95=percentile(ordered, 95) if n >= MIN_SAMPLES_P95 else None,
        p99=percentile(ordered, 99) if n >= MIN_SAMPLES_P99 else None,
        mean=statistics.fmean(ordered),
        min=ordered[0],
        max=ordered[-1],
    )


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return value / baseline


def _rounded(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value
