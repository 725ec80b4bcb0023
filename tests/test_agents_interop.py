"""`.agents/` learnings: strict front matter, hostile folders, and the export/import round trip."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factorops.tools.kernel.errors import DomainError
from factorops.tools.patterns.interop import (
    FrontMatterError,
    export_learnings,
    import_learnings,
    parse_front_matter,
)
from factorops.tools.patterns.model import Pattern, PatternCandidate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

LEARNING = """---
type: learning
title: "Run migrations before the tests"
maturity: established
confidence: 0.8
date: 2026-10-01
tags: [db, "tests"]
---

## Problem

Tests failed with missing tables.

## Solution

Run `make migrate` first.
"""


def write(root: Path, rel: str, text: str) -> Path:
    p = root / ".agents" / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_parse_front_matter_subset() -> None:
    meta, body = parse_front_matter(
        "---\n"
        "a: plain words # a comment\n"
        "b: 'it''s'\n"
        'c: "x: \\"y\\""\n'
        "d: 3\n"
        "e: 0.25\n"
        "f: true\n"
        "g: ~\n"
        "h: [1, 'two', \"three, four\"]\n"
        "i: []\n"
        "# comment line\n"
        "---\nbody\n"
    )
    assert meta == {
        "a": "plain words",
        "b": "it's",
        "c": 'x: "y"',
        "d": 3,
        "e": 0.25,
        "f": True,
        "g": None,
        "h": [1, "two", "three, four"],
        "i": [],
    }
    assert body == "body\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "line 1"),
        ("---\na: 1\n", "not closed"),
        ("---\na: 1\na: 2\n---\n", "line 3: duplicate key"),
        ("---\na:\n  nested: 1\n---\n", "line 3: nested"),
        ("---\njust text\n---\n", "line 2: expected 'key: value'"),
        ("---\na: |\n---\n", "line 2"),
        ("---\na: &anchor x\n---\n", "line 2"),
        ("---\na: {b: 1}\n---\n", "line 2"),
        ("---\na: [1, 2\n---\n", "one line"),
        ("---\na: [[1]]\n---\n", "nested lists"),
        ('---\na: "open\n---\n', "badly quoted"),
        ("---\na: 'it's'\n---\n", "badly quoted"),
    ],
)
def test_front_matter_outside_the_subset_is_an_error_with_its_line(text: str, message: str) -> None:
    with pytest.raises(FrontMatterError) as err:
        parse_front_matter(text)
    assert message in str(err.value)


def test_import_a_learning(tmp_path: Path) -> None:
    write(tmp_path, "learnings/migrations.md", LEARNING)
    report = import_learnings(tmp_path)
    assert report.imported == 1 and report.refused == [] and report.malformed == []
    [c] = report.candidates
    assert c.title == "Run migrations before the tests"
    assert c.problem == "Tests failed with missing tables." and c.solution == "Run `make migrate` first."
    assert c.confidence == pytest.approx(0.8) and c.source == "agents" and c.kind == "pattern"
    assert c.tags == ["db", "tests", "maturity:established", "date:2026-10-01"]


def test_import_defaults_and_other_types(tmp_path: Path) -> None:
    write(
        tmp_path, "a.md", "---\ntype: learning\nconfidence: high\n---\n# Cache the wheel\n\nUse pip cache.\n"
    )
    write(tmp_path, "b.md", "---\ntype: anti-pattern\nconfidence: 70\n---\nDon't vendor deps.\n")
    write(tmp_path, "plan.md", "---\ntype: plan\n---\nsteps\n")
    write(tmp_path, "notes.txt", "not markdown")
    report = import_learnings(tmp_path)
    by_title = {c.title: c for c in report.candidates}
    assert (
        by_title["Cache the wheel"].solution == "Use pip cache."
        and by_title["Cache the wheel"].confidence == 0.8
    )
    assert by_title["b"].kind == "anti-pattern" and by_title["b"].confidence == pytest.approx(0.7)
    assert report.not_learnings == 1 and report.files_seen == 3 and report.imported == 2


def test_malformed_files_are_counted_not_fatal(tmp_path: Path) -> None:
    write(tmp_path, "good.md", LEARNING)
    write(tmp_path, "bad-fm.md", "---\ntype: learning\n  indented: x\n---\n")
    write(tmp_path, "bad-conf.md", "---\ntype: learning\nconfidence: 7000\n---\nx\n")
    write(tmp_path, "bad-date.md", "---\ntype: learning\ndate: yesterday\n---\nx\n")
    write(tmp_path, "no-fm.md", "# just markdown\n")
    (tmp_path / ".agents" / "binary.md").write_bytes(b"\xff\xfe\x00garbage")
    report = import_learnings(tmp_path)
    assert report.imported == 1
    reasons = {m.path: m.reason for m in report.malformed}
    assert set(reasons) == {"bad-fm.md", "bad-conf.md", "bad-date.md", "no-fm.md", "binary.md"}
    assert "line 3" in reasons["bad-fm.md"] and "confidence" in reasons["bad-conf.md"]
    assert "ISO date" in reasons["bad-date.md"] and reasons["binary.md"] == "not UTF-8 text"


def test_hostile_symlinks_are_refused(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "stolen.md").write_text(LEARNING)
    write(project, "ok.md", LEARNING)
    agents = project / ".agents"
    (agents / "link.md").symlink_to(outside / "stolen.md")
    (agents / "escape").symlink_to(outside, target_is_directory=True)
    (agents / "up.md").symlink_to(Path("..") / ".." / "secret" / "stolen.md")
    (agents / "inside-link.md").symlink_to(agents / "ok.md")  # stays inside: fine
    report = import_learnings(project)
    assert report.imported == 2
    refused = {r.path: r.reason for r in report.refused}
    assert refused["link.md"] == "resolves outside the .agents folder"
    assert refused["up.md"] == "resolves outside the .agents folder"
    assert refused["escape"] == "symlinked folder, not followed"


def test_agents_folder_leading_outside_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / ".agents").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(DomainError) as err:
        import_learnings(project)
    assert err.value.field == "folder"


def test_missing_folder_is_an_empty_report(tmp_path: Path) -> None:
    report = import_learnings(tmp_path)
    assert report.candidates == [] and report.files_seen == 0


def test_enormous_files_and_fifos_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "huge.md", LEARNING + "x" * 5000)
    write(tmp_path, "ok.md", LEARNING)
    os.mkfifo(tmp_path / ".agents" / "pipe.md")
    report = import_learnings(tmp_path, max_file_bytes=2000)
    refused = {r.path: r.reason for r in report.refused}
    assert refused == {"huge.md": "larger than 2000 bytes", "pipe.md": "not a regular file"}
    assert report.imported == 1


def test_file_count_cap(tmp_path: Path) -> None:
    for i in range(5):
        write(tmp_path, f"l{i}.md", LEARNING)
    report = import_learnings(tmp_path, max_files=3)
    assert report.truncated and report.imported == 3


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"max_files": 0}, "max_files"), ({"max_file_bytes": 0}, "max_file_bytes")]
)
def test_bad_limits_name_the_field(tmp_path: Path, kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(DomainError) as err:
        import_learnings(tmp_path, **kwargs)
    assert err.value.field == field


def test_export_then_import_round_trip(tmp_path: Path) -> None:
    originals = [
        PatternCandidate(
            title='Run "make migrate": before tests',
            problem="Missing tables.\n\nTwo paragraphs.",
            solution="Run it first.",
            tags=["db", "maturity:established", "date:2026-10-01"],
            confidence=0.75,
        ),
        PatternCandidate(
            title="Don't vendor deps", kind="anti-pattern", solution="Use the lock file.", confidence=0.4
        ),
        PatternCandidate(
            title="Don't vendor deps", kind="anti-pattern", solution="Another one.", confidence=0.5
        ),
    ]
    paths = export_learnings(originals, tmp_path / ".agents" / "learnings", NOW)
    assert [p.name for p in paths] == [
        "run-make-migrate-before-tests.md",
        "don-t-vendor-deps.md",
        "don-t-vendor-deps-2.md",
    ]
    report = import_learnings(tmp_path)
    assert report.malformed == [] and report.imported == 3
    back = {(c.title, c.solution): c for c in report.candidates}
    for o in originals:
        c = back[(o.title, o.solution)]
        assert (c.kind, c.problem, c.confidence) == (o.kind, o.problem, o.confidence)
    first = back[(originals[0].title, originals[0].solution)]
    assert first.tags == ["db", "maturity:established", "date:2026-10-01"]
    # patterns without maturity/date tags get them from status and the clock
    assert "maturity:provisional" in back[("Don't vendor deps", "Use the lock file.")].tags
    assert "date:2026-11-25" in back[("Don't vendor deps", "Use the lock file.")].tags


def test_export_of_stored_patterns_maps_status(tmp_path: Path) -> None:
    p = Pattern(
        id="pat-1",
        title="Active one",
        solution="Do it.",
        status="active",
        created=NOW,
        updated=datetime(2026, 3, 4, tzinfo=UTC),
    )
    [path] = export_learnings([p], tmp_path / "out", NOW)
    text = path.read_text()
    assert 'maturity: "established"' in text and "date: 2026-03-04" in text and 'id: "pat-1"' in text


def test_export_refuses_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    with pytest.raises(DomainError) as err:
        export_learnings([PatternCandidate(title="x")], tmp_path / "link", NOW)
    assert err.value.field == "dest"
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "x.md").symlink_to(tmp_path / "victim.md")
    with pytest.raises(DomainError, match=r"x\.md is a symlink; refusing to write through it"):
        export_learnings([PatternCandidate(title="x")], dest, NOW)
    assert not (tmp_path / "victim.md").exists()
