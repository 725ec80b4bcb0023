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
from collections.abc import Callable
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
W_NAMED_DEF = 2.5  # a task word that is the name of a definition in few files (`echo`)
RARE_DEF = 4  # at most this many files define it, else the word is too common to point anywhere
EDGE_DEF_FILES = 8  # a name defined in more files makes no edge in the reference graph (IDF)
HOP2_FROM = 40  # files of the first hop the graph grows from again
MAX_NODES = 400  # files of the neighbourhood PageRank runs on, besides the seeds


@dataclass
class Ranked:
    path: str
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def add(self, amount: float, reason: str) -> None:
        self.score += amount
        if reason and reason not in self.reasons:
            self.reasons.append(reason)

    @property
    def why(self) -> str:
        """The two strongest reasons, short: the manifest is context the assistant pays for."""
        return "; ".join(self.reasons[:2]) or "related"


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


def defined_terms(db: Database, terms: list[str]) -> set[str]:
    """Task words (lower-case) that are the exact name of a definition in at most RARE_DEF files."""
    words = [t for t in terms if len(t) >= 3][:40]
    if not words:
        return set()
    marks = ",".join("?" * len(words))
    rows = db.execute(
        f"""SELECT lower(name), COUNT(DISTINCT path) FROM repo_symbols
            WHERE name IN ({marks}) COLLATE NOCASE AND kind != 'heading' GROUP BY lower(name)""",
        words,
    ).fetchall()
    return {name for name, n in rows if n <= RARE_DEF}


def fts_query(terms: list[str]) -> str:
    """An FTS5 query that cannot be a syntax error: every term quoted, OR-ed."""
    safe = [t.replace('"', "") for t in terms if t.replace('"', "")]
    return " OR ".join(f'"{t}"' for t in safe[:40])


def rank(
    db: Database,
    task: str,
    explicit: list[str],
    session_files: list[str],
    cochange_of: Callable[[list[str]], dict[str, float]],
    limit: int = 300,
    known: set[str] | None = None,
) -> list[Ranked]:
    terms, idents = task_terms(task)
    ranked: dict[str, Ranked] = {}

    def get(path: str) -> Ranked:
        r = ranked.get(path)
        if r is None:
            r = ranked[path] = Ranked(path)
        return r

    if known is None:
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
            for n, (path, s) in enumerate(rows):
                matched = _matched_terms(db, path, terms)
                if matched:
                    why = f"matches {', '.join(matched[:3])}"
                else:  # only the text matched: say which words (for the best rows; reading is not free)
                    said = _mentioned_terms(db, path, terms) if n < 12 else []
                    why = f"mentions {', '.join(said[:3])}" if said else ""
                get(path).add(W_FTS * (s / best if best else 0), why)

    # A file named after a word of the task (fraud.py for "fraud scoring") is where a person looks.
    for path, word in _named_like(db, [t for t in terms if len(t) >= 4]):
        get(path).add(W_NAME, f"named after '{word}'")

    # Identifiers the task names, written as code (`retry_request`) or as a plain word that is the
    # name of a definition in few files (`echo`): the file defining it is where the change goes.
    named = [i for i in idents] + sorted(defined_terms(db, terms) - {i.lower() for i in idents})
    if named:
        marks = ",".join("?" * len(named))
        rows = db.execute(
            f"""SELECT path, name, kind FROM repo_symbols WHERE name IN ({marks}) COLLATE NOCASE
                AND kind != 'heading' ORDER BY line""",
            named,
        ).fetchall()
        per_name: dict[str, set[str]] = defaultdict(set)
        for path, name, _kind in rows:
            per_name[name.lower()].add(path)
        for path, name, kind in rows:
            spread = len(per_name[name.lower()])
            top_level = kind not in ("method", "heading")
            weight = (W_NAMED_DEF if top_level else W_DEF) / max(1.0, spread**0.5)
            r = get(path)
            if f"defines {name}" not in r.reasons:
                r.add(weight, f"defines {name}")

    for p in session_files:
        if p in known:
            get(p).add(W_SESSION, "touched in this session")
    # Co-change in git history, with the given paths, or else with the best match so far.
    anchor = explicit or [r.path for r in sorted(ranked.values(), key=lambda r: -r.score)[:1]]
    cochange = cochange_of(anchor) if anchor else {}
    top_cochange = max(cochange.values(), default=0.0)
    weight = W_COCHANGE if explicit else W_COCHANGE / 2
    label = anchor[0] if len(anchor) == 1 else "the given paths"
    for p, s in cochange.items():
        if p in known and top_cochange and p not in anchor:
            get(p).add(weight * s / top_cochange, f"changes with {label}")

    _boost_used_matches(db, ranked, explicit)

    seeds = {p: 1.0 for p in explicit if p in known}
    for r in sorted(ranked.values(), key=lambda r: -r.score)[:15]:
        seeds[r.path] = seeds.get(r.path, 0.0) + r.score
    edges_why: dict[str, str] = {}
    for path, pr in personalized_pagerank(db, seeds, edges_why).items():
        if path in seeds and path not in ranked:
            continue
        get(path).add(W_GRAPH * pr, edges_why.get(path, "") if path not in seeds else "")

    for p in explicit:
        ranked.pop(p, None)
    wants = set(terms)
    for r in ranked.values():
        r.score *= _prior(r.path, wants)
    _pair_tests(ranked, known, explicit)
    out = sorted(ranked.values(), key=lambda r: (-r.score, r.path))
    return [r for r in out if r.score > 0.01][:limit]


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


