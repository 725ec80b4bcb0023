"""What a shell command line would really run, for guardrails that must not be fooled by spelling.

Guardrails decide allow/warn/block for a command an AI assistant is about to run.  Matching rule
regexes against the raw text fails both ways: quoting (``ma''in``), line continuations, variables,
git's global options, text piped into a shell and many more spellings slip past, while harmless
look-alikes (``echo "git push -f"``, a heredoc written to a file, a commit message) are blocked.

This module parses the command with a real shell grammar (tree-sitter-bash), then walks the tree the
way bash would expand it and produces every *simple command that would run* as a clean argv:

* quotes removed and escapes resolved; backslash-newline joined the way bash joins it;
* commands found in lists, pipelines, subshells, ``$(...)``, backticks, ``<(...)``, ``if``/``while``/
  ``for``/``case`` bodies and function bodies (a function called on the line runs with its arguments);
* variables assigned earlier on the line substituted (``B=main; ... $B``, ``export``, ``${B:-main}``,
  ``${B:=x}``, ``${B,,}``, ``${B#x}``, arrays, ``for b in main; do ...``), values that cannot be known
  left as an *unknown marker* (see :data:`UNKNOWN`);
* wrappers unwrapped (``sudo``, ``env``, ``nice``, ``nohup``, ``time``, ``command``, ``exec``,
  ``builtin``, ``timeout``, ``xargs``, ``find -exec``, ...), ``sh -c``/``bash -c``/``eval``/``source``
  and text fed into a shell (``echo ... | sh``, ``bash <<EOF``, a file written earlier on the same line)
  parsed recursively;
* for ``git``: global options skipped and ``-c alias.X=...`` aliases expanded, so the canonical form
  always starts ``git <subcommand>``.

:func:`normalise` never raises: hostile input (deep nesting, NULs, huge text) gives
``understood=False`` with a reason, within a bounded amount of work.  Rules then look at the argvs
(:func:`canonical` gives a string to match a regex against) or use the semantic helpers at the end of
this module (:func:`force_push`, :func:`destructive_reset`, :func:`recursive_delete_outside`,
:func:`drops_database`, :func:`writes_device`, :func:`download_into_shell`), which return a short
reason string or ``None``.

The analysis over-approximates on purpose: every branch of an ``if``/``case`` is assumed to run, a
loop body runs once per known value, and anything that cannot be known is kept visible as unknown
rather than guessed away.  A caller should treat ``understood=False`` as "ask a person".
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, NamedTuple

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

__all__ = [
    "UNKNOWN",
    "Command",
    "Normalised",
    "canonical",
    "describe_unknown",
    "destructive_reset",
    "download_into_shell",
    "drops_database",
    "force_push",
    "has_unknown",
    "normalise",
    "recursive_delete_outside",
    "unwrap",
    "writes_device",
]

# --------------------------------------------------------------------------------------------------
# Public data model
# --------------------------------------------------------------------------------------------------

UNKNOWN: Final = "\x00"
"""Delimiter of an *unknown marker* inside an argv word.

A value the analysis cannot know (a variable not assigned on the line, the output of ``$(...)``,
``~``, what ``xargs`` reads...) is written as ``UNKNOWN + description + UNKNOWN``, e.g.
``"\\x00$BRANCH\\x00"`` or ``"\\x00$(git|rev-parse)\\x00"``.  A real argv can never contain NUL, so
the marker cannot be forged by the command text (NULs in the input are dropped, as bash does).
"""

_MARKER_RE: Final = re.compile("\x00([^\x00]*)\x00")


@dataclass(frozen=True)
class Command:
    """One simple command that would run, with what the analysis knows about its streams.

    ``stdin`` is the text fed to it when that is known (heredoc, here-string, ``echo ... |``), else
    ``None``.  ``writes`` lists the targets of its output redirections (``>``, ``>>``, ``&>``...), which
    are removed from ``argv`` but matter to rules such as :func:`writes_device`.
    """

    argv: tuple[str, ...]
    stdin: str | None = None
    writes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Normalised:
    """The result of :func:`normalise`.

    ``commands``: every simple command that would run, in source order, as argvs.
    ``pipelines``: every pipe (``a | b``) as the argvs run in it, in data-flow order (a stage that is
    a compound command contributes all its commands), plus the feed of a ``$(...)``/``<(...)`` into the
    command that uses it as an argument (inner argvs first, then that command's argv as written).
    ``understood``: False when something that would run could not be seen (too deep, too long, parse
    error, unknown expansion in a command word, a shell reading unknown text...); ``reason`` says why.
    ``details``: the same commands as ``commands``, with stdin text and redirection targets.
    """

    commands: tuple[tuple[str, ...], ...]
    pipelines: tuple[tuple[tuple[str, ...], ...], ...]
    understood: bool
    reason: str | None
    details: tuple[Command, ...] = field(default=(), compare=False)


def has_unknown(word: str) -> bool:
    """True when ``word`` contains an unknown marker (part of its value is not known)."""
    return UNKNOWN in word


def describe_unknown(word: str) -> str:
    """``word`` with its unknown markers shown as their description (``$B``, ``$(...)``...)."""
    return _MARKER_RE.sub(lambda m: m.group(1), word).replace(UNKNOWN, "")


def canonical(cmd_argv: Sequence[str]) -> str:
    """The argv joined by single spaces: a form that rule regexes can be matched against.

    Unknown markers are shown by their description (``rm -rf $HOME``), so the string holds no NULs.
    It is lossy by design (``'a b'`` and ``a b`` look the same); rules that care use the argv.
    """
    return " ".join(describe_unknown(w) for w in cmd_argv)


def _marker(desc: str) -> str:
    """An unknown marker; the description is kept free of characters the walker treats specially."""
    clean = re.sub(r"[\s{},\\\x00\x01]+", "_", desc[:60])
    return f"{UNKNOWN}{clean}{UNKNOWN}"


# --------------------------------------------------------------------------------------------------
# Limits and internal state
# --------------------------------------------------------------------------------------------------

_LANGUAGE: Final = Language(tree_sitter_bash.language())
# Deterministic work budgets of one `normalise` call (all re-parses of ``sh -c``/``eval`` text
# included).  Sized so that the worst hostile 10,000-character command stays within ~50 ms of a
# guardrail check on a 2-core machine (bench/bench_shell.py); past any of them the command is "too
# large to understand" and rules whose keywords appear fail closed.
_NODE_BUDGET: Final = 5_000  # tree nodes and word parts visited by the walk
_PARSE_STEPS: Final = 200  # tree-sitter progress callbacks (one per ~100 parser operations)
_PARSE_READ_FACTOR: Final = 3  # bytes the lexer may read, as a multiple of the text (plus a page)
_MAX_COMMANDS: Final = 200
_TOO_LARGE: Final = "too large to understand"
_MAX_VALUE: Final = 20_000  # longest variable value or stream text kept (longer: unknown)
_NON_ASCII: Final = re.compile("[^\x00-\x7f]+")
_PLAIN_WORD: Final = re.compile(r"[^\\{~\x01]*")
_MAX_LOOP_VALUES: Final = 8
_MAX_BRACE_WORDS: Final = 64
_MAX_UNWRAP: Final = 32
_MAX_LOOP_WALKS: Final = 64  # loop bodies walked once per value, this many times in all
_MAX_CALLS: Final = 64  # calls of functions defined on the line followed into their bodies


class _Stream(Enum):
    """stdin that is not known text: inherited from the caller, or piped from something unknown."""

    INHERIT = "inherit"
    UNKNOWN = "unknown"


_In = str | _Stream


class _TooMuch(Exception):
    """Raised inside the walker when the work budget is spent; caught by :func:`normalise`."""


@dataclass
class _Sh:
    """The state of one shell process as far as the walk knows it."""

    vars: dict[str, str] = field(default_factory=dict)
    arrays: dict[str, list[str]] = field(default_factory=dict)
    unset: set[str] = field(default_factory=set)  # known to be unset (``unset B`` or a fresh ``env -i``)
    exported: set[str] = field(default_factory=set)
    positional: list[str] | None = None  # None: not known (the caller's arguments)
    functions: dict[str, tuple[Node, bytes]] = field(default_factory=dict)  # body and its source
    aliases: dict[str, tuple[str, bytes, int]] = field(default_factory=dict)  # text, source, line
    expand_aliases: bool = False

    def copy(self) -> _Sh:
        """A subshell: everything is inherited, nothing flows back."""
        return _Sh(
            dict(self.vars),
            {k: list(v) for k, v in self.arrays.items()},
            set(self.unset),
            set(self.exported),
            None if self.positional is None else list(self.positional),
            dict(self.functions),
            dict(self.aliases),
            self.expand_aliases,
        )

    def child(self, env: dict[str, str], positional: list[str] | None, clear: bool = False) -> _Sh:
        """A new shell process: only exported variables (and ``env``) reach it."""
        sh = _Sh(positional=positional)
        if not clear:
            for name in self.exported:
                if name in self.vars:
                    sh.vars[name] = self.vars[name]
                    sh.exported.add(name)
        for name, value in env.items():
            sh.vars[name] = value
            sh.exported.add(name)
        return sh


class _Part(NamedTuple):
    """A piece of a word before field splitting.

    kind: ``raw`` unquoted source text (escapes, braces and ``~`` still to resolve), ``lit`` final text
    that is not split, ``exp`` an unquoted expansion (split on whitespace), ``fields`` a list that
    becomes separate words even when quoted (``"$@"``).
    """

    kind: str
    text: str
    items: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------------
# Line continuations: tree-sitter-bash treats backslash-newline as whitespace, bash joins the words.
# --------------------------------------------------------------------------------------------------


def _heredoc_delimiter(text: str, i: int) -> tuple[str, bool, bool, int] | None:
    """Read the heredoc word after ``<<`` at ``i``: (delimiter, quoted, strip_tabs, end index)."""
    n = len(text)
    j = i + 2
    strip = False
    if j < n and text[j] == "-":
        strip, j = True, j + 1
    while j < n and text[j] in " \t":
        j += 1
    start = j
    quoted = False
    out: list[str] = []
    while j < n and text[j] not in " \t\n;|&<>()":
        c = text[j]
        if c in "'\"":
            quoted = True
            k = text.find(c, j + 1)
            k = n - 1 if k < 0 else k
            out.append(text[j + 1 : k])
            j = k + 1
        elif c == "\\":
            quoted = True
            out.append(text[j + 1 : j + 2])
            j += 2
        else:
            out.append(c)
            j += 1
    if j == start:
        return None
    return "".join(out), quoted, strip, j


def _join_continuations(text: str) -> str:
    """Remove backslash-newline where bash removes it (not in single quotes, comments, quoted heredocs).

    bash joins ``pu\\<newline>sh`` into ``push``; the grammar splits it into two words.  This small
    lexer follows the quoting contexts well enough to do the same; it is only used when the text
    contains a backslash-newline at all.
    """
    out: list[str] = []
    n = len(text)
    i = 0
    # frames: [kind, paren depth]; kinds: n (normal), d (double quotes), b (backticks), a (arithmetic)
    stack: list[list[int | str]] = [["n", 0]]
    pending: list[tuple[str, bool, bool]] = []
    word_start = True
    while i < n:
        c = text[i]
        kind = stack[-1][0]
        if c == "\\" and i + 1 < n:
            if text[i + 1] == "\n":
                i += 2
                continue
            out.append(text[i : i + 2])
            i += 2
            word_start = False
            continue
        if kind == "d":
            if c == '"':
                stack.pop()
            elif c == "$" and text.startswith("$(", i):
                stack.append(["n", 0])
                out.append("$(")
                i += 2
                continue
            elif c == "`":
                stack.append(["b", 0])
            out.append(c)
            i += 1
            continue
        # normal, backtick and arithmetic frames
        if c == "'" and kind != "a":
            k = text.find("'", i + 1)
            k = n - 1 if k < 0 else k
            out.append(text[i : k + 1])
            i = k + 1
            word_start = False
            continue
        if c == "$" and text.startswith("$'", i):
            k = i + 2
            while k < n and text[k] != "'":
                k += 2 if text[k] == "\\" else 1
            out.append(text[i : k + 1])
            i = k + 1
            word_start = False
            continue
        if c == "#" and word_start and kind != "a":
            k = text.find("\n", i)
            k = n if k < 0 else k
            out.append(text[i:k])
            i = k
            continue
        if c == '"':
            stack.append(["d", 0])
        elif text.startswith("$((", i) or (text.startswith("((", i) and kind != "a"):
            width = 3 if c == "$" else 2
            stack.append(["a", 0])
            out.append(text[i : i + width])
            i += width
            continue
        elif c == "$" and text.startswith("$(", i):
            stack.append(["n", 0])
            out.append("$(")
            i += 2
            continue
        elif c == "(":
            stack[-1][1] = int(stack[-1][1]) + 1
        elif c == ")":
            if kind == "a" and text.startswith("))", i) and int(stack[-1][1]) == 0:
                stack.pop()
                out.append("))")
                i += 2
                continue
            if int(stack[-1][1]) > 0:
                stack[-1][1] = int(stack[-1][1]) - 1
            elif len(stack) > 1:
                stack.pop()
        elif c == "`":
            if kind == "b":
                stack.pop()
            else:
                stack.append(["b", 0])
        elif c == "<" and kind != "a" and text.startswith("<<", i) and not text.startswith("<<<", i):
            found = _heredoc_delimiter(text, i)
            if found is not None:
                delim, quoted, strip, end = found
                pending.append((delim, quoted, strip))
                out.append(text[i:end])
                i = end
                word_start = False
                continue
        elif c == "\n" and pending:
            out.append("\n")
            i += 1
            for delim, quoted, strip in pending:
                while i < n:
                    k = text.find("\n", i)
                    k = n if k < 0 else k
                    line = text[i:k]
                    check = line.lstrip("\t") if strip else line
                    if check == delim:
                        out.append(text[i : k + 1])
                        i = k + 1
                        break
                    body = text[i : k + 1]
                    if not quoted:
                        body = re.sub(r"(\\\\)|\\\n", lambda m: m.group(1) or "", body)
                    out.append(body)
                    i = k + 1
            pending = []
            word_start = True
            continue
        out.append(c)
        i += 1
        word_start = c in " \t\n;|&()<>"
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# Small decoders
# --------------------------------------------------------------------------------------------------

_ANSI_SIMPLE: Final = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def _ansi_c(body: str, *, echo: bool = False) -> str:
    """Decode the escapes of ``$'...'`` (or of ``echo -e``/``printf %b`` when ``echo`` is set)."""
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ANSI_SIMPLE and not (echo and e in "'\"?"):
            out.append(_ANSI_SIMPLE[e])
            i += 2
        elif e == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2 :])
            if m:
                out.append(chr(int(m.group(0), 16)))
                i += 2 + len(m.end(0) * "x")
            else:
                out.append("\\x")
                i += 2
        elif e in "uU":
            m = re.match(r"[0-9a-fA-F]{1,4}" if e == "u" else r"[0-9a-fA-F]{1,8}", body[i + 2 :])
            if m:
                code = int(m.group(0), 16)
                out.append(chr(code) if code < 0x110000 else "?")
                i += 2 + m.end(0)
            else:
                out.append("\\" + e)
                i += 2
        elif e in "01234567":
            m = re.match(r"0?[0-7]{1,3}" if echo else r"[0-7]{1,3}", body[i + 1 :])
            assert m is not None
            out.append(chr(int(m.group(0), 8) & 0xFF))
            i += 1 + m.end(0)
        elif e == "c" and not echo and i + 2 < n:
            out.append(chr(ord(body[i + 2]) & 0x1F))
            i += 3
        else:
            out.append("\\" + e)
            i += 2
    return "".join(out).replace("\x00", "")


def _unescape_unquoted(text: str) -> str:
    """Unquoted word text: ``\\x`` is ``x``."""
    if "\\" not in text:
        return text
    return re.sub(r"\\(.)", r"\1", text, flags=re.S)


def _unescape_dquoted(text: str) -> str:
    """Inside double quotes a backslash only escapes ``$ ` " \\`` and newline."""
    if "\\" not in text:
        return text
    return re.sub(r'\\([$`"\\\n])', lambda m: "" if m.group(1) == "\n" else m.group(1), text)


def _unescape_heredoc(text: str) -> str:
    """In an unquoted heredoc a backslash only escapes ``$ ` \\`` and newline."""
    if "\\" not in text:
        return text
    return re.sub(r"\\([$`\\\n])", lambda m: "" if m.group(1) == "\n" else m.group(1), text)


_DEFAULT_IFS: Final = " \t\n"


def _split_ifs(text: str, ifs: str = _DEFAULT_IFS) -> list[str]:
    """Field splitting of an unquoted expansion, with ``IFS`` when the line set it."""
    if ifs == _DEFAULT_IFS:
        return text.split()
    if not ifs:
        return [text]
    ws = "".join(c for c in ifs if c in _DEFAULT_IFS)
    other = "".join(c for c in ifs if c not in _DEFAULT_IFS)
    body = text.strip(ws) if ws else text
    if not body:
        return []
    alts = []
    if other:
        w = f"[{re.escape(ws)}]*" if ws else ""
        alts.append(f"{w}[{re.escape(other)}]{w}")
    if ws:
        alts.append(f"[{re.escape(ws)}]+")
    pieces = re.split("|".join(alts), body)
    if other and pieces and pieces[-1] == "":
        pieces.pop()  # a trailing delimiter does not make an empty field
    return pieces


def _brace_expand(word: str) -> list[str]:
    """Bash brace expansion (``{a,b}``, ``{1..3}``) of raw unquoted text; escaped braces stay."""
    results = [word]
    for _ in range(8):
        changed = False
        nxt: list[str] = []
        for w in results:
            exp = _brace_once(w)
            if exp is None:
                nxt.append(w)
            else:
                changed = True
                nxt.extend(exp)
            if len(nxt) > _MAX_BRACE_WORDS:
                return results
        results = nxt
        if not changed:
            break
    return results


def _brace_once(w: str) -> list[str] | None:
    i = 0
    n = len(w)
    while i < n:
        c = w[i]
        if c == "\\":
            i += 2
            continue
        if c == "{" and not (i > 0 and w[i - 1] == "$"):
            depth = 0
            commas: list[int] = []
            j = i
            while j < n:
                d = w[j]
                if d == "\\":
                    j += 2
                    continue
                if d == "{":
                    depth += 1
                elif d == "}":
                    depth -= 1
                    if depth == 0:
                        break
                elif d == "," and depth == 1:
                    commas.append(j)
                j += 1
            if j >= n:
                return None
            pre, body, post = w[:i], w[i + 1 : j], w[j + 1 :]
            if commas:
                pieces: list[str] = []
                last = i + 1
                for k in commas:
                    pieces.append(w[last:k])
                    last = k + 1
                pieces.append(w[last:j])
                return [pre + p + post for p in pieces]
            m = re.fullmatch(r"(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?", body)
            if m:
                a, b = int(m.group(1)), int(m.group(2))
                step = abs(int(m.group(3) or 1)) or 1
                if abs(b - a) // step > _MAX_BRACE_WORDS:
                    return None
                rng = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
                return [pre + str(x) + post for x in rng]
            m = re.fullmatch(r"([a-zA-Z])\.\.([a-zA-Z])", body)
            if m:
                a, b = ord(m.group(1)), ord(m.group(2))
                rng = range(a, b + 1) if a <= b else range(a, b - 1, -1)
                return [pre + chr(x) + post for x in rng]
            i += 1
            continue
        i += 1
    return None


def _glob_regex(parts: Sequence[tuple[str, bool]]) -> re.Pattern[str] | None:
    """A regex for a shell pattern given as (text, quoted) pieces; None when it is too fancy."""
    out: list[str] = []
    for text, quoted in parts:
        if quoted:
            out.append(re.escape(text))
            continue
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                out.append(re.escape(text[i + 1]))
                i += 2
                continue
            if c == "*":
                out.append(".*")
            elif c == "?":
                out.append(".")
            elif c == "[":
                k = text.find("]", i + 2)
                if k < 0:
                    out.append(re.escape(c))
                else:
                    body = text[i + 1 : k].replace("\\", "\\\\")
                    if body.startswith("!"):
                        body = "^" + body[1:]
                    out.append(f"[{body}]")
                    i = k
            else:
                out.append(re.escape(c))
            i += 1
    try:
        return re.compile("".join(out), re.S)
    except re.error:
        return None


def _quote_for_shell(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def _split_cmdline(text: str) -> list[str] | None:
    """git's split_cmdline: whitespace-separated words, single and double quotes, backslash."""
    words: list[str] = []
    cur: list[str] = []
    have = False
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"' and i + 1 < len(text):
                i += 1
                cur.append(text[i])
            else:
                cur.append(c)
        elif c in "'\"":
            quote = c
            have = True
        elif c == "\\" and i + 1 < len(text):
            i += 1
            cur.append(text[i])
            have = True
        elif c.isspace():
            if have or cur:
                words.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(c)
        i += 1
    if quote:
        return None
    if have or cur:
        words.append("".join(cur))
    return words


# --------------------------------------------------------------------------------------------------
# Command tables
# --------------------------------------------------------------------------------------------------

_SHELLS: Final = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "posh", "fish", "rbash"}
)
_GIT_GLOBAL_WITH_ARG: Final = frozenset(
    {
        "-C",
        "-c",
        "--git-dir",
        "--work-tree",
        "--namespace",
        "--super-prefix",
        "--config-env",
        "--list-cmds",
        "--attr-source",
        "--shallow-file",
    }
)
_GIT_GLOBAL_FLAGS: Final = frozenset(
    {
        "-p",
        "--paginate",
        "-P",
        "--no-pager",
        "--bare",
        "--no-replace-objects",
        "--literal-pathspecs",
        "--no-literal-pathspecs",
        "--glob-pathspecs",
        "--noglob-pathspecs",
        "--icase-pathspecs",
        "--no-optional-locks",
        "--no-lazy-fetch",
        "--no-advice",
    }
)
_GIT_GLOBAL_EXIT: Final = frozenset({"--exec-path", "--html-path", "--man-path", "--info-path"})
_GIT_BUILTINS: Final = frozenset(
    [
        "add",
        "am",
        "annotate",
        "apply",
        "archive",
        "bisect",
        "blame",
        "branch",
        "bugreport",
        "bundle",
        "cat-file",
        "check-attr",
        "check-ignore",
        "check-mailmap",
        "check-ref-format",
        "checkout",
        "checkout-index",
        "cherry",
        "cherry-pick",
        "clean",
        "clone",
        "column",
        "commit",
        "commit-graph",
        "commit-tree",
        "config",
        "count-objects",
        "credential",
        "describe",
        "diff",
        "diff-files",
        "diff-index",
        "diff-tree",
        "difftool",
        "fast-export",
        "fast-import",
        "fetch",
        "fetch-pack",
        "filter-branch",
        "fmt-merge-msg",
        "for-each-ref",
        "for-each-repo",
        "format-patch",
        "fsck",
        "gc",
        "get-tar-commit-id",
        "grep",
        "hash-object",
        "help",
        "hook",
        "index-pack",
        "init",
        "interpret-trailers",
        "log",
        "ls-files",
        "ls-remote",
        "ls-tree",
        "mailinfo",
        "mailsplit",
        "maintenance",
        "merge",
        "merge-base",
        "merge-file",
        "merge-index",
        "merge-tree",
        "mktag",
        "mktree",
        "multi-pack-index",
        "mv",
        "name-rev",
        "notes",
        "pack-objects",
        "pack-refs",
        "prune",
        "prune-packed",
        "pull",
        "push",
        "range-diff",
        "read-tree",
        "rebase",
        "receive-pack",
        "reflog",
        "remote",
        "repack",
        "replace",
        "rerere",
        "reset",
        "restore",
        "rev-list",
        "rev-parse",
        "revert",
        "rm",
        "send-pack",
        "shortlog",
        "show",
        "show-branch",
        "show-index",
        "show-ref",
        "sparse-checkout",
        "stash",
        "status",
        "stripspace",
        "submodule",
        "switch",
        "symbolic-ref",
        "tag",
        "unpack-file",
        "unpack-objects",
        "update-index",
        "update-ref",
        "update-server-info",
        "upload-archive",
        "upload-pack",
        "var",
        "verify-commit",
        "verify-pack",
        "verify-tag",
        "version",
        "whatchanged",
        "worktree",
        "write-tree",
    ]
)
_SUDO_WITH_ARG: Final = frozenset(["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-T", "-U", "-c"])
_SUDO_LONG_WITH_ARG: Final = frozenset(
    [
        "--user",
        "--group",
        "--host",
        "--prompt",
        "--close-from",
        "--chdir",
        "--role",
        "--type",
        "--command-timeout",
        "--other-user",
        "--login-class",
    ]
)
_SUDO_NO_CMD: Final = frozenset(
    [
        "-l",
        "-v",
        "-k",
        "-K",
        "-V",
        "-e",
        "--list",
        "--validate",
        "--reset-timestamp",
        "--remove-timestamp",
        "--version",
        "--edit",
        "--help",
        "-h",
    ]
)
_XARGS_WITH_ARG: Final = frozenset(
    [
        "-I",
        "-L",
        "-n",
        "-P",
        "-s",
        "-d",
        "-E",
        "-a",
        "-R",
        "--arg-file",
        "--delimiter",
        "--max-args",
        "--max-procs",
        "--max-chars",
        "--max-lines",
        "--replace",
        "--eof",
    ]
)
_TIMEOUT_WITH_ARG: Final = frozenset(["-s", "-k", "--signal", "--kill-after"])
_DOWNLOADERS: Final = frozenset({"curl", "wget", "fetch", "http", "https", "aria2c", "lwp-request", "GET"})
_INTERPRETERS: Final = _SHELLS | frozenset(
    {
        "python",
        "python2",
        "python3",
        "perl",
        "ruby",
        "node",
        "nodejs",
        "php",
        "lua",
        "Rscript",
        "pwsh",
        "deno",
        "bun",
        "osascript",
        "tclsh",
        "source",
        ".",
    }
)


