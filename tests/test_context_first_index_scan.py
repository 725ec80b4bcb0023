"""Python's lexical scan for the index (issue #19) made cheaper must give the same definitions and
references as before: a table of tricky sources with their answers written out, random sources
compared against the slow reference kept here (the scan as it was before it was made cheaper), and
the answers reaching the index through the MCP client."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.tools.context import outline

from .conftest import Clock, commit_files, git

Symbols = tuple[list[tuple[str, str, int]], list[str]]

# The reference: `_python_symbols` before it was made cheaper (one regex callback per string or
# comment, a regex for the words, every gap's lines looked at).
_SKIP = re.compile(
    r"#[^\n]*"
    r"|'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*(?:'''|$)"
    r'|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*(?:"""|$)'
    r"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
    r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"',
    re.S,
)
_DEF = re.compile(r"\n([ \t]*)(?:async[ \t]+)?(def|class)[ \t]+([^\W\d]\w*)")
_CODE_LINE = re.compile(r"^[ \t]*(?=[^\s)\]}])", re.M)
_WORD = re.compile(r"\w{3,}")
_HEADER = re.compile(r"[()\[\]{}:\n]")


def _blank(m: re.Match[str]) -> str:
    s = m.group()
    if s[0] == "#":
        return ""
    nl = s.rfind("\n")
    return "''" if nl < 0 else "\n" * s.count("\n") + " " * (len(s) - nl - 1)


def _header_end(code: str, pos: int) -> int:
    depth = 0
    for m in _HEADER.finditer(code, pos):
        c = m.group()
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c == ":" and depth == 0:
            return code.find("\n", m.end())
    return -1


def reference_symbols(text: str) -> Symbols:
    code = "\n" + _SKIP.sub(_blank, text)
    defs: list[tuple[str, str, int]] = []
    stack: list[tuple[int, str]] = []
    line, counted, last = 1, 1, 1
    for m in _DEF.finditer(code):
        start = m.start() + 1
        gap = _CODE_LINE.findall(code, last, start) if last < start else []
        column = len(m.group(1))
        left = min(column, *map(len, gap)) if gap else column
        while stack and stack[-1][0] >= left:
            stack.pop()
        line += code.count("\n", counted, start)
        counted = start
        kind = "class" if m.group(2) == "class" else "function"
        if kind == "function" and stack and stack[-1][1] == "class":
            kind = "method"
        defs.append((m.group(3), kind, line))
        stack.append((column, kind))
        end = _header_end(code, m.end())
        if end < 0:
            break
        last = end + 1
    own = {n for n, _k, _l in defs}
    words = set(_WORD.findall(code))
    kw = outline._KEYWORDS
    names = sorted(w for w in words if w not in own and not w[0].isdigit() and w.lower() not in kw)
    return defs, names[:2000]


