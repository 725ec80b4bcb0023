"""Outlines, definitions and references of source files, for ranking, repo maps and whole-definition loads.

Python, JavaScript, TypeScript/TSX, Go, Rust, Java, C, C++ and Ruby go through tree-sitter, with the
per-language grammar wheels from PyPI (offline; error-tolerant, so a file mid-edit still outlines).
A definition is the whole node (decorators, `export`, `template<...>` included) so a load can give
whole functions and classes, never fragments. References are the identifiers the syntax tree
holds (comments and strings are not references). Kotlin, C# and Markdown headings use line
patterns. Grammars load on first use, not at server start.
"""

from __future__ import annotations

import bisect
import importlib
import re
import threading
from dataclasses import dataclass
from typing import Any

_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}\b")
_NAME = re.compile(r"[A-Za-z_$][\w$]*")
_KEYWORDS = frozenset(
    [
        "and",
        "as",
        "assert",
        "async",
        "await",
        "break",
        "class",
        "continue",
        "def",
        "del",
        "elif",
        "else",
        "except",
        "false",
        "finally",
        "for",
        "from",
        "global",
        "if",
        "import",
        "in",
        "is",
        "lambda",
        "none",
        "nonlocal",
        "not",
        "or",
        "pass",
        "raise",
        "return",
        "self",
        "true",
        "try",
        "while",
        "with",
        "yield",
        "function",
        "const",
        "let",
        "var",
        "return",
        "export",
        "default",
        "new",
        "this",
        "null",
        "undefined",
        "typeof",
        "instanceof",
        "interface",
        "type",
        "public",
        "private",
        "protected",
        "static",
        "void",
        "int",
        "string",
        "bool",
        "float",
        "struct",
        "impl",
        "enum",
        "match",
        "pub",
        "use",
        "mod",
        "crate",
        "func",
        "package",
        "go",
        "chan",
        "defer",
        "range",
        "select",
        "switch",
        "case",
    ]
)


