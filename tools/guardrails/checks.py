"""Built-in command checks a guardrail rule can name (`check = "force_push"` in the starter TOML).

A regex cannot say "a force-push whose destination is the default branch, whatever it is called"
or "a recursive delete that reaches outside the project": those are failure PATTERNS, with many
spellings and with facts (the repository's default branch, the current branch, the project root)
that are not in the text. Each check here reads the normalised commands of `shell.normalise` (quotes
removed, variables substituted, wrappers unwrapped) and answers with a short reason or None.

`CheckContext` supplies the facts. It reads them from git in the project only when a check asks
(a `git push` or `git branch` is present), once per `guardrail_check` call:
the default branch is `git symbolic-ref refs/remotes/origin/HEAD`; when the remote does not say,
the one of `main` and `master` that exists locally (else `init.defaultBranch`, else `main`) AND
`main` and `master` are all protected; the current branch is
`git branch --show-current` (None when detached or unknown). They are read from the files of the
git directory (`HEAD`, the `origin/HEAD` symref, loose or packed branch refs) when it is found,
with git itself as the fallback: a subprocess per check would cost more than the whole match.

`KEYWORDS` are the words whose presence in the raw text makes a command that could not be
understood (`understood=False`) fail closed for that check.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

from . import shell
from .shell import Normalised

_GIT_TIMEOUT = 2.0


class CheckContext:
    """Facts about the project the checks need; given explicitly (tests) or read from git lazily."""

    def __init__(
        self,
        project_root: str | None = None,
        *,
        default_branch: str | None = None,
        current_branch: str | None = None,
        read_git: bool = True,
    ) -> None:
        self.project_root = project_root
        self._default = default_branch
        self._current = current_branch
        self._read_git = read_git and project_root is not None

    def _git(self, *args: str) -> str | None:
        if not self._read_git or self.project_root is None:
            return None
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.project_root,
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        out = done.stdout.strip()
        return out if done.returncode == 0 and out else None

    @cached_property
    def _git_dir(self) -> Path | None:
        """The repository's git directory, found by reading files (no subprocess), or None."""
        if not self._read_git or self.project_root is None:
            return None
        here = Path(self.project_root)
        for d in (here, *here.parents):
            dot = d / ".git"
            try:
                if dot.is_dir():
                    return dot
                if dot.is_file():
                    text = dot.read_text(encoding="utf-8", errors="replace").strip()
                    if text.startswith("gitdir:"):
                        gd = Path(text.removeprefix("gitdir:").strip())
                        return gd if gd.is_absolute() else (d / gd)
                    return None
            except OSError:
                return None
        return None

    def _symref(self, name: str) -> str | None:
        """The target of a symbolic ref file (`HEAD`, `refs/remotes/origin/HEAD`), read directly."""
        gd = self._git_dir
        if gd is None:
            return None
        try:
            text = (gd / name).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return None
        return text.removeprefix("ref:").strip() if text.startswith("ref:") else None

    def _has_branch(self, branch: str) -> bool:
        gd = self._git_dir
        if gd is None:
            return False
        common = gd
        try:
            if (gd / "commondir").is_file():
                common = gd / (gd / "commondir").read_text(encoding="utf-8").strip()
            if (common / "refs/heads" / branch).is_file():
                return True
            packed = common / "packed-refs"
            if packed.is_file():
                return f" refs/heads/{branch}\n" in packed.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return False

    @cached_property
    def default_branches(self) -> tuple[str, ...]:
        """The default branch; both `main` and `master` when there is no repository to ask."""
        if self._default:
            return (self._default,)
        if not self._read_git:
            return ("main", "master")
        if self._origin_head is not None:
            return (self._origin_head,)
        # Not stated by the remote, only guessed from local branches: keep main and master
        # protected too (the remote's default may differ from what is checked out here).
        return tuple(dict.fromkeys((self.default_branch, "main", "master")))

    @cached_property
    def _origin_head(self) -> str | None:
        if self._git_dir is not None:
            origin = self._symref("refs/remotes/origin/HEAD")
        else:
            origin = self._git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
        if origin and origin.startswith("refs/remotes/origin/"):
            return origin.removeprefix("refs/remotes/origin/")
        return None

    @cached_property
    def default_branch(self) -> str:
        if self._default:
            return self._default
        if self._git_dir is not None:  # the common case, read from files: no subprocess
            origin = self._symref("refs/remotes/origin/HEAD")
            if origin and origin.startswith("refs/remotes/origin/"):
                return origin.removeprefix("refs/remotes/origin/")
            local = [b for b in ("main", "master") if self._has_branch(b)]
        else:
            head = self._git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
            if head and head.startswith("refs/remotes/origin/"):
                return head.removeprefix("refs/remotes/origin/")
            local = [
                b
                for b in ("main", "master")
                if self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{b}")
            ]
        if len(local) == 1:
            return local[0]
        return self._git("config", "--get", "init.defaultBranch") or "main"

    @cached_property
    def current_branch(self) -> str | None:
        if self._current is not None:
            return self._current
        if self._git_dir is not None:
            head = self._symref("HEAD")
            return head.removeprefix("refs/heads/") if head and head.startswith("refs/heads/") else None
        return self._git("branch", "--show-current")


