"""patterns_search at 100,000 patterns: p95 in-process, and the ratio to a raw FTS5 query.

Issue #5 asks for p95 <= 10 ms and <= 2x a raw SQLite FTS5 query for the same terms. The patterns
are inserted straight into SQLite through the real schema (`patterns.upsert`, the same code the
ledger indexer runs) because writing 100,000 ledger commits would only measure git. The baseline
is the cheapest query that answers the same question: the FTS5 table alone, ranked by `rank`,
with the same LIMIT, no join, no filters, no snippets, no token budget.

Speed alone says nothing about whether the search returns what it claims (issue #14: ranking
only a window of the newest matches and dropping common words gave 0.33 at 100,000 patterns), so
the same run also measures **quality**: for every query, the ids the
client receives from `patterns_search` against an exact top-5 computed by `Bm25Reference`, a
plain Python BM25 over *all* records (FTS5's formula: k1 = 1.2, b = 0.75, weighted term frequency
with the same column weights, whole-row length, idf floored at 1e-6), every query word an OR term,
retired patterns excluded, ordered by the key the tool claims (BM25 score - confidence). It reads
the tokens FTS5 itself produced (the `fts5vocab` instance table and the docsize shadow table), so
stemming is the index's own. A check against SQLite's own unwindowed `bm25()` on the first
queries confirms the reference. Reported: mean overlap@5 (target >= 0.95) beside p95, and how
many answers are the work budget's best rather than exact (from 50,000 patterns a search whose
exact way is expected to cost more than its budget returns the best rows it finds within it:
docs/patterns.md, "The work budget").

The fill goes through `patterns.upsert`, so it includes the search's postings upkeep (one
transaction for all rows here; `inserted N patterns in Xs` on stderr is that cost, not a
pattern_record's, which is one transaction and one ledger commit per pattern: bench_ledger.py).
BENCH_PATTERNS (100000) and BENCH_SAMPLES (300) change the sizes.

The fill writes the postings in one pass at its end (`search.deferred`, as a `factorops rebuild`
does), and `BENCH_DB=<folder>` keeps the filled project there: a later run with the same
BENCH_PATTERNS and the same migrations reuses it (the fill of 100,000 patterns is minutes; the
queries are drawn from their own seed, so a reused store gets the same ones).

A serving process holds every row's postings in memory once a search has built them for the
store's current state (`row_postings`; after a write, searches seek in SQLite until the next build
ends). The bench is such a process: its first search starts the build, and the timed searches
begin once it ends (`row postings built in Xs` on stderr, with their size). Each query is also
searched with the arrays off (`seeks`: a search in the seconds after a write, or in a one-shot
CLI process), the two taking turns in the same loop, so both are reported from the same run.

Every query is timed twice: wall time (perf_counter) and the CPU time of the thread that runs it
(`time.thread_time`; SQLite runs in that thread), which other processes on a shared machine
disturb much less. BENCH_TAIL=n prints the n slowest queries by CPU time with each word's rows.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import pct, result  # noqa: E402

from factorops.store.datadir import DataDir  # noqa: E402
from factorops.store.store import Store  # noqa: E402
from factorops.tools.patterns import records as patterns  # noqa: E402
from factorops.tools.patterns import row_postings  # noqa: E402
from factorops.tools.patterns import search as pattern_search  # noqa: E402
from factorops.tools.patterns.model import Evidence, Pattern  # noqa: E402
from factorops.tools.patterns.search import deferred, words  # noqa: E402
from factorops.tools.registry import components  # noqa: E402

N = int(os.environ.get("BENCH_PATTERNS", "100000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "300"))
TAIL = int(os.environ.get("BENCH_TAIL", "0"))
KINDS = ("pattern", "anti-pattern", "guardrail")
STATUSES = ("candidate", "active", "active", "retired")


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)]


_CUM: list[float] = []


def zipf_words(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    """Words drawn by Zipf's law (s = 1), as in prose: the commonest word is ~11% of all words and
    sits in almost every pattern; most words are rare."""
    if len(_CUM) != len(vocab):
        _CUM[:] = list(itertools.accumulate(1 / r for r in range(1, len(vocab) + 1)))
    return rng.choices(vocab, cum_weights=_CUM, k=n)


def populate(store: Store, rng: random.Random, vocab: list[str]) -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    t0 = time.perf_counter()
    with store.index.transaction() as db:
        with deferred(db):
            for i in range(N):
                p = Pattern(
                    id=f"pat-{i:07d}",
                    title=" ".join(zipf_words(rng, vocab, 6)),
                    kind=rng.choice(KINDS),
                    status=rng.choice(STATUSES),
                    problem=" ".join(zipf_words(rng, vocab, 30)),
                    solution=" ".join(zipf_words(rng, vocab, 30)),
                    tags=rng.sample(vocab[:40], 2),
                    scope=[f"src/mod{i % 50}/*.py"],
                    confidence=rng.random(),
                    evidence=Evidence(),
                    created=now,
                    updated=now,
                )
                patterns.upsert(db, p, "0" * 40)
            t1 = time.perf_counter()
        t2 = time.perf_counter()
    t3 = time.perf_counter()
    print(
        f"inserted {N} patterns in {t3 - t0:.1f}s (rows {t1 - t0:.1f}s, postings in one pass "
        f"{t2 - t1:.1f}s, commit {t3 - t2:.1f}s)",
        file=sys.stderr,
    )


WEIGHTS = (5.0, 2.0, 2.0, 3.0, 1.0)  # must equal tools/patterns/search.py's _BM25 column weights
K1, B = 1.2, 0.75
TOP = 5


def _varints(blob: bytes) -> list[int]:
    out, cur, shift = [], 0, 0
    for byte in blob:
        cur |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append(cur)
            cur = shift = 0
    return out


class Bm25Reference:
    """Exact BM25 over every row of patterns_fts, computed in Python from FTS5's own tokens."""

    def __init__(self, store: Store) -> None:
        db = store.db
        self.db = db
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ref_vocab USING fts5vocab(main, patterns_fts, instance)"
        )
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ref_tok USING fts5(x, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ref_tok_v USING fts5vocab(temp, ref_tok, instance)"
        )
        self.length = {
            int(r[0]): sum(_varints(bytes(r[1])))
            for r in db.execute("SELECT id, sz FROM patterns_fts_docsize")
        }
        self.avgdl = sum(self.length.values()) / len(self.length)
        self.n = len(self.length)
        self.live = {
            int(r[0]): float(r[1])
            for r in db.execute("SELECT rowid, confidence FROM patterns WHERE status != 'retired'")
        }
        self._freq: dict[str, dict[int, float]] = {}

    def _stem(self, word: str) -> list[str]:
        self.db.execute("DELETE FROM temp.ref_tok")
        self.db.execute("INSERT INTO temp.ref_tok(x) VALUES (?)", [word])
        return [str(r[0]) for r in self.db.execute("SELECT term FROM temp.ref_tok_v ORDER BY offset")]

    def _weighted_freq(self, term: str) -> dict[int, float]:
        if term not in self._freq:
            freq: dict[int, float] = {}
            for doc, col in self.db.execute("SELECT doc, col FROM temp.ref_vocab WHERE term = ?", [term]):
                freq[int(doc)] = freq.get(int(doc), 0.0) + WEIGHTS[COLUMNS.index(col)]
            self._freq[term] = freq
        return self._freq[term]

    def scores(self, query: str) -> dict[int, float]:
        """rowid -> FTS5-style bm25 (negative; lower is better) for every live row matching a word."""
        out: dict[int, float] = {}
        for word in words(query):
            stems = self._stem(word)
            if len(stems) != 1:
                continue  # a word the tokenizer splits is a phrase; the generated vocabulary has none
            freq = self._weighted_freq(stems[0])
            hits = len(freq)
            idf = math.log((self.n - hits + 0.5) / (hits + 0.5))
            idf = idf if idf > 0 else 1e-6
            for doc, f in freq.items():
                if doc in self.live:
                    d = self.length[doc]
                    out[doc] = out.get(doc, 0.0) - idf * f * (K1 + 1) / (
                        f + K1 * (1 - B + B * d / self.avgdl)
                    )
        return out

    def top(self, query: str, k: int = TOP, with_confidence: bool = True) -> list[int]:
        sc = self.scores(query)
        key = (lambda r: sc[r] - self.live[r]) if with_confidence else (lambda r: sc[r])
        return sorted(sc, key=lambda r: (key(r), r))[:k]


