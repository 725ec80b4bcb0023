"""Ranking the project's files for a task: which few files would a person open first?

Signals, each explainable in the manifest's `why`:
- full-text relevance (SQLite FTS5 BM25 over path, defined symbols and body, path weighted most);
- symbol definitions: a file that defines an identifier the task names;
- the reference graph, aider-style: a personalized PageRank seeded by the files above, the explicit
  paths and the session's files, walking "references a symbol defined in" edges both ways, so the
  definitions a relevant file leans on (and its close callers) rise too;
- files that change together with the explicit paths in git history;
- files touched in the current session's checkpoints.
The graph is built only around the seeds (two hops), from a `RefGraph` the caller keeps per index
generation, so a warm ranking reads from the index only what no earlier load of that generation
read, and stays fast on big repos.
"""

from __future__ import annotations

import functools
import heapq
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar, cast

from .index import split_identifier

if TYPE_CHECKING:
    from factorops.store.db import Database

T = TypeVar("T")

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
SEEDS = 15  # best-ranked files PageRank restarts to


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


class PathIndex:
    """The indexed paths and lookups by file name, made once per index generation (the caller
    keeps it, e.g. with `Store.derived`) instead of walking every path on every load."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = sorted(paths)
        self.known = set(self.paths)
        self.by_name: dict[str, list[str]] = defaultdict(list)  # file name -> paths
        self.by_base: dict[str, list[str]] = defaultdict(list)  # file name less its last extension
        for p in self.paths:
            name = p.rsplit("/", 1)[-1]
            self.by_name[name].append(p)
            self.by_base[name.rsplit(".", 1)[0]].append(p)
        self._memo: dict[str, object] = {}
        self._lock = threading.Lock()

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """What `build()` makes from these paths, made once (other modules' lookups)."""
        with self._lock:
            if key not in self._memo:
                self._memo[key] = build()
            return cast(T, self._memo[key])


def mentioned_paths(task: str, known: set[str], by_name: dict[str, list[str]] | None = None) -> list[str]:
    """Paths or file names written in the task text that exist in the index."""
    out = []
    if by_name is None:
        by_name = defaultdict(list)
        for p in known:
            by_name[p.rsplit("/", 1)[-1]].append(p)
    for m in _PATHISH.findall(task):
        m = m.strip("./")
        if m in known:
            out.append(m)
        elif len(by_name.get(m, ())) in (1, 2, 3):
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
    cochange_of: Callable[[list[str]], Future[dict[str, float]]],
    limit: int = 300,
    known: set[str] | None = None,
    graph: RefGraph | None = None,
    paths: PathIndex | None = None,
) -> list[Ranked]:
    """`known`, `graph` and `paths` are what the index holds, when the caller keeps them per index
    generation (a warm load then reads no listing of 10,000 paths). `cochange_of` answers now or
    later: while git walks history, the likely seeds' edges are read."""
    terms, idents = task_terms(task)
    ranked: dict[str, Ranked] = {}

    def get(path: str) -> Ranked:
        r = ranked.get(path)
        if r is None:
            r = ranked[path] = Ranked(path)
        return r

    if paths is not None:
        known = paths.known
    elif known is None:
        known = {r[0] for r in db.execute("SELECT path FROM repo_files").fetchall()}
    for p in mentioned_paths(task, known, paths.by_name if paths is not None else None):
        get(p).add(W_MENTION, "named in the task")

    if terms:
        rows = db.execute(
            """SELECT f.path, bm25(repo_fts, 8.0, 4.0, 1.0) AS s FROM repo_fts
               JOIN repo_files f ON f.rowid = repo_fts.rowid
               WHERE repo_fts MATCH ? ORDER BY s LIMIT 80""",
            [fts_query(terms)],
        ).fetchall()
        if rows:
            words: dict[str, frozenset[str]] | None = paths.memo("rank.symbol_words", dict) if paths else None
            if words is not None:  # one query for the rows' defined names, not one per row
                _symbol_words(db, [path for path, _s in rows], words)
            best = rows[0][1] or -1.0
            for n, (path, s) in enumerate(rows):
                matched = _matched_terms(db, path, terms, words)
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
    cochange: dict[str, float] = {}
    if anchor:  # git walks the history in a thread; meanwhile the likely seeds' edges are read
        pending = cochange_of(anchor)
        if graph is not None:
            likely = {p for p in explicit if p in known}
            likely.update(r.path for r in sorted(ranked.values(), key=lambda r: -r.score)[:SEEDS])
            graph.out_edges(db, sorted(likely))
            graph.in_edges(db, sorted(likely))
        cochange = pending.result()
    top_cochange = max(cochange.values(), default=0.0)
    weight = W_COCHANGE if explicit else W_COCHANGE / 2
    label = anchor[0] if len(anchor) == 1 else "the given paths"
    for p, s in cochange.items():
        if p in known and top_cochange and p not in anchor:
            get(p).add(weight * s / top_cochange, f"changes with {label}")

    _boost_used_matches(db, ranked, explicit)

    seeds = {p: 1.0 for p in explicit if p in known}
    for r in sorted(ranked.values(), key=lambda r: -r.score)[:SEEDS]:
        seeds[r.path] = seeds.get(r.path, 0.0) + r.score
    edges_why: dict[str, str] = {}
    for path, pr in personalized_pagerank(db, seeds, edges_why, graph=graph).items():
        if path in seeds and path not in ranked:
            continue
        get(path).add(W_GRAPH * pr, edges_why.get(path, "") if path not in seeds else "")

    for p in explicit:
        ranked.pop(p, None)
    wants = set(terms)
    for r in ranked.values():
        r.score *= _prior(r.path, wants)
    _pair_tests(ranked, known, explicit, paths.by_base if paths is not None else None)
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
    words = _secondary(path)
    if words is None:
        return 1.0
    return 1.0 if task_terms & words else 0.6


