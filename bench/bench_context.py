"""Context loading benchmarks (issue #4), each against a baseline measured in the same run.

1. Token counting throughput vs raw tiktoken `encode_ordinary_batch` on the same text (>= 0.8x).
2. A generated 10,000-file repository with history: first index time (reported), warm
   `context_load` p50 (<= 300 ms) and its ratio to `git ls-files` on the same repo (<= 3x).
3. On the labelled fixture tasks: tokens loaded vs. the naive "every file the task mentions plus
   grep hits for its words", and recall of both (goal <= 0.5x tokens at equal or better recall).
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
sys.path.insert(0, str(Path(__file__).parent.parent))
from common import pct, result  # noqa: E402

from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.context import load as context  # noqa: E402
from factorops.tools.context.rank import task_terms  # noqa: E402
from factorops.tools.kernel.tokens import count_many, get_encoding  # noqa: E402
from factorops.tools.registry import components  # noqa: E402

FILES = int(os.environ.get("BENCH_REPO_FILES", "10000"))
WORDS = [
    "order",
    "invoice",
    "payment",
    "customer",
    "cart",
    "retry",
    "client",
    "session",
    "token",
    "cache",
    "index",
    "parser",
    "render",
    "config",
    "user",
    "account",
    "report",
    "export",
    "import",
    "queue",
    "worker",
    "schedule",
    "billing",
    "refund",
    "discount",
]


def bench_tokens() -> None:
    text = Path(context.__file__).read_text() * 200
    chunks = [text[i : i + 4000] for i in range(0, len(text), 4000)]
    enc = get_encoding()
    raw, ours = [], []
    for _ in range(5):
        t = time.perf_counter()
        enc.encode_ordinary_batch(chunks, num_threads=2)
        raw.append(time.perf_counter() - t)
        t = time.perf_counter()
        count_many(chunks)
        ours.append(time.perf_counter() - t)
    mb = len(text.encode()) / 1e6
    tput_raw, tput_ours = mb / min(raw), mb / min(ours)
    print(f"token counting: {tput_ours:.1f} MB/s vs raw tiktoken {tput_raw:.1f} MB/s on {mb:.1f} MB")
    result("token_count_throughput", tput_ours, tput_raw, "MB/s", ">=0.8x")


def _module(i: int, rng: random.Random) -> str:
    a, b = rng.sample(WORDS, 2)
    calls = "\n".join(f"    return {rng.choice(WORDS)}_{rng.randrange(FILES)}(x)" for _ in range(1))
    return (
        f'"""Module {i}: {a} and {b} handling."""\n\n'
        f"class {a.title()}{b.title()}{i}:\n    def run(self, x):\n        return x\n\n\n"
        f"def {a}_{i}(x):\n{calls}\n\n\ndef {b}_helper_{i}(y):\n    return y * {i}\n"
    )


def make_repo(root: Path) -> None:
    """FILES Python modules in 100 packages, with 200 commits of history, via git fast-import."""
    rng = random.Random(7)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    out: list[bytes] = []
    ts = 1_700_000_000
    paths = [f"pkg{i % 100:03d}/mod_{i:05d}.py" for i in range(FILES)]
    out.append(b"commit refs/heads/main\n")
    out.append(f"committer Bench <b@x> {ts} +0000\n".encode())
    out.append(b"data 7\ninitial\n")
    for i, p in enumerate(paths):
        body = _module(i, rng).encode()
        out.append(f"M 100644 inline {p}\ndata {len(body)}\n".encode() + body + b"\n")
    for c in range(200):
        ts += 3600
        msg = f"change {c}".encode()
        out.append(b"commit refs/heads/main\n")
        out.append(f"committer Bench <b@x> {ts} +0000\n".encode())
        out.append(f"data {len(msg)}\n".encode() + msg + b"\n")
        for p in rng.sample(paths, 3):
            body = (_module(int(p[-8:-3]), rng) + f"# edit {c}\n").encode()
            out.append(f"M 100644 inline {p}\ndata {len(body)}\n".encode() + body + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(out), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=root, check=True)


def bench_repo() -> None:
    root = Path(tempfile.mkdtemp(prefix="factorops-ctx-")) / "repo"
    t = time.perf_counter()
    make_repo(root)
    print(f"generated {FILES} files with 200 commits in {time.perf_counter() - t:.1f}s")
    store = Store.open(DataDir.for_project(root), components())
    t = time.perf_counter()
    context.ensure_index(store)
    first = time.perf_counter() - t
    print(f"first index of {FILES} files: {first:.1f}s")
    result("first_index_10k_files", first * 1000, None, "ms", "report")
    tasks = [f"fix the {w} handling in {w}_{i}" for i, w in zip(range(0, FILES, 997), WORDS, strict=False)]
    now = datetime.now(UTC)
    times, ls, status = [], [], []
    for _rep in range(3):
        for task in tasks:
            t = time.perf_counter()
            r = context.load(store, context.ContextLoadInput(task=task, budget_tokens=8000), now)
            times.append((time.perf_counter() - t) * 1000)
            assert r.items, task
            t = time.perf_counter()
            subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True)
            ls.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, check=True)
            status.append((time.perf_counter() - t) * 1000)
    print(
        f"warm context_load on {FILES} files: p50 {pct(times, 50):.0f} ms, p95 {pct(times, 95):.0f} ms; "
        f"git ls-files p50 {pct(ls, 50):.0f} ms, git status p50 {pct(status, 50):.0f} ms"
    )
    result("context_load_warm_p50_ms", pct(times, 50), None, "ms", "<=300ms")
    result("context_load_vs_git_ls_files", pct(times, 50), pct(ls, 50), "ms", "<=3x")
    # Seeing edits at all costs a stat of every file: `git status` is the cheapest git command that does.
    result("context_load_vs_git_status", pct(times, 50), pct(status, 50), "ms", "report")
    store.close()


def bench_naive() -> None:
    from tests import context_fixture

    root = Path(tempfile.mkdtemp(prefix="factorops-naive-")) / "shop"
    root.mkdir()
    context_fixture.build(root)
    store = Store.open(DataDir.for_project(root), components())
    now = datetime.now(UTC)
    ours_tokens = naive_tokens = ours_hits = naive_hits = total = 0
    files = [
        p
        for p in subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True).stdout.split()
    ]
    for task, expected in context_fixture.LABELLED.items():
        r = context.load(store, context.ContextLoadInput(task=task, budget_tokens=4000), now)
        got = {i.path for i in r.items}
        ours_tokens += r.tokens
        ours_hits += len(expected & got)
        total += len(expected)
        terms, _ = task_terms(task)
        naive = set()
        for f in files:
            text = (root / f).read_text(errors="replace").lower()
            if f.rsplit("/", 1)[-1].lower() in task.lower() or any(t in text for t in terms):
                naive.add(f)
        naive_tokens += sum(count_many([(root / f).read_text(errors="replace") for f in naive]))
        naive_hits += len(expected & naive)
    print(
        f"labelled tasks: ours {ours_tokens} tokens, recall {ours_hits / total:.2f}; "
        f"naive {naive_tokens} tokens, recall {naive_hits / total:.2f}"
    )
    result("context_tokens_vs_naive", ours_tokens, naive_tokens, "tokens", "<=0.5x at >= recall")
    result("context_recall", ours_hits / total, naive_hits / total, "recall", ">=1x")
    store.close()


if __name__ == "__main__":
    bench_tokens()
    bench_naive()
    bench_repo()
