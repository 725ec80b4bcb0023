"""Cost of one client hook: `factorops hook claude-code` answering a PreToolUse event.

A hook runs before every tool call the assistant makes, as a fresh process, so its start-up is the
price. Baseline: `python -c "import json, re, sqlite3"` (the least a Python hook that reads JSON and
an SQLite file can import), measured interleaved in the same run. Target (issue #16): median <= 5x.

The project is a real one (`factorops init`, starter guardrails active); the event is a force-push,
which the starter guardrail denies, so the whole path runs: parse, person-only check, breaker,
guardrail match, answer.

    python3 bench/bench_hooks.py        (from the repository root, after `pip install -e .`)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median, pct, result  # noqa: E402

RUNS = 21


def factorops() -> list[str]:
    script = Path(sys.executable).parent / "factorops"
    return [str(script)] if script.is_file() else [shutil.which("factorops") or "factorops"]


def timed(argv: list[str], stdin: bytes, cwd: Path) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, input=stdin, capture_output=True, cwd=cwd, check=True)
    return time.perf_counter() - t0, proc.stdout


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
        subprocess.run([*factorops(), "init", "--project", str(root)], check=True, capture_output=True)
        event = {
            "session_id": "bench",
            "transcript_path": str(root / "transcript.jsonl"),
            "cwd": str(root),
            "permission_mode": "default",
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": "git push --force origin main", "description": "push"},
            "tool_use_id": "toolu_bench",
        }
        stdin = json.dumps(event).encode()
        hook = [*factorops(), "hook", "claude-code"]
        base = [sys.executable, "-c", "import json, re, sqlite3"]
        _, out = timed(hook, stdin, root)  # warm the file cache; first run also migrates
        answer = json.loads(out)
        assert answer["hookSpecificOutput"]["permissionDecision"] == "deny", answer
        timed(base, b"", root)
        hooks: list[float] = []
        bases: list[float] = []
        for _ in range(RUNS):
            hooks.append(timed(hook, stdin, root)[0])
            bases.append(timed(base, b"", root)[0])
    h50, b50 = median(hooks), median(bases)
    print(f"factorops hook PreToolUse: p50 {h50 * 1000:.0f} ms, p95 {pct(hooks, 95) * 1000:.0f} ms")
    print(
        f"python -c 'import json, re, sqlite3': p50 {b50 * 1000:.0f} ms, p95 {pct(bases, 95) * 1000:.0f} ms"
    )
    ratios = sorted(h / b for h, b in zip(hooks, bases, strict=True))
    print(f"per-pair ratio: p50 {median(ratios):.2f}x, p95 {pct(ratios, 95):.2f}x")
    result("hook_pretooluse_p50", h50 * 1000, b50 * 1000, "ms", "<=5x")
    result("hook_pretooluse_p95", pct(hooks, 95) * 1000, pct(bases, 95) * 1000, "ms", "report")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
