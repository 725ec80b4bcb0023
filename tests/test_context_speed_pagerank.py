"""The reference graph's PageRank gives the ranks of a plain reference implementation (issue #19).

`personalized_pagerank` keeps each file's edges per index generation (`RefGraph`), walks each edge
once and steps only the files the walk grew from. Those are speed changes: on random graphs, in a
real SQLite index, it must give what a direct implementation gives, written here from the rules in
docs/context.md (a name defined in at most EDGE_DEF_FILES files makes edges; "uses" weighs 1.0,
"used by" 0.3 and only on the first hop; the second hop grows from the HOP2_FROM files most tied to
the seeds; PageRank runs on the seeds and the MAX_NODES most tied files; the whole vector stepped
`iterations` times), with the same reasons, and the same again when the graph is reused by the
next load.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from factorops.store.store import Store
from factorops.tools.context import rank


def _fill(store: Store, rng: random.Random) -> None:
    n_files, n_names = rng.randint(3, 70), rng.randint(3, 90)
    files = [f"pkg/m{i}.py" for i in range(n_files)]
    names = [f"n{i}" for i in range(n_names)]
    syms = {(rng.choice(files), rng.choice(names)) for _ in range(rng.randint(1, 3 * n_files))}
    refs = {(rng.choice(files), rng.choice(names)) for _ in range(rng.randint(1, 8 * n_files))}
    per_name: dict[str, set[str]] = defaultdict(set)
    for path, name in syms:
        per_name[name].add(path)
    with store.index.transaction() as db:
        for table in ("repo_refs", "repo_symbols", "repo_names"):
            db.execute(f"DELETE FROM {table}")
        db.conn.executemany("INSERT INTO repo_refs (path, name) VALUES (?, ?)", sorted(refs))
        db.conn.executemany(
            "INSERT INTO repo_symbols (path, name, kind, line) VALUES (?, ?, 'function', 1)", sorted(syms)
        )
        db.conn.executemany(
            "INSERT INTO repo_names (name, files) VALUES (?, ?)",
            sorted((n, len(p)) for n, p in per_name.items()),
        )


def _reference(
    store: Store, seeds: dict[str, float], alpha: float = 0.85, iterations: int = 14
) -> tuple[dict[str, float], dict[str, str]]:
    db = store.db
    refs: dict[str, set[str]] = defaultdict(set)
    users: dict[str, set[str]] = defaultdict(set)
    for path, name in db.execute("SELECT path, name FROM repo_refs").fetchall():
        refs[path].add(name)
        users[name].add(path)
    defs: dict[str, set[str]] = defaultdict(set)
    definers: dict[str, set[str]] = defaultdict(set)
    for path, name in db.execute("SELECT path, name FROM repo_symbols").fetchall():
        defs[path].add(name)
        definers[name].add(path)
    common = {n for (n,) in db.execute("SELECT name FROM repo_names WHERE files > ?", [rank.EDGE_DEF_FILES])}
    for n in common:
        definers[n] = set()

    def ties(f: str, names: set[str], other: dict[str, set[str]]) -> list[tuple[str, str]]:
        first: dict[str, str] = {}
        for name in sorted(names):  # the least name first
            for g in sorted(other[name] if definers[name] else ()):
                if g != f and g not in first:
                    first[g] = name
        return sorted(first.items())

    why: dict[str, str] = {}
    edges: dict[str, dict[str, float]] = defaultdict(dict)
    seen, weight = set(seeds), {}
    frontier = sorted(seeds)
    for hop in (0, 1):
        reached: dict[str, float] = defaultdict(float)
        for src in frontier:
            for dst, name in ties(src, refs[src], definers):
                edges[src][dst] = edges[src].get(dst, 0.0) + 1.0
                reached[dst] += 1.0
                why.setdefault(dst, f"defines {name} used by {src.rsplit('/', 1)[-1]}")
        if hop == 0:
            for dst in frontier:
                for src, name in ties(dst, defs[dst], users):
                    edges[dst][src] = edges[dst].get(src, 0.0) + 0.3
                    reached[src] += 0.3
                    why.setdefault(src, f"uses {name} of {dst.rsplit('/', 1)[-1]}")
        new = [p for p in reached if p not in seen]
        seen |= set(new)
        weight |= reached
        frontier = sorted(sorted(new, key=lambda p: (-reached[p], p))[: rank.HOP2_FROM])
    keep = set(seeds) | set(
        sorted((p for p in seen if p not in seeds), key=lambda p: (-weight[p], p))[: rank.MAX_NODES]
    )
    nodes = sorted(keep)
    n = len(nodes)
    total = sum(seeds.values())
    personal = {p: seeds.get(p, 0.0) / total for p in nodes}
    out = {s: {d: w for d, w in e.items() if d in keep} for s, e in edges.items() if s in keep}
    vec = {p: 1.0 / n for p in nodes}
    for _ in range(iterations):  # the whole vector, every step; a file with no out-edges restarts
        dangling = sum(v for p, v in vec.items() if p not in out)
        nxt = {p: ((1 - alpha) + alpha * dangling) * personal[p] for p in nodes}
        for s, e in out.items():
            w_sum = sum(e.values())
            for d, w in e.items():
                nxt[d] += alpha * vec[s] * w / w_sum
        vec = nxt
    top = max(vec.values())
    return {p: v / top for p, v in vec.items() if v / top > 0.02}, why


@pytest.mark.parametrize("small", [False, True], ids=["default-bounds", "tight-bounds"])
def test_pagerank_gives_the_reference_ranks_on_random_graphs(
    store: Store, small: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if small:  # the second hop's start and the kept neighbourhood cut the graph
        monkeypatch.setattr(rank, "HOP2_FROM", 3)
        monkeypatch.setattr(rank, "MAX_NODES", 6)
    rng = random.Random(1917 + small)
    for _trial in range(120):
        _fill(store, rng)
        files = sorted(
            {p for (p,) in store.db.execute("SELECT path FROM repo_refs UNION SELECT path FROM repo_symbols")}
        )
        graph = rank.RefGraph()  # one per index generation: reused by the loads of that generation
        for _load in range(3):
            seeds = {
                p: rng.choice([1.0, 0.5, 2.25, 0.1])
                for p in rng.sample(files, rng.randint(1, min(6, len(files))))
            }
            why: dict[str, str] = {}
            got = rank.personalized_pagerank(store.db, seeds, why, graph=graph)
            want, want_why = _reference(store, seeds)
            assert sorted(got) == sorted(want), (seeds, got, want)
            for p, v in want.items():
                assert got[p] == pytest.approx(v, rel=1e-9, abs=1e-12), (p, seeds)
            assert why == want_why
