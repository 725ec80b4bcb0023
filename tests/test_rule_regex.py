"""Rule regexes compile with RE2: hostile patterns are harmless, unsupported ones are refused by name.

Timing is measured by bench_rule_regex.py, not asserted here (a loaded CI machine must not fail a
unit test); these tests pin down behaviour.
"""

from __future__ import annotations

import random
import re

import pytest

from factorops.tools.patterns import rule_regex
from factorops.tools.patterns.rule_regex import (
    MAX_ACTION_REPEAT,
    MAX_PATTERN_CHARS,
    MAX_PROGRAM_SIZE,
    MAX_REPEAT,
    RulePattern,
    RuleRegexError,
    compile_rule,
    encode_text,
    regex_problem,
)

# Each passed the old "could hang" check and made Python's `re` backtrack forever on a crafted command.
HOSTILE_PATTERNS = [
    r"(\w|\w)*$",
    r"(a|a)*$",
    r"((a)*)*$",
    r"(a+)+$",
    r"(x+x+)+y",
    r"(.*a){10}$",
    r"^(\w+\s?)*$",
]
HOSTILE_SUBJECTS = ["a" * 9999 + "!", "x" * 10000, "a " * 5000]


@pytest.mark.parametrize("pattern", HOSTILE_PATTERNS)
def test_hostile_patterns_compile_and_answer(pattern: str) -> None:
    rule = compile_rule(pattern)
    assert isinstance(rule, RulePattern) and rule.pattern == pattern
    for subject in HOSTILE_SUBJECTS:
        assert isinstance(rule.search(subject), bool)  # returns; bench_rule_regex.py times it
    # same answers as Python's `re` where `re` is quick (short subjects)
    for short in ["aaa!", "xxx", "a a", "", "axxy", "aaaa", "ab ab"]:
        assert rule.search(short) == (re.search(pattern, short, re.IGNORECASE) is not None), short


def test_hostile_answers_are_right() -> None:
    assert compile_rule(r"(\w|\w)*$").search("a" * 9999 + "!")  # the empty match at the end
    assert not compile_rule(r"(a+)+b").search("a" * 9999 + "!")
    assert compile_rule(r"(x+x+)+y").search("x" * 10000 + "y")
    assert not compile_rule(r"(x+x+)+y").search("x" * 10000)


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        (r"git(?=\s+push)", "lookahead (?=...) is not supported: rules use linear-time RE2 syntax"),
        (r"git push(?!\s+--dry-run)", "negative lookahead (?!...) is not supported"),
        (r"(?<=sudo )rm", "lookbehind (?<=...) is not supported"),
        (r"(?<!git )rm", "negative lookbehind (?<!...) is not supported"),
        (r"(a)\1", "backreference \\1 is not supported"),
        (r"(?P<q>['\"]).*(?P=q)", "named backreference (?P=name) is not supported"),
        (r"a++b", "possessive quantifier ++ is not supported"),
        (r"a*+b", "possessive quantifier *+ is not supported"),
        (r"a?+b", "possessive quantifier ?+ is not supported"),
        (r"a{2,3}+b", "possessive quantifier {2,3}+ is not supported"),
        (r"(?>a|ab)c", "atomic group (?>...) is not supported"),
        (r"(a)?(?(1)b|c)", "conditional group (?(...)...) is not supported"),
        (r"rm(?# the remover)", "comment group (?#...) is not supported"),
        (r"(?x) rm \s+ -rf", "verbose flag (?x) is not supported"),
        (r"(?ix)rm", "verbose flag (?x) is not supported"),
        (r"(?a)\w", "ASCII flag (?a) is not supported"),
        (r"[[:alpha:]]+", "POSIX class [:alpha:] is read differently"),
        (r"[^[:space:]x]", "POSIX class [:space:] is read differently"),
        ("", "empty rule regex"),
        ("a" * (MAX_PATTERN_CHARS + 1), f"limit {MAX_PATTERN_CHARS}"),
        (r"\pL" * 30, f"RE2 instructions (limit {MAX_PROGRAM_SIZE})"),
        (r"\pL{10}\pL{10}\pL{10}\pL{10}\pL{10}\pL{10}", "too large for RE2's memory limit"),
        (r"a{1001}", "the counted repeat a{1001} repeats up to 1001 times"),
        (r"(?:a{4}){5}", "the counted repeat (?:a{4}){5} repeats up to 20 times (nested repeats multiplied"),
        (r"(?:[ab][ab]?){999}!", "(?:[ab][ab]?){999} repeats up to 999 times"),
        (
            r"[ab]*a[ab]{120}",
            f"[ab]{{120}} repeats up to 120 times (nested repeats multiplied; limit {MAX_REPEAT})",
        ),
        (r"force.{0,60}push", "the counted repeat .{0,60} repeats up to 60 times"),
        ("[unclosed", "not a valid regular expression (RE2 syntax): missing ]"),
        ("(unclosed", "not a valid regular expression (RE2 syntax): missing )"),
        ("a**", "a quantifier cannot follow another one"),
        ("rm\\", "lone backslash"),
        (r"\u12", "\\u needs exactly 4 hex digits"),
        (r"\N{NO SUCH CHARACTER}", "unknown character name"),
        ("rm\ud800", "lone surrogate"),
    ],
)
def test_refused_with_the_reason(pattern: str, named: str) -> None:
    with pytest.raises(RuleRegexError) as err:
        compile_rule(pattern)
    assert named in str(err.value) and err.value.reason == str(err.value)
    assert err.value.pattern == pattern
    assert isinstance(err.value, ValueError)
    assert regex_problem(pattern) == err.value.reason


