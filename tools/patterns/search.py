"""Full-text search over patterns that stays fast at 100,000 patterns and never fails on user text.

Two problems shape this module.

User text is not FTS5 syntax: `foo"`, `AND OR`, `NEAR(`, `title:` are syntax errors or operators
to FTS5. Every word is therefore extracted and quoted; operators in the text become plain words.

BM25 ranks *every* row a query matches before LIMIT applies, so a query containing a word found
in most patterns ("the", "test") costs time in proportion to the whole table. The planner:
- checks each word cheaply (does it match more than `COMMON_ROWS` rows?) and drops such common
  words when rarer ones are present, as they add little to BM25 anyway;
- runs the rarer words as an AND query first (patterns holding all of them rank first), then as
  OR; a query of common words only runs as one OR stage;
- scores at most the newest `RANK_BUDGET / words` matching rows of each stage (found with a rowid
  cut-off that FTS5 answers without scoring). Ranking is exact whenever a stage matches fewer.
Snippets are made only for the rows returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from factorops.tools.kernel.tokens import ESTIMATE_SLACK, count_many, estimate_tokens

if TYPE_CHECKING:
    from factorops.store.db import Database


COMMON_ROWS = 2000  # a word matching more rows than this is "common"
RANK_BUDGET = 2400  # rows x words that one stage may score with BM25 (~1 microsecond each)
MAX_WORDS = 16
# BM25 column weights: title, problem, solution, tags, evidence (quoted commit subjects, session
# goals, files in scope: supporting text, so it ranks below the pattern's own words).
_BM25 = "bm25(patterns_fts, 5.0, 2.0, 2.0, 3.0, 1.0)"
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


def _is_common(db: Database, word: str) -> bool:
    row = db.execute(
        "SELECT rowid FROM patterns_fts WHERE patterns_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
        [_join([word], "OR"), COMMON_ROWS],
    ).fetchone()
    return row is not None


def plan(db: Database, text: str) -> list[tuple[str, int]]:
    """(FTS5 query, number of words) to run, best first (AND before OR); empty when nothing can match."""
    ws = words(text)
    if not ws:
        return []
    rare = [w for w in ws if not _is_common(db, w)]
    if not rare:
        # Only common words: intersecting their long doclists costs more than it tells, so one OR
        # stage ranks the newest matches.
        return [(_join(ws, "OR"), len(ws))]
    if len(rare) == 1:
        return [(_join(rare, "OR"), 1)]
    return [(_join(rare, "AND"), len(rare)), (_join(rare, "OR"), len(rare))]


def _cutoff(db: Database, query: str, window: int, filters: Filters | None) -> int | None:
    """The rowid below the newest `window` matching rows (None: fewer rows match). FTS5 walks its
    doclists in rowid order for this without scoring anything."""
    if filters is None:
        sql = "SELECT rowid FROM patterns_fts WHERE patterns_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?"
        args: list[object] = [query, window]
    else:
        sql = (
            "SELECT patterns_fts.rowid FROM patterns_fts JOIN patterns p ON p.rowid = patterns_fts.rowid "
            f"WHERE patterns_fts MATCH ? AND {filters.sql} ORDER BY patterns_fts.rowid DESC LIMIT 1 OFFSET ?"
        )
        args = [query, *filters.args, window]
    row = db.execute(sql, args).fetchone()
    return None if row is None else int(row[0])


def ranked_rowids(db: Database, query: str, n_words: int, filters: Filters, fetch: int) -> list[int]:
    """Rowids of the best `fetch` patterns for one FTS5 query, best first (BM25, then confidence).

    Scores at most the newest RANK_BUDGET / n_words matching rows. The window is first cut on the
    FTS index alone (cheap); if the filters then leave too few rows, it is cut again counting only
    rows that pass the filters.
    """
    window = max(100, RANK_BUDGET // n_words)
    sql = (
        f"SELECT patterns_fts.rowid, {_BM25} AS score FROM patterns_fts "
        "JOIN patterns p ON p.rowid = patterns_fts.rowid "
        f"WHERE patterns_fts MATCH ? AND {filters.sql} AND patterns_fts.rowid > ? "
        "ORDER BY score - p.confidence LIMIT ?"
    )
    cut = _cutoff(db, query, window, None)
    rows = db.execute(sql, [query, *filters.args, cut or 0, fetch]).fetchall()
    if len(rows) < fetch and cut is not None:
        cut = _cutoff(db, query, window, filters)
        rows = db.execute(sql, [query, *filters.args, cut or 0, fetch]).fetchall()
    return [int(r[0]) for r in rows]


def snippet(db: Database, query: str, rowid: int) -> str:
    row = db.execute(
        "SELECT snippet(patterns_fts, -1, '[', ']', '…', 16) FROM patterns_fts "
        "WHERE patterns_fts MATCH ? AND rowid = ?",
        [query, rowid],
    ).fetchone()
    return str(row[0]) if row and row[0] else ""


def search_rowids(db: Database, text: str, filters: Filters, fetch: int) -> list[tuple[int, str]]:
    """(rowid, the query that found it) for up to `fetch` patterns, best first."""
    out: dict[int, str] = {}
    for query, n_words in plan(db, text):
        for rowid in ranked_rowids(db, query, n_words, filters, fetch):
            out.setdefault(rowid, query)
        if len(out) >= fetch:
            break
    return list(out.items())[:fetch]


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
