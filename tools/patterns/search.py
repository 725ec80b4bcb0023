"""Full-text search over patterns: the exact BM25 top-k, every word kept, and user text never fails.

User text is not FTS5 syntax: `foo"`, `AND OR`, `NEAR(`, `title:` are syntax errors or operators
to FTS5. Every word is therefore extracted and quoted; operators in the text become plain words.

What a search returns: the patterns with the lowest `bm25 - confidence`, where bm25 is FTS5's
`bm25(patterns_fts, 5, 2, 2, 3, 1)` of the OR of *all* the query's words (negative; lower is
better) and ties go to the older row. Asking FTS5 for that directly (`ORDER BY bm25(...)`) scores
every row any word matches, ~2-8 microseconds a row: a word found in most patterns makes each
search cost time in proportion to the table (0.8 s at 100,000 patterns). The search gets the same
top-k with far less work, MaxScore-style:

- Counting a word's rows is cheap (FTS5 walks its doclist: ~40 ns a row) and gives its idf, so
  each word's largest possible contribution, `idf * (k1 + 1)`, is known before anything is scored.
  A word found in half the patterns or more has idf 1e-6 (FTS5's floor): it cannot move a row by
  more than 2.2e-6.
- The rarest words, together matching at most `RARE_ROWS` rows, are scored by FTS5 over all their
  rows (their part of the score, exact). Every other row holds only common words, so its key is at
  least `-confidence - (the common words' largest contributions)`.
- Candidates are then taken best bound first: the rare rows in order of their partial key, merged
  with the rest of the table in order of confidence (an index). The common words' exact part of
  each candidate is computed from FTS5's own tokens of that row (the row's text re-tokenized in a
  temporary contentless FTS5 table with the same tokenizer, same weights, same formula). The search
  stops once no unseen row can beat the k-th best: the answer is then the exact top-k.
- If `MAX_SCORED` candidates are not enough to prove that (a query of words each matching
  thousands of rows, where neither rarity nor confidence narrows the field), the search stops
  there and returns the best of what it scored: exact ranking among those, not a proof.

Snippets are made only for the rows returned.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import sqlite3
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from factorops.tools.kernel.tokens import ESTIMATE_SLACK, count_many, estimate_tokens

if TYPE_CHECKING:
    from factorops.store.db import Database


RARE_ROWS = 4000  # rows FTS5 scores in full per search (rare words, then AND combinations)
MAX_SCORED = 200  # candidates scored exactly before the search stops proving
MAX_WALK = 2000  # patterns the confidence walk may pass (filters can leave few of them)
WALK_CHUNK = 250
BATCH = 50  # candidates tokenized at once
MAX_COMBOS = 8  # combinations of common words counted (an AND walk each) per search
MAX_WORDS = 16
K1, B = 1.2, 0.75  # FTS5's bm25 constants
# BM25 column weights: title, problem, solution, tags, evidence (quoted commit subjects, session
# goals, files in scope: supporting text, so it ranks below the pattern's own words).
WEIGHTS = (5.0, 2.0, 2.0, 3.0, 1.0)
COLUMNS = ("title", "problem", "solution", "tags", "evidence")
TOKENIZE = "porter unicode61 remove_diacritics 2"  # patterns_fts's tokenizer (patterns-004)
_BM25 = f"bm25(patterns_fts, {', '.join(map(str, WEIGHTS))})"
_SLACK = 1e-9  # keys this close to the k-th best may still tie with it: keep looking
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """The searchable words of user text: lower-cased, unique, in order, at most MAX_WORDS."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(text.lower()):
        if len(w) > 1 or not w.isascii():
            seen.setdefault(w, None)
    return list(seen)[:MAX_WORDS]


def fts_query(text: str, op: str = "OR") -> str | None:
    """User text to an FTS5 query that cannot be a syntax error: each word quoted, joined by `op`."""
    ws = words(text)
    return _join(ws, op) if ws else None


def _join(ws: list[str], op: str) -> str:
    return f" {op} ".join('"' + w.replace('"', '""') + '"' for w in ws)


@dataclass(frozen=True)
class Filters:
    """SQL conditions on the `patterns` row `p`, with their arguments."""

    sql: str
    args: tuple[object, ...]


