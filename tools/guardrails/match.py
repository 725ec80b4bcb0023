"""Decide allow / warn / block for an intended action against guardrail rules, fast and store-free.

A rule (`GuardrailRule`) may give a command regex or a built-in check, an action regex and path
globs; all the parts it gives must match. The strictest effect among the matching rules wins and
every match is reported with why. This runs before many actions, so `GuardrailMatcher` compiles
everything once and a check is one pass over the rules. Regexes are compiled with RE2
(`tools/patterns/rule_regex.py`: linear time, case-insensitive; a part that needs case says so
inline with `(?-i:...)`).

Commands are seen the way the shell sees them: the command is parsed by `shell.normalise` into
every simple command that would run (quotes removed, variables from the same line substituted,
`sudo`/`env`/`sh -c`/`eval`/pipes into a shell unwrapped, git's global options skipped), and a
command regex is matched against `shell.canonical(argv)` of each one (whitespace inside an
argument shown as a no-break space, so one quoted argument never reads as several words, except
for database clients and ssh, whose arguments are code they run). So `g''it push -f origin
'main'` is seen as `git push -f origin main`, while `echo "git push -f origin main"`, a
`python -c "print(...)"` or a heredoc written to a file is data and trips nothing. A rule with
`check` (see `checks.py`) asks a built-in check instead of a regex, for failure patterns a regex
cannot state (a force-push to the default branch, whatever it is called in this repository).

Fail closed: when the command cannot be understood (nested too deep, too long, an unknown value
in a command word...), a rule whose keywords occur in the raw text (a check's keywords, or the
literals a command regex needs; with no literals, the regex on the raw text) matches with its own
effect and the reason, instead of allowing silently (only a warning when the analysis merely ran
out of time, so that a busy machine never turns a harmless command into a block). When no command is given, the action text is
read as the command. Paths alone are a valid check: they meet the rules that have path globs.

A regex that RE2 refuses, or an unknown check, disables its rule and is listed in
`GuardrailMatcher.invalid`; it never stops the check.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from factorops.tools.kernel.errors import DomainError
from factorops.tools.patterns.rule_regex import (
    MAX_ACTION_REPEAT,
    RulePattern,
    RuleRegexError,
    compile_rule,
    encode_text,
)

from .checks import CHECKS, CheckContext, keyword_in
from .shell import Normalised, canonical, normalise

if TYPE_CHECKING:
    from .models import GuardrailDecision, GuardrailHit

Decision = Literal["allow", "warn", "block"]
MAX_ACTION = 2000
MAX_COMMAND = 10_000
MAX_PATHS = 200
# Whitespace inside one argument (`grep "rm -rf /"`) is shown as a no-break space, which RE2's
# `\s` does not match: a rule cannot read one quoted argument as several words.
_SPACE = re.compile(r"\s")
_UNSURE = "the command could not be read the way the shell would"
# ... except for programs whose arguments are code they run (SQL given to a database client, a
# remote command given to ssh): there a rule such as `drop\s+table` must still see the words.
_RUNS_ITS_ARGUMENTS = frozenset(
    {"psql", "mysql", "mariadb", "sqlite3", "duckdb", "clickhouse-client", "cockroach", "mongosh", "mongo"}
    | {"redis-cli", "sqlcmd", "ssh"}
)


# The result models are pydantic (the `guardrail_check` tool's output); they live in `models.py`
# so that the matcher itself, which the client hook runs on every tool call, imports no pydantic.
# `match.GuardrailHit` etc. still name them (loaded on first use).
_MODELS = ("GuardrailHit", "GuardrailDecision")


def __getattr__(name: str) -> Any:
    if name in _MODELS:
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule that matched (plain data; `GuardrailHit` is its pydantic form)."""

    id: str
    title: str
    effect: Literal["warn", "block"]
    why: str


@dataclass(frozen=True, slots=True)
class Decided:
    """The outcome of a check as plain data: the strictest effect of the matches (allow when none)."""

    decision: Decision
    matches: tuple[Hit, ...] = ()


@dataclass(frozen=True, slots=True)
class InvalidRule:
    title: str
    error: str


class RuleLike(Protocol):
    """What the matcher reads of a rule: `GuardrailRule` or `fast_rules.PlainRule`."""

    @property
    def effect(self) -> Literal["warn", "block"]: ...
    @property
    def command_regex(self) -> str | None: ...
    @property
    def action_regex(self) -> str | None: ...
    @property
    def path_globs(self) -> Sequence[str]: ...


class GuardLike(Protocol):
    """What the matcher reads of a guardrail: `PatternCandidate` or `fast_rules.PlainGuard`."""

    @property
    def title(self) -> str: ...
    @property
    def solution(self) -> str: ...
    @property
    def rule(self) -> RuleLike | None: ...


def strictest(hits: Sequence[Hit]) -> Decided:
    """Block beats warn beats allow."""
    if any(m.effect == "block" for m in hits):
        return Decided("block", tuple(hits))
    return Decided("warn" if hits else "allow", tuple(hits))


def as_model(d: Decided) -> GuardrailDecision:
    """The pydantic form of a plain outcome (what the tools return)."""
    from .models import GuardrailDecision, GuardrailHit

    return GuardrailDecision(
        decision=d.decision,
        matches=[GuardrailHit(id=m.id, title=m.title, effect=m.effect, why=m.why) for m in d.matches],
    )


def decide(matches: list[GuardrailHit]) -> GuardrailDecision:
    """Block beats warn beats allow."""
    from .models import GuardrailDecision

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
    check: str | None = None  # a built-in check (checks.CHECKS); replaces the command regex