@functools.lru_cache(maxsize=65536)
def _secondary(path: str) -> frozenset[str] | None:
    """The words that ask for a secondary file (a test asks for "test"), None for the code itself;
    kept per path, as every load asks for each candidate."""
    for rx, words in _SECONDARY:
        if rx.search(path):
            return frozenset(words)
    return None


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


def _pair_tests(
    ranked: dict[str, Ranked],
    known: set[str],
    explicit: list[str],
    by_base: dict[str, list[str]] | None = None,
) -> None:
    """The test file of a top-ranked file is usually opened with it (to add the regression test)."""
    top = sorted(ranked.values(), key=lambda r: -r.score)[:2]
    heads = [(p, None) for p in explicit] + [(r.path, r) for r in top]
    for path, r in heads:
        if _prior(path, set()) < 1.0:
            continue
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        bases = (f"test_{stem}", f"{stem}_test", f"{stem}.test", f"{stem}.spec")
        if by_base is not None:
            cands = sorted({c for b in bases for c in by_base.get(b, ())})
        else:
            cands = sorted(c for c in known if c.rsplit("/", 1)[-1].rsplit(".", 1)[0] in bases)
        for cand in cands:
            if cand != path:
                base = r.score if r is not None else max((x.score for x in ranked.values()), default=1.0)
                target = ranked.get(cand) or ranked.setdefault(cand, Ranked(cand))
                target.add(0.45 * base, f"tests {path.rsplit('/', 1)[-1]}")


def _mentioned_terms(db: Database, path: str, terms: list[str]) -> list[str]:
    row = db.execute(
        "SELECT body FROM repo_fts WHERE rowid = (SELECT rowid FROM repo_files WHERE path = ?)", [path]
    ).fetchone()
    words = set(re.findall(r"[a-z0-9]+", (row[0] if row else "").lower()))
    return [t for t in terms if t in words]