def _varints(blob: bytes) -> list[int]:
    """SQLite's varints (big-endian groups of 7 bits, a 9th byte of 8), as FTS5 stores sizes."""
    out: list[int] = []
    i, n = 0, len(blob)
    while i < n:
        value = 0
        for j in range(9):
            byte = blob[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80 or i >= n:
                break
        out.append(value)
    return out


@dataclass(frozen=True)
class _Stats:
    rows: int
    avgdl: float
    key: tuple[object, ...]  # this state of the index: what cached word counts are valid for


@dataclass(frozen=True)
class _Term:
    word: str
    tokens: tuple[str, ...]  # FTS5's tokens of the word (more than one: the word is a phrase)
    rows: int
    idf: float


def _stats(db: Database) -> _Stats | None:
    """Rows and average row length from FTS5's averages record, the numbers its bm25() uses."""
    row = db.execute("SELECT block FROM patterns_fts_data WHERE id = 1").fetchone()
    if row is None:
        return None
    sizes = _varints(bytes(row[0]))
    if not sizes or sizes[0] <= 0:
        return None
    version = db.execute("SELECT value FROM meta WHERE key = 'patterns_version'").fetchone()
    path = db.execute("PRAGMA database_list").fetchone()[2]
    return _Stats(sizes[0], sum(sizes[1:]) / sizes[0], (path, version and version[0], *sizes))


_CACHE_LIMIT = 20_000
_counts: dict[tuple[object, ...], int] = {}
_tokens: dict[str, tuple[str, ...]] = {}
_lock = threading.Lock()


def _remember(cache: dict[object, object], key: object, value: object) -> None:
    with _lock:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = value


def _rows_matching(db: Database, word: str, stats: _Stats) -> int:
    """How many rows hold `word` (its idf). A walk of its doclist; cached until the index changes."""
    key = (*stats.key, word)
    n = _counts.get(key)
    if n is None:
        n = int(
            db.execute(
                "SELECT count(*) FROM patterns_fts WHERE patterns_fts MATCH ?", [_join([word], "OR")]
            ).fetchone()[0]
        )
        _remember(_counts, key, n)  # type: ignore[arg-type]
    return n


def _scratch(db: Database) -> None:
    """This connection's scratch index: FTS5 with patterns_fts's tokenizer, no content, and its
    token instances (term, doc, col, offset). Temporary: nothing is written to the store."""
    db.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_tok USING fts5({', '.join(COLUMNS)}, "
        f"tokenize = '{TOKENIZE}', content = '')"
    )
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_tok_v USING fts5vocab(temp, search_tok, instance)"
    )
    db.execute("INSERT INTO temp.search_tok(search_tok) VALUES ('delete-all')")


def _word_tokens(db: Database, ws: list[str]) -> dict[str, tuple[str, ...]]:
    missing = [w for w in ws if w not in _tokens]
    if missing:
        _scratch(db)
        for i, w in enumerate(missing, start=1):
            db.execute("INSERT INTO temp.search_tok(rowid, title) VALUES (?, ?)", [i, w])
        got: dict[int, list[str]] = {}
        for term, doc in db.execute("SELECT term, doc FROM temp.search_tok_v ORDER BY doc, offset"):
            got.setdefault(int(doc), []).append(str(term))
        for i, w in enumerate(missing, start=1):
            _remember(_tokens, w, tuple(got.get(i, ())))  # type: ignore[arg-type]
    return {w: _tokens[w] for w in ws}


def _terms(db: Database, ws: list[str], stats: _Stats) -> list[_Term]:
    """The query's words that match anything, rarest first, with FTS5's idf (floored at 1e-6)."""
    tokens = _word_tokens(db, ws)
    out: list[_Term] = []
    for w in ws:
        if not tokens[w]:
            continue
        n = _rows_matching(db, w, stats)
        if n:
            idf = math.log((stats.rows - n + 0.5) / (n + 0.5))
            out.append(_Term(w, tokens[w], n, idf if idf > 0 else 1e-6))
    return sorted(out, key=lambda t: t.rows)


def _contributions(
    db: Database, rowids: list[int], terms: list[_Term], avgdl: float
) -> dict[_Term, dict[int, float]]:
    """word -> rowid -> the exact part of bm25 (negative) the word gives the row, for the rows
    holding it. The rows are re-tokenized from patterns_fts's own content by the same tokenizer, so the
    counts, row lengths and phrases are FTS5's; the formula and weights are bm25()'s."""
    _scratch(db)
    db.execute(
        f"INSERT INTO temp.search_tok(rowid, {', '.join(COLUMNS)}) "
        f"SELECT id, c0, c1, c2, c3, c4 FROM patterns_fts_content WHERE id IN ({','.join('?' * len(rowids))})",
        rowids,
    )
    length = {
        int(doc): sum(_varints(bytes(sz)))
        for doc, sz in db.execute("SELECT id, sz FROM temp.search_tok_docsize")
    }
    at: dict[str, set[tuple[int, int, int]]] = {}
    for token in {tok for t in terms for tok in t.tokens}:
        at[token] = {
            (int(doc), COLUMNS.index(str(col)), int(off))
            for doc, col, off in db.execute(
                "SELECT doc, col, offset FROM temp.search_tok_v WHERE term = ?", [token]
            )
        }
    out: dict[_Term, dict[int, float]] = {}
    for t in terms:
        freq: dict[int, float] = {}
        part = out[t] = {}
        first, rest = t.tokens[0], t.tokens[1:]
        for doc, col, off in at[first]:
            if all((doc, col, off + i) in at[tok] for i, tok in enumerate(rest, start=1)):
                freq[doc] = freq.get(doc, 0.0) + WEIGHTS[col]
        for doc, f in freq.items():
            norm = K1 * (1 - B + B * length[doc] / avgdl)
            part[doc] = -t.idf * f * (K1 + 1) / (f + norm)
    return out


