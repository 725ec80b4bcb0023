"""Run every bench/bench_*.py and print one table of ratios against their same-run baselines.

    python bench/run_all.py            # all benchmarks (what `make bench` runs)
    python bench/run_all.py http ctx   # only those whose file name contains one of these words
    python bench/run_all.py --strict   # exit 1 when a stated target is missed
    python bench/run_all.py --quick    # BENCH_QUICK=1: scripts that honour it use small sizes

The convention every benchmark follows (bench/common.py `result`): besides its own human-readable
output, it prints one line per measurement

    RESULT name=<id> value=<number> baseline=<number or -> ratio=<value/baseline or -> unit=<u> target=<text>

measured against a baseline taken in the same run on the same machine (machines here are shared and
noisy; only ratios travel). Targets are free text; the common shapes are checked: `<=1.5x`,
`ratio<=0.1`, `>=0.8x` compare the ratio, `<=300ms`, `<= 5 ms`, `<= 200 MB` compare the value;
anything else (`report`) is shown but not judged. Each benchmark runs in its own process with a time
limit, so one that hangs or fails is reported and the rest still run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
TIME_LIMIT_S = 1200
_LINE = re.compile(r"^RESULT\s+(.*)$")
_FIELD = re.compile(r"(\w+)=(.*?)(?=\s+\w+=|$)")
_TARGET = re.compile(r"(<=|>=|<<|<|>|=)\s*([0-9]*\.?[0-9]+)\s*(x|ms|s|MB/s|MB|%)?", re.I)


@dataclass
class Row:
    bench: str
    name: str
    value: str
    baseline: str
    ratio: str
    unit: str
    target: str

    def verdict(self) -> str:
        """ok / MISS / - (not judged)."""
        m = _TARGET.search(self.target)
        if not m or self.target.strip().lower().startswith("report"):
            return "-"
        by_ratio = "ratio" in self.target.lower() or (m.group(3) or "").lower() == "x"
        raw = self.ratio if by_ratio else self.value
        try:
            got, limit = float(raw), float(m.group(2))
        except ValueError:
            return "-"
        checks = {
            "<=": got <= limit,
            ">=": got >= limit,
            "<<": got < limit,
            "<": got < limit,
            ">": got > limit,
        }
        ok = checks.get(m.group(1), got == limit)
        return "ok" if ok else "MISS"


def parse(bench: str, output: str) -> list[Row]:
    rows = []
    for line in output.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        f = {k: v.strip() for k, v in _FIELD.findall(m.group(1))}
        rows.append(
            Row(
                bench,
                f.get("name", "?"),
                f.get("value", "-"),
                f.get("baseline", "-"),
                f.get("ratio", "-"),
                f.get("unit", ""),
                f.get("target", "-"),
            )
        )
    return rows


def run_one(script: Path, quick: bool = False) -> tuple[list[Row], str | None, float]:
    """Run one benchmark, echoing its output; returns its rows, an error (or None), seconds.

    From the repository root, as `make bench` does; the scripts start factorops through
    common.factorops_argv, so the root's factorops/ folder never stands in for the installed package."""
    print(f"\n=== {script.name} ===", flush=True)
    t0 = time.perf_counter()
    env = {**os.environ, "BENCH_QUICK": "1"} if quick else None
    try:
        proc = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT_S,
            cwd=HERE.parent,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return [], f"did not finish in {TIME_LIMIT_S} s", time.perf_counter() - t0
    took = time.perf_counter() - t0
    print(proc.stdout, end="", flush=True)
    rows = parse(script.stem, proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        print(tail, file=sys.stderr)
        return rows, f"exit {proc.returncode}", took
    if not rows:
        return rows, "printed no RESULT line", took
    return rows, None, took


def table(rows: list[Row]) -> str:
    head = ("bench", "result", "value", "baseline", "ratio", "target", "verdict")
    body = [
        (
            r.bench.removeprefix("bench_"),
            r.name,
            f"{r.value} {r.unit}".strip(),
            r.baseline,
            r.ratio,
            r.target,
            r.verdict(),
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in [head, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="run only benchmarks whose file name contains one of these")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a stated target is missed")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, same code paths (BENCH_QUICK=1 for each script)"
    )
    args = parser.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(word in s.name for word in args.only)]
    if args.list:
        print("\n".join(s.name for s in scripts))
        return 0
    if not scripts:
        print("no benchmark matched", file=sys.stderr)
        return 2
    rows: list[Row] = []
    failed: list[str] = []
    timings: list[str] = []
    for script in scripts:
        got, error, took = run_one(script, args.quick)
        rows += got
        timings.append(f"{script.stem} {took:.0f}s")
        if error:
            failed.append(f"{script.name}: {error}")
    print("\n" + table(rows))
    print("\nratio = value / baseline measured in the same run; ok/MISS judge the stated target")
    print("time: " + ", ".join(timings))
    for f in failed:
        print(f"FAILED {f}", file=sys.stderr)
    missed = [r for r in rows if r.verdict() == "MISS"]
    if missed:
        print(f"{len(missed)} target(s) missed: " + ", ".join(r.name for r in missed))
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
