"""guardrail_check with 1,000 active guardrails: p95 in-process (goal <= 5 ms).

The guardrails are written through the real index code (`patterns.upsert`) straight into SQLite.
Each call goes through `guardrails.check` as the tool does: a read of `patterns_version`, the
cached matcher, the match. The baseline, measured in the same run, is the same call with a single
active guardrail, so the ratio shows what 1,000 rules cost. The cold call (compiling all rules
after a pattern changed) is reported too.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import pct, result  # noqa: E402

from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.guardrails import check as guardrails
from factorops.tools.patterns import records as patterns  # noqa: E402
from factorops.tools.patterns.model import GuardrailRule, Pattern  # noqa: E402
from factorops.tools.registry import components  # noqa: E402

RULES = int(os.environ.get("BENCH_GUARDRAILS", "1000"))
SAMPLES = 2000
TOOLS = ["git", "npm", "pip", "docker", "kubectl", "terraform", "psql", "rm", "curl", "make", "cargo", "go"]
VERBS = ["push", "delete", "drop", "apply", "install", "reset", "clean", "publish", "run", "force", "prune"]
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def rule(rng: random.Random, i: int) -> GuardrailRule:
    tool, verb = rng.choice(TOOLS), rng.choice(VERBS)
    shape = i % 4
    if shape == 0:
        return GuardrailRule(effect="block", command_regex=rf"\b{tool}\s+{verb}\b.*--x{i}\b")
    if shape == 1:
        return GuardrailRule(effect="warn", command_regex=rf"{tool}\s+(-\w+\s+)*{verb}{i}")
    if shape == 2:
        return GuardrailRule(effect="warn", path_globs=[f"area{i}/**", f"*.gen{i}"])
    return GuardrailRule(effect="block", command_regex=rf"\b{verb}\b", path_globs=[f"secret{i}/*"])


def fill(store: Store, n: int, rng: random.Random) -> None:
    with store.index.transaction() as db:
        for i in range(n):
            patterns.upsert(
                db,
                Pattern(
                    id=f"pat-g{i:05d}",
                    title=f"guardrail {i}",
                    kind="guardrail",
                    status="active",
                    solution=f"do the safe thing {i}",
                    rule=rule(rng, i),
                    created=NOW,
                    updated=NOW,
                ),
                "0" * 40,
            )


def commands(rng: random.Random) -> list[guardrails.GuardrailCheckInput]:
    out = []
    for i in range(SAMPLES):
        tool, verb = rng.choice(TOOLS), rng.choice(VERBS)
        cmd = f"{tool} {verb} --flag value{i} && echo 'done {verb}' | tee log.txt"
        paths = [f"area{rng.randrange(2000)}/file{i}.py", f"src/mod{i % 50}.py"]
        out.append(guardrails.GuardrailCheckInput(action=f"{verb} things", command=cmd, paths=paths))
    return out


def timed(store: Store, inputs: list[guardrails.GuardrailCheckInput]) -> tuple[list[float], dict[str, int]]:
    times, decisions = [], {"allow": 0, "warn": 0, "block": 0}
    for inp in inputs:
        t0 = time.perf_counter()
        r = guardrails.check(store, inp, NOW)
        times.append((time.perf_counter() - t0) * 1000)
        decisions[r.decision] += 1
    return times, decisions


def main() -> None:
    rng = random.Random(11)
    inputs = commands(rng)
    with tempfile.TemporaryDirectory() as tmp:
        one = Store.open(DataDir.for_project(Path(tmp) / "one"), components())
        fill(one, 1, rng)
        guardrails.check(one, inputs[0], NOW)
        base, _ = timed(one, inputs)
        one.close()

        many = Store.open(DataDir.for_project(Path(tmp) / "many"), components())
        fill(many, RULES, rng)
        t0 = time.perf_counter()
        guardrails.check(many, inputs[0], NOW)  # compiles the 1,000 rules
        cold = (time.perf_counter() - t0) * 1000
        ours, decisions = timed(many, inputs)
        many.close()
    print(f"{RULES} active guardrails, {SAMPLES} checks: decisions {decisions}")
    print(f"1,000 rules p50 {pct(ours, 50):.3f} ms  p95 {pct(ours, 95):.3f} ms; cold (compile) {cold:.1f} ms")
    print(f"1 rule      p50 {pct(base, 50):.3f} ms  p95 {pct(base, 95):.3f} ms")
    result("guardrail_check_1000_p95_ms", pct(ours, 95), None, "ms", "<=5")
    result("guardrail_check_1000_vs_1_rule_p95", pct(ours, 95), pct(base, 95), "ms", "report")
    result("guardrail_check_cold_compile_ms", cold, None, "ms", "report")


if __name__ == "__main__":
    main()
