"""Compile user-supplied guardrail regexes with RE2, so a rule can never hang the server.

Why: guardrail rules come from people, teammates' bundles and miners, and the matcher runs every
rule before many actions. Python's `re` backtracks: a rule such as `(\\w|\\w)*$`, `(a|a)*$` or
`((a)*)*$` passed the old hand-written "could hang" check, and one crafted command then kept the
matcher, and so the whole server process, busy forever. RE2 (the `re2` module of google-re2)
matches in time linear in the text and in the size of the compiled program, whatever the pattern,
so there is nothing to recognise as dangerous: every pattern RE2 accepts is safe to run.

What that costs:

* RE2 has no backtracking features. Lookahead `(?=`/`(?!`, lookbehind `(?<=`/`(?<!`,
  backreferences `\\1`/`(?P=name)`, possessive quantifiers `a++`, atomic groups `(?>`,
  conditionals `(?(1)`, comments `(?#` and the verbose flag `(?x)` are refused with a
  `RuleRegexError` that names the construct. The google-re2 wrapper never falls back to `re`
  (its `compile` raises `re2.error`), and this module relies on that.
* A few Python spellings that mean the same thing are translated so existing rules keep working:
  `\\Z` -> `\\z`, `\\uHHHH`/`\\UHHHHHHHH`/`\\N{NAME}` (H a hex digit) -> `\\x{...}`, `{,n}` -> `{0,n}` (RE2 would
  read it as literal text), `[\\b]` -> `\\x08`.
* One spelling that both engines accept but read differently is refused: a POSIX class such as
  `[[:alpha:]]` (RE2: letters; Python: the characters `[:alph` followed by `]`). Refusing it
  keeps the matcher's literal prefilter, which reads patterns with Python's parser, correct.
* Left as they are: RE2's `\\w`, `\\d`, `\\s` and `\\b` are ASCII-only (Python's are Unicode-aware;
  RE2's `\\s` also lacks `\\v`), and `$` without `(?m)` matches only at the very end (Python's also
  before a final newline). They change results only next to non-ASCII letters, digits or spaces,
  a vertical tab, or a final newline.

Bounds: a pattern longer than `MAX_PATTERN_CHARS`, or whose compiled program has more than
`MAX_PROGRAM_SIZE` instructions, is refused; each compiled rule may use at most `MAX_MEM` bytes
(RE2's `max_mem`: program plus the lazily built DFA cache; past it RE2 falls back to its NFA,
slower but still linear). So a huge pattern is refused, not slow, and many rules cannot grow
without bound in memory.

Linear is not the same as fast. RE2's worst case is a counted repeat after something that can
match at many places (`(?:[ab][ab]?){999}!`, `[ab]*a[ab]{120}`, `a[^!]{0,60}!`): the DFA needs a
state per combination of live counts, thrashes its cache, and each character then costs time in
proportion to the count (373 ms for one search of 10,000 characters with `{999}`; ~22 ms with a
`{0,60}` window; ~4 ms with `{0,10}`). So the largest counted repeat, nested repeats multiplied
(`(?:a{2}){5}` counts 10), is capped: `MAX_REPEAT` (10) for command regexes, which search
commands of up to 10,000 characters, and `MAX_ACTION_REPEAT` (64) for action regexes, which
search action descriptions of at most 2,000 characters (the shipped plain-language rules use
`{0,60}` proximity windows), so each search stays within about 5 ms on its longest input
(bench/bench_rule_regex.py part 3). A repeat written out by hand (`[ab][ab][ab]...`) is bounded by
the program-size cap instead; its cost is reported by the same benchmark.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import re2  # google-re2

MAX_PATTERN_CHARS = 1000
# RE2 instructions. The starter command rules compile to at most ~550; the plain-language rule
# force-push-default-branch-described, with its three 60-character proximity windows, to ~4,000.
# Time is linear in the text, but the constant grows with the program: a rule built to defeat
# RE2's DFA costs up to ~10 ns x program size per character (bench_rule_regex.py part 3), so this
# cap is also the knob for the worst case. `compile_rule(..., max_program_size=...)` can be stricter.
MAX_PROGRAM_SIZE = 5000
# RE2's max_mem per compiled rule: the program plus the lazily built DFA cache. Past it RE2 runs
# its NFA instead (slower, still linear); 1,000 rules can never hold more than ~1 GiB.
MAX_MEM = 1 << 20
# The largest counted repeat, nested repeats multiplied (see the module docstring).
MAX_REPEAT = 10
MAX_ACTION_REPEAT = 64

_WHY = "rules use linear-time RE2 syntax"
# `(?` followed by these: the construct, for the message.
_UNSUPPORTED_GROUPS: tuple[tuple[str, str], ...] = (
    ("=", "lookahead (?=...)"),
    ("!", "negative lookahead (?!...)"),
    ("<=", "lookbehind (?<=...)"),
    ("<!", "negative lookbehind (?<!...)"),
    (">", "atomic group (?>...)"),
    ("P=", "named backreference (?P=name)"),
    ("P>", "subroutine call (?P>name)"),
    ("(", "conditional group (?(...)...)"),
    ("#", "comment group (?#...)"),
    ("|", "branch reset group (?|...)"),
    ("R", "recursion (?R)"),
    ("&", "subroutine call (?&name)"),
)
_FLAG_GROUP = re.compile(r"\(\?([A-Za-z]*)(?:-([A-Za-z]*))?[:)]")
_BAD_FLAGS = {
    "x": "verbose flag (?x)",
    "a": "ASCII flag (?a)",
    "L": "locale flag (?L)",
    "u": "unicode flag (?u)",
}
_REPEAT = re.compile(r"\{(\d*)(,(\d*))?\}")
_POSIX_CLASS = re.compile(r"\[:\^?[A-Za-z]+:\]")


class RuleRegexError(ValueError):
    """A rule regex that is refused; `reason` says why in words a rule author can act on."""

    def __init__(self, pattern: object, reason: str) -> None:
        self.pattern = pattern
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class RulePattern:
    """A compiled rule regex. `search` answers "does it occur anywhere in the text?".

    `pattern` is the text as the rule author wrote it (what the store keeps); `compiled` is what
    RE2 was given after the translations described in the module docstring.
    """

    pattern: str
    compiled: str
    ignore_case: bool
    program_size: int
    _regex: Any = field(repr=False, compare=False)

    def search(self, text: str | bytes) -> bool:
        """True when the pattern matches somewhere in `text` (linear time, never raises for text).

        `text` may be given already encoded by `encode_text`: a matcher checking one command
        against many rules then encodes it once instead of once per rule.
        """
        return self._regex.search(text if isinstance(text, bytes) else encode_text(text)) is not None

    def find(self, text: str | bytes) -> str | None:
        """The leftmost match, for telling the user why a rule fired; None when it does not match."""
        m = self._regex.search(text if isinstance(text, bytes) else encode_text(text))
        if m is None:
            return None
        found: bytes = m.group(0)
        return found.decode("utf-8", "replace")


def compile_rule(
    pattern: str,
    *,
    ignore_case: bool = True,
    max_program_size: int = MAX_PROGRAM_SIZE,
    max_repeat: int = MAX_REPEAT,
) -> RulePattern:
    """Compile a user-supplied rule regex with RE2, or raise `RuleRegexError` saying why not.

    `ignore_case` matches the guardrail convention (rules are case-insensitive; a part that needs
    case says so inline with `(?-i:...)`, which RE2 supports). `max_program_size` bounds the
    compiled program, `max_repeat` the largest counted repeat (nested ones multiplied), and with
    them the worst-case cost per character searched: `MAX_REPEAT` for command regexes,
    `MAX_ACTION_REPEAT` for action regexes (which search at most 2,000 characters).
    """
    if not isinstance(pattern, str):
        raise RuleRegexError(pattern, f"a rule regex must be text, not {type(pattern).__name__}")
    if not pattern:
        raise RuleRegexError(pattern, "an empty rule regex would match every command")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise RuleRegexError(
            pattern, f"the regex is {len(pattern)} characters long (limit {MAX_PATTERN_CHARS}); simplify it"
        )
    translated = _translate(pattern)
    weight, construct = _repeat_weight(translated)
    if weight > max_repeat:
        raise RuleRegexError(
            pattern,
            f"the counted repeat {construct} repeats up to {weight} times (nested repeats multiplied; "
            f"limit {max_repeat}): a search would cost time in proportion to it on every command; "
            "use * or + (e.g. [^;]* instead of [^;]{0,100}) or a smaller count",
        )
    try:
        translated.encode("utf-8")
    except UnicodeEncodeError:
        raise RuleRegexError(pattern, "the regex contains a lone surrogate, which is not text") from None
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.max_mem = MAX_MEM
    options.never_capture = True  # groups are never read; without them RE2 can stay in its DFA
    try:
        regex = re2.compile(translated, options)
    except re2.error as exc:
        raise RuleRegexError(pattern, _explain(exc)) from None
    size = int(regex.programsize)
    if size > max_program_size:
        raise RuleRegexError(
            pattern,
            f"the regex compiles to {size} RE2 instructions (limit {max_program_size}); "
            "long written-out repeats or big Unicode classes such as \\pL cost the most",
        )
    return RulePattern(pattern, translated, ignore_case, size, regex)


def regex_problem(pattern: str, *, ignore_case: bool = True, max_repeat: int = MAX_REPEAT) -> str | None:
    """Why a rule regex is refused, or None: the drop-in for the store's old "could hang" check."""
    try:
        compile_rule(pattern, ignore_case=ignore_case, max_repeat=max_repeat)
    except RuleRegexError as exc:
        return exc.reason
    return None