# Tree-sitter: (module, function) of each grammar wheel, and the definitions worth listing.
_GRAMMARS: dict[str, tuple[str, str]] = {
    "py": ("tree_sitter_python", "language"),
    "js": ("tree_sitter_javascript", "language"),
    "ts": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rs": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "rb": ("tree_sitter_ruby", "language"),
}
_JS_DEFS = """
(function_declaration name: (_) @name) @def.function
(generator_function_declaration name: (_) @name) @def.function
(class_declaration name: (_) @name) @def.class
(method_definition name: (_) @name) @def.method
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]) @def.function
"""
_TS_DEFS = (
    _JS_DEFS
    + """
(abstract_class_declaration name: (_) @name) @def.class
(interface_declaration name: (_) @name) @def.type
(type_alias_declaration name: (_) @name) @def.type
(enum_declaration name: (_) @name) @def.type
(function_signature name: (_) @name) @def.function
(abstract_method_signature name: (_) @name) @def.method
(internal_module name: (_) @name) @def.module
"""
)
_C_DEFS = """
(function_definition declarator: (function_declarator declarator: (_) @name)) @def.function
(function_definition declarator: (pointer_declarator declarator: (function_declarator declarator: (_) @name))) @def.function
(declaration declarator: (function_declarator declarator: (_) @name)) @def.function
(struct_specifier name: (_) @name body: (_)) @def.type
(union_specifier name: (_) @name body: (_)) @def.type
(enum_specifier name: (_) @name body: (_)) @def.type
(type_definition declarator: (type_identifier) @name) @def.type
"""
_DEF_QUERIES: dict[str, str] = {
    "py": """
(class_definition name: (_) @name) @def.class
(function_definition name: (_) @name) @def.function
""",
    "js": _JS_DEFS,
    "ts": _TS_DEFS,
    "tsx": _TS_DEFS,
    "go": """
(function_declaration name: (_) @name) @def.function
(method_declaration name: (_) @name) @def.method
(type_spec name: (_) @name) @def.type
""",
    "rs": """
(function_item name: (_) @name) @def.function
(function_signature_item name: (_) @name) @def.function
(struct_item name: (_) @name) @def.type
(enum_item name: (_) @name) @def.type
(union_item name: (_) @name) @def.type
(trait_item name: (_) @name) @def.type
(type_item name: (_) @name) @def.type
(mod_item name: (_) @name) @def.module
(macro_definition name: (_) @name) @def.function
(impl_item type: (_) @name) @def.impl
""",
    "java": """
(class_declaration name: (_) @name) @def.class
(interface_declaration name: (_) @name) @def.class
(enum_declaration name: (_) @name) @def.class
(record_declaration name: (_) @name) @def.class
(annotation_type_declaration name: (_) @name) @def.class
(method_declaration name: (_) @name) @def.method
(constructor_declaration name: (_) @name) @def.method
""",
    "c": _C_DEFS,
    "cpp": _C_DEFS
    + """
(function_definition declarator: (reference_declarator (function_declarator declarator: (_) @name))) @def.function
(field_declaration declarator: (function_declarator declarator: (_) @name)) @def.method
(class_specifier name: (_) @name body: (_)) @def.class
(namespace_definition name: (_) @name) @def.module
""",
    "rb": """
(class name: (_) @name) @def.class
(module name: (_) @name) @def.module
(method name: (_) @name) @def.method
(singleton_method name: (_) @name) @def.method
""",
}
# Node kinds that name something another definition may define; whichever a grammar has.
_REF_KINDS = (
    "identifier",
    "type_identifier",
    "field_identifier",
    "property_identifier",
    "constant",
    "namespace_identifier",
    "package_identifier",
)
# A definition's whole text starts at these wrappers (decorators, export, template<>, `const f =`).
_WRAPPERS = frozenset(
    [
        "decorated_definition",
        "export_statement",
        "lexical_declaration",
        "variable_declaration",
        "template_declaration",
        "type_declaration",
    ]
)
_EXT = {
    ".py": "py",
    ".pyi": "py",
    ".js": "js",
    ".jsx": "js",
    ".mjs": "js",
    ".cjs": "js",
    ".ts": "ts",
    ".mts": "ts",
    ".cts": "ts",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rs",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".rb": "rb",
    ".kt": "kt",
    ".cs": "kt",
    ".md": "md",
}
# Line patterns for what has no grammar here; group 1 is the name.
_PATTERNS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "kt": [
        (
            re.compile(
                r"^\s*(?:public|private|protected|internal|static|final|abstract|open|data|sealed|\s)*"
                r"(?:class|interface|enum|record|object|struct)\s+([A-Za-z_]\w*)"
            ),
            "class",
        ),
        (re.compile(r"^\s*(?:[\w<>\[\],]+\s+)*fun\s+(?:<[^>]*>\s*)?(?:[\w.]+\.)?([a-zA-Z_]\w*)"), "method"),
        (
            re.compile(
                r"^\s*(?:public|private|protected|internal|static|async|override|virtual|\s)+"
                r"[\w<>\[\],\s]+\s+([a-zA-Z_]\w*)\s*\([^;]*$"
            ),
            "method",
        ),
    ],
    "md": [(re.compile(r"^(#{1,6}\s+.+?)\s*$"), "heading")],
}


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str  # class, function, method, type, module, impl, heading
    line: int  # 1-based line of its header (the `def`/`class` line)
    start: int  # first line of the whole definition (decorators, export included)
    end: int  # last line
    depth: int  # nesting under other definitions

    @property
    def lines(self) -> int:
        return self.end - self.start + 1


_languages: dict[str, tuple[Any, Any, Any]] = {}  # lang -> (Language, defs Query, refs Query)
_load_lock = threading.Lock()
_local = threading.local()  # parsers are not thread-safe: one per thread and language


def language_of(path: str) -> str | None:
    dot = path.rfind(".")
    return _EXT.get(path[dot:].lower()) if dot >= 0 else None


def _grammar(lang: str) -> tuple[Any, Any, Any] | None:
    got = _languages.get(lang)
    if got is None and lang in _GRAMMARS:
        with _load_lock:
            got = _languages.get(lang)
            if got is None:
                from tree_sitter import Language, Query

                module, fn = _GRAMMARS[lang]
                language = Language(getattr(importlib.import_module(module), fn)())
                kinds = [k for k in _REF_KINDS if language.id_for_node_kind(k, True)]
                refs = Query(language, " ".join(f"({k}) @ref" for k in kinds))
                got = _languages[lang] = (language, Query(language, _DEF_QUERIES[lang]), refs)
    return got


