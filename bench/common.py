"""Helpers shared by the benchmarks: percentiles and the one RESULT line format run_all.py reads.

Machines here are shared and noisy, so every benchmark measures its own baseline in the same run
and reports a ratio; absolute numbers are printed for the record only.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

# The repository root holds a `factorops/` folder (the import root of the source tree). A child
# started with `python -m` or `-c` from there would import that folder ahead of the installed
# package, which works only for an editable install. `-P` (Python >= 3.11) leaves the working
# directory off sys.path, so a benchmark runs the installed factorops from any folder.
PYTHON = [sys.executable, "-P"]


def factorops_argv() -> list[str]:
    """How to start the installed `factorops` command: the console script beside this Python
    (a venv's bin/), else `python -P -m factorops`."""
    script = Path(sys.executable).parent / "factorops"
    return [str(script)] if script.is_file() else [*PYTHON, "-m", "factorops"]


def quick() -> bool:
    """`run_all.py --quick` (BENCH_QUICK=1): small sizes, same code paths, for a fast check that a
    benchmark still runs (tests/test_bench_scripts.py)."""
    return os.environ.get("BENCH_QUICK") == "1"


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