Check = Callable[[Normalised, CheckContext], str | None]


def _force_push(n: Normalised, ctx: CheckContext) -> str | None:
    for argv in n.commands:
        if len(argv) >= 2 and argv[0] == "git" and argv[1] == "push":
            for default in ctx.default_branches:
                why = shell.force_push(argv, default_branch=default, current_branch=ctx.current_branch)
                if why:
                    return why
    return None


_DELETE_FLAG = re.compile(r"^-[a-zA-Z]*[dD][a-zA-Z]*$")


def _delete_default_branch(n: Normalised, ctx: CheckContext) -> str | None:
    for argv in n.commands:
        if len(argv) < 3 or argv[0] != "git" or argv[1] != "branch":
            continue
        args = argv[2:]
        if not any(a in ("--delete", "--del", "--dele", "--delet") or _DELETE_FLAG.match(a) for a in args):
            continue
        names = [a for a in args if not a.startswith("-")]
        for default in ctx.default_branches:
            if default in names or f"refs/heads/{default}" in names:
                return f"git branch deletes the default branch {default!r}"
        if any(shell.has_unknown(a) for a in names):
            return "git branch deletes a branch named by a value not known here (may be the default branch)"
    return None


def _reset(n: Normalised, ctx: CheckContext) -> str | None:
    for argv in n.commands:
        if len(argv) >= 2 and argv[0] == "git" and argv[1] != "clean":
            why = shell.destructive_reset(argv)
            if why:
                return why
    return None


def _clean(n: Normalised, ctx: CheckContext) -> str | None:
    for argv in n.commands:
        if len(argv) < 2 or argv[0] != "git" or argv[1] != "clean":
            continue
        why = shell.destructive_reset(argv)
        if why:
            return why
        opts = [a for a in argv[2:] if a.startswith("-")]
        dry = any(a == "--dry-run" or re.match(r"^-[a-zA-Z]*n", a) for a in opts)
        force = any(a == "--force" or re.match(r"^-[a-zA-Z]*f", a) for a in opts)
        if force and not dry:
            return "git clean -f deletes untracked files"
    return None


def _recursive_delete(n: Normalised, ctx: CheckContext) -> str | None:
    home = os.path.expanduser("~")
    for argv in n.commands:
        if argv and argv[0] == "rm":
            why = shell.recursive_delete_outside(argv, ctx.project_root, home=home)
            if why is None:
                # /tmp is scratch space when named, but a relative path that climbs out of a
                # project living under /tmp (`rm -rf ../other`) still leaves the project.
                relative = [a for a in argv[1:] if not a.startswith(("/", "~"))]
                why = shell.recursive_delete_outside(
                    ("rm", *relative), ctx.project_root, home=home, scratch_roots=()
                )
            if why:
                return why
    return None


_DROP_DATABASE_SQL = re.compile(r"\bdrop\s+(?:database|schema)\b", re.IGNORECASE)


