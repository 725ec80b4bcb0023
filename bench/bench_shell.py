"""Shell-aware guardrails on hostile input: `normalise` alone, and `guardrail_check` end to end.

Part 1: `shell.normalise` on the hostile inputs of tests/hostile_shell.py (1,000 nested `$(`, 5,000
`((`, brace bombs, eval chains, ...; each cut to 10,000 characters) and on a 10,000-character
command; p50/p100 over every sample.

Part 2: `guardrail_check` as the tool runs it (`guardrails.check` on a real store: the patterns
version read, the cached matcher, normalisation, every rule) with the starter guardrails AND the
hostile rules of issue #13 (`(\\w|\\w)*$`, `(a|a)*$`, `((a)*)*$`, which hung the backtracking
engine) active, on the same inputs. Baseline: the same call on `git status`. Target (issue #13):
p100 <= 50 ms on a 10,000-character command. The worst input is named.

Both wall time and the thread's CPU time are reported: on a shared machine (2 cores, other jobs) wall
time includes waiting for a core, CPU time is the work the check itself does. `normalise` works
within fixed, deterministic budgets (tools/guardrails/shell.py: syntax nodes walked, tree-sitter
operations and lexer reads, commands found), so the work is bounded whatever the load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # hostile_shell.py: plain data
from common import pct, result  # noqa: E402
from hostile_shell import HOSTILE  # noqa: E402

from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.flywheel.inject import install_starters  # noqa: E402
from factorops.tools.guardrails import check as guardrails  # noqa: E402
from factorops.tools.guardrails.shell import normalise  # noqa: E402
from factorops.tools.kernel import heap  # noqa: E402
from factorops.tools.patterns import records as patterns  # noqa: E402
from factorops.tools.patterns.model import GuardrailRule, Pattern  # noqa: E402
from factorops.tools.registry import components  # noqa: E402

NOW = datetime(2026, 11, 25, tzinfo=UTC)
RUNS = 5
HOSTILE_RULES = [r"(\w|\w)*$", r"(a|a)*$", r"((a)*)*$", r"(x+x+)+y"]


def inputs() -> dict[str, str]:
    out = {name: text[:10_000] for name, text in HOSTILE.items()}
    long_cmd = "git -c color.ui=never push origin feature && echo 'ok' | tee -a build.log; "
    out["10,000-char command"] = (long_cmd * (10_000 // len(long_cmd) + 1))[:10_000]
    out["10,000 a"] = "a" * 10_000
    out["10,000-char force push"] = ("B=main; " * 1240 + "git push -f origin $B")[-10_000:]
    out["2,400-stage pipeline with a force push"] = "a | " * 2400 + "git push -f origin main"
    return out


class Times:
    """Wall and CPU milliseconds of every sample, and the worst input by each."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.worst_wall = ("", 0.0)
        self.worst_cpu = ("", 0.0)

    def line(self, label: str) -> str:
        w, c = self.wall, self.cpu
        return (
            f"{label}: wall p50 {pct(w, 50):.2f} p95 {pct(w, 95):.2f} p100 {max(w):.2f} ms"
            f" ({self.worst_wall[0]}); cpu p50 {pct(c, 50):.2f} p95 {pct(c, 95):.2f}"
            f" p100 {max(c):.2f} ms ({self.worst_cpu[0]})"
        )


def times_of(fn: object, texts: dict[str, str]) -> Times:
    t = Times()
    for name, text in texts.items():
        for _ in range(RUNS):
            t0, c0 = time.perf_counter(), time.thread_time()
            fn(text)  # type: ignore[operator]
            ms, cpu = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
            t.wall.append(ms)
            t.cpu.append(cpu)
            if ms > t.worst_wall[1]:
                t.worst_wall = (name, ms)
            if cpu > t.worst_cpu[1]:
                t.worst_cpu = (name, cpu)
    return t


def main() -> None:
    print("target (issue #13): guardrail_check p100 <= 50 ms on hostile 10,000-character commands")
    print("load:", os.getloadavg())
    texts = inputs()
    n = times_of(normalise, texts)
    print(n.line("normalise, hostile inputs"))

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
        heap.settle()  # as the server does once its store is open (server/mcp/runtime.py)
        base = [0.0] * 0
        for _ in range(50):
            t0 = time.perf_counter()
            call("git status")
            base.append((time.perf_counter() - t0) * 1000)
        g = times_of(call, texts)
        long = times_of(call, {"10k": texts["10,000-char command"]})
        store.close()
    print(f"guardrail_check baseline (git status): p50 {pct(base, 50):.2f} ms")
    print(g.line("guardrail_check, hostile inputs, hostile rules active"))
    print(long.line("guardrail_check, 10,000-char command"))
    result("shell_normalise_hostile_p50_ms", pct(n.wall, 50), None, "ms", "report")
    result("shell_normalise_hostile_p100_ms", max(n.wall), None, "ms", "report")
    result("guardrail_check_hostile_p50_ms", pct(g.wall, 50), pct(base, 50), "ms", "report")
    result("guardrail_check_hostile_p95_ms", pct(g.wall, 95), pct(base, 50), "ms", "report")
    result("guardrail_check_hostile_p100_ms", max(g.wall), pct(base, 50), "ms", "<=50ms")
    result("guardrail_check_hostile_cpu_p100_ms", max(g.cpu), None, "ms", "<=50ms")
    result("guardrail_check_10k_command_p100_ms", max(long.wall), pct(base, 50), "ms", "<=50ms")


if __name__ == "__main__":
    main()
