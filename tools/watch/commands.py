"""Shell commands as the watch compares them: normalised, grouped into families, split into simple
commands, and the person's own `factorops` commands recognised.

A plain `shlex` split is enough here: the guardrails parse commands for matching; the watch only
needs a stable key (the same command typed with other spacing or quoting is the same command) and
the program a command runs.
"""

from __future__ import annotations

import os
import re
import shlex

_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_OPERATORS = frozenset({"&&", "||", ";", "|", "&", "|&", ";;", "(", ")"})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "fish"})
_WRAPPERS = frozenset({"sudo", "env", "command", "exec", "nohup", "time", "nice", "xargs"})
# Programs whose first word after the options names what they do (`git push`, `npm test`).
_WITH_SUBCOMMAND = frozenset(
    {
        "git",
        "npm",
        "pnpm",
        "yarn",
        "cargo",
        "go",
        "make",
        "uv",
        "poetry",
        "docker",
        "kubectl",
        "dotnet",
        "gradle",
    }
)
MAX_COMMAND = 10_000


def words(command: str) -> list[str]:
    """shlex words with shell operators as their own words; a bad quote falls back to whitespace."""
    lex = shlex.shlex(command[:MAX_COMMAND], posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    try:
        return list(lex)
    except ValueError:
        return command[:MAX_COMMAND].split()


def simple_commands(command: str) -> list[list[str]]:
    """The simple commands of a command line (split at `&&`, `;`, `|`, ...), environment
    assignments and wrappers (`sudo`, `env`) dropped; `sh -c "..."` is looked into."""
    out: list[list[str]] = []
    current: list[str] = []
    for w in [*words(command), ";"]:
        if w in _OPERATORS or (w and set(w) <= set("&|;()")):
            if current:
                out.extend(_unwrap(current))
            current = []
        else:
            current.append(w)
    return out


def _unwrap(argv: list[str], depth: int = 0) -> list[list[str]]:
    i = 0
    while i < len(argv) and (_ENV_ASSIGN.match(argv[i]) or os.path.basename(argv[i]) in _WRAPPERS):
        i += 1
    argv = argv[i:]
    if not argv:
        return []
    if os.path.basename(argv[0]) in _SHELLS and depth < 3:
        for j, w in enumerate(argv[1:-1], start=1):
            if w.startswith("-") and "c" in w.lstrip("-"):
                return [
                    argv[: j + 1],
                    *[c for c in simple_commands(argv[j + 1]) for c in _unwrap(c, depth + 1)],
                ]
    return [argv]


def normalise(command: str) -> str:
    """One key per command: words re-joined with single spaces, environment assignments dropped."""
    parts = [" ".join(shlex.quote(w) for w in argv) for argv in simple_commands(command)]
    return " ; ".join(parts)[:500] if parts else command.strip()[:500]


def family(command: str) -> str:
    """What a command runs, for "similar failures": `pytest`, `git push`, `python -m pytest`."""
    cmds = simple_commands(command)
    if not cmds:
        return command.strip()[:100]
    argv = cmds[-1] if len(cmds) > 1 and os.path.basename(cmds[0][0]) == "cd" else cmds[0]
    prog = os.path.basename(argv[0])
    rest = [w for w in argv[1:] if not w.startswith("-")]
    if re.fullmatch(r"python[0-9.]*", prog) and "-m" in argv:
        k = argv.index("-m")
        return f"python -m {argv[k + 1]}" if k + 1 < len(argv) else "python -m"
    if prog in _WITH_SUBCOMMAND and rest:
        return f"{prog} {rest[0]}"
    return prog


# `factorops` sub-commands only a person may run (an assistant proposes; a person decides).
_PERSON_ONLY = {
    ("approve",): "approving a request",
    ("deny",): "denying a request",
    ("patterns", "promote"): "promoting a pattern",
    ("patterns", "retire"): "retiring a pattern",
    ("token",): "managing access tokens",
}
_OPTIONS_WITH_VALUE = frozenset({"--project", "--data-dir"})


def _factorops_args(argv: list[str]) -> list[str] | None:
    prog = os.path.basename(argv[0])
    if prog == "factorops":
        return argv[1:]
    if re.fullmatch(r"python[0-9.]*|uv|uvx|pipx", prog):
        for k, w in enumerate(argv[:-1]):
            if w == "-m" and argv[k + 1] in (
                "factorops",
                "factorops.server.cli.main",
                "factorops.server.cli",
            ):
                return argv[k + 2 :]
            if prog in ("uvx", "pipx") and w in ("factorops", "run") and "factorops" in argv[k:]:
                return argv[argv.index("factorops", k) + 1 :]
    return None


def person_only(command: str) -> str | None:
    """Why `command` is a person's to run (e.g. "`factorops approve` (approving a request)"), or
    None when it is not one of the person-only `factorops` commands."""
    for argv in simple_commands(command):
        args = _factorops_args(argv)
        if args is None:
            continue
        positional: list[str] = []
        skip = False
        for w in args:
            if skip:
                skip = False
            elif w in _OPTIONS_WITH_VALUE:
                skip = True
            elif not w.startswith("-"):
                positional.append(w)
        for key, what in _PERSON_ONLY.items():
            if tuple(positional[: len(key)]) == key:
                return f"`factorops {' '.join(key)}` ({what})"
    return None
