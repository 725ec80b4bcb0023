"""Outlines and symbols of source files, for files too big to load whole and for ranking.

An outline lists definitions (classes, functions, methods nested under their class) with line
numbers and signatures: enough for an assistant to know what a file offers and ask for the lines it
needs. Python goes through tree-sitter (error-tolerant: a file mid-edit still outlines); other
languages use line patterns. The grammar is loaded on first use, not at server start.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from factorops.tools.kernel.tokens import count_tokens

_parser: Any = None
_parser_lock = threading.Lock()
_IDENT = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}\b")
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

# (regex, kind) per language family; group 1 is the name
_PATTERNS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "js": [
        (
            re.compile(r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)"),
            "function",
        ),
        (re.compile(r"^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)"), "class"),
        (re.compile(r"^\s*(?:export\s+)?(?:interface|type|enum)\s+([A-Za-z_$][\w$]*)"), "type"),
        (
            re.compile(
                r"^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:async\s*)?(?:\(|function|[A-Za-z_$][\w$]*\s*=>)"
            ),
            "function",
        ),
    ],
    "go": [
        (re.compile(r"^func\s+(?:\([^)]*\)\s*)?([A-Za-z_]\w*)"), "function"),
        (re.compile(r"^type\s+([A-Za-z_]\w*)"), "type"),
    ],
    "rs": [
        (re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?fn\s+([A-Za-z_]\w*)"), "function"),
        (re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:struct|enum|trait|type)\s+([A-Za-z_]\w*)"), "type"),
        (re.compile(r"^\s*impl(?:<[^>]*>)?\s+(?:[\w:<>]+\s+for\s+)?([A-Za-z_]\w*)"), "impl"),
    ],
    "java": [
        (
            re.compile(
                r"^\s*(?:public|private|protected|static|final|abstract|\s)*(?:class|interface|enum|record)\s+([A-Za-z_]\w*)"
            ),
            "class",
        ),
        (
            re.compile(
                r"^\s*(?:public|private|protected|static|final|synchronized|\s)+[\w<>\[\],\s]+\s+([a-zA-Z_]\w*)\s*\([^;]*$"
            ),
            "method",
        ),
    ],
    "md": [(re.compile(r"^(#{1,6}\s+.+?)\s*$"), "heading")],
    "rb": [(re.compile(r"^\s*(?:def|class|module)\s+([A-Za-z_][\w.?!]*)"), "definition")],
}
_EXT = {
    ".js": "js",
    ".jsx": "js",
    ".ts": "js",
    ".tsx": "js",
    ".mjs": "js",
    ".cjs": "js",
    ".go": "go",
    ".rs": "rs",
    ".java": "java",
    ".kt": "java",
    ".cs": "java",
    ".md": "md",
    ".rb": "rb",
}


def _language(path: str) -> str | None:
    if path.endswith((".py", ".pyi")):
        return "py"
    dot = path.rfind(".")
    return _EXT.get(path[dot:].lower()) if dot >= 0 else None


def _python_parser() -> Any:
    global _parser
    if _parser is None:
        with _parser_lock:
            if _parser is None:
                import tree_sitter_python
                from tree_sitter import Language, Parser

                _parser = Parser(Language(tree_sitter_python.language()))
    return _parser


def _python_defs(text: str) -> list[tuple[str, str, int, int]]:
    """(name, kind, line, depth) for classes and functions, nested, in source order."""
    tree = _python_parser().parse(text.encode("utf-8", errors="replace"))
    out: list[tuple[str, str, int, int]] = []

    def visit(node: Any, depth: int) -> None:
        for child in node.children:
            target = child
            if child.type == "decorated_definition":
                target = child.child_by_field_name("definition") or child
            if target.type in ("class_definition", "function_definition"):
                name_node = target.child_by_field_name("name")
                if name_node is not None:
                    kind = (
                        "class" if target.type == "class_definition" else ("method" if depth else "function")
                    )
                    out.append(
                        (name_node.text.decode(errors="replace"), kind, target.start_point[0] + 1, depth)
                    )
                body = target.child_by_field_name("body")
                if body is not None and depth < 3:
                    visit(body, depth + 1)

    visit(tree.root_node, 0)
    return out


def _pattern_defs(lang: str, text: str) -> list[tuple[str, str, int, int]]:
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        for rx, kind in _PATTERNS[lang]:
            m = rx.match(line)
            if m:
                depth = (len(line) - len(line.lstrip())) // 2 if lang != "md" else m.group(1).count("#") - 1
                out.append((m.group(1), kind, i, min(depth, 4)))
                break
    return out


def definitions(path: str, text: str) -> list[tuple[str, str, int, int]]:
    lang = _language(path)
    if lang == "py":
        return _python_defs(text)
    if lang is not None:
        return _pattern_defs(lang, text)
    return []


def symbols(path: str, text: str) -> tuple[list[tuple[str, str, int]], list[str]]:
    """What a file defines (name, kind, line) and the identifiers it references."""
    defs = [(n, k, ln) for n, k, ln, _ in definitions(path, text) if k != "heading"]
    own = {n for n, _, _ in defs}
    refs = []
    seen: set[str] = set()
    for ident in _IDENT.findall(text):
        if ident in seen or ident in own or ident.lower() in _KEYWORDS:
            continue
        seen.add(ident)
        refs.append(ident)
        if len(refs) >= 2000:
            break
    return defs, refs


def outline(path: str, text: str) -> str:
    """`L<line> <signature>` per definition, indented by nesting; empty when nothing is found."""
    lines = text.splitlines()
    out = []
    for _name, kind, line, depth in definitions(path, text):
        src = lines[line - 1].strip() if line - 1 < len(lines) else ""
        if kind != "heading" and len(src) > 160:
            src = src[:157] + "..."
        out.append(f"{'  ' * depth}L{line} {src}")
    if not out:
        return ""
    return f"outline of {path} ({len(lines)} lines):\n" + "\n".join(out) + "\n"


def relevant_ranges(text: str, task: str, budget_tokens: int, context: int = 3) -> tuple[str, str] | None:
    """The line ranges that mention the task's words most, whole lines only, within the budget.

    Returns (text with `... lines a-b ...` separators, "a-b,c-d") or None if nothing fits.
    """
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", task)}
    lines = text.splitlines()
    if not lines or not words:
        return None
    scored = []
    for i, line in enumerate(lines):
        low = line.lower()
        hits = sum(1 for w in words if w in low)
        if hits:
            scored.append((hits, i))
    scored.sort(key=lambda x: (-x[0], x[1]))
    chosen: list[tuple[int, int]] = []
    used = 0
    for _hits, i in scored:
        a, b = max(0, i - context), min(len(lines) - 1, i + context)
        if any(a <= cb and ca <= b for ca, cb in chosen):
            continue
        piece = "\n".join(lines[a : b + 1]) + "\n"
        cost = count_tokens(piece) + 8
        if used + cost > budget_tokens:
            continue
        chosen.append((a, b))
        used += cost
    if not chosen:
        return None
    chosen.sort()
    parts = []
    for a, b in chosen:
        parts.append(f"... lines {a + 1}-{b + 1} ...\n" + "\n".join(lines[a : b + 1]) + "\n")
    return "".join(parts), ",".join(f"{a + 1}-{b + 1}" for a, b in chosen)
