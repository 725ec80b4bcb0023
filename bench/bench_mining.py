"""Mining a 10,000-commit history: time, progress, and the incremental runs after it.

Issue #5 asks to report the time, show progress and be incremental. The history is generated with
`git fast-import` (seconds, not minutes): 10,000 commits over 400 files with Conventional Commit
subjects, bursts of fixes on one file, files that change together, and reverts. The baseline is
`git log --name-only` of the same history, the read that mining cannot avoid.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import result  # noqa: E402

from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.patterns import mining as pattern_mining  # noqa: E402
from factorops.tools.registry import components  # noqa: E402

COMMITS = int(os.environ.get("BENCH_COMMITS", "10000"))
FILES = 400


def generate(repo: Path, n: int, start: int = 0, parent: str | None = None) -> None:
    rng = random.Random(start + 11)
    out: list[bytes] = []
    t0 = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) + start * 600
    marks: dict[int, int] = {}
    for i in range(start, start + n):
        kind = rng.random()
        if kind < 0.05:  # a burst of fixes on one file
            files = [f"src/pkg{i % 7}/parser.py"]
            subject = f"fix(parser): edge case {i}"
        elif kind < 0.25:  # two files that belong together
            k = rng.randrange(20)
            files = [f"api/schema{k}.py", f"api/client{k}.py"]
            subject = f"feat(api): change {i}"
        elif kind < 0.27 and i > start:
            files = [f"src/mod{rng.randrange(FILES)}.py"]
            subject = f'Revert "feat: risky change {i - 1}"'
        else:
            files = [f"src/mod{min(FILES - 1, int(rng.paretovariate(1.2)) - 1)}.py"]
            if rng.random() < 0.3:
                files.append(f"tests/test_mod{rng.randrange(FILES)}.py")
            subject = f"{rng.choice(['feat', 'chore', 'refactor', 'docs', 'fix'])}: step {i}"
        body = f"This reverts commit {'a' * 40}.\n" if subject.startswith("Revert") else ""
        msg = f"{subject}\n\n{body}".encode()
        when = t0 + (i - start) * 600
        out.append(f"commit refs/heads/main\nmark :{i + 1}\n".encode())
        out.append(f"committer Bench <bench@example.com> {when} +0000\n".encode())
        out.append(f"data {len(msg)}\n".encode() + msg)
        if i == start and parent:
            out.append(f"from {parent}\n".encode())
        for f in files:
            data = f"# {f} at {i}\n".encode()
            out.append(f"M 100644 inline {f}\ndata {len(data)}\n".encode() + data + b"\n")
        marks[i] = i + 1
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(out), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
        t0 = time.perf_counter()
        generate(repo, COMMITS)
        print(f"generated {COMMITS} commits in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        t0 = time.perf_counter()
        subprocess.run(
            ["git", "log", "--no-merges", "--name-only", "--format=%H %s %at %b"],
            cwd=repo,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        git_log = time.perf_counter() - t0

        store = Store.open(DataDir.for_project(repo), components())
        now = datetime(2026, 11, 25, tzinfo=UTC)
        ticks: list[tuple[float, float, str]] = []

        def progress(done: float, total: float, message: str) -> None:
            ticks.append((done, total, message))
            sys.stderr.write(f"\r  {done:>7.0f}/{total:.0f} {message:<40}")

        inp = pattern_mining.PatternsMineInput(sources=["git"])
        t0 = time.perf_counter()
        first = pattern_mining.mine(store, inp, now, progress)
        full = time.perf_counter() - t0
        sys.stderr.write("\n")
        kinds: dict[str, int] = {}
        for c in first.candidates:
            source = c.title.split(":")[0] if ":" in c.title else c.title.split(" ")[0]
            kinds[source] = kinds.get(source, 0) + 1

        t0 = time.perf_counter()
        noop = pattern_mining.mine(store, inp, now)
        noop_s = time.perf_counter() - t0

        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
        generate(repo, 100, start=COMMITS, parent=head.strip())
        t0 = time.perf_counter()
        inc = pattern_mining.mine(store, inp, now, progress)
        inc_s = time.perf_counter() - t0
        sys.stderr.write("\n")
        store.close()

    monotonic = all(a[0] <= b[0] for a, b in zip(ticks, ticks[1:], strict=False) if a[1] == b[1])
    print(f"full run: {first.commits_read} commits, {len(first.candidates)} candidates in {full:.2f}s")
    print(f"  candidates by finding: {dict(sorted(kinds.items()))}")
    print(f"  progress reports: {len(ticks)} (monotonic within a run: {monotonic})")
    print(f"  git log --name-only alone: {git_log:.2f}s")
    print(f"no-op run: {noop.commits_read} commits in {noop_s * 1000:.0f} ms")
    print(f"incremental: {inc.commits_read} new commits, {len(inc.candidates)} candidates in {inc_s:.2f}s")
    result("mine_10k_commits_s", full, git_log, "s", "report; ratio = vs git log alone")
    result("mine_noop_ms", noop_s * 1000, None, "ms", "report")
    result("mine_incremental_100_s", inc_s, full, "s", "ratio << 1")


if __name__ == "__main__":
    main()