COLUMNS = ("title", "problem", "solution", "tags", "evidence")


def overlap(got: list[int], want: list[int]) -> float:
    return len(set(got) & set(want)) / len(want) if want else 1.0


def _marker() -> dict[str, object]:
    """What a kept store must match to be reused: its size and every migration it was made with."""
    return {"patterns": N, "migrations": [m.id for c in components() for m in c.migrations]}


def open_filled(root: Path, rng: random.Random, vocab: list[str]) -> Store:
    """The filled store in `root`: reused when `root/bench.json` matches, else made anew."""
    marker = root / "bench.json"
    if marker.is_file() and json.loads(marker.read_text()) == _marker():
        print(f"reusing the {N} patterns in {root}", file=sys.stderr)
        return Store.open(DataDir.for_project(root), components())
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    store = Store.open(DataDir.for_project(root), components())
    populate(store, rng, vocab)
    store.db.execute("INSERT INTO patterns_fts(patterns_fts) VALUES ('optimize')")
    marker.write_text(json.dumps(_marker()))
    return store


def _read_whole(store: Store) -> None:
    """Read the store's files once, so the timed queries find them in the OS page cache whatever
    ran before (a run right after a CI run, which had pushed the 522 MB store of 100,000 patterns
    out of the cache, gave CPU p95 17.7 ms against 10.2 ms three minutes later). No query is
    favoured: every page is read, in file order."""
    path = Path(store.db.execute("PRAGMA database_list").fetchone()[2])
    for f in (path, path.with_name(path.name + "-wal")):
        with suppress(OSError), f.open("rb") as stream:
            while stream.read(1 << 20):
                pass