def _symbol_words(db: Database, paths: list[str], memo: dict[str, frozenset[str]]) -> None:
    """memo[path] = the words of the path's defined names (as indexed for full-text search), for
    the paths not in `memo` yet."""
    missing = [p for p in dict.fromkeys(paths) if p not in memo]
    for i in range(0, len(missing), 500):
        part = missing[i : i + 500]
        got = dict(
            db.execute(
                "SELECT f.path, t.symbols FROM repo_files f JOIN repo_fts t ON t.rowid = f.rowid "
                f"WHERE f.path IN ({','.join('?' * len(part))})",
                part,
            ).fetchall()
        )
        for p in part:
            memo[p] = frozenset((got.get(p) or "").lower().split())


def _matched_terms(
    db: Database, path: str, terms: list[str], memo: dict[str, frozenset[str]] | None = None
) -> list[str]:
    """Task terms in the path or among the words of its defined names (`memo`: those words by
    path, kept per index generation)."""
    low = path.lower()
    hits = [t for t in terms if t in low]
    if len(hits) < 3:
        syms = memo.get(path) if memo is not None else None
        if syms is None:
            row = db.execute(
                "SELECT symbols FROM repo_fts WHERE rowid = (SELECT rowid FROM repo_files WHERE path = ?)",
                [path],
            ).fetchone()
            syms = frozenset((row[0] if row else "").lower().split())
            if memo is not None:
                memo[path] = syms
        hits += [t for t in terms if t in syms and t not in hits]
    return hits


Edges = tuple[tuple[str, str], ...]  # (the file at the other end, the first name that ties them)

# name -> the files defining it, for names defined in few files (a bare `get` makes no edge)
_DEFINERS_SQL = (
    "SELECT n.name, s.path FROM repo_names n CROSS JOIN repo_symbols s ON s.name = n.name "
    f"WHERE n.name IN ({{marks}}) AND n.files <= {EDGE_DEF_FILES}"
)


class RefGraph:
    """The reference graph of one index generation, read from the index as a load needs it.

    Per file: the names it references and defines; per name: the files defining it (none when more
    than EDGE_DEF_FILES do) and the files referencing it. Kept for the generation (the caller keys
    it, e.g. `Store.derived`), so a warm load asks the index only for files and names no earlier
    load of this generation walked, instead of joining refs to symbols again on every call.
    Filled by plain dict writes: two loads filling it at once write the same values."""

    LIMIT = 400_000  # names and paths kept; past it the graph starts again empty (memory bound)

    def __init__(self) -> None:
        self._refs: dict[str, tuple[str, ...]] = {}  # file -> names it references
        self._defs: dict[str, tuple[str, ...]] = {}  # file -> names it defines
        self._definers: dict[str, tuple[str, ...]] = {}  # name -> files defining it, () if common
        self._users: dict[str, tuple[str, ...]] = {}  # name -> files referencing it
        self._out: dict[str, Edges] = {}  # file -> (file it uses, first name), by file
        self._in: dict[str, Edges] = {}  # file -> (file using it, first name), by file

    def _bound(self) -> None:
        kept = (self._refs, self._defs, self._definers, self._users, self._out, self._in)
        if sum(len(d) for d in kept) > self.LIMIT:
            self._refs, self._defs, self._definers, self._users, self._out, self._in = {}, {}, {}, {}, {}, {}

    @staticmethod
    def _fill(
        db: Database, cache: dict[str, tuple[str, ...]], keys: Iterable[str], sql: str, *args: object
    ) -> None:
        """cache[key] = values for the keys not cached yet, from `sql` selecting (key, value) rows
        (`sql` has one {marks} placeholder for the keys; `args` come before them)."""
        missing = sorted({k for k in keys if k not in cache})
        for i in range(0, len(missing), 500):
            part = missing[i : i + 500]
            got: dict[str, list[str]] = {k: [] for k in part}
            for key, value in db.execute(sql.format(marks=",".join("?" * len(part))), [*args, *part]):
                got[key].append(value)
            cache.update((k, tuple(sorted(set(v)))) for k, v in got.items())

    def out_edges(self, db: Database, files: list[str]) -> list[Edges]:
        """Per file: (a file defining what it references, the first such name), by target. Kept
        per file for the generation: a file the walk reaches again costs no loop over its names."""
        self._bound()
        out = self._out
        todo = [f for f in files if f not in out]
        if todo:
            refs, definers = self._refs, self._definers
            self._fill(db, refs, todo, "SELECT path, name FROM repo_refs WHERE path IN ({marks})")
            self._fill(db, definers, (n for f in todo for n in refs[f]), _DEFINERS_SQL)
            for src in todo:
                first: dict[str, str] = {}
                for name in refs[src]:  # sorted: the first name found is the least, as MIN() was
                    for dst in definers[name]:
                        if dst != src and dst not in first:
                            first[dst] = name
                out[src] = tuple((dst, first[dst]) for dst in sorted(first))
        return [out[f] for f in files]

    def in_edges(self, db: Database, files: list[str]) -> list[Edges]:
        """Per file: (a file referencing what it defines, the first such name), by user; kept per
        file for the generation like `out_edges`."""
        self._bound()
        into = self._in
        todo = [f for f in files if f not in into]
        if todo:
            defs, definers, users = self._defs, self._definers, self._users
            self._fill(db, defs, todo, "SELECT path, name FROM repo_symbols WHERE path IN ({marks})")
            names = {n for f in todo for n in defs[f]}
            self._fill(db, definers, names, _DEFINERS_SQL)
            self._fill(
                db,
                users,
                (n for n in names if definers[n]),
                "SELECT name, path FROM repo_refs WHERE name IN ({marks})",
            )
            for dst in todo:
                first: dict[str, str] = {}
                for name in defs[dst]:
                    for src in users.get(name, ()):  # names defined in many files have no users here
                        if src != dst and src not in first:
                            first[src] = name
                into[dst] = tuple((src, first[src]) for src in sorted(first))
        return [into[f] for f in files]


