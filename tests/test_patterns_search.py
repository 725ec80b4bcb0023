"""Search on a table big enough for it to matter: common words must not drown the
relevant pattern, filters must still fill the limit, and hostile text must never reach FTS5."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factorops.store.store import Store
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns import search as pattern_search
from factorops.tools.patterns.model import Pattern

from .search_corpus import put

NOW = datetime(2026, 11, 25, tzinfo=UTC)
FILLER = 2500  # enough rows for "the" and "test" to be common words


def _p(i: int, title: str, body: str, **kw: object) -> Pattern:
    return Pattern(id=f"pat-{i:06d}", title=title, problem=body, created=NOW, updated=NOW, **kw)  # type: ignore[arg-type]


@pytest.fixture
def big(store: Store) -> Store:
    filler = [
        _p(i, f"the test note {i}", f"the test suite and the build, item {i}", status="active")
        for i in range(FILLER)
    ]
    labelled = [
        _p(FILLER + 1, "Retry flaky network tests with backoff", "the flaky test hits the network"),
        _p(FILLER + 2, "Quarantine flaky tests", "the flaky test fails at random", kind="anti-pattern"),
        _p(FILLER + 3, "Pin the database image", "migrations differ between versions", tags=["db"]),
    ]
    # The labelled rows go in first, so they are the OLDEST: a planner that only looked at the
    # newest matches of a common word would miss them.
    put(store, labelled)
    put(store, filler)
    return store


def _search(store: Store, query: str, **kw: object) -> list[str]:
    res = patterns.search(store, patterns.PatternsSearchInput(query=query, **kw), NOW)  # type: ignore[arg-type]
    return [h.title for h in res.results]


def test_common_words_do_not_drown_the_relevant_pattern(big: Store) -> None:
    titles = _search(big, "the flaky test with the network", limit=3)
    assert titles[0] == "Retry flaky network tests with backoff"
    assert "Quarantine flaky tests" in titles
    assert _search(big, "database", limit=3) == ["Pin the database image"]
    # Stemmed: other forms of a word find it.
    assert _search(big, "retrying", limit=1) == ["Retry flaky network tests with backoff"]
    assert _search(big, "migration", limit=1) == ["Pin the database image"]


def test_filters_still_fill_the_limit_past_the_window(big: Store) -> None:
    # Only old rows are anti-patterns; the newest matches of "test" are all filler patterns.
    assert _search(big, "test", kind="anti-pattern") == ["Quarantine flaky tests"]
    assert _search(big, "the", tags=["db"]) == ["Pin the database image"]
    active = _search(big, "the test", status="active", limit=7)
    assert len(active) == 7 and all(t.startswith("the test note") for t in active)


def test_only_common_words_still_answer(big: Store) -> None:
    res = patterns.search(big, patterns.PatternsSearchInput(query="the test", limit=5), NOW)
    assert len(res.results) == 5 and res.truncated
    assert all("[the]" in h.snippet.lower() or "[test]" in h.snippet.lower() for h in res.results)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_no_text_is_an_fts_syntax_error(text: str) -> None:
    q = pattern_search.fts_query(text)
    if q is None:
        return
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(a)")
    db.execute("INSERT INTO t VALUES ('some text')")
    db.execute("SELECT * FROM t WHERE t MATCH ?", [q]).fetchall()
    db.execute("SELECT * FROM t WHERE t MATCH ?", [pattern_search.fts_query(text, "AND")]).fetchall()


def test_words_are_bounded_and_unique() -> None:
    assert pattern_search.words("Foo foo FOO bar") == ["foo", "bar"]
    assert len(pattern_search.words(" ".join(f"w{i}" for i in range(100)))) == pattern_search.MAX_WORDS
    assert pattern_search.words('"" AND OR NOT * ( ) :') == ["and", "or", "not"]
    assert pattern_search.fts_query("AND OR") == '"and" OR "or"'