def _basename(word: str) -> str:
    if "/" in word and UNKNOWN not in word:
        base = posixpath.basename(word)
        return base or word
    return word


def _python_name(name: str) -> bool:
    return re.fullmatch(r"python[0-9.]*", name) is not None


# --------------------------------------------------------------------------------------------------
# Wrapper unwrapping (pure argv functions, also used by the helpers)
# --------------------------------------------------------------------------------------------------


class _Unwrapped(NamedTuple):
    argv: list[str]
    env: dict[str, str]
    clear_env: bool = False


def _unwrap_once(argv: list[str], stdin_text: str | None = None) -> _Unwrapped | None:
    """If ``argv`` is a wrapper that runs another command, that command (and env it sets)."""
    name = argv[0]
    args = argv[1:]
    env: dict[str, str] = {}
    if name in ("sudo", "doas"):
        i = 0
        while i < len(args):
            a = args[i]
            if a == "--":
                i += 1
                break
            if a in _SUDO_NO_CMD or a.startswith("--edit"):
                return None
            if a in _SUDO_WITH_ARG or a in _SUDO_LONG_WITH_ARG:
                i += 2
                continue
            if a.startswith("--"):
                i += 1
                continue
            if a.startswith("-") and len(a) > 1:
                letters = a[1:]
                if any(ch in "lvkKVe" for ch in letters) and not any(ch in "ugpCDrtTUhc" for ch in letters):
                    return None
                # a cluster ending in an option that takes an argument consumes the next word
                if letters[-1] in "ugpCDrtTUhc" and len(letters) >= 1 and not _sudo_attached(letters):
                    i += 2
                else:
                    i += 1
                continue
            break
        while i < len(args) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", args[i]):
            k, _, v = args[i].partition("=")
            env[k] = v
            i += 1
        rest = args[i:]
        if not rest:
            return None
        return _Unwrapped(rest, env)
    if name == "env":
        i = 0
        clear = False
        while i < len(args):
            a = args[i]
            if a == "--":
                i += 1
                break
            if a in ("-i", "--ignore-environment", "-"):
                clear = True
                i += 1
                continue
            if a in ("-u", "--unset", "-C", "--chdir", "-P"):
                i += 2
                continue
            if a in ("-S", "--split-string") or a.startswith(("-S", "--split-string=")):
                if a in ("-S", "--split-string"):
                    text = args[i + 1] if i + 1 < len(args) else ""
                    i += 2
                else:
                    text = a[2:] if a.startswith("-S") else a.split("=", 1)[1]
                    i += 1
                split = _split_cmdline(text) or []
                return _Unwrapped(split + args[i:], env, clear)
            if a.startswith("-") and len(a) > 1:
                i += 1
                continue
            if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", a):
                k, _, v = a.partition("=")
                env[k] = v
                i += 1
                continue
            break
        rest = args[i:]
        if not rest:
            return None
        return _Unwrapped(rest, env, clear)
    if name in (
        "nice",
        "ionice",
        "chrt",
        "taskset",
        "stdbuf",
        "nohup",
        "setsid",
        "time",
        "builtin",
        "command",
        "exec",
        "timeout",
        "unbuffer",
        "chronic",
        "caffeinate",
        "flock",
        "trickle",
        "torsocks",
        "proxychains",
        "proxychains4",
        "firejail",
        "catchsegv",
        "valgrind",
    ):
        return _unwrap_simple(name, args)
    if name == "xargs":
        return _unwrap_xargs(args, stdin_text)
    return None


def _sudo_attached(letters: str) -> bool:
    """``-uroot``: the option letter is followed by its argument in the same word."""
    for k, ch in enumerate(letters):
        if ch in "ugpCDrtTUhc":
            return k < len(letters) - 1
    return False