def test_escaped_or_bracketed_lookalikes_are_not_constructs() -> None:
    assert compile_rule(r"\(?=").search("(=")
    assert compile_rule(r"[(?=]x").search("=x")
    assert compile_rule(r"\\1").search("\\1")
    assert compile_rule(r"[]a]").search("]")
    assert compile_rule(r"[:alpha:]").search("p")  # not POSIX outside brackets, in both dialects
    assert compile_rule(r"(?P<name>git) push").search("git push")


@pytest.mark.parametrize(
    ("pattern", "compiled", "yes", "no"),
    [
        (r"rm -rf /\Z", r"rm -rf /\z", "sudo rm -rf /", "rm -rf /x"),
        (r"caf\u00e9", r"caf\x{00e9}", "CAFÉ", "cafe"),
        (r"\U0001F4A5", r"\x{0001F4A5}", "boom 💥", "boom"),
        (r"a\N{EM DASH}b", r"a\x{2014}b", "a—b", "a-b"),
        (r"^x{,2}y$", r"^x{0,2}y$", "xxy", "xxxy"),
        (r"^x{,}y$", r"^x{0,}y$", "xxxxy", "zy"),
        (r"[\b]", r"[\x08]", "a\bb", "b"),
        (r"x{a}", r"x{a}", "x{a}", "xa"),
    ],
)
def test_python_spellings_are_translated(pattern: str, compiled: str, yes: str, no: str) -> None:
    rule = compile_rule(pattern)
    assert rule.compiled == compiled and rule.pattern == pattern
    assert rule.search(yes) and not rule.search(no)
    for text in (yes, no):  # the translation keeps Python's meaning
        assert rule.search(text) == (re.search(pattern, text, re.IGNORECASE) is not None)


def test_case_rules_and_inline_flags() -> None:
    rule = compile_rule(r"git branch (?-i:-D)")
    assert rule.search("GIT Branch -D x") and not rule.search("git branch -d x")
    assert compile_rule(r"(?-i:git branch -D)").search("git branch -D")
    assert not compile_rule(r"(?-i:git branch -D)").search("GIT branch -D")
    exact = compile_rule("DROP", ignore_case=False)
    assert exact.search("DROP TABLE") and not exact.search("drop table")
    assert compile_rule("(?i)drop", ignore_case=False).search("DROP")
    assert compile_rule(r"(?s)a.b").search("a\nb") and not compile_rule("a.b").search("a\nb")
    assert compile_rule(r"(?m)^rm").search("ls\nrm -rf x")


