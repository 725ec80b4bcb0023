"""Helpers shared by the benchmarks: percentiles and the one RESULT line format run_all.py reads.

Machines here are shared and noisy, so every benchmark measures its own baseline in the same run
and reports a ratio; absolute numbers are printed for the record only.
"""

from __future__ import annotations

import statistics


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


def result(name: str, value: float, baseline: float | None, unit: str, target: str = "") -> None:
    """Print one machine-readable line: RESULT name=... value=... baseline=... ratio=... unit=... target=..."""
    ratio = f"{value / baseline:.3f}" if baseline else "-"
    base = f"{baseline:.4g}" if baseline is not None else "-"
    print(
        f"RESULT name={name} value={value:.4g} baseline={base} ratio={ratio} unit={unit} target={target or '-'}"
    )
