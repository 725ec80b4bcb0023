"""The starter guardrails rewritten for RE2: same answers as the originals under Python's `re`.

The originals use lookaround, which RE2 cannot run, so 8 of the 12 command rules were rewritten
(see proposed_starter_guardrails.toml). These tests hold the rewrites to the originals: on every
command of tests/test_starter_guardrails.py (as typed and as the matcher sees it), and on a seeded
differential fuzz of command-like text, where the only differences allowed are the ones listed in
`_known_difference` (each one explained there).
"""

from __future__ import annotations

import random
import re
import tomllib
from pathlib import Path

import pytest

from factorops.tools.patterns.rule_regex import MAX_ACTION_REPEAT, compile_rule

from .starter_cases import CASES, ORIGINAL, ORIGINAL_ACTION

STARTER_TOML = Path(__file__).resolve().parents[1] / "tools/guardrails/data/starter_guardrails.toml"
REWRITE: dict[str, str] = {
    r["slug"]: r["command_regex"]
    for r in tomllib.loads(STARTER_TOML.read_text())["rule"]
    if "command_regex" in r
}
CHANGED = sorted(s for s in ORIGINAL if REWRITE[s] != ORIGINAL[s])
ACTION_REWRITE: dict[str, str] = {
    r["slug"]: r["action_regex"]
    for r in tomllib.loads(STARTER_TOML.read_text())["rule"]
    if "action_regex" in r
}


def test_the_same_rules_are_rewritten_and_fit_the_rule_model() -> None:
    assert set(REWRITE) == set(ORIGINAL) == set(CASES)
    assert CHANGED == [
        "chmod-recursive-777",
        "delete-default-branch",
        "delete-remote-branch",
        "force-push-default-branch",
        "force-push-unnamed-branch",
        "git-clean-force",
        "rm-rf-catastrophic",
        "rm-rf-outside-project",
    ]
    for slug, pattern in REWRITE.items():
        assert len(pattern) <= 500, slug  # GuardrailRule.command_regex max_length
        assert "(?=" not in pattern and "(?!" not in pattern and "(?<" not in pattern, slug


@pytest.mark.parametrize("slug", sorted(ORIGINAL))
def test_originals_with_lookaround_are_refused_and_rewrites_compile(slug: str) -> None:
    compile_rule(REWRITE[slug])
    re.compile(REWRITE[slug], re.IGNORECASE)  # the matcher's literal prefilter parses it with `re`
    if slug in CHANGED and slug != "delete-remote-branch":
        with pytest.raises(ValueError, match="is not supported: rules use linear-time RE2 syntax"):
            compile_rule(ORIGINAL[slug])


@pytest.mark.parametrize("slug", sorted(CASES))
def test_rewrite_answers_the_starter_cases_like_the_original(slug: str) -> None:
    new = compile_rule(REWRITE[slug])
    old = re.compile(ORIGINAL[slug], re.IGNORECASE)
    catch, allow = CASES[slug]
    for command, view in catch:
        assert new.search(view), (slug, command)
    for command, view in allow:
        assert not new.search(view), (slug, command)
    for command, view in catch + allow:
        for text in (command, view):
            assert new.search(text) == (old.search(text) is not None), (slug, text)


