"""Decide allow / warn / block for an intended action against guardrail rules, fast and store-free.

A rule (`GuardrailRule`) may give a command regex, an action regex and path globs; all the parts
it gives must match. The strictest effect among the matching rules wins and every match is
reported with why. This runs before many actions, so `GuardrailMatcher` compiles everything once
(regexes with RE2, so in linear time, case-insensitive, as the stored-rule check does; a rule that needs case, like
`git branch -D`, says so inline with `(?-i:...)`), and a check is one pass over the rules.

Quoted text is data, not an action: in the command, the arguments of commands that only print or
search text (`echo`, `printf`, `grep`, `rg`, ...) and the quoted messages of `git commit`/`git tag`
are masked before matching, so `echo "git push --force"` or `git commit -m "stop rm -rf /"` pass.
Everything else stays visible, including quoted text a shell would run (`bash -c "..."`,
`ssh host '...'`, `psql -c "..."`) and command substitutions (`$(...)`, backticks), which also run
inside an `echo`. When no command is given, command regexes are tried on the action text itself.
Paths alone are a valid check: they meet the rules that have path globs (a rule with a regex needs
its text too, so it cannot match).

A regex that does not compile disables its rule and is listed in `GuardrailMatcher.invalid`; it
never stops the check.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from factorops.tools.kernel.errors import DomainError
from factorops.tools.patterns.model import PatternCandidate
from factorops.tools.patterns.rule_regex import RulePattern, RuleRegexError, compile_rule, encode_text

Decision = Literal["allow", "warn", "block"]
MAX_ACTION = 2000
MAX_COMMAND = 10_000
MAX_PATHS = 200


class GuardrailHit(BaseModel):
    """One rule that matched; field names follow the `guardrail_check` tool's result."""

    id: str | None = None
    title: str
    effect: Literal["warn", "block"]
    why: str


class GuardrailDecision(BaseModel):
    """The outcome of a check: the strictest effect of the matches (allow when none)."""

    decision: Decision
    matches: list[GuardrailHit] = Field(default_factory=list)


class InvalidRule(BaseModel):
    title: str
    error: str


def decide(matches: list[GuardrailHit]) -> GuardrailDecision:
    """Block beats warn beats allow."""
    if any(m.effect == "block" for m in matches):
        return GuardrailDecision(decision="block", matches=matches)
    return GuardrailDecision(decision="warn" if matches else "allow", matches=matches)


@dataclass(frozen=True, slots=True)
class _Compiled:
    id: str | None
    title: str
    effect: Literal["warn", "block"]
    command: RulePattern | None  # RE2: linear time, a hostile rule cannot hang a check
    needs: tuple[str, ...] | None
    action: RulePattern | None
    globs: re.Pattern[str] | None
    advice: str


