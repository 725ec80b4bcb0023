"""Bundles between two real projects, and hostile bundles that must change nothing."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from factorops.store.datadir import DataDir
from factorops.store.ledger_layout import pattern_path
from factorops.store.store import Store
from factorops.tools.kernel.actor import Actor
from factorops.tools.kernel.errors import DomainError
from factorops.tools.patterns import bundles
from factorops.tools.patterns import records as patterns
from factorops.tools.registry import components

from .conftest import Clock, git


def _store(root: Path) -> Store:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    return Store.open(DataDir.for_project(root), components())


@pytest.fixture
def two(tmp_path: Path) -> tuple[Store, Store]:
    a, b = _store(tmp_path / "a"), _store(tmp_path / "b")
    yield a, b
    a.close()
    b.close()


def _fill(store: Store, clock: Clock) -> list[str]:
    ids = []
    for i, kind in enumerate(["pattern", "anti-pattern", "guardrail"]):
        inp = patterns.PatternRecordInput(
            title=f"Shared rule {i}",
            kind=kind,
            solution=f"do {i}",
            tags=["shared"],
            match=r"rm\s+-rf\s+/" if kind == "guardrail" else None,
            effect="block",
        )
        pid = patterns.record(store, inp, clock()).id
        patterns.set_status(store, pid, "active", clock(), by="test")
        ids.append(pid)
    patterns.record(store, patterns.PatternRecordInput(title="Not proven yet"), clock())  # stays candidate
    return ids


def test_round_trip_between_projects(two: tuple[Store, Store], clock: Clock, tmp_path: Path) -> None:
    a, b = two
    ids = _fill(a, clock)
    path = tmp_path / "team.tar.gz"
    assert bundles.export(a, path) == 3
    report = bundles.import_bundle(b, path, clock())
    assert sorted(report.added) == sorted(ids) and report.commit
    got = {p["id"]: p for p in patterns.list_patterns(b)}
    assert set(got) == set(ids) and all(p["status"] == "candidate" for p in got.values())
    assert patterns.get(b, ids[2]).rule is not None
    again = bundles.import_bundle(b, path, clock())
    assert again.added == [] and sorted(again.unchanged) == sorted(ids) and again.commit is None
    # rebuild in the importing project restores the imported rows too
    before = b.db.execute("SELECT * FROM patterns ORDER BY id").fetchall()
    b.rebuild()
    assert b.db.execute("SELECT * FROM patterns ORDER BY id").fetchall() == before


def test_duplicates_by_title_are_skipped(two: tuple[Store, Store], clock: Clock, tmp_path: Path) -> None:
    a, b = two
    _fill(a, clock)
    patterns.record(b, patterns.PatternRecordInput(title="Shared rule 0", solution="mine"), clock())
    bundles.export(a, tmp_path / "x.tar.gz")
    report = bundles.import_bundle(b, tmp_path / "x.tar.gz", clock())
    assert len(report.duplicates) == 1 and "same as" in report.duplicates[0] and len(report.added) == 2


def _tar(
    path: Path,
    members: list[tuple[str, bytes]],
    manifest: dict[str, object] | None = None,
    link: str | None = None,
) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        if manifest is None:
            manifest = {
                "format": "factorops-bundle",
                "version": 1,
                "members": [
                    {"path": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members
                ],
            }
        items = [("manifest.json", json.dumps(manifest).encode()), *members]
        for name, data in items:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo("patterns/link.md")
            info.type = tarfile.SYMTYPE
            info.linkname = link
            tar.addfile(info)
    return path


def _valid_member(a: Store, clock: Clock) -> tuple[str, bytes]:
    pid = patterns.record(a, patterns.PatternRecordInput(title="Valid one"), clock()).id
    return f"patterns/{pid}.md", a.ledger.read(pattern_path(pid))


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("traversal", "outside patterns/"),
        ("absolute", "outside patterns/"),
        ("symlink", "not a regular file"),
        ("oversized", "limit"),
        ("tampered", "SHA-256 does not match"),
        ("bad_schema", "invalid pattern"),
        ("corrupt", "not a readable bundle"),
        ("no_manifest", "manifest"),
        ("wrong_format", "not a factorops-bundle"),
        ("unlisted", "not in the manifest"),
        ("id_mismatch", "does not match the file name"),
    ],
)
def test_hostile_bundles_change_nothing(
    two: tuple[Store, Store], clock: Clock, tmp_path: Path, case: str, needle: str
) -> None:
    a, b = two
    name, data = _valid_member(a, clock)
    p = tmp_path / f"{case}.tar.gz"
    if case == "traversal":
        _tar(p, [(name, data), ("../evil.md", b"x")])
    elif case == "absolute":
        _tar(p, [("/etc/evil.md", b"x")])
    elif case == "symlink":
        _tar(p, [(name, data)], link="/etc/passwd")
    elif case == "oversized":
        _tar(p, [("patterns/big.md", b"x" * (bundles.MAX_MEMBER_BYTES + 1))])
    elif case == "tampered":
        m = {
            "format": "factorops-bundle",
            "version": 1,
            "members": [{"path": name, "sha256": "0" * 64, "size": len(data)}],
        }
        _tar(p, [(name, data)], manifest=m)
    elif case == "bad_schema":
        _tar(p, [(name, data.replace(b'kind: "pattern"', b'kind: "nonsense"'))])
    elif case == "corrupt":
        p.write_bytes(b"\x1f\x8b this is not gzip")
    elif case == "no_manifest":
        with tarfile.open(p, "w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    elif case == "wrong_format":
        _tar(p, [(name, data)], manifest={"format": "zip-bomb", "version": 1, "members": []})
    elif case == "unlisted":
        m = {"format": "factorops-bundle", "version": 1, "members": []}
        _tar(p, [(name, data)], manifest=m)
    elif case == "id_mismatch":
        _tar(p, [("patterns/pat-other.md", data)])
    head = b.ledger.head()
    with pytest.raises(DomainError, match=needle):
        bundles.import_bundle(b, p, clock())
    assert b.ledger.head() == head
    assert b.db.execute("SELECT COUNT(*) FROM patterns").fetchone()[0] == 0
    assert not (tmp_path / "evil.md").exists()


def test_cli_export_verify_import(two: tuple[Store, Store], clock: Clock, tmp_path: Path) -> None:
    a, b = two
    _fill(a, clock)
    ra, rb = a.datadir.root, b.datadir.root
    a.close()
    b.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "factorops", *args], capture_output=True, text=True)

    out = tmp_path / "cli.tar.gz"
    assert "wrote 3 patterns" in run("bundle", "export", str(out), "--project", str(ra)).stdout
    assert "ok, 3 patterns" in run("bundle", "verify", str(out)).stdout
    imp = run("bundle", "import", str(out), "--project", str(rb))
    assert imp.returncode == 0 and "added 3" in imp.stdout
    bad = run("bundle", "import", str(tmp_path / "missing.tar.gz"), "--project", str(rb))
    assert bad.returncode == 2 and "is not a file" in bad.stderr


def test_too_many_members_and_unknown_versions_are_refused(
    two: tuple[Store, Store], clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    members = [_valid_member(a, clock) for _ in range(3)]
    p = _tar(tmp_path / "many.tar.gz", members)
    monkeypatch.setattr(bundles, "MAX_MEMBERS", 2)
    with pytest.raises(DomainError, match="more than 2 members"):
        bundles.import_bundle(b, p, clock())
    monkeypatch.undo()
    m = {"format": "factorops-bundle", "version": 99, "members": []}
    with pytest.raises(DomainError, match="version 99 is not supported"):
        bundles.import_bundle(b, _tar(tmp_path / "v99.tar.gz", members[:1], manifest=m), clock())
    assert b.db.execute("SELECT COUNT(*) FROM patterns").fetchone()[0] == 0


def test_a_guardrail_whose_regex_re2_cannot_run_is_refused(
    two: tuple[Store, Store], clock: Clock, tmp_path: Path
) -> None:
    a, b = two
    pid = patterns.record(
        a, patterns.PatternRecordInput(title="Guard", kind="guardrail", match=r"rm\s+-rf"), clock()
    ).id
    data = a.ledger.read(pattern_path(pid)).replace(b"rm\\\\s+-rf", b"(?=a)b")
    assert b"(?=a)b" in data
    p = _tar(tmp_path / "hang.tar.gz", [(f"patterns/{pid}.md", data)])
    head = b.ledger.head()
    with pytest.raises(DomainError, match="is not supported"):
        bundles.import_bundle(b, p, clock())
    assert b.ledger.head() == head and not patterns.list_patterns(b)


def test_reimport_reports_unchanged_and_updates_keep_local_status(
    two: tuple[Store, Store], clock: Clock, tmp_path: Path
) -> None:
    a, b = two
    ids = _fill(a, clock)
    path = tmp_path / "team.tar.gz"
    bundles.export(a, path)
    first = bundles.import_bundle(b, path, clock())
    assert sorted(first.added) == sorted(ids) and first.commit
    head = b.ledger.head()
    again = bundles.import_bundle(b, path, clock())
    assert sorted(again.unchanged) == sorted(ids) and not again.added and again.commit is None
    assert b.ledger.head() == head  # nothing to write, no commit
    patterns.set_status(b, ids[0], "active", clock(), by="test")
    clock.advance(hours=1)
    patterns.record(  # a person in project a changes the active rule in place
        a,
        patterns.PatternRecordInput(id=ids[0], title="Shared rule 0", solution="do it better"),
        clock(),
        Actor.cli("alice"),
    )
    bundles.export(a, path)
    third = bundles.import_bundle(b, path, clock())
    # A change to an active pattern arrives as a candidate revision (issue #12, hole 2) ...
    assert not third.updated and len(third.revisions) == 1 and ids[0] in third.revisions[0]
    p = patterns.get(b, ids[0])
    assert p.solution != "do it better" and p.status == "active"
    # ... unless the person importing says so: then it is replaced and stays active.
    fourth = bundles.import_bundle(b, path, clock(), Actor.cli("bob"), replace_active=True)
    assert fourth.replaced == [ids[0]]
    p = patterns.get(b, ids[0])
    assert p.solution == "do it better" and p.status == "active"  # the local decision is kept


def test_near_duplicate_titles_are_skipped(two: tuple[Store, Store], clock: Clock, tmp_path: Path) -> None:
    a, b = two
    _fill(a, clock)
    patterns.record(b, patterns.PatternRecordInput(title="Shared rule 0!", solution="mine"), clock())
    bundles.export(a, tmp_path / "x.tar.gz")
    report = bundles.import_bundle(b, tmp_path / "x.tar.gz", clock())
    assert len(report.duplicates) == 1 and len(report.added) == 2