def search_rowids(db: Database, text: str, filters: Filters, fetch: int) -> list[tuple[int, str]]:
    """(rowid, the FTS5 query for its snippet) of the best `fetch` patterns, best first: the lowest
    `bm25 - confidence` over all the words (OR), ties to the lower rowid. See the module's note."""
    ws = words(text)
    stats = _stats(db) if ws and fetch > 0 else None
    if stats is None:
        return []
    terms = _terms(db, ws, stats)
    if not terms:
        return []
    query = _join([w for w in ws if any(t.word == w for t in terms)], "OR")
    sources = _sources(db, terms)
    # (lower bound of the key, partial key, rowid, the words the partial key leaves out)
    scored_by: list[tuple[tuple[_Term, ...], list[tuple[int, float]]]] = [
        (
            source,
            [
                (int(r), float(k))
                for r, k in db.execute(
                    # CROSS JOIN keeps FTS5 the outer loop: the other way round, a selective
                    # filter would run one MATCH (and one idf count per word) per pattern.
                    f"SELECT f.rowid, {_BM25} - p.confidence FROM patterns_fts f CROSS JOIN "
                    f"patterns p ON p.rowid = f.rowid WHERE patterns_fts MATCH ? AND {filters.sql}",
                    [_join([t.word for t in source], "AND"), *filters.args],
                )
            ],
        )
        for source in sources
    ]
    # A single-word source lists every (filtered) row holding that word: a row not in it lacks it.
    holders = {src[0]: {r for r, _ in rows} for src, rows in scored_by if len(src) == 1}
    by_row: dict[int, tuple[float, float, int, tuple[_Term, ...]]] = {}
    for source, rows in scored_by:
        left_out = tuple(t for t in terms if t not in source)
        for r, k in rows:
            room = sum(_bound(t) for t in left_out if t not in holders or r in holders[t])
            c = (k - room, k, r, left_out)
            if c[0] > by_row.get(r, (-math.inf,))[0]:
                by_row[r] = c  # a row in several sources keeps its tightest bound
    cands = sorted(by_row.values(), key=lambda c: (c[0], c[2]))
    return [(r, query) for r in _top(db, cands, terms, sources, filters, fetch, stats)]


def _bound(t: _Term) -> float:
    return t.idf * (K1 + 1)  # the most one word can add to a row's score


def _sources(db: Database, terms: list[_Term]) -> list[tuple[_Term, ...]]:
    """Sets of words whose rows (holding all of them) FTS5 scores in full, within RARE_ROWS rows:
    single rare words first, then the strongest combinations of the others (an AND is cheap)."""
    out: list[tuple[_Term, ...]] = []
    budget = RARE_ROWS
    useful = [t for t in terms if t.idf > 1e-6]  # a floored word bounds nothing: never a source
    for t in useful:
        if t.rows <= budget:
            out.append((t,))
            budget -= t.rows
    others = [t for t in useful if (t,) not in out]
    combos = [c for size in range(2, min(len(others), 4) + 1) for c in itertools.combinations(others, size)]
    combos.sort(key=lambda c: -sum(_bound(t) for t in c))
    for combo in combos[:MAX_COMBOS]:
        if any(set(s) <= set(combo) for s in out):
            continue
        n = int(
            db.execute(
                "SELECT count(*) FROM patterns_fts WHERE patterns_fts MATCH ?",
                [_join([t.word for t in combo], "AND")],
            ).fetchone()[0]
        )
        if n <= budget:
            out.append(combo)
            budget -= n
    return out


def _uncovered_bound(terms: list[_Term], sources: list[tuple[_Term, ...]]) -> float:
    """The most the words can give a row that holds none of the sources' word sets."""
    if len(terms) > 12:
        return sum(_bound(t) for t in terms)
    best = 0.0
    for mask in range(1, 1 << len(terms)):
        held = {t for i, t in enumerate(terms) if mask >> i & 1}
        if not any(set(s) <= held for s in sources):
            best = max(best, sum(_bound(t) for t in held))
    return best


