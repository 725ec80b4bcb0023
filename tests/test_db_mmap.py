"""The index is read through a memory map (store.db.MMAP_BYTES, FACTOROPS_SQLITE_MMAP_BYTES): every
connection the store opens maps it, 0 turns it off, and a value that is not a whole number of
bytes is refused with a warning naming it (the default stays)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from factorops.store import db as store_db
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.registry import components


def _mapped(project: Path) -> int:
    store = Store.open(DataDir.for_project(project), components())
    try:
        return int(store.db.execute("PRAGMA mmap_size").fetchone()[0])
    finally:
        store.close()


def test_the_store_maps_the_index_by_default(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACTOROPS_SQLITE_MMAP_BYTES", raising=False)
    assert store_db.MMAP_BYTES == 256 << 20
    assert _mapped(project) == store_db.MMAP_BYTES


@pytest.mark.parametrize(("value", "mapped"), [("0", 0), (" 1048576 ", 1 << 20)])
def test_the_environment_sets_how_much_is_mapped(
    project: Path, monkeypatch: pytest.MonkeyPatch, value: str, mapped: int
) -> None:
    monkeypatch.setenv("FACTOROPS_SQLITE_MMAP_BYTES", value)
    assert _mapped(project) == mapped


@pytest.mark.parametrize("value", ["lots", "-1", "1.5e8", "²"])
def test_a_bad_value_is_named_and_the_default_kept(
    project: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    monkeypatch.setenv("FACTOROPS_SQLITE_MMAP_BYTES", value)
    with caplog.at_level(logging.WARNING, logger="factorops.store"):
        assert _mapped(project) == store_db.MMAP_BYTES
    assert f"FACTOROPS_SQLITE_MMAP_BYTES={value!r}" in caplog.text
