"""Detectors over fixture transcripts in both formats: expected candidates, and look-alikes that must not fire."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from factorops.tools.flywheel.detectors import (
    DetectorConfig,
    correction_strength,
    excerpt,
    is_validation,
    merge_candidates,
    mine_file,
    normalise_command,
)
from factorops.tools.patterns.model import PatternCandidate
from tests.transcript_fixtures import NewFormat, OldFormat

Fmt = type[NewFormat] | type[OldFormat]
FORMATS = [NewFormat, OldFormat]


def by_tag(cands: list[PatternCandidate], tag: str) -> list[PatternCandidate]:
    return [c for c in cands if tag in c.tags]


def refs(c: PatternCandidate) -> list[str]:
    return c.evidence.transcripts


@pytest.mark.parametrize("fmt", FORMATS)
def test_spiral_then_fix_in_both_formats(tmp_path: Path, fmt: Fmt) -> None:
    w = fmt(tmp_path / "spiral.jsonl", "sess-1")
    w.user("make the tests pass")
    fails = []
    for i in range(4):
        use, _ = w.bash(
            f"t{i}", "cd /home/u/proj && pytest -q 2>&1 | tail -20", "E   AssertionError: 1 != 2", ok=False
        )
        fails.append(use)
    edit_use, _ = w.edit("e1", "src/calc.py")
    _, ok_res = w.bash("t9", "pytest -q", "5 passed", ok=True)
    w.say("All tests pass now.")
    cands = mine_file(w.save()).candidates

    [spiral] = by_tag(cands, "debug-loop")
    assert spiral.kind == "anti-pattern" and spiral.title == "Debug loop: `pytest -q` kept failing"
    assert refs(spiral) == [f"spiral.jsonl:{n}" for n in fails]
    assert spiral.evidence.sessions == ["sess-1"]
    assert "AssertionError" in (spiral.evidence.excerpt or "")
    assert spiral.confidence == pytest.approx(0.6)  # one failure past the threshold of 3
    assert "Confidence 0.60" in spiral.problem

    [fix] = by_tag(cands, "fix")
    assert fix.kind == "pattern" and "editing src/calc.py" in fix.solution
    assert refs(fix) == [f"spiral.jsonl:{n}" for n in (fails[0], fails[-1], edit_use, ok_res)]
    assert fix.confidence == pytest.approx(0.6)
    # a passing pytest ran after the edit, so the claim is backed
    assert by_tag(cands, "unvalidated-claim") == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_failures_or_different_commands_are_no_spiral(tmp_path: Path, fmt: Fmt) -> None:
    w = fmt(tmp_path / "s.jsonl", "s")
    w.user("go")
    w.bash("a", "pytest -q", "failed", ok=False)
    w.bash("b", "pytest -q", "failed", ok=False)
    w.bash("c", "npm test", "failed", ok=False)
    w.bash("d", "pytest -q tests/test_x.py", "failed", ok=False)
    assert by_tag(mine_file(w.save()).candidates, "debug-loop") == []


def test_retry_without_any_change_is_not_a_fix(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.user("go")
    w.bash("a", "pytest -q", "flaky failure", ok=False)
    w.bash("b", "pytest -q", "ok", ok=True)
    assert by_tag(mine_file(w.save()).candidates, "fix") == []


def test_fix_by_other_commands_has_lower_confidence(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.user("go")
    w.bash("a", "python app.py", "ModuleNotFoundError: No module named 'httpx'", ok=False)
    w.bash("b", "pip install httpx", "installed", ok=True)
    w.bash("c", "python app.py", "running", ok=True)
    [fix] = by_tag(mine_file(w.save()).candidates, "fix")
    assert "`pip install httpx`" in fix.solution and fix.confidence == pytest.approx(0.4)
    assert "ModuleNotFoundError" in fix.problem


def test_only_edits_after_the_last_failure_count_as_the_fix(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.user("go")
    w.bash("a", "make", "error", ok=False)
    w.edit("e1", "wrong.c")
    w.bash("b", "make", "error", ok=False)
    w.edit("e2", "right.c")
    w.bash("c", "make", "ok", ok=True)
    [fix] = by_tag(mine_file(w.save()).candidates, "fix")
    assert "right.c" in fix.solution and "wrong.c" not in fix.solution


@pytest.mark.parametrize(
    "text",
    [
        "no, use the existing helper instead",
        "No. That's the wrong file",
        "that's wrong, the port is 8080",
        "That is not what I asked for",
        "I said to keep the public API unchanged",
        "I told you not to touch the migrations",
        "don't edit generated files",
        "Do not run the deploy script",
        "stop",
        "Stop changing the tests!",
        "why did you delete the fixtures?",
        "undo that",
    ],
)
def test_corrections_are_recognised(text: str) -> None:
    assert correction_strength(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "No problem, carry on",
        "no worries",
        "No, thanks, that's all",
        "Now add a test for the parser",
        "Nothing else for today",
        "Notice the failing import",
        "don't worry about the docs",
        "Don't forget to update the changelog",
        "Stop words should be removed from the index",
        "stopwatch feature next",
        "I think the bug is in the parser",
        "Is that wrong? Let me check",
        "Please add a section titled 'Don't panic'",
    ],
)
def test_correction_look_alikes_are_ignored(text: str) -> None:
    assert correction_strength(text) is None


def test_explicit_corrections_are_more_confident() -> None:
    assert correction_strength("that's wrong") == pytest.approx(0.6)
    assert correction_strength("no, the other one") == pytest.approx(0.45)


@pytest.mark.parametrize("fmt", FORMATS)
def test_correction_candidates_in_a_session(tmp_path: Path, fmt: Fmt) -> None:
    w = fmt(tmp_path / "c.jsonl", "sess-c")
    w.user("Don't use tabs in this project.")  # before the assistant did anything: an instruction
    w.bash("a", "sed -i 's/x/y/' generated.py", "", ok=True)
    line = w.user("No, don't edit generated.py, change the template")
    w.say("Understood.")
    w.user("no worries, thanks")
    cands = by_tag(mine_file(w.save()).candidates, "correction")
    assert len(cands) == 1
    [c] = cands
    assert refs(c) == [f"c.jsonl:{line}"] and c.evidence.sessions == ["sess-c"]
    assert "generated.py" in c.problem and "change the template" in c.solution
    assert c.kind == "anti-pattern"


def test_injected_and_meta_user_text_is_not_a_correction(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.user("hello")
    w.say("hi")
    w.user("<command-name>/clear</command-name> no, stop")
    w.user("[Request interrupted by user]")
    w.record({"type": "user", "isMeta": True, "message": {"role": "user", "content": "No, that's wrong"}})
    w.record({"type": "user", "isSidechain": True, "message": {"role": "user", "content": "stop"}})
    assert by_tag(mine_file(w.save()).candidates, "correction") == []


def test_corrections_are_capped_per_session(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.say("starting")
    for i in range(10):
        w.user(f"no, not like that ({i})")
    cfg = DetectorConfig(max_corrections=3)
    assert len(by_tag(mine_file(w.save(), config=cfg).candidates, "correction")) == 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_context_past_forty_percent(tmp_path: Path, fmt: Fmt) -> None:
    w = fmt(tmp_path / "ctx.jsonl", "sess-ctx")
    w.user("big task")
    w.say("reading", context=30_000)
    crossed = w.say("still reading", context=81_000)
    peak = w.say("deep in it", context=150_000)
    w.say("after compaction", context=20_000)
    [c] = by_tag(mine_file(w.save()).candidates, "context")
    assert c.title == "Session ran past 40% of the context window"
    assert refs(c) == [f"ctx.jsonl:{crossed}", f"ctx.jsonl:{peak}"]
    assert "150,000" in (c.evidence.excerpt or "") and "75%" in (c.evidence.excerpt or "")
    assert c.confidence == pytest.approx(0.9)


def test_context_under_the_limit_or_in_subagents_is_fine(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.say("x", context=79_000)
    w.record(
        {
            "type": "assistant",
            "isSidechain": True,
            "message": {"role": "assistant", "content": [], "usage": {"input_tokens": 190_000}},
        }
    )
    path = w.save()
    assert by_tag(mine_file(path).candidates, "context") == []
    # a smaller window makes the same session cross the limit
    assert len(by_tag(mine_file(path, config=DetectorConfig(window=100_000)).candidates, "context")) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_success_claim_without_validation(tmp_path: Path, fmt: Fmt) -> None:
    w = fmt(tmp_path / "claim.jsonl", "sess-claim")
    w.user("fix the parser")
    edit, _ = w.edit("e1", "parser.py")
    claim = w.say("Fixed! All tests pass.")
    [c] = by_tag(mine_file(w.save()).candidates, "unvalidated-claim")
    assert refs(c) == [f"claim.jsonl:{edit}", f"claim.jsonl:{claim}"]
    assert c.confidence == pytest.approx(0.55) and "no validation" in c.problem


def test_claim_after_failing_validation_is_more_confident(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.user("fix it")
    w.edit("e1", "a.py")
    _, res = w.bash("v", "python -m pytest", "1 failed", ok=False)
    w.say("The bug is fixed.")
    [c] = by_tag(mine_file(w.save()).candidates, "unvalidated-claim")
    assert c.confidence == pytest.approx(0.7) and f"s.jsonl:{res}" in refs(c)


def test_claims_that_are_backed_or_about_nothing_changed_pass(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "a.jsonl", "a")
    w.user("what does this do?")
    w.say("Done. It parses the config.")  # no edit in the session: nothing to validate
    assert by_tag(mine_file(w.save()).candidates, "unvalidated-claim") == []

    w = NewFormat(tmp_path / "b.jsonl", "b")
    w.user("fix it")
    w.edit("e1", "a.py")
    w.bash("v", "ruff check . && mypy src", "ok", ok=True)
    w.say("Everything works now.")
    assert by_tag(mine_file(w.save()).candidates, "unvalidated-claim") == []


def test_an_edit_after_the_passing_check_needs_a_new_check(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.user("fix it")
    w.edit("e1", "a.py")
    w.bash("v", "cargo test", "ok", ok=True)
    w.edit("e2", "b.py")
    w.say("All tests pass.")
    assert len(by_tag(mine_file(w.save()).candidates, "unvalidated-claim")) == 1


def test_claim_look_alikes_do_not_fire(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.user("fix it")
    w.edit("e1", "a.py")
    w.say("Let me know when you're done reviewing.")
    w.say("I have not fixed the flaky test yet; next I will run the tests.")
    assert by_tag(mine_file(w.save()).candidates, "unvalidated-claim") == []


def test_excerpts_are_short_and_redacted(tmp_path: Path) -> None:
    secret = "sk-ant-api03-" + "A1b2C3d4" * 6
    token = "ghp_" + "x" * 36
    text = f"curl -H 'Authorization: Bearer abcdefghijklmnop1234' {secret} {token}\n" + "noise " * 200
    out = excerpt(text)
    assert len(out) <= 300 and secret not in out and token not in out and "abcdefghijklmnop1234" not in out
    assert "REDACTED" in out

    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.user("go")
    for i in range(3):
        w.bash(f"t{i}", f"deploy --key {secret}", f"error: bad key {secret}", ok=False)
    [spiral] = by_tag(mine_file(w.save()).candidates, "debug-loop")
    dumped = spiral.model_dump_json()
    assert secret not in (spiral.evidence.excerpt or "") and len(spiral.evidence.excerpt or "") <= 300
    assert "sk-ant" not in (spiral.evidence.excerpt or "")
    assert json.loads(dumped)["source"] == "transcripts"


def test_normalisation_and_validation_commands() -> None:
    assert normalise_command("cd /a/b && FOO=1 timeout 60 pytest  -q 2>&1 | tail -n 30") == "pytest -q"
    assert normalise_command("npm test | head") == "npm test"
    assert normalise_command("pytest -q | grep FAIL") == "pytest -q | grep FAIL"
    for cmd in [
        "pytest",
        "python -m pytest -x",
        "npm run test",
        "cargo test",
        "go test ./...",
        "make test",
        "ruff check .",
        "uv run mypy src",
        ".venv/bin/pytest -x",
    ]:
        assert is_validation(cmd), cmd
    for cmd in [
        "ls",
        "cat pytest.ini",
        "git commit -m 'make tests pass'",
        "pip install pytest-cov",
        "echo go test",
    ]:
        assert not is_validation(cmd), cmd


def test_incremental_mining_reads_only_new_events(tmp_path: Path) -> None:
    w = NewFormat(tmp_path / "s.jsonl", "s")
    w.user("go")
    for i in range(3):
        w.bash(f"a{i}", "pytest", "failed", ok=False)
    first = mine_file(w.save())
    assert len(by_tag(first.candidates, "debug-loop")) == 1

    second = mine_file(w.path, first.state)
    assert second.candidates == [] and second.stats.unchanged

    with open(w.path, "a") as f:
        f.write(
            json.dumps({"type": "user", "sessionId": "s", "message": {"role": "user", "content": "thanks"}})
            + "\n"
        )
    third = mine_file(w.path, second.state)
    assert third.candidates == [] and third.stats.lines == 1 and third.state.line == first.state.line + 1


def test_merge_joins_the_same_finding_across_sessions(tmp_path: Path) -> None:
    cands = []
    for sid in ("s1", "s2", "s3"):
        w = NewFormat(tmp_path / f"{sid}.jsonl", sid)
        w.say("x", context=120_000)
        cands += mine_file(w.save()).candidates
    [merged] = merge_candidates(cands)
    assert merged.evidence.sessions == ["s1", "s2", "s3"]
    assert [r.split(":")[0] for r in merged.evidence.transcripts] == ["s1.jsonl", "s2.jsonl", "s3.jsonl"]
    assert merged.confidence == pytest.approx(0.95) and "3 session(s)" in merged.problem


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("window", 0),
        ("context_limit", 0),
        ("context_limit", 1.5),
        ("spiral_failures", 1),
        ("max_corrections", -1),
    ],
)
def test_bad_config_names_the_field(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as err:
        DetectorConfig.model_validate({field: value})
    assert err.value.errors()[0]["loc"] == (field,)