def _in_migration(argv: tuple[str, ...]) -> bool:
    return any(re.search(r"(?:^|/)migrations?/", a) for a in argv)


def _inner_client(argv: tuple[str, ...], stdin: str | None) -> str | None:
    """A database client run inside another command (`docker exec db psql -c ...`)."""
    for i in range(1, min(len(argv), 8)):
        why = shell.drops_database(argv[i:], stdin)
        if why:
            return why
    return None


def _drops(n: Normalised, *, tables: bool) -> str | None:
    for cmd in n.details:
        why = shell.drops_database(cmd.argv, cmd.stdin) or _inner_client(cmd.argv, cmd.stdin)
        if not why:
            continue
        sql_only = "destructive SQL" in why
        whole = not sql_only or bool(_DROP_DATABASE_SQL.search(" ".join(cmd.argv) + "\n" + (cmd.stdin or "")))
        if tables and not whole and not _in_migration(cmd.argv):
            return why.replace("(DROP/TRUNCATE)", "(DROP TABLE/TRUNCATE)")
        if not tables and whole:
            return why
    return None


def _drops_database(n: Normalised, ctx: CheckContext) -> str | None:
    return _drops(n, tables=False)


def _drops_table(n: Normalised, ctx: CheckContext) -> str | None:
    return _drops(n, tables=True)


def _writes_device(n: Normalised, ctx: CheckContext) -> str | None:
    for cmd in n.details:
        why = shell.writes_device(cmd.argv, cmd.writes)
        if why:
            return why
    return None


def _download_into_shell(n: Normalised, ctx: CheckContext) -> str | None:
    for pipeline in n.pipelines:
        why = shell.download_into_shell(pipeline)
        if why:
            return why
    return None


# The person's own commands (issue #12): an assistant must never run them on the person's behalf.
# The one definition: the `person_only` check of the starter rule and the client hooks
# (tools/watch/before.py) both answer from `person_only_argv`.
PERSON_ONLY: dict[tuple[str, ...], str] = {
    ("approve",): "approving a request",
    ("deny",): "denying a request",
    ("patterns", "promote"): "promoting a pattern",
    ("patterns", "retire"): "retiring a pattern",
    ("token",): "managing access tokens",
}
# Options of `factorops` commands that take a value (an abbreviation such as `--proj` counts too).
_OPTS_WITH_VALUE = (
    "--project",
    "--data-dir",
    "--comment",
    "--status",
    "--kind",
    "--since",
    "--dir",
    "--client",
    "--port",
    "--config",
    "--format",
)
_PROGRAM_NAMES = frozenset({"factorops", "factorops.exe"})
_MODULE_NAMES = frozenset(
    {"factorops", "factorops.__main__", "factorops.server.cli", "factorops.server.cli.main"}
)
# Programs that run another one named among their arguments (`uv run factorops`, `uvx factorops`).
_LAUNCHERS = frozenset({"uv", "uvx", "pipx", "poetry", "pdm", "hatch", "pipenv", "rye"})
_PYTHON = re.compile(r"python[\d.]*(\.exe)?|pypy[\d.]*")
_M_FLAG = re.compile(r"-[A-Za-z]*m")  # `-m`, or short flags run together ending in it (`-um`)


def _base(word: str) -> str:
    return word.replace("\\", "/").rsplit("/", 1)[-1].lower()


def _factorops_runs(argv: Sequence[str]) -> list[list[str]]:
    """The arguments `factorops` gets from `argv`, for every way `argv` may run it: directly
    (`/venv/bin/factorops ...`), as a module (`python3 -X dev -m factorops ...`), or through a
    launcher (`uvx --from factorops factorops ...`, `uv run factorops ...`)."""
    if not argv:
        return []
    prog = _base(argv[0])
    if prog in _PROGRAM_NAMES:
        return [list(argv[1:])]
    if not (_PYTHON.fullmatch(prog) or prog in _LAUNCHERS):
        return []
    runs: list[list[str]] = []
    for i, w in enumerate(argv[1:], start=1):
        if _base(w) in _PROGRAM_NAMES:
            runs.append(list(argv[i + 1 :]))
        elif _M_FLAG.fullmatch(w) and i + 1 < len(argv) and argv[i + 1] in _MODULE_NAMES:
            runs.append(list(argv[i + 2 :]))
    return runs


