"""Full-text search over patterns: the BM25 top-k (exact within a work budget), every word kept, and
user text never fails.

User text is not FTS5 syntax: `foo"`, `AND OR`, `NEAR(`, `title:` are syntax errors or operators
to FTS5. Every word is therefore extracted and quoted; operators in the text become plain words.

What a search returns: the patterns with the lowest `bm25 - confidence`, where bm25 is FTS5's
`bm25(patterns_fts, 5, 2, 2, 3, 1)` of the OR of *all* the query's words (negative; lower is
better) and ties go to the older row. Asking FTS5 for that directly (`ORDER BY bm25(...)`) scores
every row any word matches, ~2-8 microseconds a row: a word found in most patterns makes each
search cost time in proportion to the table (about a second at 100,000 patterns). FTS5 has no
order of a word's rows but the rowid, so it cannot stop early.

The search therefore keeps its own impact-ordered postings, written by the pattern writer in the
same transaction as the FTS5 row (`index_row`, `unindex_row`; `patterns-008` fills them for a
store made before; a bulk fill, such as a rebuild, writes them in one sorted pass at its end,
`deferred`):

- `pattern_words`: each FTS5 token, with how many rows hold it (its idf, with FTS5's row count);
- `pattern_postings`: per (row, token) the weighted term frequency (each occurrence counts its
  column's weight, as bm25() counts it) and the row's length in tokens, read through an index in
  the order `tf DESC, dl ASC`: the order in which a token's rows can score highest;
- `pattern_lengths`: how many rows have each length (the shortest length bounds the rest, and
  the total must equal FTS5's row count: when it does not, the postings do not cover the table
  and the search falls back to FTS5's own ranking of every matching row).

The tokens are FTS5's own (the row is tokenized in a temporary contentless FTS5 table with the
same tokenizer), so the terms, counts and lengths are exactly what bm25() sees. Nothing in a
posting depends on the corpus average length, so no posting changes when other rows do: the
bound of a word's unread rows is computed at query time from the next posting, `(tf, dl)`, and
the shortest length in the table (`tf - 1` for the rows of lower frequency: weights are whole
numbers).

A search is the Threshold Algorithm (Fagin) over one list per query word (its postings joined
with the patterns row, so the filters and the confidence come with each posting and rows that
fail the filters never reach Python) plus one list of every filtered pattern by confidence
(the part of the key no word bounds). The list whose next row could add most is read next, a
chunk at a time; each new row's exact key is computed from its postings for all the words
(random access by `(row, token)`, or in a serving process the same postings held in memory when
they are of the state the search reads: `row_postings`), unless its known part plus the other lists' bounds cannot
beat the k-th best. The search stops when no unread row can beat (or tie) the k-th best: the
answer is then the exact top-k (or when the work budget is spent, below). A word FTS5 tokenizes into several tokens is a phrase:
its rows and their exact part of the score come from FTS5 itself (`bm25()` of that phrase alone
is its term of the sum).

Two or more words of useful idf (`_together`) first get a k-th best from the top of each list,
the most confident rows and the most confident rows that hold them all (FTS5's AND), then one
pass finds every unseen row that can still reach it, by whichever of three exact ways is
expected to cost least (`_summed`): candidates from the lists' high ranges summed by lookups,
all the words' postings grouped per row, or only the rows that hold the words every answer must
hold.

The key is summed in the query's word order with bm25()'s own expression, so it equals SQLite's
value to the bit and ties break the same way. Snippets are made only for the rows returned.

The work budget (issue #14: p95 <= 10 ms at 100,000 patterns with overlap@5 >= 0.95): in a store
of BUDGET_ROWS patterns or more, a search counts its work in the estimated microseconds of the
cost constants (rows scored, postings read and counted, the chosen way's estimate), never in
time, so the same store and query always give the same answer. The answer is exact whenever the
cheapest exact way fits in what is left of BUDGET; otherwise it is the budget's best
(`Work.exact` False): `_bounded` reads each strong word's first postings in the index's order
and scores the rows best bound first until the budget is spent, and `run`'s loop stops taking
rows when the next chunk would not fit. Every row returned matches the query, its key is exact
and the rows are in key order; a better row may be missed. Below BUDGET_ROWS every search is
exact, whatever it costs.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from factorops.tools.kernel.tokens import ESTIMATE_SLACK, count_many, estimate_tokens
from factorops.tools.patterns import row_postings

if TYPE_CHECKING:
    from factorops.store.db import Database


MAX_WORDS = 16
K1, B = 1.2, 0.75  # FTS5's bm25 constants
# BM25 column weights: title, problem, solution, tags, evidence (quoted commit subjects, session
# goals, files in scope: supporting text, so it ranks below the pattern's own words). Whole
# numbers: a posting's tf is their sum (an INTEGER column), and `tf - 1` bounds the rows of lower
# frequency. Changing them needs a migration that fills pattern_postings again (patterns-008).
WEIGHTS = (5, 2, 2, 3, 1)
COLUMNS = ("title", "problem", "solution", "tags", "evidence")
TOKENIZE = "porter unicode61 remove_diacritics 2"  # patterns_fts's tokenizer (patterns-004)
_BM25 = f"bm25(patterns_fts, {', '.join(f'{w:.1f}' for w in WEIGHTS)})"
_SLACK = 1e-9  # keys this close to the k-th best may still tie with it: keep looking
_WORD = re.compile(r"\w+", re.UNICODE)
FIRST_CHUNK, MAX_CHUNK = 32, 1024  # postings read at once from a list (doubling)
# What `_summed` expects each way to cost, in microseconds (measured at 100,000 patterns): a
# candidate summed by lookups (`_ranked`), a posting grouped (`_grouped`), a row that holds the
# required words ranked (`_required`); and what `_ranked` usually costs on lists too long to
# count its candidates in first (more than COUNT_ROWS postings).
RANK_COST = 8.0
GROUP_COST = 0.8
ROW_COST = 6.0
COUNT_ROWS = 45_000
RANKED_LONG = 20_000.0
# The most confident rows that hold every strong word, scored for a better k-th best when the
# cheapest way is expected to cost more than BOOT_IF us and FTS5 to find at most BOOT_MAX such rows.
BOOT_IF = 5_000.0
BOOT_ROWS = 64
BOOT_MAX = 3_000
TOGETHER_ROWS = 50_000  # a word's rows summed by SQLite with the other words' (`_together`)
# The confidence list of a search filtered by status and kind (patterns-010): (status, kind,
# confidence, tags), so the walk covers only the rows those filters pass and checks their tags
# without reading the table. At 100,000 patterns, filtered by kind, status and a tag (773 rows
# pass), it halved the filtered searches' CPU (mean 10.4 -> 4.0 ms, same answers).
CONFIDENCE_INDEX = "patterns_status_kind_confidence"
# The work budget (issue #14), in the same estimated microseconds: a search whose exact way is
# expected to cost more returns the best rows it finds within it (`_bounded`, and `run`'s loop
# stops taking rows). Counted in work, never in time: the same store and query, the same answer.
BUDGET = 5_000.0
BUDGET_ROWS = 50_000  # a store of fewer patterns is searched exactly, whatever a search costs
SCORE_COST = 12.0  # a row scored exactly (`_score`: its postings looked up by (row, word))
TAKE_COST = 0.5  # a row read from a list by `run`'s loop
SCAN_COST = 3.0  # a posting read in the index's order and grouped by `_bounded`
COUNT_COST = 0.1  # a posting counted by `_candidates`
START_COST = 5.0  # a row FTS5 finds holding every strong word (`_start`)
# meta keys: `patterns_version`, which every write to a pattern adds one to (records.upsert), and
# the index's own id (patterns-011: random, so a store made anew at the same path, whose versions
# start again, never takes the key of the one before).
VERSION = "patterns_version"
INDEX_ID = "patterns_index_id"
BOUNDED_SHARE = 0.6  # of what is left of the budget, for `_bounded`'s postings
START_SHARE = 0.5  # of what is left of the budget, for `_start` when the search is over it


@dataclass
class Work:
    """What a search did, in the budget's estimated microseconds (`spent`), and whether its answer
    is the exact top-k (`exact`) or the best found within `budget`."""

    budget: float = field(default_factory=lambda: BUDGET)
    spent: float = 0.0
    postings: int = 0  # postings read by the bounded ways
    scored: int = 0  # rows scored exactly
    held: int = 0  # of them, scored from the row postings held in memory (row_postings)
    exact: bool = True


# The postings (patterns-008). The weights are bm25()'s, as in WEIGHTS.
POSTINGS_SQL = """
DROP TABLE IF EXISTS pattern_postings;
DROP TABLE IF EXISTS pattern_words;
DROP TABLE IF EXISTS pattern_lengths;
CREATE TABLE pattern_words (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE, rows INTEGER NOT NULL);
CREATE TABLE pattern_postings (
    wid INTEGER NOT NULL,
    tf INTEGER NOT NULL,
    dl INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    confidence REAL NOT NULL,
    state INTEGER NOT NULL,
    PRIMARY KEY (wid, tf DESC, dl, pid)
) WITHOUT ROWID;
CREATE INDEX pattern_postings_row ON pattern_postings (pid, wid);
CREATE TABLE pattern_lengths (dl INTEGER PRIMARY KEY, n INTEGER NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS temp.patterns_fts_instance USING fts5vocab(main, patterns_fts, instance);
CREATE TEMP TABLE patterns_tf AS
    SELECT term, doc, sum(CASE col WHEN 'title' THEN 5 WHEN 'problem' THEN 2 WHEN 'solution' THEN 2
                                   WHEN 'tags' THEN 3 ELSE 1 END) AS tf, count(*) AS n
    FROM temp.patterns_fts_instance GROUP BY term, doc;
CREATE TEMP TABLE patterns_dl AS SELECT doc, sum(n) AS dl FROM temp.patterns_tf GROUP BY doc;
INSERT INTO pattern_words (term, rows) SELECT term, count(*) FROM temp.patterns_tf GROUP BY term;
INSERT INTO pattern_postings (wid, tf, dl, pid, confidence, state)
    SELECT w.id, t.tf, d.dl, t.doc, p.confidence,
           CASE WHEN p.status IN ('candidate', 'active', 'retired')
                 AND p.kind IN ('pattern', 'anti-pattern', 'guardrail')
                THEN (CASE p.status WHEN 'candidate' THEN 0 WHEN 'active' THEN 3 ELSE 6 END)
                   + (CASE p.kind WHEN 'pattern' THEN 0 WHEN 'anti-pattern' THEN 1 ELSE 2 END)
                ELSE 9 END
    FROM temp.patterns_tf t JOIN pattern_words w ON w.term = t.term
    JOIN temp.patterns_dl d ON d.doc = t.doc JOIN patterns p ON p.rowid = t.doc;
INSERT INTO pattern_lengths (dl, n) SELECT dl, count(*) FROM temp.patterns_dl GROUP BY dl;
INSERT INTO pattern_lengths (dl, n)
    SELECT 0, count(*) FROM patterns_fts_docsize WHERE id NOT IN (SELECT doc FROM temp.patterns_dl)
    HAVING count(*) > 0;
DROP TABLE temp.patterns_tf;
DROP TABLE temp.patterns_dl;
DROP TABLE temp.patterns_fts_instance;
"""
POSTINGS_TABLES = ("pattern_postings", "pattern_words", "pattern_lengths")

# Every row's postings written anew in one pass (a bulk fill's end): FTS5's token instances summed
# per (term, row) in C, inserted in the table's own key order (appends, not random B-tree inserts)
# and the (pid, wid) index made afterwards by one sort. Same rows as POSTINGS_SQL's.
REFILL_SQL = """
DELETE FROM pattern_postings;
DELETE FROM pattern_words;
DELETE FROM pattern_lengths;
DROP INDEX IF EXISTS pattern_postings_row;
CREATE VIRTUAL TABLE IF NOT EXISTS temp.patterns_fts_instance USING fts5vocab(main, patterns_fts, instance);
CREATE TEMP TABLE patterns_tf AS
    SELECT term, doc, sum(CASE col WHEN 'title' THEN 5 WHEN 'problem' THEN 2 WHEN 'solution' THEN 2
                                   WHEN 'tags' THEN 3 ELSE 1 END) AS tf, count(*) AS n
    FROM temp.patterns_fts_instance GROUP BY term, doc;
CREATE TEMP TABLE patterns_dl AS SELECT doc, sum(n) AS dl FROM temp.patterns_tf GROUP BY doc;
INSERT INTO pattern_words (term, rows) SELECT term, count(*) FROM temp.patterns_tf GROUP BY term ORDER BY term;
INSERT INTO pattern_postings (wid, tf, dl, pid, confidence, state)
    SELECT w.id, t.tf, d.dl, t.doc, p.confidence,
           CASE WHEN p.status IN ('candidate', 'active', 'retired')
                 AND p.kind IN ('pattern', 'anti-pattern', 'guardrail')
                THEN (CASE p.status WHEN 'candidate' THEN 0 WHEN 'active' THEN 3 ELSE 6 END)
                   + (CASE p.kind WHEN 'pattern' THEN 0 WHEN 'anti-pattern' THEN 1 ELSE 2 END)
                ELSE 9 END
    FROM temp.patterns_tf t JOIN pattern_words w ON w.term = t.term
    JOIN temp.patterns_dl d ON d.doc = t.doc JOIN patterns p ON p.rowid = t.doc
    ORDER BY w.id, t.tf DESC, d.dl, t.doc;
CREATE INDEX pattern_postings_row ON pattern_postings (pid, wid);
INSERT INTO pattern_lengths (dl, n) SELECT dl, count(*) FROM temp.patterns_dl GROUP BY dl;
INSERT INTO pattern_lengths (dl, n)
    SELECT 0, count(*) FROM patterns_fts_docsize WHERE id NOT IN (SELECT doc FROM temp.patterns_dl)
    HAVING count(*) > 0;
DROP TABLE temp.patterns_tf;
DROP TABLE temp.patterns_dl;
DROP TABLE temp.patterns_fts_instance;
"""
_deferred: set[int] = set()  # id() of the connections in a `deferred` block


@contextmanager
def deferred(db: Database) -> Iterator[None]:
    """A bulk fill (run inside a transaction): the pattern writer's `index_row` and `unindex_row`
    write no postings in the block, and at its end every row's postings are written anew in one
    pass (REFILL_SQL), in the same transaction. Row by row, each posting is an insert at a random
    place of a table of millions (a 100,000-pattern fill took 20 minutes); in one pass, sorted,
    they are appends."""
    key = id(db.conn)
    _deferred.add(key)
    try:
        yield
    finally:
        _deferred.discard(key)
    refill(db)


def refill(db: Database) -> None:
    """Write every row's postings anew from FTS5's tokens (in the caller's transaction)."""
    for statement in REFILL_SQL.split(";\n"):
        if statement.strip():
            db.execute(statement)


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


STATUSES = ("candidate", "active", "retired")
KINDS = ("pattern", "anti-pattern", "guardrail")


def _state(status: str, kind: str) -> int:
    """A posting's copy of its pattern's status and kind, as one small number (9: unknown)."""
    if status not in STATUSES or kind not in KINDS:
        return 9
    return STATUSES.index(status) * len(KINDS) + KINDS.index(kind)


@dataclass(frozen=True)
class Filters:
    """Which patterns a search may return: of `status` (None: any but retired), of `kind` (None:
    any), carrying every tag of `tags`."""

    status: str | None = None
    kind: str | None = None
    tags: tuple[str, ...] = ()

    def _where(self, p: str) -> tuple[list[str], list[object]]:
        where: list[str] = []
        args: list[object] = []
        for tag in self.tags:
            # instr() on the JSON text first: a cheap test most rows fail; json_each decides.
            where.append(f"instr({p}.tags, ?) AND EXISTS (SELECT 1 FROM json_each({p}.tags) WHERE value = ?)")
            args += [json.dumps(tag), tag]
        return where, args

    @property
    def sql(self) -> str:
        """The conditions on a `patterns` row `p` (with `args`)."""
        where = ["p.status = ?" if self.status else "p.status != 'retired'"]
        if self.kind:
            where.append("p.kind = ?")
        return " AND ".join(where + self._where("p")[0])

    @property
    def args(self) -> tuple[object, ...]:
        return (
            *([self.status] if self.status else []),
            *([self.kind] if self.kind else []),
            *self._where("p")[1],
        )

    def states(self) -> list[int]:
        """The postings' `state` values these filters pass."""
        statuses = [self.status] if self.status else [s for s in STATUSES if s != "retired"]
        kinds = [self.kind] if self.kind else list(KINDS)
        return [_state(s, k) for s in statuses for k in kinds]

    def tags_of(self, pid: str) -> tuple[str, list[object]]:
        """` AND` the tag conditions on the pattern of rowid `pid` (empty without tags)."""
        if not self.tags:
            return "", []
        tag_where, tag_args = self._where("t")
        return (
            f" AND EXISTS (SELECT 1 FROM patterns t WHERE t.rowid = {pid} AND {' AND '.join(tag_where)})",
            tag_args,
        )

    def postings(self) -> tuple[str, list[object]]:
        """The conditions on a posting `pp`: its state, and the tags through its pattern row."""
        states = self.states()
        where = [f"pp.state IN ({','.join('?' * len(states))})"]
        args: list[object] = list(states)
        if self.tags:
            tag_where, tag_args = self._where("t")
            where.append(
                f"EXISTS (SELECT 1 FROM patterns t WHERE t.rowid = pp.pid AND {' AND '.join(tag_where)})"
            )
            args += tag_args
        return " AND ".join(where), args


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


# -- upkeep: the pattern writer calls these in the transaction that writes the FTS5 row -----------


def _scratch(db: Database) -> None:
    """This connection's scratch index, emptied: FTS5 with patterns_fts's tokenizer and no content,
    with its token instances (term, doc, col, offset) and per-column counts (term, col, cnt).
    Temporary: nothing is written to the store."""
    db.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_tok USING fts5({', '.join(COLUMNS)}, "
        f"tokenize = '{TOKENIZE}', content = '')"
    )
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_tok_v USING fts5vocab(temp, search_tok, instance)"
    )
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_tok_c USING fts5vocab(temp, search_tok, col)")
    db.execute("INSERT INTO temp.search_tok(search_tok) VALUES ('delete-all')")


_WEIGHT = dict(zip(COLUMNS, WEIGHTS, strict=True))


def unindex_row(db: Database, rowid: int) -> None:
    """Take a row's postings out (before its FTS5 row is replaced or removed)."""
    if id(db.conn) in _deferred:
        return
    db.execute(
        "UPDATE pattern_words SET rows = rows - 1 WHERE id IN (SELECT wid FROM pattern_postings WHERE pid = ?)",
        [rowid],
    )
    row = db.execute("SELECT dl FROM pattern_postings WHERE pid = ? LIMIT 1", [rowid]).fetchone()
    if (
        row is None
        and db.execute("SELECT 1 FROM patterns_fts_docsize WHERE id = ?", [rowid]).fetchone() is None
    ):
        return  # never indexed: nothing was counted
    dl = 0 if row is None else int(row[0])
    db.execute("DELETE FROM pattern_postings WHERE pid = ?", [rowid])
    db.execute("UPDATE pattern_lengths SET n = n - 1 WHERE dl = ?", [dl])
    db.execute("DELETE FROM pattern_lengths WHERE dl = ? AND n <= 0", [dl])


def index_row(
    db: Database, rowid: int, texts: tuple[str, str, str, str, str], confidence: float, status: str, kind: str
) -> None:
    """Add a row's postings: its FTS5 tokens (same tokenizer), weighted per column, its length, and
    a copy of what the filters and the key read (confidence, status, kind): the writer replaces
    the postings whenever it replaces the FTS5 row, which it does on every change of the pattern."""
    if id(db.conn) in _deferred:
        return
    _scratch(db)
    db.execute(
        f"INSERT INTO temp.search_tok(rowid, {', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
        [rowid, *texts],
    )
    tf: dict[str, int] = {}
    dl = 0
    for term, col, n in db.execute("SELECT term, col, cnt FROM temp.search_tok_c"):
        tf[term] = tf.get(term, 0) + _WEIGHT[col] * n
        dl += n
    db.execute(
        "INSERT INTO pattern_lengths (dl, n) VALUES (?, 1) ON CONFLICT(dl) DO UPDATE SET n = n + 1", [dl]
    )
    if not tf:
        return
    terms = list(tf)
    ids = db.execute(
        f"INSERT INTO pattern_words (term, rows) VALUES {','.join(['(?, 1)'] * len(terms))} "
        "ON CONFLICT(term) DO UPDATE SET rows = rows + 1 RETURNING term, id",
        terms,
    ).fetchall()
    state = _state(status, kind)
    values: list[object] = []
    for term, wid in ids:
        values += (wid, tf[term], dl, rowid, confidence, state)
    db.execute(
        "INSERT INTO pattern_postings (wid, tf, dl, pid, confidence, state) "
        f"VALUES {','.join(['(?, ?, ?, ?, ?, ?)'] * len(ids))}",
        values,
    )


# -- search ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stats:
    rows: int
    avgdl: float
    key: tuple[object, ...]  # this state of the index: what cached counts and row postings are for


def _stats(db: Database) -> _Stats | None:
    """Rows and average row length from FTS5's averages record, the numbers its bm25() uses."""
    row = db.execute("SELECT block FROM patterns_fts_data WHERE id = 1").fetchone()
    if row is None:
        return None
    sizes = _varints(bytes(row[0]))
    if not sizes or sizes[0] <= 0:
        return None
    meta = dict(
        db.execute(f"SELECT key, value FROM meta WHERE key IN ('{VERSION}', '{INDEX_ID}')").fetchall()
    )
    path = db.execute("PRAGMA database_list").fetchone()[2]
    return _Stats(sizes[0], sum(sizes[1:]) / sizes[0], (path, meta.get(INDEX_ID), meta.get(VERSION), *sizes))


def _key(db: Database) -> tuple[object, ...] | None:
    """The state's key, as the row postings' builder reads it."""
    stats = _stats(db)
    return None if stats is None else stats.key


_CACHE_LIMIT = 20_000
_counts: dict[tuple[object, ...], int] = {}
_tokens: dict[str, tuple[str, ...]] = {}
_lock = threading.Lock()


def _remember(cache: dict[object, object], key: object, value: object) -> None:
    with _lock:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = value


def _word_tokens(db: Database, ws: list[str]) -> dict[str, tuple[str, ...]]:
    missing = [w for w in ws if w not in _tokens]
    if missing:
        _scratch(db)
        for i, w in enumerate(missing, start=1):
            db.execute("INSERT INTO temp.search_tok(rowid, title) VALUES (?, ?)", [i, w])
        got: dict[int, list[str]] = {}
        for term, doc in db.execute("SELECT term, doc FROM temp.search_tok_v ORDER BY doc, offset"):
            got.setdefault(int(doc), []).append(str(term))
        db.execute("INSERT INTO temp.search_tok(search_tok) VALUES ('delete-all')")
        for i, w in enumerate(missing, start=1):
            _remember(_tokens, w, tuple(got.get(i, ())))  # type: ignore[arg-type]
    return {w: _tokens[w] for w in ws}


@dataclass(frozen=True)
class _Part:
    """One word of the query that matches rows: a term of bm25()'s sum."""

    word: str
    idf: float
    wid: int | None  # its token's postings; None: a phrase, scored by FTS5
    rows: int


def _parts(db: Database, ws: list[str], stats: _Stats) -> list[_Part]:
    """The query's words that match anything, in the query's order, with FTS5's idf."""
    tokens = _word_tokens(db, ws)
    single = sorted({tokens[w][0] for w in ws if len(tokens[w]) == 1})
    known = {
        str(t): (int(i), int(n))
        for i, t, n in db.execute(
            f"SELECT id, term, rows FROM pattern_words WHERE term IN ({','.join('?' * len(single))})",
            single,
        )
    }
    out: list[_Part] = []
    for w in ws:
        toks = tokens[w]
        if not toks:
            continue
        wid: int | None = None
        if len(toks) == 1:
            wid, n = known.get(toks[0], (0, 0))
        else:
            key = (*stats.key, w)
            n = _counts.get(key, -1)
            if n < 0:
                n = int(
                    db.execute(
                        "SELECT count(*) FROM patterns_fts WHERE patterns_fts MATCH ?", [_join([w], "OR")]
                    ).fetchone()[0]
                )
                _remember(_counts, key, n)  # type: ignore[arg-type]
        if n > 0:
            idf = math.log((stats.rows - n + 0.5) / (n + 0.5))
            out.append(_Part(w, idf if idf > 0.0 else 1e-6, wid, n))
    return out


def search_rowids(
    db: Database,
    text: str,
    filters: Filters,
    fetch: int,
    work: Work | None = None,
    rows: row_postings.Holder | None = None,
) -> list[tuple[int, str]]:
    """(rowid, the FTS5 query for its snippet) of the best `fetch` patterns, best first: the lowest
    `bm25 - confidence` over all the words (OR), ties to the lower rowid; beyond the work budget,
    the best found within it. `work`: the budget and what the search did; `rows`: the store's row
    postings, if the search may use and build them. See the module's note."""
    ws = words(text)
    if not ws or fetch <= 0:
        return []
    own = not db.conn.in_transaction  # else the caller's transaction, maybe with its own writes
    if own:
        db.execute("BEGIN")  # one state for the counts, the lists and the rows scored
    try:
        return _search_rowids(db, ws, filters, fetch, work, rows, own)
    finally:
        if own:
            db.execute("COMMIT")


def _search_rowids(
    db: Database,
    ws: list[str],
    filters: Filters,
    fetch: int,
    work: Work | None,
    rows: row_postings.Holder | None,
    own: bool,
) -> list[tuple[int, str]]:
    stats = _stats(db)
    if stats is None:
        return []
    covered = db.execute("SELECT sum(n), min(CASE WHEN dl > 0 THEN dl END) FROM pattern_lengths").fetchone()
    if covered[0] != stats.rows:
        return _by_fts5(db, ws, filters, fetch)
    parts = _parts(db, ws, stats)
    if not parts:
        return []
    query = _join([p.word for p in parts], "OR")
    if work is None:
        work = Work(budget=BUDGET if stats.rows >= BUDGET_ROWS else math.inf)
    held = None if rows is None else rows.held(stats.key)
    if rows is not None and held is None and own:
        rows.want(stats.rows, _key)  # never from a writer's search: its state is about to change
    top = _Search(db, parts, filters, fetch, stats, int(covered[1] or 1), work, held).run()
    return [(r, query) for r in top]


def _by_fts5(db: Database, ws: list[str], filters: Filters, fetch: int) -> list[tuple[int, str]]:
    """FTS5's own ranking of every matching row: exact, slow on a large table. Only for an index
    whose postings do not cover every row (written around the pattern writer)."""
    query = _join(ws, "OR")
    rows = db.execute(
        f"SELECT f.rowid FROM patterns_fts f CROSS JOIN patterns p ON p.rowid = f.rowid "
        f"WHERE patterns_fts MATCH ? AND {filters.sql} ORDER BY {_BM25} - p.confidence, f.rowid LIMIT ?",
        [query, *filters.args, fetch],
    )
    return [(int(r), query) for (r,) in rows]


class _List(ABC):
    """Rows in an order that bounds what the rest can add to a key: read a chunk at a time."""

    done = False

    @abstractmethod
    def bound(self) -> float:
        """The most an unread row of this list can get from it."""

    @abstractmethod
    def take(self) -> list[tuple[int, float, float]]:
        """The next chunk: (rowid, confidence, what the row gets from this list)."""


class _Cursor(_List):
    """A list read from an SQL cursor in chunks that double (FIRST_CHUNK up to MAX_CHUNK; the work
    budget may cut `size`), one row read ahead: the next row bounds the rest."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.cursor = cursor
        self.size = FIRST_CHUNK
        self.next: tuple[Any, ...] | None = cursor.fetchone()
        self.done = self.next is None

    def _rows(self) -> list[tuple[Any, ...]]:
        """The next `size` rows (the one read ahead first); the chunk after this one doubles."""
        if self.next is None:
            return []
        # `fetchmany(0)` returns every row left, not none: a chunk of one reads only the one ahead.
        chunk = [self.next, *(self.cursor.fetchmany(self.size - 1) if self.size > 1 else ())]
        self.size = min(self.size * 2, MAX_CHUNK)
        self.next = self.cursor.fetchone()
        self.done = self.next is None
        return chunk


class _Postings(_Cursor):
    """A token's postings joined with the filtered patterns, in the index's order (tf desc, dl asc)."""

    def __init__(self, s: _Search, wid: int, idf: float) -> None:
        self.wid, self.idf, self.s = wid, idf, s
        where, args = s.filters.postings()
        super().__init__(
            s.db.execute(
                "SELECT pp.pid, pp.tf, pp.dl, pp.confidence FROM pattern_postings pp "
                f"WHERE pp.wid = ? AND {where} ORDER BY pp.tf DESC, pp.dl, pp.pid",
                [wid, *args],
            )
        )
        self.top_tf = 0 if self.next is None else int(self.next[1])  # the list's largest tf

    def bound(self) -> float:
        if self.next is None:
            return 0.0
        _, tf, dl, _ = self.next
        most = self.s.part(tf, dl)
        if tf > 1:  # rows of lower frequency: at most tf - 1, at the shortest length
            most = max(most, self.s.part(tf - 1, self.s.dl_min))
        return self.idf * most

    def take(self) -> list[tuple[int, float, float]]:
        part = self.s.part
        return [(r, c, self.idf * part(tf, dl)) for r, tf, dl, c in self._rows()]


class _Phrase(_List):
    """A phrase's rows with their exact term of the score, from FTS5 (best first)."""

    def __init__(self, s: _Search, part: _Part) -> None:
        rows = s.db.execute(
            f"SELECT f.rowid, -{_BM25}, p.confidence FROM patterns_fts f CROSS JOIN patterns p "
            f"ON p.rowid = f.rowid WHERE patterns_fts MATCH ? AND {s.filters.sql}",
            [_join([part.word], "OR"), *s.filters.args],
        ).fetchall()
        self.value = {int(r): float(v) for r, v, _ in rows}
        self.order = sorted(((float(v), int(r), float(c)) for r, v, c in rows), reverse=True)
        self.at = 0
        self.done = not self.order

    def bound(self) -> float:
        return 0.0 if self.done else self.order[self.at][0]

    def take(self) -> list[tuple[int, float, float]]:
        chunk = self.order[self.at : self.at + FIRST_CHUNK]
        self.at += len(chunk)
        self.done = self.at >= len(self.order)
        return [(r, c, v) for v, r, c in chunk]


class _ByConfidence(_Cursor):
    """Every filtered pattern, most confident first: bounds the key's confidence part."""

    def __init__(self, s: _Search) -> None:
        # With a status and a kind, only their rows are walked (a ninth of the table, or less),
        # and their tags are read from the index (patterns-010); else every row by confidence.
        index = CONFIDENCE_INDEX if s.filters.status and s.filters.kind else "patterns_confidence"
        super().__init__(
            s.db.execute(
                f"SELECT p.rowid, p.confidence FROM patterns p INDEXED BY {index} "
                f"WHERE {s.filters.sql} ORDER BY p.confidence DESC",
                list(s.filters.args),
            )
        )

    def bound(self) -> float:
        return 0.0 if self.next is None else float(self.next[1])

    def take(self) -> list[tuple[int, float, float]]:
        return [(r, c, 0.0) for r, c in self._rows()]


class _Search:
    """The Threshold Algorithm over the query's lists; `run` returns the top `fetch` rowids: exact,
    or the best found within `work.budget` (then `work.exact` is False)."""

    def __init__(
        self,
        db: Database,
        parts: list[_Part],
        filters: Filters,
        fetch: int,
        stats: _Stats,
        dl_min: int,
        work: Work,
        held: row_postings.RowPostings | None = None,
    ) -> None:
        self.db, self.parts, self.filters, self.fetch, self.work = db, parts, filters, fetch, work
        self.held = held  # the row postings of this state, if built: `_score` reads them, not SQLite
        self.avgdl, self.dl_min, self.rows = stats.avgdl, dl_min, stats.rows
        self.wids = sorted({p.wid for p in parts if p.wid is not None})
        # bm25()'s terms in the query's order: (token id or None for a phrase, idf, the part's id)
        self.terms = [(p.wid, p.idf, id(p)) for p in parts]
        idf: dict[int, float] = {}
        for p in parts:
            if p.wid is not None:
                idf[p.wid] = idf.get(p.wid, 0.0) + p.idf  # a token two words stem to counts twice
        self.words: list[_List] = [_Postings(self, w, idf[w]) for w in self.wids]
        self.phrases = [(p, _Phrase(self, p)) for p in parts if p.wid is None]
        self.words += [ph for _, ph in self.phrases]
        self.confidence = _ByConfidence(self)

    def part(self, f: float, dl: float) -> float:
        """bm25()'s term for one word, without the idf: the same expression, so the same float."""
        return (f * (K1 + 1.0)) / (f + K1 * (1 - B + B * dl / self.avgdl))

    def key(self, tf: dict[int, int], dl: int, phrase: dict[int, float], confidence: float) -> float:
        """bm25() - confidence, summed as bm25() sums: every word in the query's order."""
        score = 0.0
        norm = K1 * (1 - B + B * dl / self.avgdl)  # the same float bm25() adds to each word's tf
        for wid, idf, part in self.terms:
            if wid is None:
                score += phrase.get(part, 0.0)
            else:
                f = tf.get(wid)
                if f is not None:
                    score += idf * ((f * (K1 + 1.0)) / (f + norm))
        return -1.0 * score - confidence

    def _together(self, best: list[tuple[float, int]], seen: set[int]) -> None:
        """Two or more words of useful idf: a row may hold several, and the lists' bounds (each
        word at its best at once) stay high until the lists are nearly read whole.

        Instead: the top chunk of each such list, scored exactly, gives a k-th best and bounds what
        an unseen row gets from each word; `_summed` then finds every unseen row that can still
        reach the k-th best through these words (SQLite ranks them by bm25()'s expression, in
        another order, so equal to about 1e-15; the best are scored exactly). Those words' lists
        are then done: an unread row that holds them cannot reach the k-th best.
        """
        rows = {p.wid: p.rows for p in self.parts if p.wid is not None}
        strong = [
            x
            for x in self.words
            if isinstance(x, _Postings) and x.idf > 1e-3 and rows[x.wid] <= TOGETHER_ROWS
        ]
        if len(strong) < 2:
            return
        # The top rows of each list and the most confident rows: where the k-th best starts from
        # (when confidence decides among common words, the lists' first rows say little).
        # Within the work budget (a row a list at least).
        heads: list[_Cursor] = [*strong, self.confidence]
        per = (self.work.budget - self.work.spent) / (len(heads) * (TAKE_COST + SCORE_COST))
        if per < FIRST_CHUNK:
            for x in heads:
                x.size = max(1, int(per))
        first = [row for x in heads for row in x.take()]
        self.work.spent += TAKE_COST * len(first)
        others = sum(x.bound() for x in self.words if x not in strong) + self.confidence.bound()
        fresh = list({r: (r, c) for r, c, _ in first if r not in seen}.values())
        seen.update(r for r, _ in fresh)
        self._score(fresh, best)
        del best[self.fetch :]
        # What an unseen row can get from each word (the rows seen are scored exactly).
        most = {x.wid: x.bound() for x in strong}
        for x in strong:
            x.done, x.next = True, None
            x.cursor.close()
        self._summed(strong, most, others, best, seen, rows)

    def _summed(
        self,
        strong: list[_Postings],
        most: dict[int, float],
        others: float,
        best: list[tuple[float, int]],
        seen: set[int],
        rows: dict[int, int],
    ) -> None:
        """The rows that can still reach the k-th best through the `strong` words, scored exactly,
        by the way expected to cost least (in microseconds, RANK_COST etc.; each is exact):

        - `_ranked`: candidates from each word's high range, each summed by lookups (~8 us a
          candidate, counted first in the index ranges when the lists are short enough);
        - `_grouped`: every posting that can still help, summed per row by one GROUP BY
          (~0.8 us a posting): for a few words of a few thousand rows each;
        - `_required`: when every row that can reach the k-th best must hold some of the words
          (without one, the others at their most fall short), only the rows FTS5 finds holding
          them all (~6 us a row; how many, estimated as if the words were independent).

        A lookup in the postings' (row, word) index costs 1-2 us at 100,000 patterns (pages
        outside SQLite's cache), which is what makes a candidate dear."""
        choice = self._choose(strong, most, others, best, rows)
        if choice is None:
            return  # no unseen row can reach the k-th best
        over = self.work.spent + choice[1] > self.work.budget
        if (choice[1] > BOOT_IF or over) and self._start(strong, best, seen, rows, over):
            choice = self._choose(strong, most, others, best, rows)  # from the better k-th best
            if choice is None:
                return
        way, cost, required = choice
        if self.work.spent + cost > self.work.budget:
            self._bounded(strong, most, others, best, seen, rows)
            return
        self.work.spent += cost
        if way == "required":
            self._required(strong, required, most, others, best, seen)
        elif way == "grouped":
            self._grouped(strong, most, others, best, seen)
        else:
            self._ranked(strong, most, others, best, seen, rows)

    def _bounded(
        self,
        strong: list[_Postings],
        most: dict[int, float],
        others: float,
        best: list[tuple[float, int]],
        seen: set[int],
        rows: dict[int, int],
    ) -> None:
        """The budget's best, when every exact way is expected to cost more than is left of it:
        each strong word's first postings in the index's order (tf desc, dl asc) that can still
        reach the k-th best (as in `_grouped`), as many as a share of the budget pays for, summed
        per row by one GROUP BY; rows are scored exactly best bound first (the sum over the words
        read, plus for each word a row was not read in what its unread postings can give), until
        the next cannot reach the k-th best or the budget is spent. Not exact: a row whose postings all
        come after the ones read is not seen. The words share the postings read in proportion
        to their idf squared."""
        self.work.exact = False
        cmax = self.confidence.bound()
        room = others - cmax
        left = self.work.budget - self.work.spent
        total = int(left * BOUNDED_SHARE / SCAN_COST)
        # The rarer a word, the deeper its best rows lie in the answer's: shares by idf squared.
        weight = {x.wid: x.idf * x.idf for x in strong}
        each = {x.wid: int(total * weight[x.wid] / sum(weight.values())) for x in strong}
        if min(each.values()) < 1:
            return  # the budget is spent: the rows scored so far
        kth = best[self.fetch - 1][0] if len(best) >= self.fetch else math.inf
        arms, args = self._arms(strong, most, kth, room, each)
        cut: list[float] = []  # the most a row not read in a word's postings gets from it
        for x in strong:
            row = self.db.execute(
                "SELECT tf FROM pattern_postings WHERE wid = ? ORDER BY tf DESC, dl, pid LIMIT 1 OFFSET ?",
                [x.wid, each[x.wid] - 1],
            ).fetchone()
            cut.append(0.0 if row is None else min(most[x.wid], x.idf * self.part(int(row[0]), self.dl_min)))
        read = sum(min(each[x.wid], rows[x.wid]) for x in strong)
        self.work.postings += read
        self.work.spent += SCAN_COST * read
        # Best first by what a row can have: its sum over the words read, plus, for each word it
        # was not read in, what the unread postings can give (added one by one from 0.0 in the
        # words' order: the same float Python's sum gives). SQLite sorts and keeps only as many as
        # the loop below can take: the rows the rest of the budget can score, the rows already
        # seen (skipped without cost) and one chunk.
        missing = "".join(f" + (CASE WHEN g.m >> {i} & 1 THEN 0.0 ELSE ? END)" for i in range(len(strong)))
        take = int((self.work.budget - self.work.spent) / SCORE_COST) + len(seen) + FIRST_CHUNK
        tag_where, tag_args = self.filters.tags_of("g.pid")
        got = self.db.execute(
            f"SELECT g.pid, g.c, (g.s + g.c) + (0.0{missing}) AS b FROM ({arms}) g "
            f"WHERE 1{tag_where} ORDER BY b DESC, g.pid LIMIT ?",
            [*cut, *args, *tag_args, take],
        ).fetchall()
        self._best_first(got, room, best, seen, budgeted=True)

    def _arms(
        self,
        strong: list[_Postings],
        most: dict[int, float],
        kth: float,
        room: float,
        first: dict[int, int] | None = None,
    ) -> tuple[str, list[object]]:
        """The strong words' postings that can still reach the k-th best (with the row's
        confidence and the other words at their most) and pass the filters' states, per row: its
        largest confidence `c`, its sum over the words `s` and the bits of the words it holds
        `m` (bit i: `strong[i]`), as SQL and its arguments. With `first`, only each word's first
        `first[wid]` postings in the index's order (tf desc, dl asc) are read."""
        states = self.filters.states()
        short = K1 * (1 - B + B * self.dl_min / self.avgdl)
        source = (
            "(SELECT * FROM pattern_postings WHERE wid = ? ORDER BY tf DESC, dl, pid LIMIT ?) WHERE"
            if first
            else "pattern_postings WHERE wid = ? AND"
        )
        arm = (
            f"SELECT pid, confidence, ? * ((tf * ?) / (tf + ? * (? + ? * dl / ?))) AS v, ? AS m FROM {source} "
            f"confidence + ? * ((tf * ?) / (tf + ?)) >= ? AND state IN ({','.join('?' * len(states))})"
        )
        args: list[object] = []
        for i, x in enumerate(strong):
            need = -kth - room - (sum(most.values()) - most[x.wid]) - 1e-6 if kth < math.inf else -math.inf
            limit = [first[x.wid]] if first else []
            args += [x.idf, K1 + 1.0, K1, 1 - B, B, self.avgdl, 1 << i, x.wid, *limit]
            args += [x.idf, K1 + 1.0, short, need, *states]
        sql = (
            "SELECT pid, max(confidence) AS c, sum(v) AS s, sum(m) AS m "
            f"FROM ({' UNION ALL '.join([arm] * len(strong))}) GROUP BY pid"
        )
        return sql, args

    def _best_first(
        self,
        got: list[tuple[int, float, float]],
        room: float,
        best: list[tuple[float, int]],
        seen: set[int],
        budgeted: bool = False,
    ) -> None:
        """Score `got` (rowid, confidence, bound; best bound first) a chunk at a time until the
        next bound cannot reach the k-th best (with `room`, what the weak words can add) or, when
        `budgeted`, the work budget is spent."""
        at = 0
        while at < len(got):
            kth = best[self.fetch - 1][0] if len(best) >= self.fetch else math.inf
            reach = -kth - room - 1e-6 if kth < math.inf else -math.inf
            if float(got[at][2]) < reach:
                return  # no row left can reach the k-th best (by what was read)
            n = FIRST_CHUNK
            if budgeted:
                n = min(n, int((self.work.budget - self.work.spent) / SCORE_COST))
                if n < 1:
                    return  # the budget is spent
            chunk = got[at : at + n]
            at += len(chunk)
            fresh = [(int(r), float(c)) for r, c, b in chunk if int(r) not in seen and float(b) >= reach]
            seen.update(r for r, _ in fresh)
            self._score(fresh, best)
            del best[self.fetch :]

    def _start(
        self,
        strong: list[_Postings],
        best: list[tuple[float, int]],
        seen: set[int],
        rows: dict[int, int],
        over: bool,
    ) -> bool:
        """Score the most confident rows that hold every strong word (FTS5 merges their lists in
        C): where mid-frequency words' best rows are, far from each list's head, so the k-th best
        they give makes every bound tighter. Only when FTS5 is expected to find at most BOOT_MAX
        such rows (each is joined with its pattern for the filters and the order), and, when the
        search is `over` its budget, at most a START_SHARE of what is left (START_COST a row)."""
        wids = {x.wid for x in strong}
        n = float(self.rows)
        both = n * math.prod(rows[w] / n for w in wids)  # as if the words were independent
        if both > BOOT_MAX:
            return False
        if over and START_COST * both + SCORE_COST * BOOT_ROWS > START_SHARE * (
            self.work.budget - self.work.spent
        ):
            return False
        self.work.spent += START_COST * both
        found = self.db.execute(
            "SELECT f.rowid, p.confidence FROM patterns_fts f CROSS JOIN patterns p ON p.rowid = f.rowid "
            f"WHERE patterns_fts MATCH ? AND {self.filters.sql} ORDER BY p.confidence DESC LIMIT ?",
            [_join([p.word for p in self.parts if p.wid in wids], "AND"), *self.filters.args, BOOT_ROWS],
        ).fetchall()
        fresh = [(int(r), float(c)) for r, c in found if int(r) not in seen]
        seen.update(r for r, _ in fresh)
        self._score(fresh, best)
        del best[self.fetch :]
        return True

    def _choose(
        self,
        strong: list[_Postings],
        most: dict[int, float],
        others: float,
        best: list[tuple[float, int]],
        rows: dict[int, int],
    ) -> tuple[str, float, list[_Postings]] | None:
        """The cheapest way by estimate, its cost and the required words; None when no unseen row
        can reach the k-th best."""
        cmax = self.confidence.bound()
        kth = best[self.fetch - 1][0] if len(best) >= self.fetch else math.inf
        if kth < math.inf and -(sum(most.values()) + others) > kth + _SLACK:
            return None
        budget = -kth - (others - cmax) - cmax - 1e-6 if kth < math.inf else -math.inf
        high = self._splits(strong, most, budget, rows)
        # Words every row that can still reach the k-th best holds: without one, the others at
        # their most, the confidence and the weak words fall short.
        total = sum(most.values())
        required = [x for x in strong if kth < math.inf and -(total - most[x.wid] + others) > kth + _SLACK]
        n = float(self.rows)
        both = n * math.prod(rows[x.wid] / n for x in required) if required else math.inf
        whole = sum(rows[x.wid] for x in strong)
        costs = {"grouped": GROUP_COST * whole, "required": ROW_COST * both}
        # Its candidates are counted in the index ranges (which may be whole lists), unless the
        # words have more than COUNT_ROWS postings: then what it usually costs on them. The count
        # stops where `_ranked` would cost more than another way or than is left of the budget.
        if whole <= COUNT_ROWS:
            least = min(self.work.budget - self.work.spent, *costs.values())
            cap = max(1, int(least / RANK_COST) + 1 if RANK_COST > 0 else 1 << 40)
            if self.work.budget - self.work.spent >= COUNT_COST * cap * len(strong):
                costs["ranked"] = RANK_COST * self._candidates(strong, most, others, kth, high, cap)
            else:
                costs["ranked"] = math.inf  # not even its count fits in the budget
        else:
            costs["ranked"] = RANKED_LONG
        way = min(costs, key=lambda k: costs[k])
        return way, costs[way], required

    def _candidates(
        self,
        strong: list[_Postings],
        most: dict[int, float],
        others: float,
        kth: float,
        high: dict[int, int],
        cap: int,
    ) -> int:
        """How many postings `_ranked` would sum by lookups (its first round): counted in the index
        ranges, about 0.06 us a posting against the ~8 us of each lookup sum; at most `cap` a word
        (more than `cap` in all and `_ranked` is not taken)."""
        if kth == math.inf:
            return 1 << 40  # every posting, and not one proven useless
        floor = -kth - sum(most.values()) - (others - self.confidence.bound()) - 1e-6
        short = K1 * (1 - B + B * self.dl_min / self.avgdl)
        count = (
            "(SELECT count(*) FROM (SELECT 1 FROM pattern_postings WHERE wid = ? AND tf >= ? "
            "AND confidence + ? * ((tf * ?) / (tf + ?)) >= ? LIMIT ?))"
        )
        args: list[object] = []
        for x in strong:
            args += [x.wid, high[x.wid], x.idf, K1 + 1.0, short, floor + most[x.wid] - 1e-6, cap]
        n = int(self.db.execute(f"SELECT {' + '.join([count] * len(strong))}", args).fetchone()[0])
        self.work.spent += COUNT_COST * n
        return n

    def _required(
        self,
        strong: list[_Postings],
        required: list[_Postings],
        most: dict[int, float],
        others: float,
        best: list[tuple[float, int]],
        seen: set[int],
    ) -> None:
        """Every row that can still reach the k-th best holds the `required` words: FTS5 finds the
        rows that hold them all (a merge of their doclists, in C), SQLite ranks those by their
        exact sum over the strong words (looked up by row and word) plus confidence, and the best
        are scored exactly, more until the last one taken cannot reach the k-th best."""
        cmax = self.confidence.bound()
        room = others - cmax
        part = "((q.tf * ?) / (q.tf + ? * (? + ? * q.dl / ?)))"
        sql = (
            f"SELECT f.rowid, p.confidence, (SELECT sum((CASE q.wid {' '.join(['WHEN ? THEN ?'] * len(strong))} "
            f"END) * {part}) FROM pattern_postings q WHERE q.pid = f.rowid "
            f"AND q.wid IN ({','.join('?' * len(strong))})) + p.confidence AS s "
            f"FROM patterns_fts f CROSS JOIN patterns p ON p.rowid = f.rowid "
            f"WHERE patterns_fts MATCH ? AND {self.filters.sql} AND p.confidence >= ? ORDER BY s DESC, f.rowid LIMIT ?"
        )
        head: list[object] = [v for x in strong for v in (x.wid, x.idf)]
        head += [K1 + 1.0, K1, 1 - B, B, self.avgdl, *(x.wid for x in strong)]
        wids = {x.wid for x in required}
        match = _join([p.word for p in self.parts if p.wid in wids], "AND")
        limit = self.fetch + 32
        while True:
            kth = best[self.fetch - 1][0]
            least = -kth - room - sum(most.values()) - 1e-6
            got = self.db.execute(sql, [*head, match, *self.filters.args, least, limit]).fetchall()
            fresh = [(int(r), float(c)) for r, c, _ in got if int(r) not in seen]
            seen.update(r for r, _ in fresh)
            self._score(fresh, best)
            del best[self.fetch :]
            if len(got) < limit:
                return  # every row that holds the required words was ranked
            kth = best[self.fetch - 1][0]
            if -(float(got[-1][2] or 0.0) + room) > kth + 1e-6:
                return  # no row left can reach the k-th best
            limit *= 4

    def _grouped(
        self,
        strong: list[_Postings],
        most: dict[int, float],
        others: float,
        best: list[tuple[float, int]],
        seen: set[int],
    ) -> None:
        """Every posting of the `strong` words that can still reach the k-th best (with the row's
        confidence and the most the other words can add), summed per row by SQLite in one GROUP
        BY (about a microsecond a posting): a row's sum over the strong words is then exact up
        to the order of the additions, so its bound (that sum, its confidence and what the weak
        words can add) is tight. Rows are scored exactly, best bound first, until the next bound
        cannot reach the k-th best."""
        cmax = self.confidence.bound()
        room = others - cmax  # what the weak words can add
        kth = best[self.fetch - 1][0] if len(best) >= self.fetch else math.inf
        arms, args = self._arms(strong, most, kth, room)
        tag_where, tag_args = self.filters.tags_of("g.pid")
        floor = -kth - room - 1e-6 if kth < math.inf else -math.inf
        got = self.db.execute(
            f"SELECT g.pid, g.c, g.s + g.c AS b FROM ({arms}) g "
            f"WHERE g.s + g.c >= ?{tag_where} ORDER BY b DESC, g.pid",
            [*args, floor, *tag_args],
        ).fetchall()
        self._best_first(got, room, best, seen)

    def _ranked(
        self,
        strong: list[_Postings],
        most: dict[int, float],
        others: float,
        best: list[tuple[float, int]],
        seen: set[int],
        rows: dict[int, int],
    ) -> None:
        """`_summed` by candidates from the high ranges, each summed by lookups.

        An unseen row gets at most `most[word]` from each strong word and `others` (the weak
        words' bounds and its confidence) besides. Each word's postings split at a tf `high`:
        below it, at the shortest length, a posting gives at most `low`. The splits are chosen
        so that a row whose every posting is low (or absent) cannot reach the k-th best: the
        candidates are then the rows of the high ranges (index ranges, tf descending) whose
        confidence can make up the rest. SQLite ranks them by their exact sum over the strong
        words (each looked up by (row, word)) plus confidence; the best are scored exactly, more
        until the last one taken plus what the weak words can add cannot reach the k-th best.
        The common words' rows are mostly of small tf, so their ranges are short."""
        where, args = self.filters.postings()
        cmax = self.confidence.bound()
        room = others - cmax  # what the weak words can add
        part = "((q.tf * ?) / (q.tf + ? * (? + ? * q.dl / ?)))"
        # A posting of a high range, at the shortest length, with the row's confidence and the
        # most the other words can add, must reach the k-th best.
        at_least = "confidence + ? * ((tf * ?) / (tf + ?)) >= ?"
        source = " UNION ALL ".join(
            [f"SELECT pid, confidence, state FROM pattern_postings WHERE wid = ? AND tf >= ? AND {at_least}"]
            * len(strong)
        )
        sql = (
            f"SELECT g.pid, g.confidence, (SELECT sum((CASE q.wid {' '.join(['WHEN ? THEN ?'] * len(strong))} "
            f"END) * {part}) FROM pattern_postings q WHERE q.pid = g.pid "
            f"AND q.wid IN ({','.join('?' * len(strong))})) + g.confidence AS s "
            f"FROM (SELECT DISTINCT pp.pid, pp.confidence FROM ({source}) pp WHERE {where} "
            "AND pp.confidence >= ?) g ORDER BY s DESC, g.pid LIMIT ?"
        )
        head: list[object] = [v for x in strong for v in (x.wid, x.idf)]
        head += [K1 + 1.0, K1, 1 - B, B, self.avgdl, *(x.wid for x in strong)]
        limit = self.fetch + 32
        while True:
            kth = best[self.fetch - 1][0] if len(best) >= self.fetch else math.inf
            if kth < math.inf and -(sum(most.values()) + others) > kth + _SLACK:
                return  # no unseen row can reach the k-th best
            budget = -kth - room - cmax - 1e-6 if kth < math.inf else -math.inf
            high = self._splits(strong, most, budget, rows)
            floor = -kth - sum(most.values()) - room - 1e-6 if kth < math.inf else -math.inf
            short = K1 * (1 - B + B * self.dl_min / self.avgdl)
            ranges: list[object] = []
            for x in strong:
                need = floor + most[x.wid] if floor > -math.inf else -math.inf
                ranges += [x.wid, high[x.wid], x.idf, K1 + 1.0, short, need - 1e-6]
            got = self.db.execute(sql, [*head, *ranges, *args, floor, limit]).fetchall()
            fresh = [(int(r), float(c)) for r, c, _ in got if int(r) not in seen]
            seen.update(r for r, _ in fresh)
            self._score(fresh, best)
            del best[self.fetch :]
            if len(got) < limit:
                return  # every candidate was scored
            kth = best[self.fetch - 1][0] if len(best) >= self.fetch else math.inf
            if -(float(got[-1][2]) + room) > kth + 1e-6:
                return  # no candidate left can reach the k-th best
            limit *= 4

    def _splits(
        self, strong: list[_Postings], most: dict[int, float], budget: float, rows: dict[int, int]
    ) -> dict[int, int]:
        """Per word, the least tf of its high range, such that a row of no high range gets less
        than `budget` from the strong words: the commonest words' ranges are raised first (their
        low rows are the many). A word whose range starts above its largest tf has none."""
        high = {x.wid: 1 for x in strong}
        low = {x.wid: 0.0 for x in strong}  # the most a posting below `high` gives (none below 1)
        if budget == -math.inf:
            return high
        for x in sorted(strong, key=lambda x: -rows[x.wid]):
            for tf in range(high[x.wid] + 1, x.top_tf + 2):
                below = min(most[x.wid], x.idf * self.part(tf - 1, self.dl_min))
                if sum(low.values()) - low[x.wid] + below >= budget:
                    break
                high[x.wid], low[x.wid] = tf, below
        return high

    def run(self) -> list[int]:
        fetch = self.fetch
        best: list[tuple[float, int]] = []
        seen: set[int] = set()
        self._together(best, seen)
        lists = [*self.words, self.confidence]
        try:
            while True:
                if all(w.done for w in self.words) or self.confidence.done:
                    break  # an unread row holds none of the words, or there is no unread row
                bounds = [x.bound() for x in lists]
                kth = best[fetch - 1][0] if len(best) >= fetch else math.inf
                if -sum(bounds) > kth + _SLACK:
                    break  # no unread row can beat or tie the k-th best
                # The list that can add most goes next; the confidence list's rows cost a random
                # access each (a word list's row carries its own part), so it weighs half.
                weigh = [
                    b * (0.5 if x is self.confidence else 1.0) for x, b in zip(lists, bounds, strict=True)
                ]
                i = max(range(len(lists)), key=lambda j: (not lists[j].done, weigh[j]))
                # The work budget: a chunk costs its reads and, at most, a score a row; the last
                # one is cut to what is left.
                x = lists[i]
                size = x.size if isinstance(x, _Cursor) else FIRST_CHUNK
                left = (self.work.budget - self.work.spent) / (TAKE_COST + SCORE_COST)
                if left < size:
                    if left < 1 or not isinstance(x, _Cursor):
                        self.work.exact = False
                        break  # the budget's best: the rows seen so far
                    x.size = int(left)
                # What the words of the other lists can add to a row first seen here (had it a
                # posting they already passed, it would have been seen there).
                rest = sum(bounds[: len(self.words)]) - (bounds[i] if i < len(self.words) else 0.0)
                fresh: list[tuple[int, float]] = []
                chunk = lists[i].take()
                self.work.spent += TAKE_COST * len(chunk)
                for r, c, own in chunk:
                    if r not in seen:
                        seen.add(r)
                        if -(own + rest) - c <= kth + _SLACK:
                            fresh.append((r, c))
                if fresh:
                    self._score(fresh, best)
                    del best[fetch:]
        finally:
            self.close()
        return [r for _, r in best]

    def close(self) -> None:
        """Close the lists' cursors (a search's statements stay open until its rows are read)."""
        for x in [*self.words, self.confidence]:
            if isinstance(x, _Cursor):
                x.cursor.close()

    def _score(self, rows: list[tuple[int, float]], best: list[tuple[float, int]]) -> None:
        """The exact keys of `rows` (rowid, confidence), from their postings for every word."""
        self.work.scored += len(rows)
        self.work.spent += SCORE_COST * len(rows)
        tf: dict[int, dict[int, int]] = {}  # per row, its tf of each word it holds
        dl: dict[int, int] = {}
        pids = [r for r, _ in rows]
        if self.wids and self.held is not None and pids and max(pids) < self.held.rows:
            tf, dl = self.held.lookup(pids, self.wids)
            self.work.held += len(pids)
        elif self.wids and pids:
            for pid, wid, f, n in self.db.execute(
                f"SELECT pid, wid, tf, dl FROM pattern_postings WHERE pid IN ({','.join('?' * len(pids))}) "
                f"AND wid IN ({','.join('?' * len(self.wids))})",
                [*pids, *self.wids],
            ):
                held = tf.get(pid)
                if held is None:
                    tf[pid] = held = {}
                    dl[pid] = n
                held[wid] = f
        no_tf: dict[int, int] = {}
        no_phrase: dict[int, float] = {}
        for pid, confidence in rows:
            phrase = (
                {id(p): ph.value[pid] for p, ph in self.phrases if pid in ph.value}
                if self.phrases
                else no_phrase
            )
            held = tf.get(pid)
            if held is None and not phrase:
                continue  # found by confidence alone: holds none of the words
            entry = (self.key(held or no_tf, dl.get(pid, 0), phrase, confidence), pid)
            if len(best) < self.fetch or entry < best[-1]:
                bisect.insort(best, entry)


def snippets(db: Database, query: str, rowids: list[int]) -> dict[int, str]:
    """The `[highlighted]` snippet of each of `rowids` for `query`, in one FTS5 query (one statement
    for the rows a search returns instead of one each: about a third less time)."""
    if not rowids:
        return {}
    got = db.execute(
        "SELECT rowid, snippet(patterns_fts, -1, '[', ']', '…', 16) FROM patterns_fts "
        f"WHERE patterns_fts MATCH ? AND rowid IN ({','.join('?' * len(rowids))})",
        [query, *rowids],
    ).fetchall()
    return {int(r): str(text) if text else "" for r, text in got}


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
