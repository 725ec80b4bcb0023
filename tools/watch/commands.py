"""Shell commands as the watch compares them: normalised, grouped into families, split into simple
commands. The person's own `factorops` commands are recognised by the guardrails
(`person_only`, re-exported here for the hooks), so the hook and the `person-only-commands` rule
deny the same spellings.

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


def person_only(command: str) -> str | None:
    """The guardrails' `person_only` answer for `command` (see its docstring). Imported on first
    use: it brings the shell parser (tree-sitter-bash), which opening a store must not load."""
    from factorops.tools.guardrails.checks import person_only as guardrails_person_only

    return guardrails_person_only(command)


__all__ = ["family", "normalise", "person_only", "simple_commands", "words"]


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