def _unwrap_simple(name: str, args: list[str]) -> _Unwrapped | None:
    i = 0
    if name == "command":
        while i < len(args) and args[i].startswith("-") and args[i] != "--":
            if any(ch in "vV" for ch in args[i][1:]):
                return None  # command -v: only looks the name up
            i += 1
        if i < len(args) and args[i] == "--":
            i += 1
    elif name == "exec":
        while i < len(args) and args[i].startswith("-") and args[i] != "--":
            i += 2 if args[i] == "-a" else 1
        if i < len(args) and args[i] == "--":
            i += 1
    elif name == "nice":
        while i < len(args):
            a = args[i]
            if a in ("-n", "--adjustment"):
                i += 2
            elif re.fullmatch(r"-(-?\d+|n-?\d+|-adjustment=.*)", a):
                i += 1
            elif a == "--":
                i += 1
                break
            else:
                break
    elif name == "timeout":
        while i < len(args) and args[i].startswith("-") and args[i] != "--":
            i += 2 if args[i] in _TIMEOUT_WITH_ARG else 1
        if i < len(args) and args[i] == "--":
            i += 1
        i += 1  # the duration
    elif name == "time":
        while i < len(args) and args[i].startswith("-") and args[i] != "--":
            i += 2 if args[i] in ("-f", "--format", "-o", "--output") else 1
        if i < len(args) and args[i] == "--":
            i += 1
    elif name in ("ionice", "chrt", "taskset", "stdbuf", "flock", "trickle", "firejail", "valgrind"):
        takes = {
            "ionice": {"-c", "-n", "-p", "-P", "-u"},
            "chrt": {"-T", "-P", "-D"},
            "stdbuf": {"-i", "-o", "-e"},
            "flock": {"-w", "-E", "-c"},
            "trickle": {"-u", "-d", "-w", "-t", "-l", "-n"},
        }.get(name, set())
        while i < len(args) and args[i].startswith("-") and args[i] != "--":
            i += 2 if args[i] in takes else 1
        if i < len(args) and args[i] == "--":
            i += 1
        if name in ("chrt", "taskset", "flock") and i < len(args):
            i += 1  # priority / cpu mask / lock file
    else:
        while i < len(args) and args[i].startswith("-") and args[i] != "--":
            i += 1
        if i < len(args) and args[i] == "--":
            i += 1
    rest = args[i:]
    if not rest:
        return None
    return _Unwrapped(rest, {})


def _unwrap_xargs(args: list[str], stdin_text: str | None) -> _Unwrapped | None:
    """``xargs CMD``: CMD with the words read from stdin (known text, else an unknown marker).

    Only the first command xargs would start is modelled (with ``-I``, the first input line).
    """
    i = 0
    replace: str | None = None
    delimiter: str | None = None
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if a in ("-I", "--replace"):
            replace = args[i + 1] if i + 1 < len(args) else "{}"
            i += 2
            continue
        if a.startswith("--replace=") or (a.startswith("-I") and len(a) > 2):
            replace = a.split("=", 1)[1] if a.startswith("--") else a[2:]
            i += 1
            continue
        if a == "-i" or a.startswith("-i"):
            replace = a[2:] or "{}"
            i += 1
            continue
        if a in ("-0", "--null"):
            delimiter = "\x00"
            i += 1
            continue
        if a in ("-d", "--delimiter") or a.startswith(("--delimiter=", "-d")):
            value = args[i + 1] if a in ("-d", "--delimiter") and i + 1 < len(args) else a.split("=", 1)[-1]
            delimiter = _ansi_c(value[2:] if a.startswith("-d") and len(a) > 2 else value)[:1] or "\n"
            i += 2 if a in ("-d", "--delimiter") else 1
            continue
        if a in _XARGS_WITH_ARG:
            i += 2
            continue
        if a.startswith("-") and len(a) > 1:
            i += 1
            continue
        break
    cmd = args[i:] or ["echo"]
    unknown_input = _marker("xargs-input")
    if stdin_text is None:
        items = [unknown_input]
    elif delimiter is not None:
        items = [x for x in stdin_text.split(delimiter) if x]  # with -0, newlines belong to the item
    elif replace is not None:
        items = [line.lstrip() for line in stdin_text.split("\n") if line.strip()]
    else:
        items = _split_cmdline(stdin_text) or []
    if replace is not None:
        value = items[0] if items else ""
        if not items:
            return None  # no input line: the command does not run
        return _Unwrapped([w.replace(replace, value) for w in cmd], {})
    return _Unwrapped([*cmd, *items], {})


def unwrap(argv: Sequence[str]) -> tuple[str, ...]:
    """The command a wrapper runs: ``sudo -u x env A=1 nice git push`` gives ``git push``.

    Program paths are reduced to their name and ``git-push`` is spelled ``git push``, as
    :func:`normalise` does.  Shells and ``eval`` are not expanded here (that needs parsing).
    """
    cur = [w for w in argv]
    for _ in range(_MAX_UNWRAP):
        if not cur:
            break
        cur[0] = _basename(cur[0])
        if cur[0].startswith("git-") and len(cur[0]) > 4:
            cur = ["git", cur[0][4:], *cur[1:]]
        found = _unwrap_once(cur)
        if found is None:
            break
        cur = found.argv
    return tuple(cur)


# --------------------------------------------------------------------------------------------------
# The walker
# --------------------------------------------------------------------------------------------------

_STATEMENT_TYPES: Final = frozenset(
    {
        "command",
        "redirected_statement",
        "pipeline",
        "list",
        "variable_assignment",
        "variable_assignments",
        "declaration_command",
        "unset_command",
        "negated_command",
        "subshell",
        "compound_statement",
        "if_statement",
        "while_statement",
        "for_statement",
        "c_style_for_statement",
        "case_statement",
        "function_definition",
        "test_command",
    }
)
_WORD_TYPES: Final = frozenset(
    {
        "word",
        "string",
        "raw_string",
        "ansi_c_string",
        "translated_string",
        "concatenation",
        "number",
        "simple_expansion",
        "expansion",
        "command_substitution",
        "process_substitution",
        "arithmetic_expansion",
        "brace_expression",
    }
)
_SUBST_TYPES: Final = frozenset({"command_substitution", "process_substitution"})