# fmt: off
_SP = [" ", " ", " ", "  ", "\t", "\n", "", ";", "|", "&", ")", "'", '"', " ", " "]
_COMMON = ["origin", "x", "--", "-", "'", '"', ")", "(", "$(", "&&", "||", ";", "|", "-x", "--x", "-v", "a;b", "\\"]
_PER: dict[str, tuple[list[str], list[str]]] = {
    "force-push-default-branch": (
        ["git push", "git -C r push", "git --git-dir=a push", "git -c x=y push", "bash -c 'git push", "GIT  PUSH"],
        ["-f", "-fu", "--force", "--force-with-lease", "--force-if-includes", "--forcex", "-F", "main", "master",
         "+main", "+master", "HEAD:main", "x:main", "HEAD:refs/heads/master", "refs/heads/main", "main-backup",
         "feature/main", "-f:main", "--force:main", "+HEAD:main", "main)", "'main'", "--follow-tags"],
    ),
    "force-push-unnamed-branch": (
        ["git push", "git -C r push", "git push)", "git pushx"],
        ["-f", "-fu", "--force", "--force-with-lease", "origin", "feature", "-u", "--set-upstream", "-f;x", "x;y",
         "main", "-", "+main", ")"],
    ),
    "delete-remote-branch": (
        ["git push", "git -C r push"],
        ["--delete", "-d", "-D", ":feature", "::x", ": x", "origin", "HEAD:feature", "feature:feature", "-u"],
    ),
    "delete-default-branch": (
        ["git branch", "git -C r branch", "git branchx"],
        ["-d", "-D", "-fd", "--delete", "-m", "main", "master", "main-old", "feature", "'main'", "main)", "-dx",
         "--deletex"],
    ),
    "rm-rf-catastrophic": (
        ["rm", "sudo rm", "/bin/rm", "git rm", "GIT rm", "xgit rm", "it rm", "a-rm", "rm.", "(rm", "\trm",
         "git\trm", "echo $(rm", "bash -c 'rm"],
        ["-rf", "-r", "-f", "-Rf", "--recursive", "--force", "/", "/*", "~", "~/", "~/*", "$HOME", "${HOME}",
         "$HOME/", "..", "../", "../..", "../../..", ".", "./", "./*", "./build", "..foo", "'/'", '"~"', "-- /",
         "build", "*", "/tmp"],
    ),
    "rm-rf-outside-project": (
        ["rm", "sudo rm", "/bin/rm", "git rm", "xgit rm", "it rm", "a-rm", "rm.", "(rm", "echo $(rm"],
        ["-rf", "-r", "-f", "--recursive", "/tmp/cache", "~/x", "$HOME/.cache", "${HOME}", "$HOMEX", "../other",
         "*", "src/*.pyc", "./build", "node_modules", "'/x'", "-- /x", "*)"],
    ),
    "git-reset-hard": (["git reset", "git -C r reset"], ["--hard", "--soft", "HEAD~1", "--hardx", "file.py"]),
    "git-clean-force": (
        ["git clean", "git -C r clean", "git cleanx", "git clean-up"],
        ["-f", "-fd", "-fdx", "-xdf", "-n", "-fdn", "--dry-run", "--dry-runs", "--dry-run=x", "--force", "--forcex",
         "--force=1", "-d", "-x", "-fN", "-f-n", "-f1", "--d", "--x", "--", "-"],
    ),
    "chmod-recursive-777": (
        ["chmod", "sudo chmod", "xchmod"],
        ["-R", "-vR", "--recursive", "777", "0777", "a+rwx", "ugo+rwx", "a=rwx", "755", "u+rwx", "7777", "'777'",
         "777)"],
    ),
    "pipe-download-to-shell": (
        ["curl x", "wget -qO- x", 'bash -c "$(curl', "sh <(curl"],
        ["|", "| sh", "|sudo bash", "| sudo -E bash", "| jq", "| zsh", "| fish", "-s"],
    ),
    "drop-database": (['psql -c "', "dropdb", "x"], ["DROP DATABASE", "drop  schema", "drop_database", "dropdbx"]),
    "drop-table": (['psql -c "', "x"], ["DROP TABLE", "truncate table", "droptable"]),
}
# fmt: on


def _command(rnd: random.Random, slug: str) -> str:
    heads, words = _PER[slug]
    out = [rnd.choice(["", "", "", "x ", "ls; ", "a\n", "sudo "]), rnd.choice(heads), rnd.choice(" \t\n  ")]
    for _ in range(rnd.randint(0, 6)):
        out.append(rnd.choice(words if rnd.random() < 0.8 else _COMMON))
        out.append(rnd.choice(_SP))
    return "".join(out)


def _known_difference(slug: str, text: str) -> bool:
    """Where a rewrite may answer differently from its original, on purpose.

    git-clean-force only (the other rewrites are exact on this generator):
    - a newline ends the command: the original's `\\s` before a flag could be the newline itself,
      so `git clean` + newline + `-f` warned and `git clean -f` + newline + `-n` did not;
    - a `--d...` word counts as `--dry-run`: git takes unique abbreviations of long options, so
      `git clean -f --dry` is a dry run (the original warned); any other `--d...` word makes
      git clean fail without deleting anything.
    Both kept the rewrite under the rule model's 500-character limit.
    """
    return slug == "git-clean-force" and ("\n" in text or re.search(r"(?:^|\s)--d", text) is not None)