def _parse(lang: str, text: str) -> tuple[Any, tuple[Any, Any, Any]] | None:
    grammar = _grammar(lang)
    if grammar is None:
        return None
    parsers: dict[str, Any] = _local.__dict__.setdefault("parsers", {})
    parser = parsers.get(lang)
    if parser is None:
        from tree_sitter import Parser

        parser = parsers[lang] = Parser(grammar[0])
    return parser.parse(text.encode("utf-8", errors="replace")), grammar


def _clean_name(raw: str) -> str:
    """`Foo::bar` -> bar, `Vec<T>` -> Vec, `self.up` -> up: the name other files would write."""
    names = _NAME.findall(raw.split("<", 1)[0])
    return names[-1] if names else raw.strip()


def _tree_defs(tree: Any, query: Any) -> list[Definition]:
    from tree_sitter import QueryCursor

    found: dict[tuple[int, int], tuple[str, str, Any]] = {}
    for _pattern, caps in QueryCursor(query).matches(tree.root_node):
        name_nodes = caps.get("name")
        if not name_nodes:
            continue
        for key, nodes in caps.items():
            if key.startswith("def."):
                node = nodes[0]
                span = (node.start_byte, node.end_byte)
                if span not in found:  # the first (most specific) pattern names it
                    text = (name_nodes[0].text or b"").decode("utf-8", errors="replace")
                    found[span] = (_clean_name(text), key[4:], node)
    defs: list[tuple[int, int, str, str, int, int, int]] = []
    for name, kind, node in found.values():
        outer = node
        while outer.parent is not None and outer.parent.type in _WRAPPERS:
            outer = outer.parent
        defs.append(
            (
                outer.start_byte,
                -outer.end_byte,
                name,
                kind,
                node.start_point[0] + 1,
                outer.start_point[0] + 1,
                outer.end_point[0] + 1,
            )
        )
    defs.sort()
    out: list[Definition] = []
    stack: list[tuple[int, str]] = []  # (end byte, kind) of the enclosing definitions
    for start_b, neg_end, name, kind, line, start, end in defs:
        while stack and stack[-1][0] <= start_b:
            stack.pop()
        if kind == "function" and stack and stack[-1][1] in ("class", "impl", "type"):
            kind = "method"
        out.append(Definition(name, kind, line, start, end, len(stack)))
        stack.append((-neg_end, kind))
    return out


def _pattern_defs(lang: str, text: str) -> list[Definition]:
    out: list[Definition] = []
    lines = text.splitlines()
    for i, line in enumerate(lines, start=1):
        for rx, kind in _PATTERNS[lang]:
            m = rx.match(line)
            if m:
                depth = (len(line) - len(line.lstrip())) // 4 if lang != "md" else m.group(1).count("#") - 1
                out.append(Definition(m.group(1), kind, i, i, i, min(depth, 4)))
                break
    # Without a tree a definition runs to the next one at the same or a shallower level.
    fixed: list[Definition] = []
    for j, d in enumerate(out):
        end = len(lines)
        for nxt in out[j + 1 :]:
            if nxt.depth <= d.depth:
                end = nxt.start - 1
                break
        fixed.append(Definition(d.name, d.kind, d.line, d.start, max(d.start, end), d.depth))
    return fixed


def definitions(path: str, text: str) -> list[Definition]:
    """Every definition in source order, with its whole extent and nesting."""
    lang = language_of(path)
    if lang is None:
        return []
    if lang in _PATTERNS:
        return _pattern_defs(lang, text)
    parsed = _parse(lang, text)
    if parsed is None:
        return []
    tree, (_language, defs_q, _refs_q) = parsed
    return _tree_defs(tree, defs_q)