def _timed(run: object) -> tuple[float, float, object]:
    """(wall ms, this thread's CPU ms, result) of `run()`."""
    t0, c0 = time.perf_counter(), time.thread_time()
    out = run()  # type: ignore[operator]
    return (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000, out


def _line(name: str, wall: list[float], cpu: list[float], note: str = "") -> str:
    return (
        f"{name:8s} p50 {pct(wall, 50):.2f} ms  p95 {pct(wall, 95):.2f} ms   "
        f"cpu p50 {pct(cpu, 50):.2f} ms  p95 {pct(cpu, 95):.2f} ms{note}"
    )


def _approximate(store: Store, queries: list[str], now: datetime) -> int:
    """How many of the queries' answers are the work budget's best rather than exact (an untimed
    second pass: each search's `Work` read as it runs)."""
    works: list[pattern_search.Work] = []
    run = pattern_search._Search.run

    def recorded(self: pattern_search._Search) -> list[int]:
        works.append(self.work)
        return run(self)

    pattern_search._Search.run = recorded  # type: ignore[method-assign]
    try:
        for q in queries:
            patterns.search(store, patterns.PatternsSearchInput(query=q), now)
    finally:
        pattern_search._Search.run = run  # type: ignore[method-assign]
    return sum(not w.exact for w in works)


def main() -> None:
    rng = random.Random(5)
    vocab = vocabulary(rng)
    kept = os.environ.get("BENCH_DB")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(kept) if kept else Path(tmp)
        store = open_filled(root, rng, vocab)
        # Queries as an assistant types them: 1-4 words, a mix of common and rare terms.
        qrng = random.Random(6)
        queries = [" ".join(zipf_words(qrng, vocab, qrng.randint(1, 4))) for _ in range(SAMPLES)]
        now = datetime(2026, 11, 25, tzinfo=UTC)
        row_postings.enable()
        t0 = time.perf_counter()
        patterns.search(store, patterns.PatternsSearchInput(query=queries[0]), now)  # starts the build
        held = patterns.row_postings_of(store).wait()
        if held is None:  # as a server would: "held" and "seeks" then do the same work
            print(f"row postings not held: fewer than {row_postings.min_rows()} patterns", file=sys.stderr)
        else:
            print(
                f"row postings built in {time.perf_counter() - t0:.1f}s: {held.rows} rows, "
                f"{len(held.wids)} postings, {held.nbytes / 2**20:.1f} MiB",
                file=sys.stderr,
            )
        _read_whole(store)
        for q in queries[:20]:  # warm SQLite's own cache and the tokenizer for both sides
            patterns.search(store, patterns.PatternsSearchInput(query=q), now)
        ours: list[float] = []
        ours_cpu: list[float] = []
        raw: list[float] = []
        raw_cpu: list[float] = []
        seeks: list[float] = []
        seeks_cpu: list[float] = []
        sizes: list[int] = []
        got_ids: list[list[str]] = []
        for i, q in enumerate(queries):
            inp = patterns.PatternsSearchInput(query=q)
            match = patterns.fts_query(q)
            # the raw query in the middle; the arrays on and off take turns at being first
            for step in ("held", "raw", "seeks") if i % 2 == 0 else ("seeks", "raw", "held"):
                if step == "raw":
                    wall, cpu, _ = _timed(
                        lambda match=match, inp=inp: store.db.execute(
                            "SELECT rowid, title FROM patterns_fts WHERE patterns_fts MATCH ? ORDER BY rank LIMIT ?",
                            [match, inp.limit],
                        ).fetchall()
                    )
                    raw.append(wall)
                    raw_cpu.append(cpu)
                    continue
                row_postings.enable(step == "held")
                wall, cpu, res = _timed(lambda inp=inp: patterns.search(store, inp, now))
                assert isinstance(res, patterns.PatternsSearchResult)
                if step == "seeks":
                    seeks.append(wall)
                    seeks_cpu.append(cpu)
                    continue
                ours.append(wall)
                ours_cpu.append(cpu)
                sizes.append(len(res.model_dump_json()))
                got_ids.append([h.id for h in res.results])
        row_postings.enable()
        filtered: list[float] = []
        filtered_cpu: list[float] = []
        for q in queries[:100]:
            inp = patterns.PatternsSearchInput(query=q, kind="guardrail", tags=[vocab[3]], status="active")
            wall, cpu, _ = _timed(lambda inp=inp: patterns.search(store, inp, now))
            filtered.append(wall)
            filtered_cpu.append(cpu)
        approximate = _approximate(store, queries, now)
        if TAIL:
            rows = {str(t): int(n) for t, n in store.db.execute("SELECT term, rows FROM pattern_words")}
            print(f"the {TAIL} slowest queries by CPU (ms wall/cpu: word(rows)):", file=sys.stderr)
            for i in sorted(range(len(queries)), key=lambda i: -ours_cpu[i])[:TAIL]:
                ws = " ".join(f"{w}({rows.get(w, 0)})" for w in words(queries[i]))
                print(f"  {ours[i]:7.2f} {ours_cpu[i]:7.2f}  {ws}", file=sys.stderr)
        t0 = time.perf_counter()
        ref = Bm25Reference(store)
        rowid = {str(r[0]): int(r[1]) for r in store.db.execute("SELECT id, rowid FROM patterns")}
        got = [[rowid[i] for i in ids] for ids in got_ids]
        # the reference against SQLite's own bm25() without windows or dropped words
        check = 0.0
        for q in queries[:10]:
            match = patterns.fts_query(q)
            sql_top = [
                int(r[0])
                for r in store.db.execute(
                    f"SELECT f.rowid, bm25(patterns_fts, {', '.join(map(str, WEIGHTS))}) - p.confidence AS s "
                    "FROM patterns_fts f JOIN patterns p ON p.rowid = f.rowid "
                    "WHERE patterns_fts MATCH ? AND p.status != 'retired' ORDER BY s, f.rowid LIMIT ?",
                    [match, TOP],
                )
            ]
            check += overlap(ref.top(q), sql_top) / 10
        exact = [overlap(g, ref.top(q)) for g, q in zip(got, queries, strict=True)]
        pure = [overlap(g, ref.top(q, with_confidence=False)) for g, q in zip(got, queries, strict=True)]
        print(
            f"reference BM25 for {len(queries)} queries in {time.perf_counter() - t0:.1f}s", file=sys.stderr
        )
        store.close()
    print(f"patterns: {N}, queries: {len(queries)}, mean response {sum(sizes) / len(sizes):.0f} bytes")
    print(_line("ours", ours, ours_cpu))
    print(_line("seeks", seeks, seeks_cpu, " (the same searches, row postings not held)"))
    print(_line("raw fts5", raw, raw_cpu))
    print(_line("filtered", filtered, filtered_cpu, " (kind+tag+status)"))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"work budget: {approximate} of {len(queries)} answers are the budget's best, the rest exact")
    print(
        f"reference vs SQLite's unwindowed bm25() top-{TOP}: overlap {check:.3f} (1.000 = reference agrees)"
    )
    print(
        f"quality  overlap@{TOP} with exact BM25 - confidence: mean {sum(exact) / len(exact):.3f}, "
        f"queries with full overlap {sum(e == 1.0 for e in exact) / len(exact):.0%}; "
        f"with pure BM25 (no confidence): mean {sum(pure) / len(pure):.3f}"
    )
    result("patterns_search_overlap_at_5", sum(exact) / len(exact), None, "fraction", ">=0.95")
    result("patterns_search_p95_ms", pct(ours, 95), None, "ms", "<=10")
    result("patterns_search_vs_raw_fts5_p95", pct(ours, 95), pct(raw, 95), "ms", "ratio<=2")
    result("patterns_search_filtered_p95_ms", pct(filtered, 95), None, "ms", "<=10")
    result("patterns_search_cpu_p95_ms", pct(ours_cpu, 95), pct(raw_cpu, 95), "ms", "<=10")
    result("patterns_search_seeks_cpu_p95_ms", pct(seeks_cpu, 95), pct(ours_cpu, 95), "ms")


if __name__ == "__main__":
    main()
