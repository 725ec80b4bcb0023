"""First index of a real repository (issue #19): the whole build's time, and where it goes.

`python3 bench/bench_first_index.py [N]` builds (or reuses, with BENCH_REPO_DIR) a git repository
of N real Python files (bench_context's: this Python's standard library, then site-packages) and

1. times `ensure_index` on a fresh store (the parent and its worker processes, as `context_load`
   runs it), with the load average before and after;
2. with `--stages`, times each stage of a worker's work on the same files in this one process
   (read, definitions and references, signatures, row derivation, token estimate, pickling; with
   `--tree-sitter` also what the tree-sitter path would cost), then the parent's writes, so a
   change can be aimed at the stage that costs.

Timings on a shared machine are noisy: compare against a baseline measured in the same run.
"""

from __future__ import annotations

import os
import pickle
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from bench_context import real_repo  # noqa: E402

from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.context import build as context_build  # noqa: E402
from factorops.tools.context import files as project_files  # noqa: E402
from factorops.tools.context import index as repo_index  # noqa: E402
from factorops.tools.context import outline as outline_mod  # noqa: E402
from factorops.tools.context import repo_map  # noqa: E402
from factorops.tools.registry import components  # noqa: E402


def _repo(n: int) -> Path:
    given = os.environ.get("BENCH_REPO_DIR")
    if given:
        root = Path(given) / f"repo-{n}"
        if (root / ".git").exists():
            return root
    else:
        root = Path(tempfile.mkdtemp(prefix="factorops-first-")) / f"repo-{n}"
    print("repository:", real_repo(root, n))
    return root


def _fresh_store(root: Path) -> Store:
    data = root / ".agentops"
    if data.exists():
        shutil.rmtree(data)
    return Store.open(DataDir.for_project(root), components())


def whole(root: Path) -> float:
    store = _fresh_store(root)
    reports: list[int] = []
    load = os.getloadavg()[0]
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    t = time.perf_counter()
    context_build.ensure_index(store, progress=lambda done, _t, _m: reports.append(done))
    took = time.perf_counter() - t
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = [a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before, strict=True)]
    n = store.db.execute("SELECT COUNT(*) FROM repo_files").fetchone()[0]
    store.close()
    print(
        f"first index of {n} files: {took:.2f} s with {context_build.WORKERS} workers, "
        f"{len(reports)} progress reports (load {load:.2f} before, {os.getloadavg()[0]:.2f} after); "
        f"CPU: parent {cpu[0]:.2f} s, workers {cpu[1]:.2f} s"
    )
    return took


def stages(root: Path) -> None:
    """Each stage of the work on every file, in this process (so the sums are CPU on one core)."""
    from tree_sitter import QueryCursor

    from factorops.tools.kernel import redact as secrets
    from factorops.tools.kernel.tokens import count_many

    listing = project_files.list_files(root)
    t: dict[str, float] = {}

    def tick(name: str, since: float) -> float:
        now = time.process_time()
        t[name] = t.get(name, 0.0) + now - since
        return now

    texts: list[tuple[str, str]] = []
    t0 = time.process_time()
    read = context_build._reader(root)  # as a worker reads a chunk
    for f in listing.files:
        text = read(f.path)
        if text is not None:
            texts.append((f.path, text))
    tick("read (+ secret check)", t0)
    for path, text in texts:
        s = time.process_time()
        defs, _refs = outline_mod.symbols(path, text)
        s = tick("outline.symbols (definitions and references)", s)
        lines = text.splitlines()
        sigs = [repo_map.signature(lines, line) for _n, _k, line in defs]
        s = tick("signatures (splitlines)", s)
        if sigs:
            secrets.redact("\n".join(sigs))
        s = tick("redaction of signatures", s)
        lang = outline_mod.language_of(path)
        if "--tree-sitter" not in sys.argv or lang is None or lang in outline_mod._PATTERNS:
            continue
        s = time.process_time()
        parsed = outline_mod._parse(lang, text)
        s = tick("(tree-sitter parse)", s)
        if parsed is None:
            continue
        tree, (_l, defs_q, refs_q) = parsed
        outline_mod._tree_defs(tree, defs_q)
        s = tick("(tree-sitter definitions query)", s)
        caps = QueryCursor(refs_q).captures(tree.root_node)
        s = tick("(tree-sitter references captures)", s)
        idents: set[str] = set()
        for nodes in caps.values():
            idents.update((n.text or b"").decode("utf-8", errors="replace") for n in nodes)
        tick("(tree-sitter references to names, Python)", s)
    s = time.process_time()
    syms = [context_build._symbols_of(p, x) for p, x in texts]
    s = tick("= symbols_of as built (symbols, signatures, redaction)", s)
    prepared = [repo_index.prepared(p, x, -1, y) for (p, x), y in zip(texts, syms, strict=True)]
    s = tick("row derivation (prepared)", s)
    [repo_index.estimate_from_size(len(x.encode())) for _p, x in texts]
    s = tick("token estimate from the size (bulk first index)", s)
    count_many([x for _p, x in texts])
    s = tick("(exact o200k count_many, 2 threads: no longer in a bulk first index)", s)
    pickle.dumps(prepared)
    s = tick("pickling the prepared rows (worker -> parent)", s)
    for _p, x in texts:
        secrets.redact(x)
    tick("(redact of whole texts, not in the build)", s)
    mb = sum(len(x) for _p, x in texts) / 1e6
    print(f"stages on {len(texts)} files ({mb:.0f} MB of text), one process, CPU seconds:")
    for name, secs in t.items():
        print(f"  {name:<64} {secs:6.2f} s")
    # The parent's side: the same rows written into a fresh store.
    store = _fresh_store(root)
    entries = {f.path: f for f in listing.files}
    got = {p.path: p for p in prepared}
    todo = [
        (repo_index.Entry(p, entries[p].content_id, entries[p].size, entries[p].mtime), True) for p in got
    ]
    w = time.process_time()

    def ready(chunk: list[tuple[repo_index.Entry, bool]]) -> list[repo_index.Prepared]:
        return [got[e.path] for e, _c in chunk]

    repo_index.refresh(store.db, [e for e, _c in todo], prepare=ready, batch=context_build.CHUNK)
    print(
        f"  {'parent: writes + name indexes (prepared rows given)':<64} {time.process_time() - w:6.2f} s CPU"
    )
    store.close()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    n = int(args[0]) if args else int(os.environ.get("BENCH_REPO_FILES", "10000"))
    root = _repo(n)
    print("code:", repo_index.__file__)
    print(f"load average {os.getloadavg()}")
    if "--stages" in sys.argv:
        stages(root)
    if "--no-whole" not in sys.argv:
        whole(root)