def _positional(args: Sequence[str]) -> list[str]:
    words: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = len(a) > 3 and "=" not in a and any(o.startswith(a) for o in _OPTS_WITH_VALUE)
        else:
            words.append(a)
    return words


def _has_option(args: Sequence[str], option: str) -> bool:
    """`option` given in full, with `=value`, or abbreviated as argparse accepts (`--replace`)."""
    return any(len(a) > 3 and option.startswith(a.split("=", 1)[0]) for a in args if a.startswith("--"))


def person_only_argv(argv: Sequence[str]) -> str | None:
    """What person-only `factorops` command `argv` runs ("`factorops approve` (approving a
    request)"), or None. A sub-command whose value is not known (`factorops $X`) may be one."""
    for args in _factorops_runs(argv):
        words = _positional(args)
        for key, what in PERSON_ONLY.items():
            if tuple(words[: len(key)]) == key:
                return f"`factorops {' '.join(key)}` ({what})"
        first = tuple(words[:2])
        if first == ("starter", "uninstall"):
            return "`factorops starter uninstall` (retiring the starter guardrails)"
        if first == ("starter", "install") and not _has_option(args, "--dry-run"):
            return "`factorops starter install` (installing active guardrails)"
        if first == ("bundle", "import") and _has_option(args, "--replace-active"):
            return "`factorops bundle import --replace-active` (replacing active patterns)"
        if any(shell.has_unknown(w) for w in words[:2]):
            return "a `factorops` command whose sub-command is not known here (it may be a person-only one)"
    return None


def _person_only(n: Normalised, ctx: CheckContext) -> str | None:
    for argv in n.commands:
        what = person_only_argv(argv)
        if what is not None:
            return f"{what} is the person's decision, not the assistant's"
    return None


def person_only(command: str) -> str | None:
    """What person-only `factorops` command the shell command line `command` runs, or None: the
    same answer as the `person_only` check, fail closed (a line that cannot be understood and names
    `factorops` may run one)."""
    n = shell.normalise(command)
    for argv in n.commands:
        what = person_only_argv(argv)
        if what is not None:
            return what
    if not n.understood and keyword_in("person_only", command.lower()):
        return f"a `factorops` command in a line that could not be understood ({n.reason})"
    return None


CHECKS: dict[str, Check] = {
    "force_push": _force_push,
    "delete_default_branch": _delete_default_branch,
    "destructive_reset": _reset,
    "git_clean": _clean,
    "recursive_delete_outside": _recursive_delete,
    "drops_database": _drops_database,
    "drops_table": _drops_table,
    "writes_device": _writes_device,
    "download_into_shell": _download_into_shell,
    "person_only": _person_only,
}

KEYWORDS: dict[str, tuple[str, ...]] = {
    "force_push": ("push",),
    "delete_default_branch": ("branch",),
    "destructive_reset": ("reset", "checkout", "restore", "switch", "stash"),
    "git_clean": ("clean",),
    "recursive_delete_outside": ("rm",),
    "drops_database": ("drop", "dropdb", "flushall", "flushdb", "dropdatabase"),
    "drops_table": ("drop", "truncate"),
    "writes_device": ("/dev/", "mkfs", "dd"),
    "download_into_shell": ("curl", "wget"),
    "person_only": ("factorops",),
}


_KEYWORD_RE: dict[str, re.Pattern[str]] = {
    name: re.compile(
        "|".join(r"(?<![\w-])" + re.escape(k) + r"(?![\w-])" if k[0].isalnum() else re.escape(k) for k in kws)
    )
    for name, kws in KEYWORDS.items()
}


def keyword_in(name: str, low: str) -> str | None:
    """The first fail-closed keyword of check `name` that occurs as a word in `low` (lower-case)."""
    pattern = _KEYWORD_RE.get(name)
    if pattern is None or not any(k in low for k in KEYWORDS[name]):
        return None
    m = pattern.search(low)
    return m.group(0) if m else None