class _Walker:
    """Walks parse trees the way bash would expand and run them, collecting commands."""

    def __init__(self, max_depth: int, max_len: int, max_seconds: float) -> None:
        self.max_depth = max_depth
        self.max_len = max_len
        self.parser = Parser(_LANGUAGE)
        self.nodes_left = _NODE_BUDGET
        self.parse_steps_left = _PARSE_STEPS
        self.chars_left = 2 * max_len
        self.loop_walks_left = _MAX_LOOP_WALKS
        self.calls_left = _MAX_CALLS
        # A safety net only (the budgets above decide), on this thread's CPU time, not the wall
        # clock: on a machine busy with other work the wall clock runs on while the analysis waits,
        # and the same command must get the same answer there too.
        self.started = time.thread_time()
        self.deadline = self.started + max_seconds
        self.details: list[Command] = []
        self.pipelines: list[tuple[tuple[str, ...], ...]] = []
        self.reasons: list[str] = []
        self.placeholders: list[str] = []
        self.files: dict[str, str | None] = {}
        self.uncalled: dict[tuple[int, int], tuple[Node, _Sh, int, bytes]] = {}
        self.src = b""  # the source of the tree being walked (node text is sliced from it)
        self.row = 0  # line of the command being run, in the text being walked
        self.git_aliases: dict[str, str] = {}  # set by ``git config alias.X ...`` earlier on the line
        self.sources: list[tuple[tuple[str, ...], ...]] = []

    # ---- bookkeeping -------------------------------------------------------------------------

    def note(self, reason: str) -> None:
        if reason not in self.reasons and len(self.reasons) < 8:
            self.reasons.append(reason)

    def tick(self, n: int = 1) -> None:
        self.nodes_left -= n
        if self.nodes_left < 0:
            raise _TooMuch(f"{_TOO_LARGE}: more than {_NODE_BUDGET} syntax nodes to walk")
        if self.nodes_left & 63 == 0 and time.thread_time() > self.deadline:
            raise _TooMuch("too complex: the analysis ran out of time")

    def deeper(self, depth: int) -> bool:
        """True (and noted) when ``depth`` is beyond the limit; the caller then stops descending."""
        if depth > self.max_depth:
            self.note(f"nested deeper than {self.max_depth} levels")
            return True
        return False

    def emit(self, argv: Sequence[str], stdin: _In, writes: Sequence[str]) -> None:
        if len(self.details) >= _MAX_COMMANDS:
            raise _TooMuch(f"{_TOO_LARGE}: more than {_MAX_COMMANDS} commands")
        self.details.append(Command(tuple(argv), stdin if isinstance(stdin, str) else None, tuple(writes)))

    def raw(self, node: Node) -> bytes:
        return self.src[node.start_byte : node.end_byte]

    def text(self, node: Node) -> str:
        return self.src[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def with_src(self, src: bytes, node: Node, sh: _Sh, depth: int, stdin: _In) -> str | None:
        """Walk a statement of another tree (a function body) with that tree's source."""
        saved = self.src
        self.src = src
        try:
            return self.statement(node, sh, depth, stdin)
        finally:
            self.src = saved

    def decode(self, text: str) -> str:
        """Turn placeholders of unknown markers (used while re-parsing text) back into markers."""
        if "\x01" not in text:
            return text
        return re.sub("\x01(\\d+)\x01", self._placeholder, text)

    def _placeholder(self, m: re.Match[str]) -> str:
        k = int(m.group(1))
        return self.placeholders[k] if k < len(self.placeholders) else m.group(0)

    def encode(self, text: str) -> str:
        """Make text safe to hand to tree-sitter; :meth:`decode` turns words back.

        Unknown markers become inert ``\\x01n\\x01`` placeholders (their description must not be
        parsed as shell).  Every run of non-ASCII characters gets a placeholder too, so tree-sitter
        only ever sees ASCII: tree-sitter-bash 0.25.1 can crash the whole process (SIGSEGV) on ``{``
        followed by a 4-byte UTF-8 character (tree-sitter/tree-sitter-bash#337), and fuzzing here
        still crashed it when only those were replaced (on text with lone surrogates).  To bash these
        characters are plain word characters, as ``\\x01`` and digits are: the parse is the same.
        """

        def repl(m: re.Match[str]) -> str:
            self.placeholders.append(m.group(0))
            return f"\x01{len(self.placeholders) - 1}\x01"

        seen: dict[str, str] = {}

        def non_ascii(m: re.Match[str]) -> str:
            ch = m.group(0)
            if ch not in seen:
                self.placeholders.append(ch)
                seen[ch] = f"\x01{len(self.placeholders) - 1}\x01"
            return seen[ch]

        text = _MARKER_RE.sub(repl, text).replace(UNKNOWN, "")
        return _NON_ASCII.sub(non_ascii, text)

    # ---- entry: parse a piece of shell text ----------------------------------------------------

    def parse(self, text: str, sh: _Sh, depth: int, stdin: _In) -> str | None:
        """Parse and walk shell text; returns its stdout when known."""
        if self.deeper(depth):
            return None
        if len(text) > self.max_len:
            self.note(f"longer than {self.max_len} characters")
            return None
        self.chars_left -= len(text)
        if self.chars_left < 0:
            raise _TooMuch(f"{_TOO_LARGE}: too much text to re-parse")
        text = self.encode(text)
        if "\\\n" in text:
            text = _join_continuations(text)
        src = text.encode("ascii")
        root = self.parse_bounded(src)
        if root is None:
            return None
        saved = self.src
        self.src = src
        try:
            return self.walk_root(root, sh, depth, stdin)
        finally:
            self.src = saved

    def walk_root(self, root: Node, sh: _Sh, depth: int, stdin: _In) -> str | None:
        if root.has_error:
            self.note("parse error")
        return self.statements(root.children, sh, depth, stdin)

    def parse_bounded(self, src: bytes) -> Node | None:
        """Parse with tree-sitter within a deterministic work budget.

        Some inputs make tree-sitter-bash slow: its lexer re-reads a run of thousands of ``<`` or
        ``>`` from the start for every token (quadratic), and a very long pipeline costs many parser
        operations.  Two counts bound that: the bytes the lexer asks for (the text is handed over in
        pages through ``read``) and the parser's progress callbacks (one per ~100 operations), over
        all the parses of one ``normalise``.  Past either the progress callback cancels the parse
        (cheap; cutting the text short instead would make tree-sitter recover from the error at the
        early end, which is itself quadratic on a long pipeline) and the command is "too large to
        understand".  Wall-clock time is only a safety net on top.
        """
        read_left = _PARSE_READ_FACTOR * len(src) + 4096
        over = False

        def read(offset: int, _point: object) -> bytes:
            nonlocal read_left, over
            chunk = src[offset : offset + 512]
            read_left -= len(chunk)
            if read_left < 0:
                over = True
            return chunk

        def progress(*_args: object) -> bool:
            self.parse_steps_left -= 1
            return over or self.parse_steps_left < 0 or time.thread_time() > self.deadline

        try:
            tree = self.parser.parse(read, progress_callback=progress)
        except ValueError:
            self.parser.reset()
            if over or self.parse_steps_left < 0:
                raise _TooMuch(f"{_TOO_LARGE}: the shell parser's work budget was spent") from None
            raise _TooMuch("too complex: parsing ran out of time") from None
        return tree.root_node

    # ---- statements ----------------------------------------------------------------------------

    def statements(self, nodes: Iterable[Node], sh: _Sh, depth: int, stdin: _In) -> str | None:
        """Run statements in order; loose words (parse-error recovery) are grouped into commands."""
        out: list[str] | None = []
        loose: list[Node] = []

        def flush() -> None:
            nonlocal out
            if loose:
                argv = self.argv_of(loose, sh, depth)
                loose.clear()
                res = self.run(argv, sh, depth, stdin, [], {}) if argv else ""
                out = None if out is None or res is None else [*out, res]

        for node in nodes:
            self.tick()
            t = node.type
            if t in _WORD_TYPES or t == "command_name":
                loose.append(node.named_children[0] if t == "command_name" and node.named_children else node)
                continue
            flush()
            if not node.is_named or t in ("comment", "heredoc_body", "heredoc_start", "heredoc_end"):
                continue
            res = self.statement(node, sh, depth, stdin)
            out = None if out is None or res is None else [*out, res]
        flush()
        return None if out is None else "".join(out)[:_MAX_VALUE]

    def statement(self, node: Node, sh: _Sh, depth: int, stdin: _In) -> str | None:
        t = node.type
        self.tick()
        if t == "command":
            return self.command(node, sh, depth, stdin, [], [], None)
        if t == "redirected_statement":
            return self.redirected(node, sh, depth, stdin)
        if t == "pipeline":
            return self.pipeline(self.pipeline_stages(node), sh, depth, stdin)
        if t == "list":
            return self.statements(self.flatten_list(node), sh, depth, stdin)
        if t in ("variable_assignment", "variable_assignments"):
            for a in [node] if t == "variable_assignment" else node.named_children:
                self.assign(a, sh, depth)
            return ""
        if t == "declaration_command":
            return self.declaration(node, sh, depth, stdin)
        if t == "unset_command":
            argv = self.argv_of(node.named_children, sh, depth)
            funcs = "-f" in argv
            for name in argv:
                if not name.startswith("-"):
                    if funcs:
                        sh.functions.pop(name, None)
                    else:
                        sh.vars.pop(name, None)
                        sh.arrays.pop(name, None)
                        sh.unset.add(name)
            self.emit(["unset", *argv], stdin, [])
            return ""
        if t == "negated_command":
            return self.statements(node.named_children, sh, depth, stdin)
        if t == "subshell":
            if self.deeper(depth + 1):
                return None
            return self.statements(node.named_children, sh.copy(), depth + 1, stdin)
        if t == "compound_statement":
            if self.deeper(depth + 1):
                return None
            if node.children and node.children[0].type == "((":
                self.scan(node, sh, depth + 1)
                return ""
            return self.statements(node.named_children, sh, depth + 1, stdin)
        if t in (
            "if_statement",
            "while_statement",
            "c_style_for_statement",
            "do_group",
            "elif_clause",
            "else_clause",
        ):
            if self.deeper(depth + 1):
                return None
            nodes = []
            for child in node.named_children:
                if child.type in _STATEMENT_TYPES or child.type in ("do_group", "elif_clause", "else_clause"):
                    nodes.append(child)
                else:
                    self.scan(child, sh, depth + 1)
            return self.statements(nodes, sh, depth + 1, stdin)
        if t == "for_statement":
            return self.for_loop(node, sh, depth, stdin)
        if t == "case_statement":
            return self.case(node, sh, depth, stdin)
        if t == "function_definition":
            self.define_function(node, sh, depth)
            return ""
        if t == "test_command":
            self.scan(node, sh, depth)
            return ""
        if t == "ERROR":
            if self.deeper(depth + 1):
                return None
            return self.statements(node.children, sh, depth + 1, stdin)
        # anything else (stray expressions after an error): look for substitutions that would run
        self.scan(node, sh, depth)
        return None

    def flatten_list(self, node: Node) -> list[Node]:
        """``a && b || c`` is a left-nested chain in the tree; flatten it without recursion."""
        out: list[Node] = []
        stack = [node]
        while stack:
            n = stack.pop()
            self.tick(4)  # reading children of a deeply left-nested list costs more than a visit
            if n.type == "list":
                stack.extend(reversed(n.named_children))
            else:
                out.append(n)
        return out

    def pipeline_stages(self, node: Node) -> list[Node]:
        out: list[Node] = []
        stack = [node]
        while stack:
            n = stack.pop()
            self.tick()
            if n.type == "pipeline":
                stack.extend(reversed(n.named_children))
            else:
                out.append(n)
        return out

    def pipeline(
        self,
        stages: list[Node],
        sh: _Sh,
        depth: int,
        stdin: _In,
        first: str | None = None,
        start: int | None = None,
    ) -> str | None:
        """Run pipeline stages, each in a subshell, feeding known stdout text to the next stage.

        ``first``: when the pipeline continues a command already run (``cat <<EOF | sh`` keeps the
        pipe inside the heredoc node), its stdout; the commands it emitted are already recorded.
        """
        if start is None:
            start = len(self.details)
        cur: _In = stdin if first is None else first
        out: str | None = None
        for stage in stages:
            out = self.statement(stage, sh.copy(), depth, cur)
            cur = out if out is not None else _Stream.UNKNOWN
        argvs = tuple(c.argv for c in self.details[start:])
        if len(stages) + (first is not None) >= 2 and len(argvs) >= 2:
            self.pipelines.append(argvs)
        return out

    def redirected(self, node: Node, sh: _Sh, depth: int, stdin: _In) -> str | None:
        body = node.child_by_field_name("body")
        redirects = [c for c in node.named_children if body is None or c.id != body.id]
        start = len(self.details)
        info = self.redirect_info(redirects, sh, depth, stdin)
        if body is None:
            out: str | None = ""
        elif body.type == "command":
            out = self.command(body, sh, depth, info.stdin, info.writes, info.extra, info.stdout_to)
        else:
            out = self.statement(body, sh, depth, info.stdin)
            out = self.capture(out, info.stdout_to)
        if info.pipe:
            out = self.pipeline(info.pipe, sh, depth, stdin, out if out is not None else "", start)
        for extra in info.after:
            res = self.statement(extra, sh, depth, stdin)
            out = None if out is None or res is None else out + res
        if info.loose:
            argv = self.argv_of(info.loose, sh, depth)
            if argv:
                self.run(argv, sh, depth, stdin, [], {})
        return out

    def capture(self, out: str | None, stdout_to: tuple[str, bool] | None) -> str | None:
        """Record stdout written to a file (``> f``) so ``sh f`` later can be followed."""
        if stdout_to is None:
            return out
        path, append = stdout_to
        key = _norm_path(path)
        if append:
            prev = self.files.get(key, "")
            self.files[key] = None if prev is None or out is None else (prev + out)[:_MAX_VALUE]
        else:
            self.files[key] = out
        return ""

    class _Redirs(NamedTuple):
        stdin: _In
        writes: list[str]
        extra: list[Node]
        stdout_to: tuple[str, bool] | None
        pipe: list[Node]
        after: list[Node]
        loose: list[Node]

    def redirect_info(self, redirects: Iterable[Node], sh: _Sh, depth: int, stdin: _In) -> _Walker._Redirs:
        """Collect what redirections do: stdin text, write targets, words the grammar put in them."""
        cur_in = stdin
        writes: list[str] = []
        extra: list[Node] = []
        stdout_to: tuple[str, bool] | None = None
        pipe: list[Node] = []
        after: list[Node] = []
        loose: list[Node] = []
        todo = list(redirects)
        while todo:
            r = todo.pop(0)
            self.tick()
            t = r.type
            if t == "file_redirect":
                op = next((c.type for c in r.children if not c.is_named), "")
                fd_node = r.child_by_field_name("descriptor")
                fd = self.text(fd_node) if fd_node is not None else ""
                dests = r.children_by_field_name("destination")
                if not dests:
                    continue
                target = " ".join(self.fields(dests[0], sh, depth))
                extra.extend(dests[1:])
                if op == "<":
                    known = self.files.get(_norm_path(target))
                    cur_in = (
                        "" if target == "/dev/null" else (known if known is not None else _Stream.UNKNOWN)
                    )
                elif op in (">", ">>", ">|", "&>", "&>>") or (
                    op == ">&" and not target.isdigit() and target != "-"
                ):
                    writes.append(target)
                    if fd in ("", "1") or op.startswith("&"):
                        stdout_to = (target, op in (">>", "&>>"))
            elif t == "herestring_redirect":
                words = [c for c in r.named_children if c.type != "file_descriptor"]
                cur_in = (" ".join(self.fields(words[0], sh, depth)) + "\n") if words else "\n"
            elif t == "heredoc_redirect":
                cur_in = self.heredoc_text(r, sh, depth)
                seen_error = False
                for c in r.children:
                    ct = c.type
                    if ct == "pipeline" and c.children and c.children[0].type in ("|", "|&"):
                        pipe.extend(self.pipeline_stages_inner(c))
                    elif ct in ("file_redirect", "herestring_redirect"):
                        todo.append(c)
                    elif ct in ("&&", "||"):
                        seen_error = True  # the statement after it runs separately
                    elif ct == "ERROR":
                        seen_error = True
                        loose.extend(x for x in c.named_children if x.type in _WORD_TYPES)
                    elif ct in _STATEMENT_TYPES:
                        after.append(c)
                    elif ct in _WORD_TYPES:
                        (loose if seen_error else extra).append(c)
        return self._Redirs(cur_in, writes, extra, stdout_to, pipe, after, loose)

    def pipeline_stages_inner(self, node: Node) -> list[Node]:
        """The stages of the ``| ...`` part the grammar keeps inside a heredoc redirect."""
        out: list[Node] = []
        for c in node.named_children:
            out.extend(self.pipeline_stages(c) if c.type == "pipeline" else [c])
        return out

    def heredoc_text(self, node: Node, sh: _Sh, depth: int) -> str:
        start = next((c for c in node.children if c.type == "heredoc_start"), None)
        body = next((c for c in node.children if c.type == "heredoc_body"), None)
        if body is None:
            return ""
        delim = self.text(start) if start is not None else ""
        strip = any(c.type == "<<-" for c in node.children)
        src = self.raw(body)
        if any(q in delim for q in "'\"\\"):
            text = self.decode(src.decode("utf-8", "replace"))
        else:
            pieces: list[str] = []
            pos = body.start_byte
            for c in body.named_children:
                if c.type == "heredoc_content":
                    continue
                pieces.append(
                    _unescape_heredoc(
                        src[pos - body.start_byte : c.start_byte - body.start_byte].decode("utf-8", "replace")
                    )
                )
                pieces.append(self.value(c, sh, depth))
                pos = c.end_byte
            pieces.append(_unescape_heredoc(src[pos - body.start_byte :].decode("utf-8", "replace")))
            text = self.decode("".join(pieces))
        if strip:
            text = "\n".join(line.lstrip("\t") for line in text.split("\n"))
        return text[:_MAX_VALUE]

    # ---- simple commands -----------------------------------------------------------------------

    def command(
        self,
        node: Node,
        sh: _Sh,
        depth: int,
        stdin: _In,
        writes: list[str],
        extra: list[Node],
        stdout_to: tuple[str, bool] | None,
    ) -> str | None:
        assigns: list[Node] = []
        words: list[Node] = []
        redirs: list[Node] = []
        for i, child in enumerate(node.children):
            self.tick()
            t = child.type
            fname = node.field_name_for_child(i)
            if t == "variable_assignment" and not words:
                assigns.append(child)
            elif t == "command_name":
                words.extend(child.named_children or [child])
            elif fname == "redirect" or t in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
                redirs.append(child)
            elif t == "subshell":
                self.statement(child, sh, depth, stdin)
            elif fname == "argument" or child.is_named:
                words.append(child)
        self.row = node.start_point[0]
        info = self.redirect_info(redirs, sh, depth, stdin) if redirs else None
        if info is not None:
            stdin = info.stdin
            writes = [*writes, *info.writes]
            extra = [*info.extra, *extra]
            stdout_to = info.stdout_to or stdout_to
        env: dict[str, str] = {}
        for a in assigns:
            name_node = a.child_by_field_name("name")
            value_node = a.child_by_field_name("value")
            if name_node is not None:
                env[self.text(name_node)] = (
                    self.value(value_node, sh, depth) if value_node is not None else ""
                )
        mark = len(self.sources)
        argv = self.argv_of([*words, *extra], sh, depth)
        if not argv:
            for a in assigns:
                self.assign(a, sh, depth)
            self.sources = self.sources[:mark]
            return ""
        for src in self.sources[mark:]:
            self.pipelines.append((*src, tuple(argv)))
        self.sources = self.sources[:mark]
        out = self.run(argv, sh, depth, stdin, writes, env)
        return self.capture(out, stdout_to)

    def argv_of(self, nodes: Iterable[Node], sh: _Sh, depth: int) -> list[str]:
        argv: list[str] = []
        for n in nodes:
            if n.is_named:
                argv.extend(self.fields(n, sh, depth))
            else:
                argv.append(self.text(n))  # a bare '$', '==' or '=~' kept as written
        return argv

    def run(
        self, argv: list[str], sh: _Sh, depth: int, stdin: _In, writes: list[str], env: dict[str, str]
    ) -> str | None:
        """Run one expanded argv: unwrap wrappers, follow shells/eval/functions/git aliases, emit."""
        env = dict(env)
        clear = False
        for _ in range(_MAX_UNWRAP):
            self.tick()
            if not argv:
                return ""
            head = argv[0]
            if UNKNOWN in head:
                self.emit(argv, stdin, writes)
                self.note(f"unknown expansion in a command word: {describe_unknown(head)}")
                return None
            if "/" in head and _norm_path(head) in self.files and head not in sh.functions:
                return self.run_script(argv, head, [], sh, depth, stdin, env, clear)
            name = _basename(head)
            if name.startswith("git-") and len(name) > 4:
                argv = ["git", name[4:], *argv[1:]]
                continue
            if name != head:
                argv = [name, *argv[1:]]
            found = _unwrap_once(argv, stdin if name == "xargs" and isinstance(stdin, str) else None)
            if found is None:
                break
            if name == "xargs":
                stdin = _Stream.INHERIT
            argv = found.argv
            env.update(found.env)
            clear = clear or found.clear_env
        name = argv[0]
        alias = sh.aliases.get(name)
        if alias is not None and sh.expand_aliases and (alias[1] is not self.src or alias[2] < self.row):
            # bash expands an alias only in a later line than its definition (and with expand_aliases)
            if self.deeper(depth + 1):
                return None
            rest = " ".join(_quote_for_shell(a) for a in argv[1:])
            del sh.aliases[name]  # an alias is not expanded inside its own expansion
            try:
                return self.parse(f"{alias[0]} {rest}", sh, depth + 1, stdin)
            finally:
                sh.aliases[name] = alias
        if name == "alias":
            for a in argv[1:]:
                k, eq, v = a.partition("=")
                if eq:
                    sh.aliases[k] = (v, self.src, self.row)
        if name == "read":
            self.read_builtin(argv, sh, stdin)
        if name == "set" and len(argv) > 1 and (argv[1] == "--" or argv[1][:1] not in "-+"):
            sh.positional = argv[2:] if argv[1] == "--" else argv[1:]
        if name == "shopt" and "expand_aliases" in argv[1:]:
            sh.expand_aliases = "-s" in argv[1:]
        if name in sh.functions:
            return self.call_function(argv, sh, depth, stdin)
        if name in _SHELLS:
            return self.run_shell(argv, sh, depth, stdin, writes, env, clear)
        if name == "eval":
            if self.deeper(depth + 1):
                return None
            return self.parse(" ".join(argv[1:]), sh, depth + 1, stdin)
        if name == "trap" and len(argv) >= 3 and not argv[1].startswith("-") and argv[1]:
            self.emit(argv, stdin, writes)  # the handler text runs later (on EXIT, a signal...)
            if not self.deeper(depth + 1):
                self.parse(argv[1], sh, depth + 1, _Stream.INHERIT)
            return ""
        if name in ("source", "."):
            if len(argv) < 2:
                self.emit(argv, stdin, writes)
                return None
            return self.run_script(argv, argv[1], argv[2:], sh, depth, stdin, env, clear, same_shell=True)
        if name == "find":
            self.emit(argv, stdin, writes)
            self.find_exec(argv, sh, depth)
            return None
        if name == "git":
            git_argv = self.git(argv, sh, depth, stdin, writes, env)
            if git_argv is None:
                return None
            argv = git_argv
        if name == "printf" and len(argv) >= 3 and argv[1] == "-v":
            sh.vars[argv[2]] = _printf(argv[3:]) or "" if len(argv) > 3 else ""
        self.emit(argv, stdin, writes)
        return _stdout_of(argv, stdin, self.files)

    def read_builtin(self, argv: list[str], sh: _Sh, stdin: _In) -> None:
        """``read [-r] [-a NAME] [NAME...]``: assign the first line of known stdin."""
        names: list[str] = []
        array: str | None = None
        delim = "\n"
        i = 1
        while i < len(argv):
            a = argv[i]
            if a.startswith("-") and len(a) > 1:
                letters = a[1:]
                for k, ch in enumerate(letters):
                    if ch in "adpntuNi":
                        value = letters[k + 1 :] or (argv[i + 1] if i + 1 < len(argv) else "")
                        if not letters[k + 1 :]:
                            i += 1
                        if ch == "a":
                            array = value
                        elif ch == "d":
                            delim = value[:1] or "\x00"
                        break
                i += 1
                continue
            names.append(a)
            i += 1
        targets = [*names] + ([array] if array else [])
        if not isinstance(stdin, str):
            for name in targets:
                sh.vars[name] = _marker("$" + name)
                sh.arrays.pop(name, None)
            return
        line = stdin.split(delim, 1)[0] if delim != "\x00" else stdin
        ifs = sh.vars.get("IFS", _DEFAULT_IFS)
        words = _split_ifs(line, ifs)
        if array:
            sh.arrays[array] = words
            sh.vars[array] = words[0] if words else ""
        names = names or ([] if array else ["REPLY"])
        for k, name in enumerate(names):
            if k == len(names) - 1:
                rest = words[k:]
                sh.vars[name] = " ".join(rest) if name != "REPLY" else line
            else:
                sh.vars[name] = words[k] if k < len(words) else ""
            sh.unset.discard(name)

    def run_script(
        self,
        argv: list[str],
        path: str,
        args: list[str],
        sh: _Sh,
        depth: int,
        stdin: _In,
        env: dict[str, str],
        clear: bool,
        same_shell: bool = False,
    ) -> str | None:
        """``sh file``/``source file``/``./file``: follow it when the line wrote that file."""
        self.emit(argv, stdin, [])
        key = _norm_path(path)
        text = self.files.get(key)
        if key == "/dev/stdin" and isinstance(stdin, str):
            text = stdin
        if text is None:
            if UNKNOWN in path or key in self.files or key == "/dev/stdin":
                self.note(f"runs a script that is not known: {describe_unknown(path)}")
            return None
        if self.deeper(depth + 1):
            return None
        if same_shell:
            saved = sh.positional
            if args:
                sh.positional = list(args)
            try:
                return self.parse(text, sh, depth + 1, stdin)
            finally:
                sh.positional = saved
        child = sh.child(env, list(args), clear)
        return self.parse(text, child, depth + 1, stdin)

    def run_shell(
        self,
        argv: list[str],
        sh: _Sh,
        depth: int,
        stdin: _In,
        writes: list[str],
        env: dict[str, str],
        clear: bool,
    ) -> str | None:
        """``sh -c TEXT``, ``bash file``, ``... | bash``: parse what the shell would read."""
        i = 1
        command_mode = False
        read_stdin = False
        while i < len(argv):
            a = argv[i]
            if a == "--" or a == "-":
                i += 1
                break
            if a in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
                i += 2
                continue
            if a.startswith("--"):
                i += 1
                continue
            if len(a) > 1 and a[0] in "-+" and UNKNOWN not in a:
                letters = a[1:]
                if a[0] == "-" and "c" in letters:
                    command_mode = True
                if "s" in letters:
                    read_stdin = True
                i += 2 if ("o" in letters or "O" in letters) else 1
                continue
            break
        operands = argv[i:]
        if command_mode:
            if not operands:
                self.emit(argv, stdin, writes)
                return None
            if self.deeper(depth + 1):
                return None
            child = sh.child(env, operands[2:], clear)
            return self.parse(operands[0], child, depth + 1, stdin)
        if operands and not read_stdin:
            return self.run_script(argv, operands[0], operands[1:], sh, depth, stdin, env, clear)
        self.emit(argv, stdin, writes)
        if isinstance(stdin, str):
            if self.deeper(depth + 1):
                return None
            return self.parse(stdin, sh.child(env, operands, clear), depth + 1, _Stream.INHERIT)
        if stdin is _Stream.UNKNOWN:
            self.note(f"{argv[0]} reads commands from input that is not known")
        return None

    def call_function(self, argv: list[str], sh: _Sh, depth: int, stdin: _In) -> str | None:
        body, src = sh.functions[argv[0]]
        self.uncalled.pop((body.id, id(src)), None)
        self.emit(argv, stdin, [])
        if self.deeper(depth + 1):
            return None
        self.calls_left -= 1
        if self.calls_left < 0:
            self.note("too many function calls to follow")
            return None
        saved = sh.positional
        sh.positional = list(argv[1:])
        try:
            return self.with_src(src, body, sh, depth + 1, stdin)
        finally:
            sh.positional = saved

    def define_function(self, node: Node, sh: _Sh, depth: int) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None or body is None:
            return
        name = _unescape_unquoted(self.text(name_node))
        sh.functions[name] = (body, self.src)
        self.uncalled[(body.id, id(self.src))] = (body, sh, depth, self.src)

    def find_exec(self, argv: list[str], sh: _Sh, depth: int) -> None:
        i = 1
        while i < len(argv):
            if argv[i] in ("-exec", "-execdir", "-ok", "-okdir"):
                j = i + 1
                while j < len(argv) and argv[j] not in (";", "+"):
                    j += 1
                inner = [w.replace("{}", _marker("find-path")) for w in argv[i + 1 : j]]
                if inner:
                    self.run(inner, sh.copy(), depth, _Stream.INHERIT, [], {})
                i = j
            i += 1

    def git(
        self, argv: list[str], sh: _Sh, depth: int, stdin: _In, writes: list[str], env: dict[str, str]
    ) -> list[str] | None:
        """Canonical ``git <subcommand> ...``: global options skipped, ``-c alias.X=...`` expanded."""
        aliases: dict[str, str] = dict(self.git_aliases)
        count_text = env.get("GIT_CONFIG_COUNT", sh.vars.get("GIT_CONFIG_COUNT", ""))
        if count_text.isdigit():
            for k in range(min(int(count_text), 32)):
                key = env.get(f"GIT_CONFIG_KEY_{k}", sh.vars.get(f"GIT_CONFIG_KEY_{k}", ""))
                val = env.get(f"GIT_CONFIG_VALUE_{k}", sh.vars.get(f"GIT_CONFIG_VALUE_{k}", ""))
                _record_alias(aliases, key, val)
        params = env.get("GIT_CONFIG_PARAMETERS", sh.vars.get("GIT_CONFIG_PARAMETERS", ""))
        for m in re.finditer(r"'([^']*)'(?:='([^']*)')?", params):
            key, _, inline = m.group(1).partition("=")
            _record_alias(aliases, key, m.group(2) if m.group(2) is not None else inline)
        cur = list(argv)
        for _ in range(16):
            i = 1
            while i < len(cur):
                a = cur[i]
                opt, eq, val = a.partition("=")
                if a in _GIT_GLOBAL_WITH_ARG:
                    if i + 1 >= len(cur):
                        return cur
                    val = cur[i + 1]
                    i += 2
                elif eq and opt in _GIT_GLOBAL_WITH_ARG and opt.startswith("--"):
                    i += 1
                elif a in _GIT_GLOBAL_FLAGS or (eq and opt == "--exec-path"):
                    i += 1
                    continue
                elif (
                    a.startswith("-")
                    and a not in _GIT_GLOBAL_EXIT
                    and a not in ("--version", "--help", "-h", "-v")
                ):
                    i += 1  # an option this table does not know: assume it takes no argument
                    continue
                else:
                    break
                if a == "-c":
                    key, has_eq, kv = val.partition("=")
                    _record_alias(aliases, key, kv if has_eq else "true")
                elif opt == "--config-env" or a == "--config-env":
                    key, _, envname = val.partition("=")
                    known = env.get(envname, sh.vars.get(envname, _marker("$" + envname)))
                    _record_alias(aliases, key, known)
            if i >= len(cur):
                return ["git"]
            sub = cur[i]
            rest = cur[i + 1 :]
            if UNKNOWN in sub:
                self.note(f"unknown git subcommand: {describe_unknown(sub)}")
                return ["git", sub, *rest]
            if sub == "config":
                self.git_config(rest)
            alias = aliases.get(sub.lower())
            if alias is None or sub in _GIT_BUILTINS:
                return ["git", sub, *rest]
            if alias.startswith("!"):
                if self.deeper(depth + 1):
                    return None
                script = alias[1:] + (' "$@"' if rest else "")
                saved = self.git_aliases
                self.git_aliases = aliases  # git hands its -c settings to the git commands it starts
                try:
                    self.parse(script, sh.child(env, rest), depth + 1, stdin)
                finally:
                    self.git_aliases = saved
                return None
            split = _split_cmdline(alias)
            if not split:
                return ["git", sub, *rest]
            if UNKNOWN in split[0]:
                self.note(f"unknown git alias: {describe_unknown(alias)}")
            cur = ["git", *split, *rest]
        self.note("git alias loop")
        return cur

    def git_config(self, args: list[str]) -> None:
        """``git config [--global|--local|...] alias.X VALUE`` defines an alias for later git commands."""
        words = [a for a in args if not a.startswith("-")]
        if words[:1] in (["set"], ["--add"]):
            words = words[1:]
        if any(a in ("--unset", "--unset-all", "--get", "--get-all", "--list", "-l") for a in args):
            return
        if len(words) >= 2:
            _record_alias(self.git_aliases, words[0], words[1])

    # ---- compound statements -------------------------------------------------------------------

    def for_loop(self, node: Node, sh: _Sh, depth: int, stdin: _In) -> str | None:
        if self.deeper(depth + 1):
            return None
        var_node = node.child_by_field_name("variable")
        body = node.child_by_field_name("body")
        value_nodes = node.children_by_field_name("value")
        values: list[str] = []
        if value_nodes:
            for vnode in value_nodes:
                values.extend(self.fields(vnode, sh, depth + 1))
        elif sh.positional is not None:
            values = list(sh.positional)
        else:
            values = [_marker("$@")]
        values = list(dict.fromkeys(values))
        if len(values) > _MAX_LOOP_VALUES:
            values = [*values[:_MAX_LOOP_VALUES], _marker("loop-value")]
        if len(values) > self.loop_walks_left:
            values = [_marker("$" + self.text(var_node) if var_node is not None else "loop-value")]
        self.loop_walks_left -= len(values)
        if not values or body is None or var_node is None:
            return ""
        var = self.text(var_node)
        outs: list[str] | None = []
        for item in values:
            sh.vars[var] = item
            sh.unset.discard(var)
            res = self.statement(body, sh, depth + 1, stdin)
            outs = None if outs is None or res is None else [*outs, res]
        return None if outs is None else "".join(outs)

    def case(self, node: Node, sh: _Sh, depth: int, stdin: _In) -> str | None:
        if self.deeper(depth + 1):
            return None
        for c in node.children_by_field_name("value"):
            self.fields(c, sh, depth + 1)
        for item in node.named_children:
            if item.type != "case_item":
                continue
            stmts = [
                c
                for i, c in enumerate(item.children)
                if c.is_named and item.field_name_for_child(i) != "value"
            ]
            self.statements(stmts, sh, depth + 1, stdin)
        return None

    def declaration(self, node: Node, sh: _Sh, depth: int, stdin: _In) -> str:
        keyword = node.children[0].type if node.children else "declare"
        argv = [keyword]
        export = keyword == "export"
        for child in node.named_children:
            self.tick()
            if child.type == "variable_assignment":
                name = self.assign(child, sh, depth)
                argv.append(f"{name}={sh.vars.get(name, '')}")
                if export and name:
                    sh.exported.add(name)
            elif child.type == "variable_name":
                name = self.text(child)
                argv.append(name)
                if export:
                    sh.exported.add(name)
            else:
                for w in self.fields(child, sh, depth):
                    argv.append(w)
                    if w.startswith("-") and "x" in w:
                        export = True
                    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", w, re.S)
                    if m:
                        sh.vars[m.group(1)] = m.group(2)
                        sh.unset.discard(m.group(1))
                        if export:
                            sh.exported.add(m.group(1))
        self.emit(argv, stdin, [])
        return ""

    def assign(self, node: Node, sh: _Sh, depth: int) -> str:
        """A ``NAME=value`` statement; returns the name."""
        name_node = node.child_by_field_name("name")
        value_node = node.child_by_field_name("value")
        if name_node is None:
            return ""
        append = any(c.type == "+=" for c in node.children)
        index: str | None = None
        if name_node.type == "subscript":
            inner = name_node.child_by_field_name("name")
            idx = name_node.child_by_field_name("index")
            index = " ".join(self.fields(idx, sh, depth)) if idx is not None else "0"
            name = self.text(inner) if inner is not None else ""
        else:
            name = self.text(name_node)
        sh.unset.discard(name)
        if value_node is not None and value_node.type == "array":
            items: list[str] = []
            for c in value_node.named_children:
                items.extend(self.fields(c, sh, depth))
            if append:
                items = [*sh.arrays.get(name, []), *items]
            sh.arrays[name] = items
            sh.vars[name] = items[0] if items else ""
            return name
        value = self.value(value_node, sh, depth, tilde=True) if value_node is not None else ""
        if index is not None:
            arr = sh.arrays.setdefault(name, [])
            if index.isdigit() and int(index) < 1024:
                k = int(index)
                arr.extend([""] * (k + 1 - len(arr)))
                arr[k] = value
                if k == 0:
                    sh.vars[name] = value
            return name
        if append:
            value = sh.vars.get(name, "" if name in sh.unset else _marker("$" + name)) + value
        sh.vars[name] = value if len(value) <= _MAX_VALUE else _marker("$" + name)
        if name in sh.arrays:
            sh.arrays[name][:1] = [value]
        return name

    # ---- words ---------------------------------------------------------------------------------

    def fields(self, node: Node, sh: _Sh, depth: int) -> list[str]:
        """A word node expanded to argv words (splitting, brace expansion, quote removal)."""
        if node.type in ("word", "number"):
            text = self.text(node)
            if _PLAIN_WORD.fullmatch(text) and (node.type == "word" or not node.named_children):
                self.tick()
                return [text]
        self.tick(2)  # splitting, brace expansion and quote removal cost about two node visits
        ifs = sh.vars.get("IFS", _DEFAULT_IFS)
        return [self.decode(f) for f in _to_fields(self.parts(node, sh, depth, quoted=False), ifs)]

    def value(self, node: Node | None, sh: _Sh, depth: int, *, tilde: bool = False) -> str:
        """A word node expanded without splitting (assignment values, heredoc expansions)."""
        if node is None:
            return ""
        out: list[str] = []
        for k, p in enumerate(self.parts(node, sh, depth, quoted=False)):
            if p.kind == "raw":
                text = _tilde(p.text) if tilde and k == 0 else p.text
                out.append(_unescape_unquoted(text))
            elif p.kind == "fields":
                out.append(" ".join(p.items))
            else:
                out.append(p.text)
        return self.decode("".join(out))[:_MAX_VALUE]

    def parts(self, node: Node, sh: _Sh, depth: int, *, quoted: bool) -> list[_Part]:
        self.tick()
        t = node.type
        if t in (
            "word",
            "number",
            "brace_expression",
            "regex",
            "extglob_pattern",
            "variable_name",
            "special_variable_name",
            "test_operator",
            "file_descriptor",
        ):
            text = self.text(node)
            if t == "number" and node.named_children:
                return [_Part("lit", _marker("number"))]
            return [_Part("lit", text)] if quoted else [_Part("raw", text)]
        if t == "raw_string":
            text = self.text(node)
            return [_Part("lit", text if quoted else text[1:-1])]
        if t == "ansi_c_string":
            return [_Part("lit", _ansi_c(self.text(node)[2:-1]))]
        if t == "string":
            return self.string_parts(node, sh, depth)
        if t == "translated_string":
            inner = [c for c in node.named_children if c.type == "string"]
            return self.string_parts(inner[0], sh, depth) if inner else []
        if t == "concatenation":
            if not quoted and not _UNPLAIN_CONCAT.search(self.raw(node)):
                # Only words and brace expressions (`{a,b}` * 1,000): every part is raw text and
                # `_to_fields` would join them anyway; one part instead of one per child.
                self.tick(node.child_count)
                return [_Part("raw", self.text(node))]
            out: list[_Part] = []
            kids = node.children
            for k, c in enumerate(kids):
                if c.type == "$" and not c.is_named:
                    nxt = kids[k + 1] if k + 1 < len(kids) else None
                    if nxt is not None and nxt.type == "string" and nxt.start_byte == c.end_byte:
                        continue  # $"..." translated string
                    out.append(_Part("lit", "$"))
                elif c.type == "``":
                    continue
                elif c.is_named:
                    out.extend(self.parts(c, sh, depth, quoted=quoted))
                else:
                    out.append(_Part("lit" if quoted else "raw", self.text(c)))
            return out
        if t == "simple_expansion":
            return self.simple_expansion(node, sh, quoted)
        if t == "expansion":
            if self.deeper(depth + 1):
                return [_Part("lit", _marker("${...}"))]
            return self.expansion(node, sh, depth + 1, quoted)
        if t in _SUBST_TYPES:
            value = self.substitution(node, sh, depth)
            if t == "process_substitution":
                return [_Part("lit", value)]
            return [_Part("lit" if quoted else "exp", value)]
        if t == "arithmetic_expansion":
            self.scan(node, sh, depth)
            return [_Part("lit", _arith(self.text(node), sh))]
        if t == "array":
            items: list[str] = []
            for c in node.named_children:
                items.extend(self.fields(c, sh, depth))
            return [_Part("fields", "", tuple(items))]
        if t == "command_name":
            return [p for c in node.named_children for p in self.parts(c, sh, depth, quoted=quoted)]
        # ERROR or anything unexpected inside a word: keep its text, run what it contains
        self.scan(node, sh, depth)
        return [_Part("lit" if quoted else "raw", self.text(node))]

    def string_parts(self, node: Node, sh: _Sh, depth: int) -> list[_Part]:
        """A double-quoted string: literal text between the expansions, nothing split."""
        src = self.raw(node)
        base = node.start_byte
        out: list[_Part] = []
        pos = base + 1
        end = node.end_byte - 1
        for c in node.children:
            if c.type in ("expansion", "simple_expansion", "command_substitution", "arithmetic_expansion"):
                if c.start_byte > pos:
                    lit = src[pos - base : c.start_byte - base].decode("utf-8", "replace")
                    out.append(_Part("lit", _unescape_dquoted(lit)))
                out.extend(self.parts(c, sh, depth, quoted=True))
                pos = c.end_byte
        if end > pos:
            lit = src[pos - base : end - base].decode("utf-8", "replace")
            out.append(_Part("lit", _unescape_dquoted(lit)))
        return out or [_Part("lit", "")]

    def simple_expansion(self, node: Node, sh: _Sh, quoted: bool) -> list[_Part]:
        kids = node.named_children
        name = self.text(kids[0]) if kids else self.text(node)[1:]
        if name in ("@", "*"):
            if sh.positional is None:
                return [_Part("lit", _marker("$" + name))]
            if quoted and name == "@":
                return [_Part("fields", "", tuple(sh.positional))]
            return [_Part("lit" if quoted else "exp", " ".join(sh.positional))]
        value = _lookup(name, sh)
        if value is None:
            return [_Part("lit", _marker("$" + name))]
        return [_Part("lit" if quoted else "exp", value)]

    def expansion(self, node: Node, sh: _Sh, depth: int, quoted: bool) -> list[_Part]:
        """``${...}``: the common operators evaluated; anything else is an unknown marker."""
        kids = [c for c in node.children if c.type not in ("${", "}")]
        var_idx = next(
            (
                k
                for k, c in enumerate(kids)
                if c.type in ("variable_name", "special_variable_name", "subscript")
            ),
            None,
        )
        unknown = [_Part("lit", _marker("${" + self.text(node)[2:-1] + "}"))]
        if var_idx is None:
            return unknown
        pre = [c.type for c in kids[:var_idx]]
        var = kids[var_idx]
        post = kids[var_idx + 1 :]
        items: list[str] | None = None
        if var.type == "subscript":
            name_node = var.child_by_field_name("name")
            idx_node = var.child_by_field_name("index")
            name = self.text(name_node) if name_node is not None else ""
            index = self.text(idx_node) if idx_node is not None else "0"
            arr = sh.arrays.get(name)
            if index in ("@", "*"):
                items = list(arr) if arr is not None else None
                value: str | None = " ".join(arr) if arr is not None else None
            elif arr is not None and index.isdigit():
                value = arr[int(index)] if int(index) < len(arr) else ""
            else:
                value = _lookup(name, sh) if arr is None and index == "0" else None
        else:
            name = self.text(var)
            if name in ("@", "*"):
                items = list(sh.positional) if sh.positional is not None else None
                value = " ".join(sh.positional) if sh.positional is not None else None
            else:
                value = _lookup(name, sh)
        if "!" in pre:
            return unknown
        if "#" in pre:
            if items is not None:
                return [_Part("lit", str(len(items)))]
            return [_Part("lit", str(len(value)))] if value is not None else unknown
        if not post:
            if value is None:
                return [_Part("lit", _marker("$" + name))]
            if (
                items is not None
                and quoted
                and (var.type == "subscript" and self.text(var).endswith("[@]") or name == "@")
            ):
                return [_Part("fields", "", tuple(items))]
            return [_Part("lit" if quoted else "exp", value)]
        op = post[0].type
        rest = post[1:]

        def word() -> str:
            return "".join(
                p.text if p.kind != "raw" else _unescape_unquoted(p.text)
                for c in rest
                if c.is_named
                for p in self.parts(c, sh, depth, quoted=quoted)
            )

        def result(text: str) -> list[_Part]:
            return [_Part("lit" if quoted else "exp", text)]

        if op in ("-", ":-", "=", ":="):
            use_default = value is None if op in ("-", "=") else not value
            if value is not None and name in sh.unset:
                use_default = True
            if not use_default and value is not None:
                return result(value)
            default = word()
            if op in ("=", ":=") and name and name not in ("@", "*") and not name.isdigit():
                sh.vars[name] = default
                sh.unset.discard(name)
            return result(default)
        if op in ("+", ":+"):
            if value is None and name not in sh.unset:
                return unknown
            present = value is not None and (op == "+" or bool(value))
            return result(word() if present else "")
        if op in ("?", ":?"):
            return result(value) if value else unknown
        if value is None:
            return unknown
        if op in ("#", "##", "%", "%%"):
            pieces = [
                (
                    self.text(c) if c.type != "string" else self.value(c, sh, depth),
                    c.type in ("string", "raw_string"),
                )
                for c in rest
                if c.is_named
            ]
            pieces = [(t[1:-1], True) if q and t.startswith("'") else (t, q) for t, q in pieces]
            pattern = _glob_regex(pieces)
            if pattern is None or len(value) > 512:
                return unknown
            return result(_remove_affix(value, pattern, op))
        if op in ("/", "//", "/#", "/%"):
            named = [c for c in rest if c.is_named]
            slashes = [c for c in rest if c.type == "/"]
            pat = self.value(named[0], sh, depth) if named else ""
            repl = self.value(named[1], sh, depth) if len(named) > 1 and slashes else ""
            if any(ch in pat for ch in "*?[") or not pat:
                return unknown
            if op == "//":
                return result(value.replace(pat, repl))
            if op == "/#":
                return result(repl + value[len(pat) :] if value.startswith(pat) else value)
            if op == "/%":
                return result(value[: -len(pat)] + repl if value.endswith(pat) else value)
            return result(value.replace(pat, repl, 1))
        if op in ("^^", ",,", "^", ","):
            if any(c.is_named for c in rest):
                return unknown
            if op == "^^":
                return result(value.upper())
            if op == ",,":
                return result(value.lower())
            if op == "^":
                return result(value[:1].upper() + value[1:])
            return result(value[:1].lower() + value[1:])
        if op == ":":
            nums = [self.text(c).strip() for c in rest if c.is_named]
            try:
                off = int(nums[0]) if nums else 0
                length = int(nums[1]) if len(nums) > 1 else None
            except ValueError:
                return unknown
            start = off if off >= 0 else max(0, len(value) + off)
            if length is None:
                return result(value[start:])
            stop = start + length if length >= 0 else len(value) + length
            return result(value[start:stop])
        if op == "@" and rest:
            flag = rest[0].type
            if flag == "U":
                return result(value.upper())
            if flag == "L":
                return result(value.lower())
            if flag == "u":
                return result(value[:1].upper() + value[1:])
            if flag == "Q":
                return result(_quote_for_shell(value))
        return unknown

    def substitution(self, node: Node, sh: _Sh, depth: int) -> str:
        """Run what is inside ``$(...)``/backticks/``<(...)``; its output when known, else a marker."""
        kind = "<(" if node.type == "process_substitution" else "$("
        if self.deeper(depth + 1):
            return _marker(kind + "...)")
        start = len(self.details)
        redirect = node.child_by_field_name("redirect")
        if redirect is not None:  # $(< file)
            dests = redirect.children_by_field_name("destination")
            path = " ".join(self.fields(dests[0], sh, depth + 1)) if dests else ""
            known = self.files.get(_norm_path(path))
            return known.rstrip("\n") if known is not None else _marker("$(<" + path + ")")
        stmts = [c for c in node.named_children]
        out = self.statements(stmts, sh.copy(), depth + 1, _Stream.INHERIT)
        inner = tuple(c.argv for c in self.details[start:])
        if inner:
            self.sources.append(inner)
        if out is not None and node.type == "command_substitution":
            return out.rstrip("\n")
        names = "|".join(dict.fromkeys(describe_unknown(a[0]) for a in inner if a)) or "..."
        return _marker(f"{kind}{names})")

    def scan(self, node: Node, sh: _Sh, depth: int) -> None:
        """Find and run the substitutions inside an expression (tests, arithmetic, stray nodes)."""
        stack = list(reversed(node.children))
        while stack:
            n = stack.pop()
            self.tick()
            if n.type in _SUBST_TYPES:
                self.substitution(n, sh, depth)
            elif (
                n.type in ("redirected_statement", "command")
                and n.parent is not None
                and n.parent.type == "test_command"
            ):
                self.statement(n, sh, depth, _Stream.INHERIT)
            else:
                stack.extend(reversed(n.children))

    def finish(self) -> None:
        """Walk bodies of functions defined but never called, when something unseen could call them.

        A function that is defined and never called does not run, so its body is only walked when
        the line also runs something the analysis could not see (an unknown command word, a shell
        reading unknown text), which might call it.
        """
        if not self.reasons:
            return
        for _ in range(64):
            if not self.uncalled:
                return
            key = next(iter(self.uncalled))
            body, sh, depth, src = self.uncalled.pop(key)
            if self.deeper(depth + 1):
                continue
            self.with_src(src, body, sh.copy(), depth + 1, _Stream.INHERIT)


# --------------------------------------------------------------------------------------------------
# Word helpers used by the walker
# --------------------------------------------------------------------------------------------------


def _tilde(raw: str) -> str:
    """Unquoted ``~`` at the start of a word: the home directory, which is not known."""
    if not raw.startswith("~"):
        return raw
    m = re.match(r"~([A-Za-z0-9_.+-]*)", raw)
    assert m is not None
    user = m.group(1)
    rest = raw[m.end() :]
    if rest and not rest.startswith("/"):
        return raw
    return _marker("~" + user) + rest


# Characters that can start anything but plain text inside a concatenation: expansions, quotes,
# escapes, substitutions and extended globs.
_UNPLAIN_CONCAT = re.compile(rb"[$`'\"\\<>()]")


def _to_fields(parts: list[_Part], ifs: str = _DEFAULT_IFS) -> list[str]:
    if not parts:
        return []
    if all(p.kind == "raw" for p in parts):
        raw = "".join(p.text for p in parts)
        return [_unescape_unquoted(_tilde(w)) for w in _brace_expand(raw)]
    fields: list[str] = []
    cur: list[str] = []
    have = False
    for k, p in enumerate(parts):
        if p.kind == "raw":
            cur.append(_unescape_unquoted(_tilde(p.text) if k == 0 else p.text))
            have = True
        elif p.kind == "lit":
            cur.append(p.text)
            have = True
        elif p.kind == "exp":
            if not p.text:
                continue
            pieces = _split_ifs(p.text, ifs)
            if p.text[0] in ifs and (have or cur):
                fields.append("".join(cur))
                cur, have = [], False
            for j, piece in enumerate(pieces):
                if j:
                    fields.append("".join(cur))
                    cur = []
                cur.append(piece)
                have = True
            if p.text[-1] in ifs and (have or cur):
                fields.append("".join(cur))
                cur, have = [], False
        else:  # fields ("$@")
            for j, item in enumerate(p.items):
                if j:
                    fields.append("".join(cur))
                    cur = []
                cur.append(item)
                have = True
    if have or cur:
        fields.append("".join(cur))
    return fields


def _lookup(name: str, sh: _Sh) -> str | None:
    """A variable's value: known text, "" when known to be unset, None when not known."""
    if name.isdigit():
        if name == "0" or sh.positional is None:
            return None
        k = int(name) - 1
        return sh.positional[k] if k < len(sh.positional) else ""
    if name == "#":
        return str(len(sh.positional)) if sh.positional is not None else None
    if name in sh.vars:
        return sh.vars[name]
    if name in sh.unset:
        return ""
    return None


def _remove_affix(value: str, pattern: re.Pattern[str], op: str) -> str:
    n = len(value)
    if op == "#":
        order: Iterable[int] = range(n + 1)
    elif op == "##" or op == "%":
        order = range(n, -1, -1)
    else:
        order = range(n + 1)
    for k in order:
        if op in ("#", "##"):
            if pattern.fullmatch(value[:k]):
                return value[k:]
        elif pattern.fullmatch(value[k:]):
            return value[:k]
    return value


def _arith(text: str, sh: _Sh) -> str:
    """``$((...))`` of plain integers and known variables; an unknown marker otherwise."""
    body = text[3:-2] if text.startswith("$((") else text[2:-1]

    def var(m: re.Match[str]) -> str:
        v = _lookup(m.group(1) or m.group(2), sh)
        return v if v is not None and re.fullmatch(r"-?\d+", v) else "?"

    expr = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?|\b([A-Za-z_][A-Za-z0-9_]*)\b", var, body)
    if re.fullmatch(r"[\d\s+\-*/%()]+", expr) and len(expr) < 200 and "**" not in expr:
        try:
            return str(int(eval(expr.replace("/", "//"), {"__builtins__": {}}, {})))  # noqa: S307
        except (ArithmeticError, SyntaxError, ValueError):
            pass
    return _marker("$((...))")


def _norm_path(path: str) -> str:
    return posixpath.normpath(path) if path and UNKNOWN not in path else path


def _record_alias(aliases: dict[str, str], key: str, value: str) -> None:
    section, dot, name = key.partition(".")
    if dot and section.lower() == "alias" and name:
        aliases[name.lower()] = value


def _printf(args: list[str]) -> str | None:
    """What ``printf FORMAT ARGS`` prints, for the common conversions; None when unsure."""
    if not args:
        return None
    fmt, rest = args[0], list(args[1:])
    out: list[str] = []
    for _ in range(64):
        i = 0
        consumed = False
        while i < len(fmt):
            c = fmt[i]
            if c == "\\":
                m = re.match(r"\\(0[0-7]{0,3}|[0-7]{1,3}|x[0-9a-fA-F]{1,2}|.)", fmt[i:], re.S)
                assert m is not None
                out.append(_ansi_c(m.group(0)))
                i += m.end()
                continue
            if c != "%":
                out.append(c)
                i += 1
                continue
            m = re.match(r"%([-+ #0]*)(\d*)(?:\.(\d+))?([sbdiqcuxXo%])", fmt[i:])
            if m is None:
                return None
            conv = m.group(4)
            i += m.end()
            if conv == "%":
                out.append("%")
                continue
            arg = rest.pop(0) if rest else ""
            consumed = True
            if conv == "b":
                out.append(_ansi_c(arg, echo=True))
            elif conv == "q":
                out.append(_quote_for_shell(arg))
            elif conv == "c":
                out.append(arg[:1])
            elif conv in "di":
                out.append(arg if re.fullmatch(r"-?\d+", arg) else "0")
            elif conv == "s":
                width = int(m.group(2) or 0)
                out.append(arg.ljust(width) if "-" in m.group(1) else arg.rjust(width))
            else:
                return None
        if not rest or not consumed:
            break
    return "".join(out)


def _stdout_of(argv: Sequence[str], stdin: _In, files: dict[str, str | None]) -> str | None:
    """The output of the few commands whose output is just their input (echo, printf, cat...)."""
    name = argv[0]
    args = list(argv[1:])
    if name == "echo":
        newline, escapes = True, False
        while args and re.fullmatch(r"-[neE]+", args[0]):
            flags = args.pop(0)
            newline = newline and "n" not in flags
            escapes = "e" in flags or (escapes and "E" not in flags)
        text = " ".join(args)
        if escapes:
            text = _ansi_c(text, echo=True)
        return text + ("\n" if newline else "")
    if name == "printf":
        if args and args[0] == "--":
            args.pop(0)
        return _printf(args) if args and args[0] != "-v" else ""
    if name in ("cat", "tee"):
        paths = [a for a in args if not (a.startswith("-") and a != "-")]
        if name == "tee":
            for p in paths:
                files[_norm_path(p)] = stdin if isinstance(stdin, str) else None
            return stdin if isinstance(stdin, str) else None
        if not paths:
            return stdin if isinstance(stdin, str) else None
        texts: list[str] = []
        for p in paths:
            known = stdin if p == "-" else files.get(_norm_path(p))
            if not isinstance(known, str):
                return None
            texts.append(known)
        return "".join(texts)
    if name == "base64" and any(a in ("-d", "--decode", "-D") for a in args) and isinstance(stdin, str):
        try:
            return base64.b64decode("".join(stdin.split()), validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None
    if (name == "which" or (name in ("command", "type") and args[:1] in (["-v"], ["-P"], ["-p"]))) and args:
        return "".join(f"/usr/bin/{_basename(a)}\n" for a in args if not a.startswith("-"))
    if name in ("true", ":", "cd", "export", "set", "shopt", "mkdir", "chmod", "touch", "cp", "mv", "rm"):
        return ""
    return None


# --------------------------------------------------------------------------------------------------
# normalise
# --------------------------------------------------------------------------------------------------


def normalise(
    command: str, *, max_depth: int = 20, max_len: int = 10_000, max_seconds: float = 0.5
) -> Normalised:
    """Every simple command that ``command`` would run, as argvs, and whether all of it was seen.

    Never raises.  ``max_depth`` bounds nesting (substitutions, subshells, ``sh -c``, ``eval``, blocks,
    functions); ``max_len`` bounds the text parsed at once.  The total work is bounded by fixed,
    deterministic budgets (tree-sitter's operations and lexer reads, syntax nodes walked, commands
    found); past any of them, or beyond ``max_len``/``max_depth``, the result is ``understood=False``
    with a reason ("too large to understand: ..."), keeping the commands found so far.  The same
    input always gets the same answer.  ``max_seconds`` (CPU seconds of the calling thread, so other
    work on a busy machine does not count) is only a safety net in case the budgets cost far more
    than measured; past it the result is ``understood=False`` ("ran out of time").
    """
    walker = _Walker(max_depth, max_len, max_seconds)
    try:
        text = command.replace("\x00", "") if isinstance(command, str) else ""
        if not isinstance(command, str):
            walker.note("not a string")
        elif len(text) > max_len:
            walker.note(f"longer than {max_len} characters")
        else:
            walker.parse(text, _Sh(), 0, _Stream.INHERIT)
            walker.finish()
    except _TooMuch as exc:
        walker.note(str(exc))
    except RecursionError:
        walker.note("nested too deeply for the analysis")
    except Exception as exc:  # noqa: BLE001 - a guardrail must get a decision, not an exception
        walker.note(f"internal error: {type(exc).__name__}")
    details = tuple(walker.details)
    return Normalised(
        commands=tuple(c.argv for c in details),
        pipelines=tuple(walker.pipelines),
        understood=not walker.reasons,
        reason="; ".join(walker.reasons) if walker.reasons else None,
        details=details,
    )


# --------------------------------------------------------------------------------------------------
# Semantic helpers for the starter rules
# --------------------------------------------------------------------------------------------------

# git push's long options (git 2.39-2.47): name -> "none" | "req" (argument required) | "opt" (=value)
_PUSH_LONG: Final = {
    "verbose": "none",
    "quiet": "none",
    "repo": "req",
    "all": "none",
    "branches": "none",
    "mirror": "none",
    "delete": "none",
    "tags": "none",
    "dry-run": "none",
    "porcelain": "none",
    "force": "none",
    "force-with-lease": "opt",
    "force-if-includes": "none",
    "recurse-submodules": "req",
    "thin": "none",
    "receive-pack": "req",
    "exec": "req",
    "set-upstream": "none",
    "progress": "none",
    "prune": "none",
    "no-verify": "none",
    "follow-tags": "none",
    "signed": "opt",
    "atomic": "none",
    "push-option": "req",
    "ipv4": "none",
    "ipv6": "none",
}
_PUSH_SHORT: Final = {
    "v": "verbose",
    "q": "quiet",
    "d": "delete",
    "n": "dry-run",
    "f": "force",
    "u": "set-upstream",
    "o": "push-option",
    "4": "ipv4",
    "6": "ipv6",
}


def _resolve_long(arg: str, table: dict[str, str]) -> tuple[str, bool] | None:
    """git parse-options: exact name, ``no-`` negation, or an unambiguous abbreviation."""
    if arg in table:
        return arg, True
    if arg.startswith("no-") and arg[3:] in table:
        return arg[3:], False
    for name in table:
        if name.startswith("no-") and arg == name[3:]:
            return name, False
    found: set[tuple[str, bool]] = set()
    for name in table:
        if name.startswith(arg):
            found.add((name, True))
        if arg.startswith("no-") and len(arg) > 3 and name.startswith(arg[3:]):
            found.add((name, False))
    return found.pop() if len(found) == 1 else None


class _PushArgs(NamedTuple):
    force: bool
    lease_all: bool
    lease_refs: frozenset[str]
    mirror: bool
    all_branches: bool
    delete: bool
    dry_run: bool
    tags_only: bool
    positionals: tuple[str, ...]
    unknown_options: tuple[str, ...]
    error: bool


def _parse_push(args: Sequence[str]) -> _PushArgs:
    force = lease_all = mirror = all_branches = delete = dry = tags = error = False
    lease: set[str] = set()
    positionals: list[str] = []
    unknown: list[str] = []
    i = 0
    done = False
    while i < len(args):
        a = args[i]
        i += 1
        if done or not a.startswith("-") or a == "-":
            if UNKNOWN in a and a.startswith(UNKNOWN):
                unknown.append(a)
            positionals.append(a)
            continue
        if a == "--":
            done = True
            continue
        if UNKNOWN in a:
            unknown.append(a)
            continue
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            resolved = _resolve_long(name, _PUSH_LONG)
            if resolved is None:
                error = True  # git refuses an unknown or ambiguous option: nothing is pushed
                continue
            opt, positive = resolved
            if eq and (_PUSH_LONG[opt] == "none" or not positive):
                error = True  # "option `force' takes no value": git refuses, nothing is pushed
                continue
            if _PUSH_LONG[opt] == "req" and positive and not eq:
                i += 1
        else:
            opts: list[tuple[str, bool, str]] = []
            letters = a[1:]
            for k, ch in enumerate(letters):
                long = _PUSH_SHORT.get(ch)
                if long is None:
                    error = True
                    break
                opts.append((long, True, ""))
                if long == "push-option":
                    if k == len(letters) - 1:
                        i += 1
                    break
            for opt, positive, _ in opts:
                force, lease_all, mirror, all_branches, delete, dry, tags = _apply_push_opt(
                    opt, positive, "", False, force, lease_all, lease, mirror, all_branches, delete, dry, tags
                )
            continue
        force, lease_all, mirror, all_branches, delete, dry, tags = _apply_push_opt(
            opt, positive, val, bool(eq), force, lease_all, lease, mirror, all_branches, delete, dry, tags
        )
    return _PushArgs(
        force,
        lease_all,
        frozenset(lease),
        mirror,
        all_branches,
        delete,
        dry,
        tags,
        tuple(positionals),
        tuple(unknown),
        error,
    )


def _apply_push_opt(
    opt: str,
    positive: bool,
    val: str,
    has_val: bool,
    force: bool,
    lease_all: bool,
    lease: set[str],
    mirror: bool,
    all_branches: bool,
    delete: bool,
    dry: bool,
    tags: bool,
) -> tuple[bool, bool, bool, bool, bool, bool, bool]:
    if opt == "force":
        force = positive
    elif opt == "mirror":
        mirror = positive
        if not positive:
            force = False  # --no-mirror clears the force bit that --mirror sets
    elif opt == "force-with-lease":
        if not positive:
            lease_all = False
            lease.clear()
        elif has_val and val:
            lease.add(val.split(":", 1)[0])
        else:
            lease_all = True
    elif opt in ("all", "branches"):
        all_branches = positive
    elif opt == "delete":
        delete = positive
    elif opt == "dry-run":
        dry = positive
    elif opt == "tags":
        tags = positive
    return force, lease_all, mirror, all_branches, delete, dry, tags


def _branch_of(ref: str) -> str | None:
    """The branch a push destination names (``main``, ``heads/main``, ``refs/heads/main``)."""
    if ref.startswith("refs/heads/"):
        return ref[len("refs/heads/") :]
    if ref.startswith("heads/"):
        return ref[len("heads/") :]
    if ref.startswith("refs/"):
        return None
    return ref


def _names_branch(ref: str, branch: str) -> bool:
    b = _branch_of(ref)
    if b is None:
        return False
    if "*" in b:
        return re.fullmatch(re.escape(b).replace(r"\*", ".*"), branch) is not None
    return b == branch


def force_push(
    argv: Sequence[str], *, default_branch: str = "main", current_branch: str | None = None
) -> str | None:
    """Why this ``git push`` would rewrite (or delete) the default branch on a remote, else None.

    Forcing: ``-f``/``--force`` (abbreviations included), ``--force-with-lease[=...]`` (for the refs it
    names), a ``+`` refspec, ``--mirror`` (always dangerous).  Deleting: ``--delete``/``-d`` or ``:dst``.
    The destination is the default branch when a refspec's dst is it (``src:main``, ``refs/heads/main``,
    ``heads/main``, bare ``main``, a wildcard that covers it), when ``HEAD``/``@`` or no refspec at all
    is pushed while the current branch is the default one, or with ``--all``.  Branch names are
    case-sensitive.  ``--force-if-includes`` alone does not force; ``--dry-run`` pushes nothing.

    ``current_branch=None`` means "not known": pushing HEAD or the current branch with force is then
    reported as possibly rewriting the default branch.  Unknown words (variables) are reported as
    "may" when they could supply the missing half (force or destination).
    """
    if len(argv) < 2 or argv[0] != "git" or argv[1] != "push":
        return None
    p = _parse_push(argv[2:])
    if p.error or p.dry_run:
        return None
    if p.mirror:
        return "git push --mirror rewrites every branch on the remote, the default branch included"
    d = default_branch
    refspecs = list(p.positionals[1:])
    forcing_some = p.force or p.lease_all or bool(p.lease_refs)
    unknown_force = bool(p.unknown_options) or any(
        r.startswith(UNKNOWN) for r in refspecs if r in p.unknown_options
    )

    def leased(dst: str) -> bool:
        return p.lease_all or any(_names_branch(x, d) and _names_branch(dst, d) for x in p.lease_refs)

    if not refspecs:
        if p.tags_only and not p.all_branches:
            return None
        if p.all_branches:
            if p.force or p.lease_all or any(_names_branch(x, d) for x in p.lease_refs):
                return f"git push --all with force rewrites every branch, {d} included"
            return None
        if p.delete:
            return None
        if len(p.positionals) == 1 and UNKNOWN in p.positionals[0] and forcing_some:
            return f"force-push whose refspec is not known (it may be {d})"
        if current_branch == d and (p.force or leased(d)):
            return f"force-push of the current branch, which is {d}"
        if current_branch is None and (p.force or p.lease_all):
            return f"force-push of the current branch, which may be {d} (current branch not known)"
        if current_branch == d and unknown_force:
            return f"push of {d} with options that are not known (they may force)"
        return None

    tag_next = False
    for spec in refspecs:
        if tag_next:
            tag_next = False
            continue
        if spec == "tag":
            tag_next = True
            continue
        plus = spec.startswith("+")
        body = spec[1:] if plus else spec
        src, colon, dst = body.partition(":")
        if not colon:
            if src in ("HEAD", "@"):
                if current_branch is None:
                    if p.force or p.lease_all or plus:
                        return f"force-push of HEAD, which may be {d} (current branch not known)"
                    continue
                dst = current_branch
            else:
                dst = src
        if UNKNOWN in dst:
            if (p.force or p.lease_all or plus) and not _branch_known_other(dst, d):
                return f"force-push to a branch that is not known (it may be {d}): {describe_unknown(dst)}"
            if p.delete and not _branch_known_other(dst, d):
                return f"deletes a branch that is not known (it may be {d})"
            continue
        if not _names_branch(dst, d):
            continue
        if p.delete or (colon and src == ""):
            return f"deletes the default branch {d} on the remote"
        if p.force or plus or leased(dst):
            return f"force-push to the default branch {d}"
        if unknown_force:
            return f"push to {d} with options that are not known (they may force)"
    return None


def _branch_known_other(dst: str, default: str) -> bool:
    """An unknown-bearing destination whose fixed parts already rule the default branch out."""
    pattern = "".join(".*" if part is None else re.escape(part) for part in _marker_split(dst))
    branch_patterns = [pattern]
    if dst.startswith("refs/heads/"):
        branch_patterns = [pattern[len(re.escape("refs/heads/")) :]]
    elif dst.startswith("refs/"):
        return True
    return not any(re.fullmatch(bp, default) for bp in branch_patterns)


def _marker_split(word: str) -> list[str | None]:
    """A word as fixed pieces and ``None`` for each unknown marker."""
    out: list[str | None] = []
    pos = 0
    for m in _MARKER_RE.finditer(word):
        if m.start() > pos:
            out.append(word[pos : m.start()])
        out.append(None)
        pos = m.end()
    if pos < len(word):
        out.append(word[pos:])
    return out


_WHOLE_TREE: Final = frozenset({".", "./", ":/", ":/*", "*", ":(top)", ":(top).", "./*", ":/."})


def destructive_reset(argv: Sequence[str]) -> str | None:
    """Why this git command throws away uncommitted work, else None.

    ``git reset --hard``; ``git clean`` with force and ``-d``/``-x``/``-X`` (any short-flag spelling,
    not with ``-n``); ``git checkout -- .``/``git checkout .``/``git checkout -f``; ``git restore .``
    (the worktree, not ``--staged`` alone); ``git switch --discard-changes``/``-f``; ``git stash clear``.
    """
    if len(argv) < 2 or argv[0] != "git":
        return None
    sub, args = argv[1], list(argv[2:])
    opts, paths = _split_dashdash(args)
    if sub == "reset":
        if any(a in ("--hard", "--har", "--ha", "--h") for a in opts):
            return "git reset --hard discards uncommitted changes"
        return None
    if sub == "clean":
        force = dirs = ignored = dry = False
        for a in opts:
            if a in ("--force",):
                force = True
            elif a in ("--dry-run",):
                dry = True
            elif a.startswith("-") and not a.startswith("--"):
                letters = a[1:]
                if "e" in letters:  # -e <pattern>: the rest of the word is the pattern
                    letters = letters[: letters.index("e")]
                force = force or "f" in letters
                dirs = dirs or "d" in letters
                ignored = ignored or "x" in letters or "X" in letters
                dry = dry or "n" in letters
        if force and (dirs or ignored) and not dry:
            return "git clean -f with -d/-x deletes untracked files and directories"
        return None
    if sub == "checkout":
        if any(
            a in ("-f", "--force")
            or (a.startswith("-") and not a.startswith("--") and "f" in a[1:] and "b" not in a[1:])
            for a in opts
        ):
            return "git checkout --force discards local changes"
        pathspecs = paths if paths is not None else [a for a in opts if not a.startswith("-")]
        if any(a in _WHOLE_TREE for a in pathspecs):
            return "git checkout of the whole tree discards uncommitted changes"
        return None
    if sub == "restore":
        staged = any(a in ("--staged", "-S") or re.fullmatch(r"-[a-zA-Z]*S[a-zA-Z]*", a) for a in opts)
        worktree = any(a in ("--worktree", "-W") or re.fullmatch(r"-[a-zA-Z]*W[a-zA-Z]*", a) for a in opts)
        pathspecs = (paths or []) + [a for a in opts if not a.startswith("-")]
        if (worktree or not staged) and any(a in _WHOLE_TREE for a in pathspecs):
            return "git restore of the whole worktree discards uncommitted changes"
        return None
    if sub == "switch":
        if any(a in ("--discard-changes", "-f", "--force") for a in opts):
            return "git switch --discard-changes throws away local changes"
        return None
    if sub == "stash" and args[:1] == ["clear"]:
        return "git stash clear deletes every stash"
    return None


def _split_dashdash(args: list[str]) -> tuple[list[str], list[str] | None]:
    if "--" in args:
        k = args.index("--")
        return args[:k], args[k + 1 :]
    return args, None


_SAFE_TMP: Final = ("/tmp", "/var/tmp")


def recursive_delete_outside(
    argv: Sequence[str],
    project_root: str | None,
    *,
    home: str | None = None,
    scratch_roots: Sequence[str] = _SAFE_TMP,
) -> str | None:
    """Why this ``rm -r`` reaches outside the project (or is unbounded), else None.

    Flags ``--no-preserve-root``; targets ``/``, ``/*``, ``~``, ``$HOME``, anything under the home
    directory (unless ``home`` is given and the path resolves inside the project), ``..`` escapes,
    the project root itself or everything in it (``rm -rf *``, but not ``rm -rf *.o``), absolute
    paths outside ``project_root`` (any absolute path when the root is not given) except under
    ``scratch_roots`` (``/tmp``, ``/var/tmp``), and targets that start with an unknown value
    (``rm -rf "$DIR/"`` is ``rm -rf /`` when DIR is empty).  Relative paths are taken from the
    project root (the assistant's working directory).
    """
    if not argv or argv[0] != "rm":
        return None
    recursive = no_preserve = False
    targets: list[str] = []
    done = False
    for a in argv[1:]:
        if done or not a.startswith("-") or a == "-":
            targets.append(a)
        elif a == "--":
            done = True
        elif a.startswith("--"):
            recursive = recursive or a == "--recursive"
            no_preserve = no_preserve or a == "--no-preserve-root"
        else:
            recursive = recursive or "r" in a or "R" in a
    if not recursive:
        return None
    if no_preserve:
        return "rm --no-preserve-root"
    root = posixpath.normpath(project_root) if project_root else None
    for t in targets:
        why = _delete_target(t, root, home, scratch_roots)
        if why:
            return f"rm -r {why}"
    return None


def _delete_target(t: str, root: str | None, home: str | None, scratch: Sequence[str]) -> str | None:
    shown = describe_unknown(t)
    if t.startswith(UNKNOWN):
        m = _MARKER_RE.match(t)
        desc = m.group(1) if m else ""
        rest = t[m.end() :] if m else t
        if desc in ("~", "$HOME"):
            if home is None:
                return f"deletes in the home directory: {shown}"
            t = home + rest
        else:
            return f"target starts with a value that is not known: {shown}"
    if UNKNOWN in t:
        t = t[: t.index(UNKNOWN)] or "."
        t = t if t.endswith("/") else posixpath.dirname(t) or "."
    base = t
    glob = any(ch in base for ch in "*?[")
    partial = False  # a pattern that picks some entries of a directory (*.o), not all of them (*)
    if glob:
        prefix = re.split(r"[*?\[]", base, maxsplit=1)[0]
        base = posixpath.dirname(prefix) or ("/" if prefix.startswith("/") else ".")
        partial = posixpath.basename(t.rstrip("/")) not in ("*", ".*", "*/")
        if t.startswith("/") and base == "/" and not partial:
            return f"deletes everything under /: {shown}"
    absolute = base.startswith("/")
    path = posixpath.normpath(base if absolute else posixpath.join(root or "/__project__", base))
    if path == "/" and not partial:
        return f"deletes the root directory: {shown}"
    anchor = root or "/__project__"
    if path == anchor:
        return None if partial else f"deletes the whole project: {shown}"
    if path.startswith(anchor + "/"):
        return None
    for s in scratch:
        s = s.rstrip("/")
        if path.startswith(s + "/") or (glob and path == s):
            return None
    if not absolute:
        return f"target escapes the project: {shown}"
    return f"target is outside the project: {shown}"


_SQL_DANGER: Final = re.compile(r"\bDROP\s+(DATABASE|SCHEMA|TABLE)\b|\bTRUNCATE\b", re.I)


def _sql_is_destructive(sql: str) -> bool:
    stripped = re.sub(r"'(?:[^']|'')*'", "''", sql)
    stripped = re.sub(r"--[^\n]*|/\*.*?\*/", " ", stripped, flags=re.S)
    return _SQL_DANGER.search(stripped) is not None


def _option_values(args: Sequence[str], shorts: Sequence[str], longs: Sequence[str]) -> list[str]:
    out: list[str] = []
    for i, a in enumerate(args):
        for s in shorts:
            if a == s and i + 1 < len(args):
                out.append(args[i + 1])
            elif a.startswith(s) and len(a) > len(s) and not a.startswith("--"):
                out.append(a[len(s) :])
        for lg in longs:
            if a == lg and i + 1 < len(args):
                out.append(args[i + 1])
            elif a.startswith(lg + "="):
                out.append(a[len(lg) + 1 :])
    return out


def drops_database(argv: Sequence[str], stdin: str | None = None) -> str | None:
    """Why this command drops a database or table, else None.

    SQL given to ``psql -c``, ``mysql -e``, ``sqlite3 DB SQL``, ``clickhouse-client --query``,
    ``cockroach sql -e``, ``duckdb``... or fed on stdin (pass :attr:`Command.stdin`) containing
    ``DROP DATABASE``/``DROP SCHEMA``/``DROP TABLE``/``TRUNCATE`` outside string literals; ``dropdb``;
    ``mysqladmin drop``; ``redis-cli FLUSHALL``/``FLUSHDB``; ``mongosh --eval`` calling ``dropDatabase``.
    """
    if not argv:
        return None
    name, args = argv[0], list(argv[1:])
    if any(a in ("--help", "--version", "-?") for a in args):
        return None
    sqls: list[str] = []
    if name == "psql":
        sqls = _option_values(args, ["-c"], ["--command"])
        if not sqls and stdin is not None and not _option_values(args, ["-f"], ["--file"]):
            sqls = [stdin]
    elif name in ("mysql", "mariadb"):
        sqls = _option_values(args, ["-e"], ["--execute"])
        if not sqls and stdin is not None:
            sqls = [stdin]
    elif name in ("sqlite3", "duckdb"):
        positional = [a for a in args if not a.startswith("-")]
        sqls = positional[1:] + _option_values(args, ["-cmd"], [])
        if not sqls and stdin is not None:
            sqls = [stdin]
    elif name in ("clickhouse-client", "clickhouse"):
        sqls = _option_values(args, ["-q"], ["--query"])
    elif name == "cockroach" and args[:1] == ["sql"]:
        sqls = _option_values(args, ["-e"], ["--execute"])
    elif name in ("dropdb", "dropuser"):
        return f"{name} drops a database" if name == "dropdb" else None
    elif name == "mysqladmin":
        if any(a.lower() == "drop" for a in args):
            return "mysqladmin drop drops a database"
        return None
    elif name in ("redis-cli", "valkey-cli", "keydb-cli"):
        if any(a.lower() in ("flushall", "flushdb") for a in args):
            return "redis-cli FLUSHALL/FLUSHDB empties the database"
        if stdin is not None and re.search(r"^\s*flush(all|db)\b", stdin, re.I | re.M):
            return "redis-cli FLUSHALL/FLUSHDB empties the database"
        return None
    elif name in ("mongo", "mongosh"):
        scripts = _option_values(args, [], ["--eval"]) + ([stdin] if stdin else [])
        if any(re.search(r"\.dropDatabase\s*\(|\.drop\s*\(", s) for s in scripts):
            return f"{name} drops a database or collection"
        return None
    else:
        return None
    for sql in sqls:
        if _sql_is_destructive(sql):
            return f"{name} runs destructive SQL (DROP/TRUNCATE)"
    return None


_SAFE_DEVICES: Final = re.compile(
    r"/dev/(null|zero|full|random|urandom|stdin|stdout|stderr|tty|console|ptmx|fd/\d+|pts/\d+|shm/.*)$"
)


def _is_device(path: str) -> bool:
    p = posixpath.normpath(path) if UNKNOWN not in path else path
    return p.startswith("/dev/") and not _SAFE_DEVICES.match(p)


def writes_device(argv: Sequence[str], writes: Sequence[str] = ()) -> str | None:
    """Why this command writes a block device or makes a filesystem, else None.

    ``dd of=/dev/...``, ``mkfs*``/``mke2fs``/``mkswap``/``wipefs`` on a device (or on a target that is
    not known), ``shred``/``blkdiscard``/``sgdisk``/``sfdisk``/``parted``/``fdisk`` on a device,
    ``cp``/``tee`` into a device, and an output redirection into one (pass :attr:`Command.writes`).
    Character devices such as ``/dev/null`` or ``/dev/stdout`` are harmless.
    """
    for w in writes:
        if _is_device(w):
            return f"redirects output into the device {w}"
    if not argv:
        return None
    name, args = argv[0], list(argv[1:])
    operands = [a for a in args if not a.startswith("-")]
    if name == "dd":
        for a in args:
            if a.startswith("of=") and _is_device(a[3:]):
                return f"dd writes the device {a[3:]}"
        return None
    if name.startswith("mkfs") or name in ("mke2fs", "mkswap", "mkdosfs", "mkntfs", "wipefs", "mkexfatfs"):
        if any(a in ("-V", "--version", "-h", "--help") for a in args):
            return None
        if name == "wipefs" and any(a in ("-n", "--no-act") for a in args):
            return None
        targets = [a for a in operands if a.startswith("/dev/") or UNKNOWN in a]
        if targets and any(_is_device(t) or UNKNOWN in t for t in targets):
            return f"{name} destroys the filesystem on {describe_unknown(targets[0])}"
        return None
    if name in ("shred", "blkdiscard", "sgdisk", "sfdisk", "parted", "fdisk", "gdisk", "cfdisk", "hdparm"):
        if name in ("fdisk", "sfdisk", "parted") and any(a in ("-l", "--list", "-s") for a in args):
            return None
        for t in operands:
            if _is_device(t):
                return f"{name} writes the device {t}"
        return None
    if name in ("cp", "tee", "install", "mv", "cat") and name != "cat":
        dests = operands[-1:] if name in ("cp", "install", "mv") else operands
        for t in dests:
            if _is_device(t):
                return f"{name} writes the device {t}"
    return None


def _code_from_stdin(argv: Sequence[str]) -> bool:
    """Does this interpreter read the program from stdin (``sh``, ``bash -s``, ``python -``)?"""
    name = argv[0]
    args = list(argv[1:])
    if name in _SHELLS:
        operands: list[str] = []
        skip = False
        for k, a in enumerate(args):
            if skip:
                skip = False
                continue
            if a in ("-o", "+o", "-O", "+O"):
                skip = True
                continue
            if a == "--":
                operands = args[k + 1 :]
                break
            if a.startswith("-") and len(a) > 1:
                if "c" in a[1:] and not a.startswith("--"):
                    return False
                if "s" in a[1:] and not a.startswith("--"):
                    return True
                continue
            operands = args[k:]
            break
        return not operands or operands[0] in ("-", "/dev/stdin")
    if name in ("source", "."):
        return bool(args) and args[0] in ("/dev/stdin", "-", "/proc/self/fd/0")
    operands = [a for a in args if not a.startswith("-") or a == "-"]
    if any(a in ("-c", "-e", "-m", "-E", "--eval", "-r") for a in args):
        return False
    return not operands or operands[0] in ("-", "/dev/stdin")


def _code_from_download(argv: Sequence[str]) -> bool:
    """Is this interpreter's program a ``$(curl ...)``/``<(wget ...)`` download?"""
    for a in argv[1:]:
        for m in _MARKER_RE.finditer(a):
            desc = m.group(1)
            if desc.startswith(("$(", "<(")) and any(
                d in _DOWNLOADERS for d in desc[2:].rstrip(")").split("|")
            ):
                return True
    return False


def _downloads_to_stdout(argv: Sequence[str]) -> bool:
    name = argv[0]
    if name == "wget":
        vals = _option_values(argv[1:], ["-O"], ["--output-document"])
        clusters = [a for a in argv[1:] if re.fullmatch(r"-[a-zA-Z]*O-", a)]
        return any(v == "-" for v in vals) or bool(clusters)
    if name == "curl":
        outs = _option_values(argv[1:], ["-o"], ["--output"])
        remote_name = any(a in ("--remote-name", "--remote-name-all") for a in argv[1:]) or any(
            re.fullmatch(r"-[a-zA-Z#]*O[a-zA-Z#]*", a) and not re.search(r"[oHdXAeuUrTwKbcEF].*O", a)
            for a in argv[1:]
        )
        return (not outs or "-" in outs) and not remote_name
    return name in _DOWNLOADERS


def download_into_shell(pipeline: Sequence[Sequence[str]]) -> str | None:
    """Why this pipeline runs downloaded code, else None.

    ``curl|wget ... | sh|bash|python|perl|...`` where the interpreter reads its program from the pipe,
    and ``bash <(curl ...)``/``sh -c "$(curl ...)"`` (the feeds recorded in
    :attr:`Normalised.pipelines`).  ``curl ... | python3 -m json.tool`` or ``| jq`` read data, not code.
    Wrappers such as ``sudo`` are looked through.
    """
    argvs = [unwrap(a) for a in pipeline if a]
    seen_download = False
    for argv in argvs:
        if not argv:
            continue
        name = argv[0]
        is_interp = name in _INTERPRETERS or _python_name(name)
        if is_interp and _code_from_download(argv):
            return f"{name} runs code downloaded by $(...)/<(...)"
        if seen_download and is_interp and _code_from_stdin(argv):
            return f"downloaded text is piped into {name}"
        if name in _DOWNLOADERS and _downloads_to_stdout(argv):
            seen_download = True
    return None