def _top(
    db: Database,
    cands: list[tuple[float, float, int, tuple[_Term, ...]]],
    terms: list[_Term],
    sources: list[tuple[_Term, ...]],
    filters: Filters,
    fetch: int,
    stats: _Stats,
) -> list[int]:
    """Candidates best bound first, each scored exactly, until no unseen row can beat the k-th."""
    seen: set[int] = set()
    for c in cands:
        seen.add(c[2])
    room = _uncovered_bound(terms, sources)
    everything = tuple(terms)
    # An index-only walk (~0.2 us a pattern) whose patterns are checked against the filters a
    # chunk at a time; MAX_WALK bounds the work even when the filters leave few patterns.
    walk = db.execute(
        "SELECT rowid, confidence FROM patterns INDEXED BY patterns_confidence ORDER BY confidence DESC"
    )
    walked = 0
    ready: list[tuple[int, float]] = []

    proposed: set[int] = set()
    filtered: list[sqlite3.Cursor] = []

    def next_by_confidence() -> tuple[float, float, int, tuple[_Term, ...]] | None:
        nonlocal walked
        while not ready and room > 0 and walked < MAX_WALK:
            rows = walk.fetchmany(WALK_CHUNK)
            walked = walked + len(rows) if rows else -1  # the end of the table ends the walk
            chunk = [(int(r), float(c)) for r, c in rows if int(r) not in seen]
            if chunk:
                passing = {
                    int(r)
                    for (r,) in db.execute(
                        f"SELECT p.rowid FROM patterns p WHERE p.rowid IN ({','.join('?' * len(chunk))}) "
                        f"AND {filters.sql}",
                        [*(r for r, _ in chunk), *filters.args],
                    )
                }
                ready.extend(reversed([rc for rc in chunk if rc[0] in passing]))
            if walked < 0:
                break
        if not ready and room > 0 and walked >= MAX_WALK and len(best) < fetch:
            # Too few matches yet: the filters are selective. Walk only the patterns they pass
            # (SQLite skips the others, slower per pattern but it reaches them all).
            if not filtered:
                filtered.append(
                    db.execute(
                        "SELECT p.rowid, p.confidence FROM patterns p INDEXED BY patterns_confidence "
                        f"WHERE {filters.sql} ORDER BY p.confidence DESC",
                        list(filters.args),
                    )
                )
            for r, c in iter(filtered[0].fetchone, None):
                if int(r) not in seen and int(r) not in proposed:
                    proposed.add(int(r))
                    return -float(c) - room, -float(c), int(r), everything
            return None
        if not ready:
            return None
        rowid, confidence = ready.pop()
        proposed.add(rowid)
        return -confidence - room, -confidence, rowid, everything

    best: list[tuple[float, int]] = []
    i, head, scored = 0, next_by_confidence(), 0
    try:
        while scored < MAX_SCORED:
            kth = best[fetch - 1][0] if len(best) >= fetch else math.inf
            batch: list[tuple[float, float, int, tuple[_Term, ...]]] = []
            while len(batch) < BATCH:
                from_src = cands[i] if i < len(cands) else None
                pick = from_src if head is None or (from_src is not None and from_src[0] <= head[0]) else head
                if pick is None or pick[0] > kth + _SLACK:
                    break  # no row left can beat (or tie) the k-th best
                batch.append(pick)
                if pick is from_src:
                    i += 1
                else:
                    head = next_by_confidence()
            if not batch:
                break
            missing = {t for c in batch for t in c[3]}
            extra = _contributions(db, sorted({c[2] for c in batch}), list(missing), stats.avgdl)
            scored += len(batch)
            for _, partial, rowid, left_out in batch:
                parts = [extra[t].get(rowid) for t in left_out]
                if rowid not in seen and all(p is None for p in parts):
                    continue  # a row found by confidence alone holds none of the words
                key = partial + sum(p for p in parts if p is not None)
                if (key, rowid) not in best:
                    bisect.insort(best, (key, rowid))
            del best[fetch:]
    finally:
        walk.close()
        for cursor in filtered:
            cursor.close()
    return [r for _, r in best]


def snippet(db: Database, query: str, rowid: int) -> str:
    row = db.execute(
        "SELECT snippet(patterns_fts, -1, '[', ']', '…', 16) FROM patterns_fts "
        "WHERE patterns_fts MATCH ? AND rowid = ?",
        [query, rowid],
    ).fetchone()
    return str(row[0]) if row and row[0] else ""


def fit(texts: list[str], budget: int) -> tuple[int, int]:
    """How many of `texts`, in order, fit in `budget` tokens, and the tokens they take.

    While all of them fit by `estimate_tokens` (which errs high) with room to spare, that estimate is
    the answer, so a search that the budget does not cut never loads the tokenizer (~190 ms and
    ~75 MiB on a server's first call); when the budget may cut the list, the counts are exact."""
    estimated = sum(estimate_tokens(t) for t in texts)
    if estimated * ESTIMATE_SLACK <= budget:
        return len(texts), estimated
    kept = total = 0
    for cost in count_many(texts):
        if total + cost > budget:
            break
        kept += 1
        total += cost
    return kept, total