def _named_like(db: Database, words: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for word in words[:20]:
        rows = db.execute(
            """SELECT f.path FROM repo_fts JOIN repo_files f ON f.rowid = repo_fts.rowid
               WHERE repo_fts MATCH ? LIMIT 50""",
            [f'path : "{word.replace(chr(34), "")}"'],
        ).fetchall()
        for (path,) in rows:
            stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
            if word == stem.lower() or word in split_identifier(stem):
                out.append((path, word))
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
                r.add(0.5 * score, f"used by {head.rsplit('/', 1)[-1]}")


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
                target.add(0.45 * base, f"tests {path.rsplit('/', 1)[-1]}")


def _mentioned_terms(db: Database, path: str, terms: list[str]) -> list[str]:
    row = db.execute(
        "SELECT body FROM repo_fts WHERE rowid = (SELECT rowid FROM repo_files WHERE path = ?)", [path]
    ).fetchone()
    words = set(re.findall(r"[a-z0-9]+", (row[0] if row else "").lower()))
    return [t for t in terms if t in words]


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
    db: Database,
    seeds: dict[str, float],
    why: dict[str, str] | None = None,
    alpha: float = 0.85,
    iterations: int = 14,
) -> dict[str, float]:
    """PageRank with restarts to `seeds`, on the reference graph around them (two hops).

    `why`, when given, receives for each file one edge to a seed that brought it in, as a reason
    ("defines X used by a.py", "uses X of a.py")."""
    if not seeds:
        return {}
    edges: dict[str, dict[str, float]] = defaultdict(dict)
    frontier = set(seeds)
    seen = set(frontier)
    weight: dict[str, float] = defaultdict(float)
    for hop in range(2):
        if not frontier:
            break
        reached: dict[str, float] = defaultdict(float)
        chunk = sorted(frontier)
        for i in range(0, len(chunk), 200):
            part = chunk[i : i + 200]
            marks = ",".join("?" * len(part))
            # uses: a file -> files defining what it references (strong). Only names defined in
            # few files make edges (CROSS JOIN keeps SQLite on that order: refs, their name's
            # count, its definitions), so a bare `get` defined everywhere joins nothing.
            for src, dst, name in db.execute(
                f"""SELECT r.path, s.path, MIN(s.name) FROM repo_refs r
                    CROSS JOIN repo_names n ON n.name = r.name AND n.files <= ?
                    CROSS JOIN repo_symbols s ON s.name = r.name
                    WHERE r.path IN ({marks}) AND s.path != r.path GROUP BY r.path, s.path""",
                [EDGE_DEF_FILES, *part],
            ).fetchall():
                edges[src][dst] = edges[src].get(dst, 0.0) + 1.0
                reached[dst] += 1.0
                if why is not None and dst not in why:
                    why[dst] = f"defines {name} used by {src.rsplit('/', 1)[-1]}"
            if hop:  # the second hop follows definitions only: what a file is used by is wide
                continue
            # used by: a file -> files referencing what it defines (weaker)
            for dst, src, name in db.execute(
                f"""SELECT s.path, r.path, MIN(s.name) FROM repo_symbols s
                    CROSS JOIN repo_names n ON n.name = s.name AND n.files <= ?
                    CROSS JOIN repo_refs r ON r.name = s.name
                    WHERE s.path IN ({marks}) AND s.path != r.path GROUP BY s.path, r.path""",
                [EDGE_DEF_FILES, *part],
            ).fetchall():
                edges[dst][src] = edges[dst].get(src, 0.0) + 0.3
                reached[src] += 0.3
                if why is not None and src not in why:
                    why[src] = f"uses {name} of {dst.rsplit('/', 1)[-1]}"
        new = [p for p in reached if p not in seen]
        seen.update(new)
        # The second hop starts only from the files most tied to the seeds: the neighbourhood
        # stays small on a big repository, whatever a popular file references.
        frontier = set(sorted(new, key=lambda p: (-reached[p], p))[:HOP2_FROM]) if hop == 0 else set()
        weight.update(reached)
    # Keep the files most tied to the seeds: the iteration below costs per edge.
    keep = set(seeds) | set(
        sorted((p for p in seen if p not in seeds), key=lambda p: (-weight[p], p))[:MAX_NODES]
    )
    seen = keep
    edges = defaultdict(
        dict, {s: {d: w for d, w in out.items() if d in keep} for s, out in edges.items() if s in keep}
    )
    # The iteration over index lists: a warm load runs this on every call.
    total = sum(seeds.values())
    nodes = list(seen)
    at = {n: i for i, n in enumerate(nodes)}
    personal = [seeds.get(n, 0.0) / total for n in nodes]
    adjacency: list[tuple[int, list[tuple[int, float]]]] = []
    for src, weights in edges.items():
        w = sum(weights.values())
        adjacency.append((at[src], [(at[d], ew / w) for d, ew in weights.items()]))
    has_out = {i for i, _t in adjacency}
    dangling_nodes = [i for i in range(len(nodes)) if i not in has_out]
    rank_ = [1.0 / len(nodes)] * len(nodes)
    for _ in range(iterations):
        dangling = sum(rank_[i] for i in dangling_nodes)
        restart = (1 - alpha) + alpha * dangling
        nxt_rank = [restart * p for p in personal]
        for i, out in adjacency:
            share = alpha * rank_[i]
            for j, ew in out:
                nxt_rank[j] += share * ew
        rank_ = nxt_rank
    top = max(rank_, default=0.0)
    return {n: v / top for n, v in zip(nodes, rank_, strict=True) if top and v / top > 0.02}
