"""patterns_search returns the exact BM25 top-k (issue #14): the lowest `bm25 - confidence` over
every word of the query, whatever the age of the row and however common the words, checked
through the MCP client against SQLite's own unwindowed bm25()."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from mcp import Client

from factorops.store.store import Store
from factorops.tools.patterns import search as pattern_search
from factorops.tools.patterns.model import Pattern

from .search_corpus import put

NOW = datetime(2026, 11, 25, tzinfo=UTC)


async def _ids(c: Client, args: dict[str, Any]) -> list[str]:
    r = await c.call_tool("patterns_search", args)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    return [h["id"] for h in r.structured_content["results"]]  # type: ignore[index]


async def test_the_best_match_is_found_under_thousands_of_newer_weaker_ones(
    store: Store, client: Client
) -> None:
    # The oldest row says "zebra" in its title twice; 3,000 newer rows say it once in passing (and
    # 4,000 more do not say it). The windowed ranking scored only the newest 2,400 matches of a
    # word this common and never saw the best one.
    put(
        store,
        [
            Pattern(
                id="pat-old",
                title="Zebra zebra crossing",
                problem="stop at the lines",
                created=NOW,
                updated=NOW,
            )
        ],
    )
    put(
        store,
        [
            Pattern(
                id=f"pat-{i:05d}",
                title=f"note {i}",
                problem=f"the zebra and item {i} in a longer sentence about the build",
                created=NOW,
                updated=NOW,
            )
            for i in range(3000)
        ]
        + [
            Pattern(id=f"pat-x{i:05d}", title=f"other {i}", problem="unrelated", created=NOW, updated=NOW)
            for i in range(4000)
        ],
    )
    assert (await _ids(client, {"query": "zebra", "limit": 3}))[0] == "pat-old"
    assert (await _ids(client, {"query": "the zebra crossing", "limit": 3}))[0] == "pat-old"


async def test_top_k_equals_sqlites_unwindowed_bm25(store: Store, client: Client) -> None:
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(60)]
    weights = [1 / (r + 1) for r in range(len(vocab))]  # Zipf: w0 is in almost every row
    rows = [
        Pattern(
            id=f"pat-{i:05d}",
            title=" ".join(rng.choices(vocab, weights, k=5)),
            problem=" ".join(rng.choices(vocab, weights, k=20)),
            solution=" ".join(rng.choices(vocab, weights, k=20)),
            tags=rng.sample(vocab[:8], 2),
            kind=rng.choice(["pattern", "anti-pattern"]),
            status=rng.choice(["candidate", "active", "retired"]),
            confidence=rng.random(),
            created=NOW,
            updated=NOW,
        )
        for i in range(5000)
    ]
    put(store, rows)
    db = store.db
    queries = ["w0", "w0 w1", "w1 w2 w3", "w5 w40", "w59", "w0 w30 w2", "w12 w13", "w3 w0 w1 w2"]
    for q in queries:
        for extra in ({}, {"kind": "anti-pattern"}, {"status": "retired"}):
            where = "p.status = ?" if "status" in extra else "p.status != 'retired'"
            args: list[object] = [pattern_search.fts_query(q)]
            if "status" in extra:
                args.append(extra["status"])
            if "kind" in extra:
                where += " AND p.kind = ?"
                args.append(extra["kind"])
            want = [
                str(r[0])
                for r in db.execute(
                    f"SELECT p.id, {pattern_search._BM25} - p.confidence AS k FROM patterns_fts f "
                    f"JOIN patterns p ON p.rowid = f.rowid WHERE patterns_fts MATCH ? AND {where} "
                    "ORDER BY k, f.rowid LIMIT 5",
                    args,
                )
            ]
            assert await _ids(client, {"query": q, "limit": 5, **extra}) == want, (q, extra)
