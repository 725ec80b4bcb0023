"""Ranking the project's files for a task: which few files would a person open first?

Signals, each explainable in the manifest's `why`:
- full-text relevance (SQLite FTS5 BM25 over path, defined symbols and body, path weighted most);
- symbol definitions: a file that defines an identifier the task names;
- the reference graph, aider-style: a personalized PageRank seeded by the files above, the explicit
  paths and the session's files, walking "references a symbol defined in" edges both ways, so the
  definitions a relevant file leans on (and its close callers) rise too;
- files that change together with the explicit paths in git history;
- files touched in the current session's checkpoints.
The graph is built only around the seeds (two hops), so a warm ranking stays fast on big repos.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .index import split_identifier

if TYPE_CHECKING:
    from factorops.store.db import Database

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "add",
        "fix",
        "make",
        "use",
        "new",
        "get",
        "set",
        "when",
        "where",
        "which",
        "should",
        "would",
        "could",
        "can",
        "does",
        "not",
        "all",
        "any",
        "some",
        "more",
        "most",
        "other",
        "than",
        "then",
        "also",
        "just",
        "only",
        "each",
        "file",
        "files",
        "code",
        "function",
        "functions",
        "method",
        "class",
        "test",
        "tests",
        "bug",
        "issue",
        "please",
        "need",
        "needs",
        "want",
        "implement",
        "update",
        "change",
        "support",
    ]
)

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+[A-Za-z]\w*")
_PATHISH = re.compile(r"[\w./-]+\.[A-Za-z0-9]{1,5}\b")

W_FTS = 1.0
W_DEF = 1.2
W_GRAPH = 0.8
W_COCHANGE = 0.6
W_SESSION = 0.7
W_MENTION = 2.0
W_NAME = 1.0


@dataclass
class Ranked:
    path: str
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def add(self, amount: float, reason: str) -> None:
        self.score += amount
        if reason and reason not in self.reasons:
            self.reasons.append(reason)


def task_terms(task: str) -> tuple[list[str], list[str]]:
    """(search terms, identifiers as written) from free text."""
    idents: list[str] = []
    terms: list[str] = []
    for word in _WORD.findall(task):
        low = word.lower()
        if low in STOPWORDS or len(word) < 3:
            continue
        if "_" in word or any(c.isupper() for c in word[1:]):
            idents.append(word)
        terms.append(low)
        terms.extend(p for p in split_identifier(word) if len(p) >= 3 and p not in STOPWORDS)
    return list(dict.fromkeys(terms)), list(dict.fromkeys(idents))


def mentioned_paths(task: str, known: set[str]) -> list[str]:
    """Paths or file names written in the task text that exist in the index."""
    out = []
    by_name: dict[str, list[str]] = defaultdict(list)
    for p in known:
        by_name[p.rsplit("/", 1)[-1]].append(p)
    for m in _PATHISH.findall(task):
        m = m.strip("./")
        if m in known:
            out.append(m)
        elif m in by_name and len(by_name[m]) <= 3:
            out.extend(by_name[m])
    return list(dict.fromkeys(out))


def fts_query(terms: list[str]) -> str:
    """An FTS5 query that cannot be a syntax error: every term quoted, OR-ed."""
    safe = [t.replace('"', "") for t in terms if t.replace('"', "")]
    return " OR ".join(f'"{t}"' for t in safe[:40])


def rank(
    db: Database,
    task: str,
    explicit: list[str],
    session_files: list[str],
    cochange: dict[str, float],
    limit: int = 60,
) -> list[Ranked]:
    terms, idents = task_terms(task)
    ranked: dict[str, Ranked] = {}

    def get(path: str) -> Ranked:
        r = ranked.get(path)
        if r is None:
            r = ranked[path] = Ranked(path)
        return r

    known = {r[0] for r in db.execute("SELECT path FROM repo_files").fetchall()}
    for p in mentioned_paths(task, known):
        get(p).add(W_MENTION, "named in the task")

    if terms:
        rows = db.execute(
            """SELECT f.path, bm25(repo_fts, 8.0, 4.0, 1.0) AS s FROM repo_fts
               JOIN repo_files f ON f.rowid = repo_fts.rowid
               WHERE repo_fts MATCH ? ORDER BY s LIMIT 80""",
            [fts_query(terms)],
        ).fetchall()
        if rows:
            best = rows[0][1] or -1.0
            for path, s in rows:
                matched = _matched_terms(db, path, terms)
                get(path).add(
                    W_FTS * (s / best if best else 0), f"matches {', '.join(matched[:4])}" if matched else ""
                )

    # A file named after a word of the task (fraud.py for "fraud scoring") is where a person looks.
    for path in _named_like(db, [t for t in terms if len(t) >= 4]):
        get(path).add(W_NAME, "named after a task word")

    if idents:
        marks = ",".join("?" * len(idents))
        for path, name in db.execute(
            f"SELECT DISTINCT path, name FROM repo_symbols WHERE name IN ({marks}) COLLATE NOCASE", idents
        ).fetchall():
            get(path).add(W_DEF, f"defines {name}")

    for p in session_files:
        if p in known:
            get(p).add(W_SESSION, "touched in this session")
    top_cochange = max(cochange.values(), default=0.0)
    for p, s in cochange.items():
        if p in known and top_cochange:
            get(p).add(W_COCHANGE * s / top_cochange, "changes together with the given paths")

    _boost_used_matches(db, ranked, explicit)

    seeds = {p: 1.0 for p in explicit if p in known}
    for r in sorted(ranked.values(), key=lambda r: -r.score)[:15]:
        seeds[r.path] = seeds.get(r.path, 0.0) + r.score
    for path, pr in personalized_pagerank(db, seeds).items():
        if path in seeds and path not in ranked:
            continue
        note = "related by references to the top files" if path not in seeds else ""
        get(path).add(W_GRAPH * pr, note)

    for p in explicit:
        ranked.pop(p, None)
    wants = set(terms)
    for r in ranked.values():
        r.score *= _prior(r.path, wants)
    _pair_tests(ranked, known, explicit)
    out = sorted(ranked.values(), key=lambda r: (-r.score, r.path))
    return [r for r in out if r.score > 0.05][:limit]


_SECONDARY = (
    (
        re.compile(r"(^|/)(tests?|spec|__tests__)/|(^|/)test_[^/]*$|_test\.\w+$|\.spec\.\w+$"),
        {"test", "tests", "testing", "spec"},
    ),
    (re.compile(r"(^|/)(bench|benchmarks?)/"), {"bench", "benchmark", "performance", "perf"}),
    (re.compile(r"(^|/)docs?/|\.(md|rst|txt)$"), {"doc", "docs", "documentation", "readme", "guide"}),
    (re.compile(r"(^|/)(examples?|fixtures?)/"), {"example", "examples", "fixture"}),
)


def _prior(path: str, task_terms: set[str]) -> float:
    """Tests, benchmarks, docs and examples rank below the code itself unless the task asks for them."""
    for rx, words in _SECONDARY:
        if rx.search(path):
            return 1.0 if task_terms & words else 0.6
    return 1.0


def _named_like(db: Database, words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words[:20]:
        rows = db.execute(
            """SELECT f.path FROM repo_fts JOIN repo_files f ON f.rowid = repo_fts.rowid
               WHERE repo_fts MATCH ? LIMIT 50""",
            [f'path : "{word.replace(chr(34), "")}"'],
        ).fetchall()
        for (path,) in rows:
            stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
            if word == stem.lower() or word in split_identifier(stem):
                out.append(path)
    return list(dict.fromkeys(out))


def _boost_used_matches(db: Database, ranked: dict[str, Ranked], explicit: list[str]) -> None:
    """A file the best matches depend on, and that itself matches the task, is likely part of it."""
    heads = [(p, 1.0) for p in explicit]
    heads += [(r.path, r.score) for r in sorted(ranked.values(), key=lambda r: -r.score)[:3]]
    for head, score in heads:
        for (dep,) in db.execute(
            """SELECT DISTINCT s.path FROM repo_refs r JOIN repo_symbols s ON s.name = r.name
               WHERE r.path = ? AND s.path != r.path LIMIT 200""",
            [head],
        ).fetchall():
            r = ranked.get(dep)
            if r is not None and any(x.startswith("matches") for x in r.reasons):
                r.add(0.5 * score, f"used by {head}")


def _pair_tests(ranked: dict[str, Ranked], known: set[str], explicit: list[str]) -> None:
    """The test file of a top-ranked file is usually opened with it (to add the regression test)."""
    top = sorted(ranked.values(), key=lambda r: -r.score)[:2]
    heads = [(p, None) for p in explicit] + [(r.path, r) for r in top]
    for path, r in heads:
        if _prior(path, set()) < 1.0:
            continue
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        for cand in known:
            name = cand.rsplit("/", 1)[-1]
            if cand != path and name.rsplit(".", 1)[0] in (
                f"test_{stem}",
                f"{stem}_test",
                f"{stem}.test",
                f"{stem}.spec",
            ):
                base = r.score if r is not None else max((x.score for x in ranked.values()), default=1.0)
                target = ranked.get(cand) or ranked.setdefault(cand, Ranked(cand))
                target.add(0.45 * base, f"tests for {path}")


def _matched_terms(db: Database, path: str, terms: list[str]) -> list[str]:
    low = path.lower()
    hits = [t for t in terms if t in low]
    if len(hits) < 3:
        row = db.execute(
            "SELECT symbols FROM repo_fts WHERE rowid = (SELECT rowid FROM repo_files WHERE path = ?)", [path]
        ).fetchone()
        syms = (row[0] if row else "").lower().split()
        hits += [t for t in terms if t in syms and t not in hits]
    return hits


def personalized_pagerank(
    db: Database, seeds: dict[str, float], alpha: float = 0.85, iterations: int = 20
) -> dict[str, float]:
    """PageRank with restarts to `seeds`, on the reference graph around them (two hops)."""
    if not seeds:
        return {}
    edges: dict[str, dict[str, float]] = defaultdict(dict)
    frontier = set(seeds)
    seen = set(frontier)
    for _hop in range(2):
        if not frontier:
            break
        nxt: set[str] = set()
        chunk = list(frontier)
        for i in range(0, len(chunk), 200):
            part = chunk[i : i + 200]
            marks = ",".join("?" * len(part))
            # uses: a file -> files defining what it references (strong)
            for src, dst in db.execute(
                f"""SELECT DISTINCT r.path, s.path FROM repo_refs r JOIN repo_symbols s ON s.name = r.name
                    WHERE r.path IN ({marks}) AND s.path != r.path LIMIT 5000""",
                part,
            ).fetchall():
                edges[src][dst] = edges[src].get(dst, 0.0) + 1.0
                nxt.add(dst)
            # used by: a file -> files referencing what it defines (weaker)
            for dst, src in db.execute(
                f"""SELECT DISTINCT s.path, r.path FROM repo_symbols s JOIN repo_refs r ON r.name = s.name
                    WHERE s.path IN ({marks}) AND s.path != r.path LIMIT 5000""",
                part,
            ).fetchall():
                edges[dst][src] = edges[dst].get(src, 0.0) + 0.3
                nxt.add(src)
        frontier = nxt - seen
        seen |= nxt
    total = sum(seeds.values())
    personal = {p: v / total for p, v in seeds.items()}
    nodes = seen
    rank_ = dict.fromkeys(nodes, 1.0 / len(nodes))
    out_weight = {n: sum(e.values()) for n, e in edges.items()}
    for _ in range(iterations):
        nxt_rank = {n: (1 - alpha) * personal.get(n, 0.0) for n in nodes}
        dangling = sum(rank_[n] for n in nodes if not out_weight.get(n))
        for n in nodes:
            nxt_rank[n] += alpha * dangling * personal.get(n, 0.0)
        for src, targets in edges.items():
            w = out_weight[src]
            share = alpha * rank_.get(src, 0.0) / w
            for dst, ew in targets.items():
                nxt_rank[dst] += share * ew
        rank_ = nxt_rank
    top = max(rank_.values(), default=0.0)
    return {n: v / top for n, v in rank_.items() if top and v / top > 0.02}