def _base(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def personalized_pagerank(
    db: Database,
    seeds: dict[str, float],
    why: dict[str, str] | None = None,
    alpha: float = 0.85,
    iterations: int = 14,
    graph: RefGraph | None = None,
) -> dict[str, float]:
    """PageRank with restarts to `seeds`, on the reference graph around them (two hops).

    `why`, when given, receives for each file one edge to a seed that brought it in, as a reason
    ("defines X used by a.py", "uses X of a.py"). A warm load runs this on every call: the edges
    of each file are kept per index generation (`RefGraph`), the walk touches each edge once and
    the iteration steps only the files the walk grew from (see `_iterate`)."""
    if not seeds:
        return {}
    graph = graph if graph is not None else RefGraph()
    edges: dict[str, dict[str, float]] = {}
    seen = set(seeds)
    # hop 1, uses: a file -> files defining what it references (strong). Only names defined in few
    # files make edges, so a bare `get` defined everywhere joins nothing.
    chunk = sorted(seeds)
    reached: dict[str, float] = {}
    for src, out in zip(chunk, graph.out_edges(db, chunk), strict=True):
        if not out:
            continue
        tied = edges[src] = {}
        for dst, name in out:
            tied[dst] = 1.0
            reached[dst] = reached.get(dst, 0.0) + 1.0
            if why is not None and dst not in why:
                why[dst] = f"defines {name} used by {_base(src)}"
    # used by: a file -> files referencing what it defines (weaker); not on the second hop: what a
    # file is used by is wide
    for dst, into in zip(chunk, graph.in_edges(db, chunk), strict=True):
        if not into:
            continue
        tied = edges.setdefault(dst, {})
        for src, name in into:
            tied[src] = tied.get(src, 0.0) + 0.3
            reached[src] = reached.get(src, 0.0) + 0.3
            if why is not None and src not in why:
                why[src] = f"uses {name} of {_base(dst)}"
    new = [p for p in reached if p not in seen]
    seen.update(new)
    weight = reached
    # The second hop starts only from the files most tied to the seeds: the neighbourhood stays
    # small on a big repository, whatever a popular file references.
    frontier = sorted(_best(new, reached, HOP2_FROM))
    if frontier:
        reached = {}
        for src, out in zip(frontier, graph.out_edges(db, frontier), strict=True):
            if not out:
                continue
            tied = edges.setdefault(src, {})
            for dst, name in out:
                tied[dst] = tied.get(dst, 0.0) + 1.0
                reached[dst] = reached.get(dst, 0.0) + 1.0
                if why is not None and dst not in why:
                    why[dst] = f"defines {name} used by {_base(src)}"
        seen.update(reached)
        weight = {**weight, **reached}  # a file reached again weighs what the second hop gave it
    # Keep the files most tied to the seeds: the iteration below costs per edge.
    others = [p for p in seen if p not in seeds]
    keep = set(seeds) | (set(_best(others, weight, MAX_NODES)) if len(others) > MAX_NODES else set(others))
    nodes = list(keep)
    at = {n: i for i, n in enumerate(nodes)}
    total = sum(seeds.values())
    personal = [seeds.get(n, 0.0) / total for n in nodes]
    # Sources: the files the walk grew from (in the order their edges were made), each with its
    # out-weights normalised, split into the part that stays among sources and the rest.
    sources = [s for s in edges if s in keep]
    local = {s: k for k, s in enumerate(sources)}
    inner: list[list[tuple[int, float]]] = []
    into_dangling: list[float] = []
    spread: list[list[tuple[int, float]]] = []
    for s in sources:
        weights = {d: w for d, w in edges[s].items() if d in keep}
        w_sum = sum(weights.values())
        here: list[tuple[int, float]] = []
        away: list[float] = []
        every: list[tuple[int, float]] = []
        for d, ew in weights.items():
            share = ew / w_sum
            k = local.get(d)
            if k is None:
                away.append(share)
            else:
                here.append((k, share))
            every.append((at[d], share))
        inner.append(here)
        into_dangling.append(sum(away))
        spread.append(every)
    rank_ = _iterate(
        nodes, personal, [at[s] for s in sources], inner, into_dangling, spread, alpha, iterations
    )
    top = max(rank_, default=0.0)
    return {n: v / top for n, v in zip(nodes, rank_, strict=True) if top and v / top > 0.02}


def _best(paths: list[str], weight: dict[str, float], n: int) -> list[str]:
    """The `n` paths of highest weight, ties by path (what sorted(...)[:n] gives, without sorting
    them all)."""
    return heapq.nsmallest(n, paths, key=lambda p: (-weight[p], p))


def _iterate(
    nodes: list[str],
    personal: list[float],
    sources: list[int],
    inner: list[list[tuple[int, float]]],
    into_dangling: list[float],
    spread: list[list[tuple[int, float]]],
    alpha: float,
    iterations: int,
) -> list[float]:
    """Power iteration of PageRank with restarts to `personal` (dangling mass restarts too).

    Only the few files the walk grew from (`sources`) have out-edges, so every step but the last
    runs on those alone: the rest of the vector is needed only as its dangling sum, which follows
    from theirs (sum of personal over the dangling files, and each source's share of out-weight
    into them: `into_dangling`). The last step spreads over every edge (`spread`). Same result as
    stepping the whole vector (up to rounding), at a fraction of the edges per step."""
    n = len(nodes)
    if iterations <= 0:
        return [1.0 / n] * n
    is_source = set(sources)
    personal_src = [personal[i] for i in sources]
    personal_dangling = sum(p for i, p in enumerate(personal) if i not in is_source)
    ranks = [1.0 / n] * len(sources)
    dangling = (n - len(is_source)) / n
    for _ in range(iterations - 1):
        restart = (1 - alpha) + alpha * dangling
        nxt = [restart * p for p in personal_src]
        to_dangling = 0.0
        for k, out in enumerate(inner):
            share = alpha * ranks[k]
            to_dangling += share * into_dangling[k]
            for j, ew in out:
                nxt[j] += share * ew
        dangling = restart * personal_dangling + to_dangling
        ranks = nxt
    restart = (1 - alpha) + alpha * dangling
    rank_ = [restart * p for p in personal]
    for k, out in enumerate(spread):
        share = alpha * ranks[k]
        for j, ew in out:
            rank_[j] += share * ew
    return rank_
