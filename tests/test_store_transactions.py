"""The store's one transaction helper (`Index.transaction`) on a real SQLite file: nested use is a
savepoint, and a COMMIT that fails is rolled back so nothing is half-written and the connection
stays usable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from factorops.store.db import Index


@pytest.fixture
def index(tmp_path: Path):  # type: ignore[no-untyped-def]
    ix = Index(tmp_path / "index.db")
    with ix.transaction() as db:
        db.execute("CREATE TABLE t (x INTEGER)")
        db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        db.execute(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, "
            "parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
        )
    yield ix
    ix.close()


def _rows(path: Path, table: str) -> list[int]:
    conn = sqlite3.connect(path)  # another connection: what is really committed
    try:
        return [r[0] for r in conn.execute(f"SELECT rowid FROM {table} ORDER BY rowid")]
    finally:
        conn.close()


def _xs(ix: Index) -> list[int]:
    return [r[0] for r in ix.db.execute("SELECT x FROM t ORDER BY x").fetchall()]


def test_an_inner_transaction_that_raises_leaves_the_outer_writes(index: Index) -> None:
    with index.transaction() as db:
        db.execute("INSERT INTO t (x) VALUES (1)")
        with pytest.raises(ValueError, match="inner"), index.transaction() as inner:
            inner.execute("INSERT INTO t (x) VALUES (2)")
            raise ValueError("inner")
        db.execute("INSERT INTO t (x) VALUES (3)")
        with index.transaction() as inner:  # a nested block that succeeds keeps its write
            inner.execute("INSERT INTO t (x) VALUES (4)")
    assert _xs(index) == [1, 3, 4]
    assert not index.db.conn.in_transaction


def test_an_outer_transaction_that_raises_undoes_its_nested_blocks_too(index: Index) -> None:
    with pytest.raises(RuntimeError, match="^outer$"), index.transaction() as db:
        db.execute("INSERT INTO t (x) VALUES (1)")
        with index.transaction() as inner:
            inner.execute("INSERT INTO t (x) VALUES (2)")
        raise RuntimeError("outer")
    assert _xs(index) == []
    assert not index.db.conn.in_transaction


def test_a_failing_commit_is_rolled_back_and_the_connection_stays_usable(index: Index) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), index.transaction() as db:
        db.execute("INSERT INTO t (x) VALUES (7)")
        db.execute("INSERT INTO child (id, parent_id) VALUES (1, 42)")  # checked only at COMMIT
    assert not index.db.conn.in_transaction
    assert _xs(index) == []  # this connection sees nothing half-written...
    assert _rows(index.path, "child") == [] and _rows(index.path, "t") == []  # ...nor does another
    with index.transaction() as db:  # the next transaction works
        db.execute("INSERT INTO parent (id) VALUES (42)")
        db.execute("INSERT INTO child (id, parent_id) VALUES (1, 42)")
    assert _rows(index.path, "child") == [1]


def test_the_store_needs_no_sqlite_utils(tmp_path: Path) -> None:
    """sqlite-utils is no longer a dependency: opening a store and writing through it never imports it."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom pathlib import Path\n"
        "from factorops.store.datadir import DataDir\nfrom factorops.store.store import Store\n"
        "from factorops.tools.registry import components\n"
        f"root = Path({str(tmp_path)!r})\n"
        "with Store.open(DataDir.for_project(root), components()) as s:\n"
        "    with s.index.transaction() as db:\n"
        "        db.execute('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', ['k', 'v'])\n"
        "    print(s.index.get_meta('k'), 'sqlite_utils' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["v", "False"]