# Python's definitions and references for the index come from a lexical scan, not the syntax tree:
# a first index of a big repository spent most of its time in tree-sitter (parse ~5 MB/s, then two
# queries over every node and a Python object per identifier), and for Python the layout alone says
# what is defined where. Strings and comments are blanked first (their newlines kept, so lines stay
# aligned): a `def` in a docstring defines nothing and a word in a comment is no reference. Nesting
# comes from indentation: a code line at or left of an open definition's column closes it. On 10,000
# real files of the standard library and site-packages this gives the tree's references and, but for
# lines continued inside brackets at column 0, the same definitions; outlines and whole-definition
# loads still parse with tree-sitter.
# A string's prefix (r, b, f, ...) stays behind as a word too short to be a reference; a backslash
# keeps a quote from ending a string in raw strings too, so one rule lexes them all.
# The scan is a first index's main cost (issue #19), so it avoids Python work per token: strings and
# comments are cut out with one `split` (no callback per match), references are the ASCII words of
# the code split in C from its bytes, and a definition's gap is looked at only when it could close one.
_PY_SKIP_SRC = (
    r"#[^\n]*"
    r"|'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*(?:'''|$)"
    r'|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*(?:"""|$)'
    r"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
    r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
)
_PY_SKIP = re.compile(f"({_PY_SKIP_SRC})", re.S)  # one group: `split` keeps what it cut out
# After a newline (the text is scanned with one in front): faster than `^` in multi-line mode. The
# indentation is possessive: giving some of it back could never let `def`/`class` match.
# A header whose only brackets are one pair of parentheses is read up to its `:` right here (group 4,
# in a lookahead so the scan goes on after the name); other headers go through `_header_end`.
_PY_DEF = re.compile(
    r"\n([ \t]*+)(?:async[ \t]+)?(def|class)[ \t]+([^\W\d]\w*)"
    r"(?:(?=([^()\[\]{}:]*+(?:\([^()\[\]{}]*+\)[^()\[\]{}:]*+)?:)))?"
)
# A line's indentation, if it holds code that may start a statement (not a closing bracket).
_PY_CODE_LINE = re.compile(r"^[ \t]*+(?=[^\s)\]}])", re.M)
_WORD = re.compile(r"\w{3,}")
# Non-word bytes -> space: `split()` then gives an ASCII text's words (`\w+`) without a regex.
_WORD_BYTES = bytes(b if chr(b).isalnum() or b == 95 else 32 for b in range(128)) + b" " * 128
# A line after a newline indented less than n columns that holds code: could close a definition.
_PY_SHALLOW: dict[int, re.Pattern[str]] = {}
_keyword_cases: frozenset[bytes] | None = None


def _keyword_bytes() -> frozenset[bytes]:
    """The ASCII words that are no reference: every spelling of a keyword, upper or lower case letter
    by letter (a word is one when its lower case is), and every word of one or two characters. Built
    on first use; a set difference then filters them in C."""
    global _keyword_cases
    if _keyword_cases is None:
        chars = [bytes([b]) for b in range(128) if _WORD_BYTES[b] != 32]
        cases: set[bytes] = {a + b for a in [b"", *chars] for b in chars}
        for k in _KEYWORDS:
            spellings = [b""]
            for ch in k:
                spellings = [s + c.encode() for s in spellings for c in {ch, ch.upper()}]
            cases.update(spellings)
        _keyword_cases = frozenset(cases)
    return _keyword_cases


def _blank_multiline(s: str) -> str:
    """A string over several lines becomes its newlines and the columns of its last line (so what
    follows it keeps its column and is no false dedent)."""
    nl = s.rfind("\n")
    return "\n" * s.count("\n") + " " * (len(s) - nl - 1)


_PY_HEADER = re.compile(r"[()\[\]{}:\n]")


def _header_end(code: str, pos: int) -> int:
    """The newline ending a `def`/`class` header that starts before `pos`: the first one after its
    `:` outside brackets (-1: none)."""
    depth = 0
    for m in _PY_HEADER.finditer(code, pos):
        c = m.group()
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c == ":" and depth == 0:
            return code.find("\n", m.end())
    return -1


def _python_names(code: str, own: set[str]) -> list[str]:
    """The code's words of 3+ characters that are not its own definitions, keywords or numbers, sorted."""
    if code.isascii():
        words = set(code.encode().translate(_WORD_BYTES).split()) - _keyword_bytes()
        words.difference_update(n.encode() for n in own)
        kept = sorted(words)  # bytes sort as their ASCII text does: numbers first, as ":" follows "9"
        kept = kept[bisect.bisect_left(kept, b":") :][:2000]
        return b" ".join(kept).decode().split(" ") if kept else []
    found = set(_WORD.findall(code))
    names = sorted(w for w in found if w not in own and not w[0].isdigit() and w.lower() not in _KEYWORDS)
    return names[:2000]