def encode_text(text: str) -> bytes:
    """The text as RE2 reads it: UTF-8, with lone surrogates (JSON allows them) as U+FFFD, never an error."""
    if not isinstance(text, str):
        raise TypeError(f"rule regexes search text (str), not {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode("utf-8")


def _unsupported(pattern: str, construct: str) -> RuleRegexError:
    return RuleRegexError(pattern, f"{construct} is not supported: {_WHY}")


def _translate(pattern: str) -> str:
    """Refuse what RE2 cannot run (naming it) and rewrite Python-only spellings of what it can.

    A single left-to-right pass that knows escapes and character classes, so `\\(?=` or `[(?=]`
    are not mistaken for a lookahead. Anything else wrong is left for RE2 to report.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise RuleRegexError(pattern, "the regex ends with a lone backslash")
            d = pattern[i + 1]
            if d in "123456789" and not in_class:
                raise _unsupported(pattern, f"backreference \\{d}")
            if d in "uU":
                width = 4 if d == "u" else 8
                digits = pattern[i + 2 : i + 2 + width]
                if len(digits) != width or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
                    raise RuleRegexError(pattern, f"\\{d} needs exactly {width} hex digits")
                out.append(f"\\x{{{digits}}}")
                i += 2 + width
                continue
            if d == "N":
                end = pattern.find("}", i)
                if pattern[i + 2 : i + 3] != "{" or end < 0:
                    raise RuleRegexError(pattern, "\\N needs a character name in braces, e.g. \\N{EM DASH}")
                name = pattern[i + 3 : end]
                try:
                    out.append(f"\\x{{{ord(unicodedata.lookup(name)):x}}}")
                except KeyError:
                    raise RuleRegexError(pattern, f"unknown character name \\N{{{name}}}") from None
                i = end + 1
                continue
            if d == "Z" and not in_class:
                out.append("\\z")  # Python's \Z is RE2's \z: the very end of the text
            elif d == "b" and in_class:
                out.append("\\x08")  # [\b] is a backspace in Python; RE2 has no such escape
            else:
                out.append(c + d)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[" and (posix := _POSIX_CLASS.match(pattern, i)):
                raise RuleRegexError(
                    pattern,
                    f"POSIX class {posix.group(0)} is read differently by Python's re and by RE2; "
                    "write the characters out, e.g. [a-zA-Z] or [0-9]",
                )
            out.append(c)
            i += 1
            continue
        if c == "[":
            # A `]` right after `[` or `[^` is a literal in both dialects, not the end of the class.
            j = i + 1
            if pattern[j : j + 1] == "^":
                j += 1
            if pattern[j : j + 1] == "]":
                j += 1
            out.append(pattern[i:j])
            in_class = True
            i = j
            continue
        if c == "(" and pattern.startswith("(?", i):
            rest = pattern[i + 2 :]
            for prefix, construct in _UNSUPPORTED_GROUPS:
                if rest.startswith(prefix):
                    raise _unsupported(pattern, construct)
            flags = _FLAG_GROUP.match(pattern, i)
            if flags:
                for letter in (flags.group(1) or "") + (flags.group(2) or ""):
                    if letter in _BAD_FLAGS:
                        raise _unsupported(pattern, _BAD_FLAGS[letter])
            out.append("(?")
            i += 2
            continue
        if c == "{":
            m = _REPEAT.match(pattern, i)
            if m and (m.group(1) or m.group(2)):
                lo, comma, hi = m.group(1), m.group(2), m.group(3)
                out.append(f"{{{lo or '0'}{',' + (hi or '') if comma else ''}}}")
                i = m.end()
                if pattern[i : i + 1] == "+":
                    raise _unsupported(pattern, f"possessive quantifier {m.group(0)}+")
                continue
        if c in "*+?" and pattern[i + 1 : i + 2] == "+":
            raise _unsupported(pattern, f"possessive quantifier {c}+")
        out.append(c)
        i += 1
    return "".join(out)


def _repeat_weight(pattern: str) -> tuple[int, str]:
    """The largest counted repeat of a translated pattern, nested repeats multiplied, and its text.

    A bounded `{m,n}` counts n, an open `{m,}` counts m. Escapes and character classes are skipped
    the way `_translate` reads them; anything malformed is left for RE2 to report.
    """
    best, best_text = 1, ""
    # per open group: (start index, largest weight inside it so far)
    stack: list[tuple[int, int]] = []
    inner = 1  # weight of the last atom (a group's inner weight, or 1)
    top = 1  # largest weight at the current level
    i, n = 0, len(pattern)
    atom = 0  # where the last atom (the one a quantifier applies to) starts
    while i < n:
        c = pattern[i]
        if c == "\\":
            atom = i
            if pattern[i + 1 : i + 2] in ("x", "p", "P") and pattern[i + 2 : i + 3] == "{":
                close = pattern.find("}", i)
                i = close + 1 if close > 0 else n  # \x{2014}, \p{Greek}: not a repeat
            else:
                i += 2
            inner = 1
            continue
        if c == "[":
            atom = i
            j = i + 1
            if pattern[j : j + 1] == "^":
                j += 1
            if pattern[j : j + 1] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            inner = 1
            continue
        if c == "(":
            stack.append((i, top))
            top = 1
            i += 1
            continue
        if c == ")":
            inner = top
            atom, top = stack.pop() if stack else (0, 1)
            top = max(top, inner)
            i += 1
            continue
        if c == "{":
            m = _REPEAT.match(pattern, i)
            if m and (m.group(1) or m.group(3)):
                lo, comma, hi = m.group(1), m.group(2), m.group(3)
                count = int(hi) if comma and hi else int(lo or "0")
                weight = max(1, count) * inner
                top = max(top, weight)
                if weight > best:
                    best, best_text = weight, pattern[atom:i] + m.group(0)
                inner = weight
                i = m.end()
                continue
        if c not in "*+?":
            atom = i
            inner = 1
        i += 1
    return best, best_text


def _explain(exc: Exception) -> str:
    """RE2's error in words a rule author can act on."""
    raw = exc.args[0] if exc.args else ""
    msg = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if msg.startswith("invalid repetition size"):
        return f"{msg}: RE2 repeats at most 1000 times (counting nested repeats together)"
    if msg.startswith("pattern too large"):
        return f"the regex is too large for RE2's memory limit ({MAX_MEM} bytes); simplify it"
    if msg.startswith("invalid perl operator"):
        return f"{msg}: not supported, {_WHY}"
    if msg.startswith("bad repetition operator"):
        return f"{msg}: a quantifier cannot follow another one (possessive quantifiers are not supported)"
    return f"not a valid regular expression (RE2 syntax): {msg}"
