"""The table on stdout and bench/results/latest.json."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .results import Row

RESULTS_DIR = Path(__file__).resolve().parent / "results"
HEADER = ("#", "scenario", "variant", "unit", "n", "p50", "p95", "p99", "base p50", "ratio", "target", "met?")


def number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def met(row: Row) -> str:
    if row.met is None:
        return ""
    return "yes" if row.met else "MISS: " + ", ".join(c.label for c in row.checks if not c.ok)


def cells(index: int, row: Row) -> tuple[str, ...]:
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
    return (
        str(index),
        row.scenario,
        row.variant,
        row.unit,
        str(row.n),
        number(row.p50),
        number(row.p95),
        number(row.p99),
        number(row.baseline_p50),
        ratio,
        row.target,
        met(row),
    )


def table(rows: Sequence[Row]) -> str:
    lines = [HEADER, *(cells(i, row) for i, row in enumerate(rows, 1))]
    widths = [max(len(line[c]) for line in lines) for c in range(len(HEADER))]
    numeric = {0, 4, 5, 6, 7, 8, 9}

    def render(line: tuple[str, ...]) -> str:
        parts = (v.rjust(w) if c in numeric else v.ljust(w) for c, (v, w) in enumerate(zip(line, widths, strict=True)))
        return " | ".join(parts).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    body = [render(HEADER), rule, *(render(line) for line in lines[1:])]
    notes = [f"  [{i}] {note(row)}" for i, row in enumerate(rows, 1) if row.notes or row.baseline_label]
    return "\n".join([*body, "", "notes (baseline of the ratio; details):", *notes])


def note(row: Row) -> str:
    parts = [f"vs {row.baseline_label}" if row.baseline_label else "", row.notes]
    return "; ".join(p for p in parts if p)


def write_json(document: dict[str, Any], path: Path | None = None) -> Path:
    target = path or RESULTS_DIR / "latest.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=2, default=str) + "\n")
    temporary.replace(target)
    return target