def _python_symbols(text: str) -> tuple[list[tuple[str, str, int]], list[str]]:
    # Cut out strings and comments: a comment goes; a string becomes `''`, or, over several lines,
    # its newlines and the columns of its last line.
    parts = _PY_SKIP.split(text)
    parts[1::2] = ["" if s[0] == "#" else "''" if "\n" not in s else _blank_multiline(s) for s in parts[1::2]]
    code = "\n" + "".join(parts)  # line n is after the n-th newline
    defs: list[tuple[str, str, int]] = []
    stack: list[tuple[int, str]] = []  # (column, kind) of the open definitions
    line, counted, last = 1, 1, 1  # the line at `counted`; where the next gap starts
    for m in _PY_DEF.finditer(code):
        start = m.start() + 1
        column = len(m.group(1))
        left = column
        # Only a code line left of this header between the last header and this one can close
        # more than the header itself does; look at the gap's lines only when one is there.
        if stack and column and last < start:
            shallow = _PY_SHALLOW.get(column)
            if shallow is None:
                shallow = _PY_SHALLOW[column] = re.compile(rf"\n[ \t]{{0,{column - 1}}}+(?=[^\s)\]}}])")
            if shallow.search(code, last - 1, start) is not None:
                left = min(column, *map(len, _PY_CODE_LINE.findall(code, last, start)))
        while stack and stack[-1][0] >= left:
            stack.pop()
        line += code.count("\n", counted, start)
        counted = start
        kind = "class" if m.group(2) == "class" else "function"
        if kind == "function" and stack and stack[-1][1] == "class":
            kind = "method"
        defs.append((m.group(3), kind, line))
        stack.append((column, kind))
        # The header (its lines, when brackets continue it) is not a gap: the next gap starts after.
        header = m.end(4)  # -1: not a simple header
        end = code.find("\n", header) if header >= 0 else _header_end(code, m.end())
        if end < 0:
            break
        last = end + 1
    return defs, _python_names(code, {n for n, _k, _l in defs})


def _tree_symbols(lang: str, text: str) -> tuple[list[tuple[str, str, int]], list[str]] | None:
    """`symbols` from the syntax tree (None: no grammar for `lang`)."""
    parsed = _parse(lang, text)
    if parsed is None:
        return None
    from tree_sitter import QueryCursor

    tree, (_language, defs_q, refs_q) = parsed
    defs = [(d.name, d.kind, d.line) for d in _tree_defs(tree, defs_q)]
    own = {n for n, _, _ in defs}
    raw: set[bytes] = set()
    for nodes in QueryCursor(refs_q).captures(tree.root_node).values():
        raw.update(n.text or b"" for n in nodes)  # each name decoded once, not once per use
    idents = {r.decode("utf-8", errors="replace") for r in raw}
    names = sorted(i for i in idents if len(i) >= 3 and i not in own and i.lower() not in _KEYWORDS)
    return defs, names[:2000]


def symbols(path: str, text: str) -> tuple[list[tuple[str, str, int]], list[str]]:
    """What a file defines (name, kind, line) and the identifiers it references."""
    lang = language_of(path)
    if lang == "py":
        return _python_symbols(text)
    got = _tree_symbols(lang, text) if lang is not None and lang not in _PATTERNS else None
    if got is not None:
        return got
    defs = [(d.name, d.kind, d.line) for d in definitions(path, text) if d.kind != "heading"]
    own = {n for n, _, _ in defs}
    refs: list[str] = []
    seen: set[str] = set()
    for ident in _IDENT.findall(text):
        if ident in seen or ident in own or ident.lower() in _KEYWORDS:
            continue
        seen.add(ident)
        refs.append(ident)
        if len(refs) >= 2000:
            break
    return defs, refs


def signature(lines: list[str], d: Definition, width: int = 160) -> str:
    src = lines[d.line - 1].strip() if 0 < d.line <= len(lines) else d.name
    return src if d.kind == "heading" or len(src) <= width else src[: width - 3] + "..."


def outline(path: str, text: str) -> str:
    """`L<line> <signature>` per definition, indented by nesting; empty when nothing is found."""
    lines = text.splitlines()
    out = [f"{'  ' * d.depth}L{d.line} {signature(lines, d)}" for d in definitions(path, text)]
    if not out:
        return ""
    return f"outline of {path} ({len(lines)} lines):\n" + "\n".join(out) + "\n"
