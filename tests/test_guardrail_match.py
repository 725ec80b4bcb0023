"""The matcher: all given parts of a rule must match, strictest effect wins, quoted data is masked."""

from __future__ import annotations

import pytest

from factorops.tools.guardrails.match import GuardrailMatcher, required_literals
from factorops.tools.kernel.errors import DomainError
from factorops.tools.patterns.model import GuardrailRule, PatternCandidate


def rule(title: str, effect: str = "warn", solution: str = "", **kw: object) -> PatternCandidate:
    return PatternCandidate(
        title=title,
        kind="guardrail",
        solution=solution,
        rule=GuardrailRule(effect=effect, **kw),  # type: ignore[arg-type]
    )


def test_no_rules_allow() -> None:
    got = GuardrailMatcher([]).check("anything", command="ls")
    assert got.decision == "allow" and got.matches == []


def test_strictest_effect_wins_and_every_match_is_reported() -> None:
    m = GuardrailMatcher(
        [
            rule("warn on deploy", command_regex=r"\bdeploy\b", solution="Ask first.\nMore text"),
            rule("block prod", "block", command_regex=r"--env[= ]prod"),
            rule("unrelated", "block", command_regex=r"\bterraform\b"),
        ]
    )
    got = m.check("ship it", command="./deploy --env prod")
    assert got.decision == "block"
    assert [h.title for h in got.matches] == ["warn on deploy", "block prod"]
    assert got.matches[0].why == "command matches 'deploy'. Ask first."
    assert m.check("ship it", command="./deploy --env staging").decision == "warn"


def test_all_parts_of_a_rule_must_match() -> None:
    m = GuardrailMatcher(
        [
            rule(
                "migrations by hand",
                command_regex=r"\bvim\b",
                action_regex="migration",
                path_globs=["db/migrations/*"],
            )
        ]
    )
    assert m.check("edit a migration", command="vim x", paths=["db/migrations/001.sql"]).decision == "warn"
    assert m.check("edit a migration", command="vim x", paths=["src/app.py"]).decision == "allow"
    assert m.check("edit a model", command="vim x", paths=["db/migrations/001.sql"]).decision == "allow"
    assert m.check("edit a migration", command="nano x", paths=["db/migrations/001.sql"]).decision == "allow"
    why = m.check("edit a migration", command="vim x", paths=["db/migrations/001.sql"]).matches[0].why
    assert why == "command matches 'vim'; action matches 'migration'; touches db/migrations/001.sql"


def test_path_only_rule_and_glob_semantics() -> None:
    m = GuardrailMatcher([rule("lockfiles", path_globs=["*.lock", "package-lock.json"])])
    assert m.check("update deps", paths=["poetry.lock"]).decision == "warn"
    assert m.check("update deps", paths=["package-lock.json"]).decision == "warn"
    assert m.check("update deps", paths=["src/lock.py"]).decision == "allow"


def test_command_regex_falls_back_to_the_action_text() -> None:
    m = GuardrailMatcher([rule("no sudo", "block", command_regex=r"\bsudo\b")])
    assert m.check("run sudo apt-get install x").decision == "block"
    assert m.check("run sudo apt-get install x", command="apt-get install x").decision == "allow"


def test_regexes_are_case_insensitive_unless_the_rule_says_so() -> None:
    m = GuardrailMatcher(
        [
            rule("drop", command_regex=r"drop table"),
            rule("force delete", "block", command_regex=r"branch (?-i:-D)\b"),
        ]
    )
    assert m.check("x", command="psql -c 'DROP TABLE t'").decision == "warn"
    assert m.check("x", command="git branch -D x").decision == "block"
    assert m.check("x", command="git branch -d x").decision == "allow"


def test_bad_regex_disables_only_that_rule() -> None:
    m = GuardrailMatcher([rule("broken", command_regex="(unclosed"), rule("fine", command_regex="ok")])
    assert [r.title for r in m.invalid] == ["broken"] and "does not compile" in m.invalid[0].error
    assert m.check("x", command="ok").decision == "warn"