@pytest.mark.parametrize("slug", sorted(_PER))
def test_differential_fuzz_against_the_original(slug: str) -> None:
    rnd = random.Random(f"starter:{slug}")
    new = compile_rule(REWRITE[slug])
    old = re.compile(ORIGINAL[slug], re.IGNORECASE)
    matched, differ = 0, []
    for _ in range(4000):
        text = _command(rnd, slug)
        want = old.search(text) is not None
        matched += want
        if new.search(text) != want and not _known_difference(slug, text):
            differ.append(text)
    assert matched > 100, "the generator should reach the rule"
    assert differ == [], differ[:5]


# -- the plain-language rules (action_regex): only a trailing lookahead had to go -----------------


def test_plain_language_rules_compile_and_fit_the_rule_model() -> None:
    assert set(ACTION_REWRITE) == set(ORIGINAL_ACTION)
    changed = sorted(s for s in ACTION_REWRITE if ACTION_REWRITE[s] != ORIGINAL_ACTION[s])
    assert changed == [
        "delete-home-or-root-described",
        "delete-repository-described",
        "drop-database-described",
        "drop-table-described",
        "wipe-disk-described",
    ]
    for slug, pattern in ACTION_REWRITE.items():
        assert len(pattern) <= 500, slug  # GuardrailRule.action_regex max_length
        compile_rule(pattern, max_repeat=MAX_ACTION_REPEAT)


# fmt: off
_VERBS = ["delete", "deleting", "remove", "wipe", "wiping", "erase", "nuke", "destroy", "drop", "dropping", "truncate",
          "purge", "empty", "reset", "format", "reformat", "zero", "overwrite", "repartition", "rm -rf", "force push",
          "force-pushed", "push", "pushed", "rewrite", "prune", "clean up"]
_DETS = ["the", "this", "our", "my", "all", "entire", "whole", "old", "local", "remote", "git", "a", "of", "every"]
_OBJECTS = ["repo", "repository", "repositories", ".git", ".git folder", "git history", "project", "project directory",
            "codebase", "home directory", "root folder", "root file system", "database", "databases", "db", "schema",
            "table", "tables", "users table", "disk", "drive", "hard drive", "ssd", "partition", "partition table",
            "volume", "file system", "everything in", "all files on", "home", "/", "~", "main", "master", "branch",
            "main branch", "default branch", "remote branches", "branches on origin", "history", "--force", "-f",
            "forced", "production", "prod", "live", "data", "rows", "records", "bucket", "mkfs", "dd if=x of=/dev/sda",
            "in production", "from prod", "on live", "production tables", "prod data"]
_AFTER = ["and", "then", "on", "in", "at", "from", "for", "with", "so", "to", "now", "too", "quickly", "permanently",
          ".", ",", "!", "'s", "-", "’s", "x", "files", "later", "", "", "\n", ";", "please", "folder"]
# fmt: on


def _sentence(rnd: random.Random) -> str:
    words: list[str] = []
    for _ in range(rnd.randint(1, 4)):
        words.append(rnd.choice(_VERBS))
        words.extend(rnd.choice(_DETS) for _ in range(rnd.randint(0, 2)))
        words.extend(rnd.choice(_OBJECTS) for _ in range(rnd.randint(1, 2)))
        words.extend(rnd.choice(_AFTER) for _ in range(rnd.randint(0, 2)))
    return rnd.choice(["", "please ", "I will ", "Now "]) + rnd.choice([" ", "  ", " "]).join(words)


@pytest.mark.parametrize("slug", sorted(ORIGINAL_ACTION))
def test_plain_language_rules_answer_like_the_originals(slug: str) -> None:
    rnd = random.Random(f"action:{slug}")
    new = compile_rule(ACTION_REWRITE[slug], max_repeat=MAX_ACTION_REPEAT)
    old = re.compile(ORIGINAL_ACTION[slug], re.IGNORECASE)
    matched, differ = 0, []
    for _ in range(4000):
        text = _sentence(rnd)
        want = old.search(text) is not None
        matched += want
        if new.search(text) != want:
            differ.append(text)
    assert matched > 50, "the generator should reach the rule"
    assert differ == [], differ[:5]