CASES: dict[str, tuple[str, Symbols]] = {
    "strings_with_hash": (
        "s = \"a # not_comment_word\"\nx = other_name  # comment_word 'quoted'\n"
        "y = 'single # also_string' + after_string\n",
        ([], ["after_string", "other_name"]),
    ),
    "comment_with_quotes": (
        "# it's \"fine\" def ghost_def():\ndef real_one(arg_name):  # \"unclosed\n    return arg_name + '#'\n",
        ([("real_one", "function", 2)], ["arg_name"]),
    ),
    "triple_quoted_def": (
        'def first(param_a):\n    doc = """\ndef hidden_def(x):\n    pass\nclass HiddenClass:\n"""\n'
        "    return doc_value\ndef second():\n    r'''raw \\' still_string'''\n    return last_word\n",
        ([("first", "function", 1), ("second", "function", 8)], ["doc", "doc_value", "last_word", "param_a"]),
    ),
    "nested_decorated_async": (
        "import functools\n\n@functools.cache\ndef outer(a):\n    @wrapper_name\n    async def inner(b):\n"
        "        def innermost():\n            return deep_name\n        return innermost\n    return inner\n\n"
        "class Holder(BaseThing):\n    async def run(self):\n        await some_call()\n    @property\n"
        "    def prop(self):\n        return self.value_attr\n",
        (
            [
                ("outer", "function", 4),
                ("inner", "function", 6),
                ("innermost", "function", 7),
                ("Holder", "class", 12),
                ("run", "method", 13),
                ("prop", "method", 16),
            ],
            [
                "BaseThing",
                "cache",
                "deep_name",
                "functools",
                "property",
                "some_call",
                "value_attr",
                "wrapper_name",
            ],
        ),
    ),
    "continued_headers": (
        "class Shape(\n    BaseOne,\n    metaclass=MetaType,\n):\n    def area(\n        self,\n"
        '        scale: dict[str, int] = {"k": (1, 2)},\n    ) -> list[float]:\n        return [scale_value]\n\n'
        "    def perimeter(self, sides=(1, [2, {3}])): return sides_total\n",
        (
            [("Shape", "class", 1), ("area", "method", 5), ("perimeter", "method", 11)],
            [
                "BaseOne",
                "MetaType",
                "dict",
                "list",
                "metaclass",
                "scale",
                "scale_value",
                "sides",
                "sides_total",
                "str",
            ],
        ),
    ),
    "class_bodies_and_dedent": (
        "class Config:\n    name_field = 1\n    def method_a(self):\n        return 1\n\n"
        "value_at_top = Config()\ndef after_class():\n    pass\n\nclass Second:\n    class Meta:\n"
        "        ordering_key = 2\n    def method_b(self):\n        items = [\n    1,\n]\n        return items\n",
        (
            [
                ("Config", "class", 1),
                ("method_a", "method", 3),
                ("after_class", "function", 7),
                ("Second", "class", 10),
                ("Meta", "class", 11),
                ("method_b", "method", 13),
            ],
            ["items", "name_field", "ordering_key", "value_at_top"],
        ),
    ),
    "closing_bracket_at_column_zero": (
        "class Table:\n    rows = call_thing(\n        1,\n)\n    def still_method(self):\n        pass\n",
        ([("Table", "class", 1), ("still_method", "method", 5)], ["call_thing", "rows"]),
    ),
    "keywords_numbers_short": (
        "def kw(SELF, Return, NONE):\n    x = 1abc if True else 0x1F\n"
        "    ab = Undefined + FUNCTION + real_word2\n    return None\n",
        ([("kw", "function", 1)], ["real_word2"]),
    ),
    "non_ascii": (  # ² and ① are digits to str.isdigit; "brea\u212a" (Kelvin sign) lowers to "break"
        "café_name = ünïcode_value + plain_word + brea\u212a\ndef naïve_func(argé):\n"
        "    return ²ab + ①cd + Kelvin_\u212awd\n",
        (
            [("naïve_func", "function", 2)],
            ["Kelvin_\u212awd", "argé", "café_name", "plain_word", "ünïcode_value"],
        ),
    ),
    "unterminated_triple": (
        'def before_it():\n    pass\ntext = """never closed\ndef inside_it():\n    words_in_string\n',
        ([("before_it", "function", 1)], ["text"]),
    ),
    "string_alone_at_column_zero": (  # a string is code: inside brackets at column 0 it closes the class
        "class Listing:\n    items = (\n'first'\n    )\n    def now_a_function(self):\n        pass\n",
        ([("Listing", "class", 1), ("now_a_function", "function", 5)], ["items"]),
    ),
    "tabs_and_formfeed": (
        "class Tabbed:\n\tdef tab_method(self):\n\t\treturn tabbed_value\n\x0c\ndef after_feed():\n\treturn feed_value\n",
        (
            [("Tabbed", "class", 1), ("tab_method", "method", 2), ("after_feed", "function", 5)],
            ["feed_value", "tabbed_value"],
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tricky_python_sources_give_the_written_out_definitions_and_references(case: str) -> None:
    source, expected = CASES[case]
    assert outline.symbols("tricky.py", source) == expected
    assert reference_symbols(source) == expected  # the table itself is right about the reference


# Pieces of lines that stress the scan: strings holding `#` and `def`, comments holding quotes,
# triple-quoted strings over lines, headers continued by brackets, closing brackets, keywords in any
# case, numbers, short words, non-ASCII words, tabs, unterminated strings.
_HEADS = ["def", "class", "async def", "async  def", "def\t", "class\t"]
_NAMES = ["alpha", "Beta_2", "gamma", "déjà", "_x", "x1", "fn", "Self", "retURN", "None", "naïve", "v\u212a"]
_ARGS = ["", "self", "a, b=1", "x: int = (1, 2)", "*args, **kw", "y: dict[str, int]", "z={'k': [1]}"]
_TAILS = ["", " -> int", " -> list[str]", "  # tail 'q'", ' -> "T"', ""]
_BITS = [
    "value = other_name",
    "x = 'a # b' + \"c ' d\"",
    "# comment with 'quote and \"def fake():",
    'doc = """line one\ndef not_here():\n  pass\n"""',
    "s = r'\\'' + '\\\\' + raw_tail",
    "call(\n    arg_one,\n)",
    "rows = [\n1,\n]",
    ")",
    "]",
    "1abc = 0x1F + 12e3 + ab + IF + ELSE + TrUe",
    "ünï = café + ²ab + ①cd",
    "text = '''unterminated\ndef inside(): pass",
    "pass",
    "return result_value",
    "@decorator_name",
    "\x0c",
    "",
    "   ",
    "lambda: 1",
    "'only_a_string'",
    '"another" "two"',
]


def _random_source(rng: random.Random) -> str:
    lines: list[str] = []
    for _ in range(rng.randint(1, 40)):
        indent = rng.choice(["", "", "    ", "        ", "\t", "  ", "            ", "\t    "])
        if rng.random() < 0.35:
            header = f"{rng.choice(_HEADS)} {rng.choice(_NAMES)}"
            if rng.random() < 0.8:
                args = rng.choice(_ARGS)
                sep = "\n" + indent + "    " if rng.random() < 0.3 else ""
                header += f"({sep}{args}{sep})" if rng.random() < 0.9 else f"({args}"
            header += rng.choice(_TAILS) if rng.random() < 0.5 else ""
            header += ":" if rng.random() < 0.9 else ""
            header += rng.choice(["", " pass", " return gamma_ref"])
            lines.append(indent + header)
        else:
            lines.append(indent + rng.choice(_BITS))
    return "\n".join(lines) + rng.choice(["\n", ""])


@pytest.mark.parametrize("seed", range(4))
def test_random_python_sources_match_the_reference_scan(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(400):
        source = _random_source(rng)
        assert outline.symbols("random.py", source) == reference_symbols(source), source


def test_long_reference_lists_are_cut_the_same_way() -> None:
    """More than 2,000 words: the first 2,000 in sorted order, numbers never among them."""
    words = [f"word_{i:05d}" for i in range(2500)] + [f"{i}abc" for i in range(50)]
    source = "def holder():\n    return " + " + ".join(reversed(words)) + "\n"
    got = outline.symbols("long.py", source)
    assert got == reference_symbols(source)
    assert got[1] == [f"word_{i:05d}" for i in range(2000)]


async def test_the_index_keeps_the_scan_answers_through_the_mcp_client(tmp_path: Path, clock: Clock) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    files = {f"pkg/{case}.py": source for case, (source, _expected) in CASES.items()}
    commit_files(root, files, "tricky sources")
    runtime = Runtime(project=root, clock=clock, use_roots=False, starters=False)
    try:
        async with Client(build_app(runtime)) as c:
            r = await c.call_tool(
                "context_load", {"task": "still_method perimeter Config", "budget_tokens": 2000}
            )
            assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
        store = await runtime.store()
        for case, (_source, (defs, names)) in CASES.items():
            path = f"pkg/{case}.py"
            got_defs = store.db.execute(
                "SELECT name, kind, line FROM repo_symbols WHERE path = ? ORDER BY line, name", (path,)
            ).fetchall()
            assert got_defs == sorted(defs, key=lambda d: (d[2], d[0])), case
            got_refs = store.db.execute("SELECT name FROM repo_refs WHERE path = ?", (path,)).fetchall()
            assert sorted(n for (n,) in got_refs) == names, case
    finally:
        runtime.close()