class GuardrailMatcher:
    """Compile once, check many times. Rules without any matcher (session checks) are ignored."""

    def __init__(self, rules: Iterable[PatternCandidate]) -> None:
        self.rules: list[_Compiled] = []
        self.invalid: list[InvalidRule] = []
        for p in rules:
            r = p.rule
            if r is None or not (r.command_regex or r.action_regex or r.path_globs):
                continue
            try:
                command = compile_rule(r.command_regex) if r.command_regex else None
                action = compile_rule(r.action_regex) if r.action_regex else None
            except RuleRegexError as exc:
                self.invalid.append(InvalidRule(title=p.title, error=f"regex does not compile: {exc}"))
                continue
            globs = re.compile("|".join(fnmatch.translate(g) for g in r.path_globs)) if r.path_globs else None
            advice = p.solution.strip().splitlines()[0][:200] if p.solution.strip() else ""
            needs = required_literals(r.command_regex) if r.command_regex else None
            self.rules.append(
                _Compiled(getattr(p, "id", None), p.title, r.effect, command, needs, action, globs, advice)
            )

    def check(
        self, action: str = "", command: str | None = None, paths: Sequence[str] = ()
    ) -> GuardrailDecision:
        """Match an intended action (prose), its shell command if any, and the paths it touches."""
        if not isinstance(action, str) or len(action) > MAX_ACTION:
            raise DomainError(
                "action", f"give the intended action as text of at most {MAX_ACTION} characters"
            )
        if command is not None and (not isinstance(command, str) or len(command) > MAX_COMMAND):
            raise DomainError(
                "command", f"give the shell command as text of at most {MAX_COMMAND} characters"
            )
        if len(paths) > MAX_PATHS:
            raise DomainError("paths", f"give at most {MAX_PATHS} paths; check large changes in batches")
        if not action.strip() and not (command and command.strip()) and not any(p.strip() for p in paths):
            raise DomainError(
                "action", "describe the intended action, give the command, or list the paths to check"
            )
        target = executable_view(command) if command and command.strip() else action
        low = target.lower()
        target_utf8, action_utf8 = encode_text(target), encode_text(action)  # once per check
        hits: list[GuardrailHit] = []
        for r in self.rules:
            reasons: list[str] = []
            if r.command is not None:
                if r.needs is not None and not any(n in low for n in r.needs):
                    continue
                found = r.command.find(target_utf8)
                if found is None:
                    continue
                reasons.append(f"command matches {_show(found)!r}")
            if r.action is not None:
                found = r.action.find(action_utf8)
                if found is None:
                    continue
                reasons.append(f"action matches {_show(found)!r}")
            if r.globs is not None:
                hit = next((p for p in paths if r.globs.match(p)), None)
                if hit is None:
                    continue
                reasons.append(f"touches {hit}")
            why = "; ".join(reasons) + (f". {r.advice}" if r.advice else "")
            hits.append(GuardrailHit(id=r.id, title=r.title, effect=r.effect, why=why))
        return decide(hits)


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Lower-case words of which any one must occur in every match of `pattern`, or None.

    A plain substring test of these against the lower-cased command is a necessary condition for
    the regex to match, and costs a fraction of a regex search; with 1,000 rules it is what keeps
    a check within a few milliseconds. It reads the regex through the standard library's own
    parser (private, so any surprise means "no prefilter", never a wrong answer).
    """
    try:
        import importlib

        c: Any = importlib.import_module("re._constants")
        tree = importlib.import_module("re._parser").parse(pattern)
    except Exception:  # noqa: BLE001 - a prefilter must never break a check
        return None

    def shortest(opt: tuple[str, ...]) -> int:
        return min(len(x) for x in opt)

    def best(seq: Any) -> tuple[str, ...] | None:
        found: tuple[str, ...] | None = None
        run: list[str] = []

        def consider(opt: tuple[str, ...] | None) -> None:
            nonlocal found
            if opt and shortest(opt) >= 2 and (found is None or shortest(opt) > shortest(found)):
                found = opt

        for op, av in seq:
            if op is c.LITERAL:
                run.append(chr(av))
                continue
            consider(("".join(run).lower(),) if run else None)
            run = []
            if op is c.SUBPATTERN:
                consider(best(av[3]))
            elif op is c.BRANCH:
                alts = [best(b) for b in av[1]]
                if all(alts):
                    consider(tuple(x for a in alts if a for x in a))
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
                consider(best(av[2]))
        consider(("".join(run).lower(),) if run else None)
        return found

    try:
        return best(tree)
    except Exception:  # noqa: BLE001
        return None


def _show(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:79] + "…"


# ---------------------------------------------------------------------------------------------
# The executable view of a shell command

_DATA_COMMANDS = frozenset(
    {
        "echo",
        "printf",
        "grep",
        "egrep",
        "fgrep",
        "rg",
        "ag",
        "ack",
        "man",
        "help",
        "which",
        "whatis",
        "apropos",
        "tldr",
        "type",
        ":",
        "true",
        "false",
    }  # fmt: skip
)
_WRAPPERS = frozenset({"sudo", "command", "builtin", "time", "nohup", "env", "exec", "nice"})
_GIT_MESSAGE_SUBCOMMANDS = frozenset({"commit", "tag", "notes", "stash"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")


def executable_view(command: str) -> str:
    """The command with pure data masked (see the module docstring); substitutions appended."""
    segments, subs = _split(command)
    out: list[str] = []
    for text, sep in segments:
        out.append(_mask_segment(text))
        out.append(sep)
    view = "".join(out)
    for inner in subs:
        view += "\n" + executable_view(inner)
    return view


def _mask_segment(seg: str) -> str:
    words = seg.split()
    i = 0
    while i < len(words) and (_ASSIGNMENT.match(words[i]) or words[i] in _WRAPPERS):
        i += 1
    if i >= len(words):
        return seg
    name = words[i].rsplit("/", 1)[-1]
    if name in _DATA_COMMANDS:
        lead = seg[: len(seg) - len(seg.lstrip())]
        return f"{lead}{' '.join(words[: i + 1])} …"
    if name == "git" and any(w in _GIT_MESSAGE_SUBCOMMANDS for w in words[i + 1 : i + 4]):
        return _QUOTED.sub('""', seg)
    return seg


def _split(command: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Split at unquoted `; && || | & newline`, drop comments, collect `$(...)`/backtick bodies."""
    segments: list[tuple[str, str]] = []
    subs: list[str] = []
    buf: list[str] = []
    i, n = 0, len(command)
    quote = ""
    while i < n:
        c = command[i]
        if quote == "'":
            buf.append(c)
            if c == "'":
                quote = ""
            i += 1
            continue
        if c == "\\" and i + 1 < n:
            buf.append(command[i : i + 2])
            i += 2
            continue
        if c == "$" and command.startswith("$(", i) and not command.startswith("$((", i):
            end = _matching_paren(command, i + 2)
            subs.append(command[i + 2 : end])
            buf.append(command[i : end + 1])
            i = end + 1
            continue
        if c == "`":
            end = command.find("`", i + 1)
            end = n if end < 0 else end
            subs.append(command[i + 1 : end])
            buf.append(command[i : end + 1])
            i = end + 1
            continue
        if quote == '"':
            buf.append(c)
            if c == '"':
                quote = ""
            i += 1
            continue
        if c in "'\"":
            quote = c
            buf.append(c)
            i += 1
            continue
        if c == "#" and (not buf or buf[-1][-1:].isspace()):
            nl = command.find("\n", i)
            i = n if nl < 0 else nl
            continue
        sep = _separator(command, i)
        if sep:
            segments.append(("".join(buf), sep))
            buf = []
            i += len(sep)
            continue
        buf.append(c)
        i += 1
    segments.append(("".join(buf), ""))
    return segments, subs


def _separator(s: str, i: int) -> str:
    two = s[i : i + 2]
    if two in ("&&", "||"):
        return two
    if (
        s[i] in ";|&\n"
        and not (s[i] == "&" and i > 0 and s[i - 1] in "<>")
        and not (s[i] == "&" and s[i + 1 : i + 2] == ">")
    ):
        return s[i]
    return ""


def _matching_paren(s: str, start: int) -> int:
    depth = 1
    i = start
    quote = ""
    while i < len(s):
        c = s[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(s)
