"""Tests that kill the guardrail matcher's surviving mutants (`make mutation`, target `match`).

Each test names the mutant it was written against (bench/mutation.py numbering at the commit in
docs/testing.md). They check what a user of `guardrail_check` or `factorops doctor` would see: the
decision and its reasons, and which stored rules are reported as checking nothing.
"""

from __future__ import annotations

import pytest

from factorops.tools.guardrails import shell
from factorops.tools.guardrails.checks import CheckContext
from factorops.tools.guardrails.match import GuardrailMatcher, decide, required_literals
from factorops.tools.guardrails.models import GuardrailHit
from factorops.tools.patterns.model import GuardrailRule, PatternCandidate


def rule(title: str, effect: str = "warn", **kw: object) -> PatternCandidate:
    return PatternCandidate(
        title=title,
        kind="guardrail",
        solution="",
        rule=GuardrailRule(effect=effect, **kw),  # type: ignore[arg-type]
    )


def hit(title: str, effect: str) -> GuardrailHit:
    return GuardrailHit(id="", title=title, effect=effect, why=f"{title} matched")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("effects", "decision"),
    [
        ([], "allow"),
        (["warn"], "warn"),
        (["block"], "block"),
        (["warn", "block"], "block"),
        (["block", "warn"], "block"),
        (["warn", "warn"], "warn"),
    ],
)
def test_decide_block_beats_warn_beats_allow(effects: list[str], decision: str) -> None:
    """Mutants #0 (`==` flipped), #1 and #2 (a decision replaced by None) of `decide`, which the
    session checks (context use, failed validations, success claims) answer through."""
    matches = [hit(f"rule {i}", e) for i, e in enumerate(effects)]
    got = decide(matches)
    assert got.decision == decision
    assert [m.title for m in got.matches] == [m.title for m in matches]


def test_an_unknown_built_in_check_is_reported_and_checks_nothing() -> None:
    """Mutants #5 (`not in CHECKS` flipped), #13 and #14 (the report deleted): a rule naming a check
    this version does not have is listed in `invalid` (what `factorops doctor` prints) with the
    known names, and never matches; a known check is not reported and does match."""
    m = GuardrailMatcher(
        [
            rule("from a newer version", "block", check="no_such_check"),
            rule("force", "block", check="force_push"),
        ]
    )
    assert [(bad.title, bad.error.split(";")[0]) for bad in m.invalid] == [
        ("from a newer version", "unknown check 'no_such_check'")
    ]
    assert "force_push" in m.invalid[0].error and "git_clean" in m.invalid[0].error
    assert [r.title for r in m.rules] == ["force"]
    got = m.check("push", command="git push --force origin main")
    assert got.decision == "block" and [h.title for h in got.matches] == ["force"]


def test_an_unreadable_command_matches_a_rule_by_its_required_literal() -> None:
    """Mutant #24 (`command is not None` flipped, so regex rules get no required literals): a
    command the shell parser cannot read fails closed when it mentions the literal every match of
    the rule needs, even where the whole regex does not match the raw text."""
    m = GuardrailMatcher([rule("prod deploys", "block", command_regex=r"\bdeploy\b.*--env prod")])
    got = m.check("run it", command="run '--env prod")  # unterminated quote: not understood
    assert got.decision == "block"
    assert "could not be read" in got.matches[0].why and "'--env prod'" in got.matches[0].why
    assert m.check("run it", command="run --env staging").decision == "allow"


def test_built_in_checks_use_the_given_project_facts() -> None:
    """Mutant #46 (`context is not None` flipped): the project's facts given to the check decide
    which branch is the default one; without them the checks assume `main`. (#47, `read_git=True`
    in the fallback, is equivalent: a context without a project root never reads git.)"""
    m = GuardrailMatcher([rule("keep the default branch", "block", check="delete_default_branch")])
    trunk = CheckContext(default_branch="trunk", current_branch="feature", read_git=False)
    assert m.check("clean up", command="git branch -D trunk", context=trunk).decision == "block"
    assert m.check("clean up", command="git branch -D main", context=trunk).decision == "allow"
    assert m.check("clean up", command="git branch -D main").decision == "block"
    assert m.check("clean up", command="git branch -D trunk").decision == "allow"


def test_a_built_in_check_says_why_it_matched() -> None:
    """Mutant #58 (the check's reason not added): the hit explains itself."""
    m = GuardrailMatcher([rule("force", "block", check="force_push")])
    why = m.check("push", command="git push --force origin main").matches[0].why
    assert "push" in why and "force" in why.lower()


def test_out_of_time_analysis_warns_instead_of_blocking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutant #73 (the downgrade deleted) and #72 (`and` -> `or`, which also downgrades a parse
    error, see the unreadable-command test): a command whose analysis ran out of CPU time matches a
    blocking rule only because it mentions the rule's word, so it warns; a busy machine must not
    turn a command into a block. The time budget is set to nothing so the safety net trips."""
    monkeypatch.setitem(shell.normalise.__kwdefaults__, "max_seconds", 0.0)
    m = GuardrailMatcher([rule("force", "block", check="force_push")])
    got = m.check("push", command="git push --force origin main")
    assert got.decision == "warn"
    assert "ran out of time" in got.matches[0].why


@pytest.mark.parametrize(
    ("pattern", "needs"),
    [
        (r"x(deploy)y", ("deploy",)),  # #91: a group's literal counts
        (r"x(?:deploy)+y", ("deploy",)),  # #98: a repeat's literal counts when it must occur
        (r"(?:deploy)+now", ("deploy",)),  # #97: ... and is the longer one here
        (r"(?:deploy)*now", ("now",)),  # #97: a literal that may occur 0 times is never required
        (r"x(?:deploy)*y", None),
    ],
)
def test_required_literals_in_groups_and_repeats(pattern: str, needs: tuple[str, ...] | None) -> None:
    """Mutants #91, #98 (a group's or repeat's literals ignored) and #97 (`>= 1` flipped)."""
    assert required_literals(pattern) == needs


def test_a_rule_whose_word_may_be_absent_still_matches() -> None:
    """#97 seen by a user: with the optional `sudo -u root ` read as required (it is the longest
    literal), `rm -rf /` alone would be let through."""
    m = GuardrailMatcher([rule("wipe root", "block", command_regex=r"(?:sudo -u root )*rm -rf /$")])
    assert m.check("clean", command="rm -rf /").decision == "block"
    assert m.check("clean", command="sudo -u root rm -rf /").decision == "block"