def test_search_and_find_take_any_text() -> None:
    rule = compile_rule(r"rm\s+-rf")
    assert rule.find("sudo rm  -rf /") == "rm  -rf"
    assert rule.find("ls") is None
    assert rule.search("x\ud800 rm -rf y")  # a lone surrogate (JSON allows one) is not an error
    assert rule.find("\ud800rm -rf") == "rm -rf"
    assert compile_rule("a\x00b").search("a\x00b")
    assert compile_rule("é").search("CAFÉ")  # RE2 folds non-ASCII case too
    # RE2's \w and \b are ASCII-only (Python's are Unicode-aware): é is not a word character
    assert compile_rule(r"\bx").search("éx") and not compile_rule(r"\w").search("é")
    encoded = encode_text("sudo rm -rf / \ud800")  # once per command, for many rules
    assert rule.search(encoded) and rule.find(encoded) == "rm -rf"
    with pytest.raises(TypeError, match=r"rule regexes search text \(str\), not list"):
        rule.search(["rm -rf"])  # type: ignore[arg-type]


def test_a_stricter_program_limit_can_be_asked_for() -> None:
    assert compile_rule(r"\w{10}\w{10}\w{10}\w{10}\w{10}\w{10}\w{10}\w{10}").program_size > 500
    with pytest.raises(RuleRegexError, match=r"instructions \(limit 500\)"):
        compile_rule(r"\w{10}\w{10}\w{10}\w{10}\w{10}\w{10}\w{10}\w{10}", max_program_size=500)


def test_counted_repeats_are_capped_and_escapes_are_not_repeats() -> None:
    """An action regex (searching at most 2,000 characters) may count further than a command regex."""
    assert compile_rule(r"a{10}").search("a" * 10)
    assert compile_rule(r"(?:a{2}){5}").search("a" * 10)
    assert compile_rule(r"force.{0,60}push", max_repeat=MAX_ACTION_REPEAT).search("force it to push")
    with pytest.raises(RuleRegexError, match=f"limit {MAX_ACTION_REPEAT}"):
        compile_rule(r"force.{0,65}push", max_repeat=MAX_ACTION_REPEAT)
    assert regex_problem(r"a{11}") is not None and regex_problem(r"a{11}", max_repeat=11) is None
    # \x{...} and \p{...} are characters, braces inside classes are literal, \{ is a brace
    assert compile_rule(r"a\x{2014}{3}b").search("a\u2014\u2014\u2014b")
    assert compile_rule(r"\p{Greek}+[{1000}]+").search("\u03b1{10}")
    assert compile_rule(r"\{1000\}").search("{1000}")
    # past RE2's own cap, RE2's message still explains it
    with pytest.raises(RuleRegexError, match="RE2 repeats at most 1000 times"):
        compile_rule(r"(?:a{100}){20}", max_repeat=10_000)


def test_wrong_type_is_a_rule_error() -> None:
    with pytest.raises(RuleRegexError, match="must be text"):
        compile_rule(None)  # type: ignore[arg-type]


def test_never_falls_back_to_python_re(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lookaround must be refused by RE2 itself too, not only by the pre-scan."""
    monkeypatch.setattr(rule_regex, "_translate", lambda p: p)
    for pattern in (r"a(?=b)", r"(a)\1", r"a++"):
        with pytest.raises(RuleRegexError, match="RE2|not supported|quantifier"):
            compile_rule(pattern)


_ALPHABET = list("()[]{}?*+|\\^$.-:=!<>,#PpZzuUNbBdDwWsSAx0123456789aAiImsUL &'\"/") + ["\ud800", "é", "\n"]


def _check_never_crashes(pattern: str) -> None:
    try:
        rule = compile_rule(pattern)
    except RuleRegexError:
        return
    for text in ("", "a", "git push --force origin main", "a" * 200 + "!", "\ud800x\n"):
        assert isinstance(rule.search(text), bool)
        found = rule.find(text)
        assert found is None or isinstance(found, str)


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=1500, deadline=None)
    @given(st.one_of(st.text(max_size=60), st.text(alphabet=_ALPHABET, max_size=40)))
    def test_fuzz_only_rule_errors(pattern: str) -> None:
        _check_never_crashes(pattern)

except ImportError:  # pragma: no cover - hypothesis is in the test extras

    def test_fuzz_only_rule_errors() -> None:
        rnd = random.Random(20251105)
        for _ in range(5000):
            _check_never_crashes("".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 40))))


def test_seeded_fuzz_only_rule_errors() -> None:
    """Also without hypothesis: regex-shaped random text, a fixed seed, always the same cases."""
    rnd = random.Random(1105)
    for _ in range(5000):
        _check_never_crashes("".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 40))))
