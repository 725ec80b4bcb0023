"""The transcript reader: both format variants, bad lines counted, huge lines skipped, resumption."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from factorops.tools.flywheel.transcripts import (
    Meta,
    Note,
    Text,
    ToolResult,
    ToolUse,
    TranscriptState,
    Usage,
    list_transcripts,
    project_dir_names,
    scan,
    transcript_dir,
)
from factorops.tools.kernel.errors import DomainError
from tests.transcript_fixtures import NewFormat, OldFormat


def read_all(path: Path, state: TranscriptState | None = None, **kw: int):  # type: ignore[no-untyped-def]
    s = scan(path, state, **kw)
    events = list(s)
    return events, s


def test_new_format_blocks_become_typed_events(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s1.jsonl", "sess-new")
    w.user("please fix the failing test")
    use_line, res_line = w.bash("t1", "pytest -q", "1 failed", ok=False)
    w.edit("t2", "src/app.py")
    say_line = w.say("All tests pass now.", context=50_000)
    events, s = read_all(w.save())

    uses = [e for e in events if isinstance(e, ToolUse)]
    assert [(u.name, u.command, u.paths, u.line) for u in uses] == [
        ("Bash", "pytest -q", [], use_line),
        ("Edit", None, ["src/app.py"], use_line + 2),
    ]
    assert uses[1].is_edit and not uses[0].is_edit
    results = [e for e in events if isinstance(e, ToolResult)]
    assert results[0].tool_use_id == "t1" and results[0].is_error and results[0].line == res_line
    assert results[0].text == "1 failed"
    assert not results[1].is_error
    texts = [(e.role, e.text) for e in events if isinstance(e, Text)]
    assert texts == [("user", "please fix the failing test"), ("assistant", "All tests pass now.")]
    usage = [e for e in events if isinstance(e, Usage)]
    assert usage[0].context == 50_000 and usage[0].line == say_line
    meta = [e for e in events if isinstance(e, Meta)]
    assert len(meta) == 1 and meta[0].cwd == "/home/u/proj" and meta[0].git_branch == "main"
    assert all(e.session_id == "sess-new" for e in events)
    assert s.stats.records == 6 and s.stats.bad_json == 0


def test_old_format_plain_strings_and_top_level_results(tmp_path: Path) -> None:
    w = OldFormat(tmp_path / "s2.jsonl", "sess-old")
    w.user("run the build")
    w.bash("b1", "make build", "error: missing header", ok=False)
    w.bash("b2", "make build", "built", ok=True)
    w.say("The build works.", context=90_000)
    events, s = read_all(w.save())

    results = [e for e in events if isinstance(e, ToolResult)]
    assert [(r.tool_use_id, r.is_error, r.text) for r in results] == [
        ("b1", True, "error: missing header"),
        ("b2", False, "built"),
    ]
    # the tool output carried as the user's plain string is not the person talking
    assert [e.text for e in events if isinstance(e, Text) and e.role == "user"] == ["run the build"]
    assert [e.context for e in events if isinstance(e, Usage)] == [90_000]


def test_old_string_results_mark_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    recs = [
        {"type": "user", "message": {"role": "user", "content": "x"}, "toolUseResult": "Error: exit code 2"},
        {"type": "user", "message": {"role": "user", "content": "y"}, "toolUseResult": "fine"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    events, _ = read_all(path)
    assert [(e.is_error, e.tool_use_id) for e in events if isinstance(e, ToolResult)] == [
        (True, ""),
        (False, ""),
    ]


def test_summary_system_and_unknown_records(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    recs = [
        {"type": "summary", "summary": "Fixing the login bug", "leafUuid": "x"},
        {"type": "system", "content": "Conversation compacted", "subtype": "compact_boundary"},
        {"type": "file-history-snapshot", "snapshot": {}},
        {"type": "file-history-snapshot", "snapshot": {}},
        {"no_type": True},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    events, s = read_all(path)
    notes = [(e.kind, e.text, e.subtype) for e in events if isinstance(e, Note)]
    assert notes == [
        ("summary", "Fixing the login bug", None),
        ("system", "Conversation compacted", "compact_boundary"),
    ]
    assert s.stats.unknown_types == {"file-history-snapshot": 2, "(none)": 1}


def test_bad_lines_are_counted_never_fatal(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    good = json.dumps({"type": "user", "message": {"role": "user", "content": "hello"}})
    path.write_text(
        "\n".join(
            [good, "{not json", "[1, 2]", '"a string"', "", '{"type": "user", "message": {"role": "us', good]
        )
        + "\n"
    )
    events, s = read_all(path)
    assert [e.line for e in events if isinstance(e, Text)] == [1, 7]
    assert s.stats.bad_json == 2 and s.stats.not_object == 2 and s.stats.lines == 7
    assert s.state.line == 7 and s.state.offset == path.stat().st_size


def test_blocks_of_wrong_shapes_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    rec = {
        "type": "assistant",
        "message": {
            "role": "assistant",
            "content": [
                "loose string",
                {"type": "tool_use", "input": "not a dict"},
                {"type": "thinking"},
                None,
            ],
            "usage": {"input_tokens": "many", "output_tokens": -3},
        },
    }
    path.write_text(json.dumps(rec) + "\n")
    events, _ = read_all(path)
    assert [type(e).__name__ for e in events] == ["ToolUse", "Usage"]
    use, usage = events
    assert isinstance(use, ToolUse) and use.name == "?" and use.command is None
    assert isinstance(usage, Usage) and usage.context == 0 and usage.output_tokens == 0


def test_huge_line_is_skipped_without_losing_the_next(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    huge = json.dumps({"type": "user", "message": {"role": "user", "content": "x" * 50_000}})
    after = json.dumps({"type": "user", "message": {"role": "user", "content": "after"}})
    path.write_text(huge + "\n" + after + "\n")
    events, s = read_all(path, max_line_bytes=4096)
    assert [(e.line, e.text) for e in events if isinstance(e, Text)] == [(2, "after")]
    assert s.stats.huge == 1 and s.state.offset == path.stat().st_size


def test_max_line_bytes_too_small_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("")
    with pytest.raises(DomainError) as err:
        scan(path, max_line_bytes=10)
    assert err.value.field == "max_line_bytes"


def test_missing_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(DomainError) as err:
        list(scan(tmp_path / "gone.jsonl"))
    assert err.value.field == "path"


def test_resume_reads_only_appended_lines(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.user("first")
    w.save()
    _, s1 = read_all(w.path)
    assert s1.state.line == 1

    again, s2 = read_all(w.path, s1.state)
    assert again == [] and s2.stats.unchanged and s2.state == s1.state

    with open(w.path, "a") as f:
        f.write(json.dumps({"type": "user", "message": {"role": "user", "content": "second"}}) + "\n")
    new, s3 = read_all(w.path, s2.state)
    assert [(e.line, e.text) for e in new if isinstance(e, Text)] == [(2, "second")]
    assert s3.stats.bytes_read < w.path.stat().st_size and s3.state.line == 2


def test_unfinished_last_line_waits_for_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    first = json.dumps({"type": "user", "message": {"role": "user", "content": "one"}}) + "\n"
    second = json.dumps({"type": "user", "message": {"role": "user", "content": "two"}})
    path.write_text(first + second[:20])
    events, s1 = read_all(path)
    assert [e.text for e in events if isinstance(e, Text)] == ["one"]
    assert s1.stats.pending_tail == 1 and s1.state.offset == len(first)

    with open(path, "a") as f:
        f.write(second[20:] + "\n")
    events, s2 = read_all(path, s1.state)
    assert [(e.line, e.text) for e in events if isinstance(e, Text)] == [(2, "two")]


def test_complete_last_line_without_newline_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"type": "user", "message": {"role": "user", "content": "only"}}))
    events, s = read_all(path)
    assert [e.text for e in events if isinstance(e, Text)] == ["only"] and s.stats.pending_tail == 0


def test_replaced_or_truncated_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    line = json.dumps({"type": "user", "message": {"role": "user", "content": "a"}}) + "\n"
    path.write_text(line * 3)
    _, s1 = read_all(path)

    path.write_text(line)  # shrank below the remembered offset
    events, s2 = read_all(path, s1.state)
    assert s2.stats.restarted and [e.line for e in events if isinstance(e, Text)] == [1]

    other = tmp_path / "other.jsonl"
    other.write_text(line * 2)
    os.replace(other, path)  # a new inode at the same path
    events, s3 = read_all(path, s2.state)
    assert s3.stats.restarted and [e.line for e in events if isinstance(e, Text)] == [1, 2]


def test_rewritten_file_with_same_size_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    a = json.dumps({"type": "user", "message": {"role": "user", "content": "aaaa"}})
    path.write_text(a + "\n")
    _, s1 = read_all(path)
    with open(path, "r+") as f:  # same inode, offset no longer at a line end
        f.write(json.dumps({"type": "user", "message": {"role": "user", "content": "bb"}}) + "\n  ")
        f.write("\n" + a + "\n")
    events, s2 = read_all(path, s1.state)
    assert s2.stats.restarted and [e.text for e in events if isinstance(e, Text)] == ["bb", "aaaa"]


def test_locating_a_projects_transcripts(tmp_path: Path) -> None:
    base = tmp_path / "claude"
    project = tmp_path / "work" / "my.proj"
    project.mkdir(parents=True)
    names = project_dir_names(project)
    assert names[0] == str(project).replace("/", "-")
    assert transcript_dir(project, base) == base / names[0]
    assert list_transcripts(project, base) == ([], [])

    folder = base / names[1]  # newer versions also replace the dot
    assert "." not in names[1]
    folder.mkdir(parents=True)
    (folder / "b.jsonl").write_text("")
    (folder / "a.jsonl").write_text("")
    (folder / "notes.txt").write_text("")
    assert transcript_dir(project, base) == folder
    files, problems = list_transcripts(project, base)
    assert [f.name for f in files] == ["a.jsonl", "b.jsonl"] and problems == []


def test_unreadable_transcript_folder_is_reported(tmp_path: Path) -> None:
    """A folder that cannot be listed is reported, not skipped in silence. CI runs as root, which
    reads any folder whatever its mode, so the condition is arranged in a way root cannot bypass:
    a file stands where the folder should be (listing it fails with ENOTDIR, the same OSError path
    a permission error takes)."""
    base = tmp_path / "claude"
    project = tmp_path / "p"
    base.mkdir()
    (base / project_dir_names(project)[0]).write_text("not a folder")
    files, problems = list_transcripts(project, base)
    assert files == [] and len(problems) == 1 and "cannot read" in problems[0], problems
