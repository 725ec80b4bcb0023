"""Shell-aware guardrails on hostile input: `normalise` alone, and `guardrail_check` end to end.

Part 1: `shell.normalise` on the hostile inputs of tests/test_shell.py (1,000 nested `$(`, 5,000
`((`, brace bombs, eval chains, ...; each cut to 10,000 characters) and on a 10,000-character
command; p50/p100 over every sample.

Part 2: `guardrail_check` as the tool runs it (`guardrails.check` on a real store: the patterns
version read, the cached matcher, normalisation, every rule) with the starter guardrails AND the
hostile rules of issue #13 (`(\\w|\\w)*$`, `(a|a)*$`, `((a)*)*$`, which hung the backtracking
engine) active, on the same inputs. Baseline: the same call on `git status`. Target (issue #13):
p100 <= 50 ms on a 10,000-character command. The worst input is named.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.test_shell's inputs
from common import pct, result  # noqa: E402

from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.flywheel.inject import install_starters  # noqa: E402
from factorops.tools.guardrails import check as guardrails  # noqa: E402
from factorops.tools.guardrails.shell import normalise  # noqa: E402
from factorops.tools.patterns import records as patterns  # noqa: E402
from factorops.tools.patterns.model import GuardrailRule, Pattern  # noqa: E402
from factorops.tools.registry import components  # noqa: E402
from tests.test_shell import HOSTILE  # noqa: E402

NOW = datetime(2026, 11, 25, tzinfo=UTC)
RUNS = 5
HOSTILE_RULES = [r"(\w|\w)*$", r"(a|a)*$", r"((a)*)*$", r"(x+x+)+y"]


def inputs() -> dict[str, str]:
    out = {name: text[:10_000] for name, text in HOSTILE.items()}
    long_cmd = "git -c color.ui=never push origin feature && echo 'ok' | tee -a build.log; "
    out["10,000-char command"] = (long_cmd * (10_000 // len(long_cmd) + 1))[:10_000]
    out["10,000 a"] = "a" * 10_000
    out["10,000-char force push"] = ("B=main; " * 1240 + "git push -f origin $B")[-10_000:]
    return out


def times_of(fn: object, texts: dict[str, str]) -> tuple[list[float], str, float]:
    samples: list[float] = []
    worst, worst_ms = "", 0.0
    for name, text in texts.items():
        for _ in range(RUNS):
            t0 = time.perf_counter()
            fn(text)  # type: ignore[operator]
            ms = (time.perf_counter() - t0) * 1000
            samples.append(ms)
            if ms > worst_ms:
                worst, worst_ms = name, ms
    return samples, worst, worst_ms


def main() -> None:
    texts = inputs()
    n_samples, n_worst, n_worst_ms = times_of(normalise, texts)
    print(f"normalise: p50 {pct(n_samples, 50):.2f} ms  p100 {n_worst_ms:.2f} ms ({n_worst})")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        store = Store.open(DataDir.for_project(root), components())
        install_starters(store, NOW)
        with store.index.transaction() as db:
            for i, rx in enumerate(HOSTILE_RULES):
                rule = GuardrailRule(effect="block", command_regex=rx)
                p = Pattern(id=f"pat-hostile{i}", title=f"hostile {i}", kind="guardrail", status="active",
                            rule=rule, created=NOW, updated=NOW)  # fmt: skip
                patterns.upsert(db, p, "0" * 40)

        def call(text: str) -> None:
            guardrails.check(store, guardrails.GuardrailCheckInput(action="run", command=text), NOW)

        call("git status")  # compiles the rules
        base = [0.0] * 0
        for _ in range(50):
            t0 = time.perf_counter()
            call("git status")
            base.append((time.perf_counter() - t0) * 1000)
        g_samples, g_worst, g_worst_ms = times_of(call, texts)
        long_samples, _, long_worst = times_of(call, {"10k": texts["10,000-char command"]})
        store.close()
    print(f"guardrail_check baseline (git status): p50 {pct(base, 50):.2f} ms")
    print(
        f"guardrail_check hostile inputs: p50 {pct(g_samples, 50):.2f} ms  p100 {g_worst_ms:.2f} ms ({g_worst})"
    )
    print(
        f"guardrail_check 10,000-char command: p50 {pct(long_samples, 50):.2f} ms  p100 {long_worst:.2f} ms"
    )
    result("shell_normalise_hostile_p50_ms", pct(n_samples, 50), None, "ms", "report")
    result("shell_normalise_hostile_p100_ms", n_worst_ms, None, "ms", "<=50ms")
    result("guardrail_check_hostile_p50_ms", pct(g_samples, 50), pct(base, 50), "ms", "report")
    result("guardrail_check_hostile_p100_ms", g_worst_ms, pct(base, 50), "ms", "<=50ms")
    result("guardrail_check_10k_command_p100_ms", long_worst, pct(base, 50), "ms", "<=50ms")


if __name__ == "__main__":
    main()