def test_rules_without_matchers_are_ignored() -> None:
    m = GuardrailMatcher([rule("session check"), PatternCandidate(title="plain pattern")])
    assert m.rules == [] and m.check("anything").decision == "allow"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": ""}, "action"),
        ({"action": "  ", "command": "  "}, "action"),
        ({"action": "x" * 2001}, "action"),
        ({"action": "x", "command": "y" * 10_001}, "command"),
        ({"action": "x", "paths": ["p"] * 201}, "paths"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(DomainError) as err:
        GuardrailMatcher([]).check(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_command_alone_is_enough() -> None:
    m = GuardrailMatcher([rule("x", command_regex="danger")])
    assert m.check(command="danger now").decision == "warn"


@pytest.mark.parametrize(
    ("command", "regex"),
    [
        ('echo "rm -rf /"', r"rm\s+-rf"),
        ("printf '%s' 'git push -f'", r"git\s+push"),
        ("grep -rn 'DROP DATABASE' docs", r"drop\s+database"),
        ('git commit -m "rm -rf / is bad"', r"rm\s+-rf"),
        ("# rm -rf /\nls", r"rm\s+-rf"),
        ("python -c \"print('git push -f origin main')\"", r"git\s+push"),
        ("cat > notes.md <<'EOF'\ngit push -f origin main\nEOF", r"git\s+push"),
    ],
)
def test_quoted_text_is_data_not_a_command(command: str, regex: str) -> None:
    # Rules see each simple command's argv: a quoted argument is one word (its spaces are not
    # whitespace to a rule), comments and heredoc bodies written to files are not commands.
    assert GuardrailMatcher([rule("x", command_regex=regex)]).check(command=command).decision == "allow"


@pytest.mark.parametrize(
    ("command", "regex"),
    [
        ("bash -c 'rm -rf /'", r"rm\s+-rf\s+/"),
        ("echo $(rm -rf ~)", r"rm\s+-rf\s+~"),
        ("echo `rm -rf ~`", r"rm\s+-rf\s+~"),
        ('echo ok && rm -rf "$HOME"', r"rm\s+-rf\s+\$HOME"),
        ("g''it push -f origin 'main'", r"^git push -f origin main$"),
        ("B=main; git -C . push -f origin $B", r"^git push -f origin main$"),
        ("echo 'git push -f origin main' | sh", r"^git push -f origin main$"),
        ("sudo env X=1 rm -rf /", r"^rm -rf /$"),
    ],
)
def test_commands_that_would_run_are_seen_normalised(command: str, regex: str) -> None:
    assert GuardrailMatcher([rule("x", command_regex=regex)]).check(command=command).decision == "warn"


def test_a_command_that_cannot_be_understood_fails_closed() -> None:
    m = GuardrailMatcher([rule("x", command_regex=r"git\s+push")])
    got = m.check(command="$(" * 1000 + "git push -f origin main" + ")" * 1000)
    assert got.decision == "warn" and "could not be read the way the shell would" in got.matches[0].why
    assert m.check(command="$(" * 1000 + "ls" + ")" * 1000).decision == "allow"


@pytest.mark.parametrize(
    ("pattern", "needs"),
    [
        (r"\bgit\s+push\b", ("push",)),
        (r"(?:curl|wget)\s+x", ("curl", "wget")),
        (r"a|bc", None),  # one alternative has no usable word: no prefilter
        (r"x{0,3}yy", ("yy",)),
        (r"ab(?-i:CD)e", ("ab",)),
        (r"(?P<broken", None),
    ],
)
def test_required_literals(pattern: str, needs: tuple[str, ...] | None) -> None:
    assert required_literals(pattern) == needs


def test_prefilter_never_changes_the_answer() -> None:
    # a word with a case-sensitive part, and one inside a repeated group, still match as the regex does
    m = GuardrailMatcher(
        [rule("d", command_regex=r"branch (?-i:-D)"), rule("r", command_regex=r"(?:DROP\s+)+table")]
    )
    assert m.check("x", command="git BRANCH -D x").decision == "warn"
    assert m.check("x", command="drop DROP TABLE t").decision == "warn"
    assert m.check("x", command="git branch -d x").decision == "allow"


def test_prose_given_as_the_action_does_not_fail_closed() -> None:
    # Without a command the action text is read as one; prose is often not valid shell, and its
    # words must not match for that reason alone.
    m = GuardrailMatcher([rule("x", command_regex=r"git\s+push")])
    assert m.check("don't git push until it's reviewed ( later").decision == "allow"
    assert m.check(command="don't git push until it's reviewed ( later").decision == "warn"