class GuardrailMatcher:
    """Compile once, check many times. Rules without any matcher (session checks) are ignored."""

    def __init__(self, rules: Iterable[GuardLike]) -> None:
        self.rules: list[_Compiled] = []
        self.invalid: list[InvalidRule] = []
        for p in rules:
            r = p.rule
            check = getattr(r, "check", None) if r is not None else None
            if r is None or not (r.command_regex or r.action_regex or r.path_globs or check):
                continue
            if check is not None and check not in CHECKS:
                known = ", ".join(sorted(CHECKS))
                self.invalid.append(
                    InvalidRule(title=p.title, error=f"unknown check {check!r}; known: {known}")
                )
                continue
            try:
                command = compile_rule(r.command_regex) if r.command_regex and not check else None
                action = (
                    compile_rule(r.action_regex, max_repeat=MAX_ACTION_REPEAT) if r.action_regex else None
                )
            except RuleRegexError as exc:
                self.invalid.append(InvalidRule(title=p.title, error=f"regex does not compile: {exc}"))
                continue
            globs = re.compile("|".join(fnmatch.translate(g) for g in r.path_globs)) if r.path_globs else None
            advice = p.solution.strip().splitlines()[0][:200] if p.solution.strip() else ""
            needs = required_literals(r.command_regex) if command is not None and r.command_regex else None
            self.rules.append(
                _Compiled(
                    getattr(p, "id", None), p.title, r.effect, command, needs, action, globs, advice, check
                )
            )

    def check(
        self,
        action: str = "",
        command: str | None = None,
        paths: Sequence[str] = (),
        context: CheckContext | None = None,
    ) -> GuardrailDecision:
        """`check_plain` as the pydantic `GuardrailDecision` the tools return."""
        return as_model(self.check_plain(action, command, paths, context))

    def check_plain(
        self,
        action: str = "",
        command: str | None = None,
        paths: Sequence[str] = (),
        context: CheckContext | None = None,
    ) -> Decided:
        """Match an intended action (prose), its shell command if any, and the paths it touches.

        `context` gives the built-in checks the project's facts (default and current branch, root);
        without it they assume a default branch `main` and an unknown current branch.
        """
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
        ctx = context if context is not None else CheckContext(read_git=False)
        raw = command if command and command.strip() else action
        # Fail closed only for a real command: prose read as a command ("don't push") is often
        # not valid shell, and that must not make its words match.
        view = _View(raw, fail_closed=bool(command and command.strip()))
        action_utf8 = encode_text(action)  # once per check
        hits: list[Hit] = []
        for r in self.rules:
            reasons: list[str] = []
            effect = r.effect
            if r.check is not None:
                if not raw.strip():
                    continue
                why = view.check(r.check, ctx)
                if why is None:
                    continue
                reasons.append(why)
            elif r.command is not None:
                if not raw.strip():
                    continue
                found = view.search(r)
                if found is None:
                    continue
                reasons.append(found)
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
            if view.timed_out and any(w.startswith(_UNSURE) for w in reasons):
                # Ran out of time: a busy machine must not turn a command into a block, so a rule
                # matched only for that reason warns (never allows silently).
                effect = "warn"
            why = "; ".join(reasons) + (f". {r.advice}" if r.advice else "")
            hits.append(Hit(id=r.id or "", title=r.title, effect=effect, why=why))
        return strictest(hits)


class _View:
    """One command as the shell would run it, normalised once (lazily) for all the rules of a check."""

    def __init__(self, raw: str, *, fail_closed: bool = True) -> None:
        self.raw = raw
        self.fail_closed = fail_closed
        self.raw_low = raw.lower()
        self._n: Normalised | None = None
        self._canon: list[tuple[str, bytes]] | None = None
        self._canon_low = ""
        self._checked: dict[str, str | None] = {}

    @property
    def n(self) -> Normalised:
        if self._n is None:
            self._n = normalise(self.raw, max_len=MAX_COMMAND)
        return self._n

    @property
    def canon(self) -> list[tuple[str, bytes]]:
        if self._canon is None:
            texts = [
                canonical(
                    argv
                    if argv and argv[0] in _RUNS_ITS_ARGUMENTS
                    else [_SPACE.sub("\u00a0", w) for w in argv]
                )
                for argv in self.n.commands
            ]
            self._canon = [(t, encode_text(t)) for t in texts]
            self._canon_low = "\n".join(texts).lower()
        return self._canon

    @property
    def timed_out(self) -> bool:
        return self._n is not None and not self._n.understood and "ran out of time" in (self._n.reason or "")

    def _unsure(self, what: str) -> str:
        return f"{_UNSURE} ({self.n.reason}) and it mentions {what!r}, so it is treated as matching"

    def search(self, r: _Compiled) -> str | None:
        assert r.command is not None
        canon = self.canon
        if r.needs is None or any(w in self._canon_low for w in r.needs):
            for _text, utf8 in canon:
                found = r.command.find(utf8)
                if found is not None:
                    return f"command matches {_show(found)!r}"
        if self.fail_closed and not self.n.understood:
            if r.needs is not None:
                word = next((w for w in r.needs if w in self.raw_low), None)
                if word is not None:
                    return self._unsure(word)
            elif r.command.find(self.raw) is not None:
                return self._unsure(_show(r.command.find(self.raw) or ""))
        return None

    def check(self, name: str, ctx: CheckContext) -> str | None:
        if name not in self._checked:
            why = CHECKS[name](self.n, ctx)
            if why is None and self.fail_closed and not self.n.understood:
                word = keyword_in(name, self.raw_low)
                if word is not None:
                    why = self._unsure(word)
            self._checked[name] = why
        return self._checked[name]


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
