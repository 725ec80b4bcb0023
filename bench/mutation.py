"""A small mutation-testing driver: break one line at a time, run the tests that guard it.

`python3 bench/mutation.py [module ...]` (or `make mutation`). For each module in `TARGETS` it
applies one AST mutation at a time **in place** (comparison flipped, `and`/`or` swapped, `not`
dropped, `True`/`False` swapped, a returned value replaced by None, a `raise`/call/assignment
statement deleted), runs the module's guarding test files with a timeout, and counts the mutant
killed when pytest fails (or times out) and survived when it passes. The original file is written
back after every mutant (try/finally, also on Ctrl-C and SIGTERM), and the driver refuses to start
on a file with uncommitted changes, so `git diff` of a target is always empty afterwards.

Test runs use their own empty bytecode cache (PYTHONPYCACHEPREFIX), so no mutated module is ever
cached as `.pyc` next to the source where another process could load it after the restore.

Why not mutmut: mutmut 3 copies the project into `mutants/` and imports it from there; this project
maps folders onto `factorops.*` with setuptools `package-dir` and is installed editable, so the
copy's mutated modules are never the ones imported. See docs/testing.md.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    path: str  # the module, relative to the repository root
    tests: tuple[str, ...]  # the test files that guard it
    scope: tuple[str, ...] = ()  # top-level functions/classes to mutate; empty = the whole module


TARGETS: dict[str, Target] = {
    "paths": Target("tools/kernel/paths.py", ("tests/test_mutation_kills.py", "tests/test_containment.py")),
    "auth_token": Target(
        "server/auth_token.py",
        (
            "tests/test_mutation_kills_auth.py",
            "tests/test_mutation_kills.py",
            "tests/test_tokens.py",
            "tests/test_security.py",
        ),
        scope=("matches", "_Watched", "Credentials", "StaticCredentials", "FileTokenVerifier"),
    ),
    "actor": Target(
        "tools/kernel/actor.py",
        (
            "tests/test_mutation_kills.py",
            "tests/test_mutation_kills_actor.py",
            "tests/test_authority_patterns.py",
        ),
        scope=("Actor", "require_person"),
    ),
    # The rule-table parts of redaction (secret file names, secret content, the shape rules and the
    # entry point), not the vendored detect-secrets plugin list.
    "redact": Target(
        "tools/kernel/redact.py",
        ("tests/test_mutation_kills_redact.py", "tests/test_redact.py", "tests/test_secret_channels.py"),
        scope=("is_secret_path", "is_secret_content", "_shapes", "redact"),
    ),
    "match": Target(
        "tools/guardrails/match.py",
        ("tests/test_mutation_kills_match.py", "tests/test_guardrail_match.py", "tests/test_guardrails.py"),
        scope=("decide", "GuardrailMatcher", "required_literals"),
    ),
    "stdio": Target(
        "server/mcp/stdio.py",
        (
            "tests/test_mutation_kills_stdio.py",
            "tests/test_mutation_kills.py",
            "tests/test_protocol_edges.py",
            "tests/test_e2e_stdio.py",
        ),
    ),
    # The ledger's write path (commit, its lock, crash recovery and undo), not packing, status or
    # reads. (The index catch-up is `Store.catch_up` in store/store.py now, not part of this target.)
    "ledger": Target(
        "store/ledger.py",
        (
            "tests/test_mutation_kills_ledger.py",
            "tests/test_ledger_flat.py",
            "tests/test_crash.py",
            "tests/test_concurrency.py",
        ),
        scope=(
            "_thread_lock",
            "Ledger.locked",
            "Ledger.commit",
            "Ledger._write_commit",
            "Ledger.recover",
            "Ledger._put_back",
            "Ledger.undo_last",
            "Ledger._restore",
        ),
    ),
    # The ledger's writer of the split git index's own part (what a person's git reads).
    "git_index": Target("store/git_index.py", ("tests/test_git_index.py",)),
}

_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Mutant:
    index: int  # position of the node in ast.walk order of the module
    kind: str
    line: int
    text: str  # the module source with this one mutation applied


def _in_scope(tree: ast.Module, scope: tuple[str, ...]) -> set[int]:
    """ids of every node inside the scoped definitions (all nodes when scope is empty).

    A scope entry names a top-level function or class (`redact`), or one method of a top-level
    class (`Ledger.commit`).
    """
    tops = [n for n in tree.body if not scope or getattr(n, "name", None) in scope]
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        tops += [m for m in cls.body if f"{cls.name}.{getattr(m, 'name', '')}" in scope]
    return {id(node) for top in tops for node in ast.walk(top)}


def _candidates(node: ast.AST) -> Iterator[str]:
    """The mutation kinds that apply to `node`."""
    if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP:
        yield "flip comparison"
    elif isinstance(node, ast.BoolOp):
        yield "swap and/or"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "drop not"
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "swap True/False"
    elif (
        isinstance(node, ast.Return)
        and node.value is not None
        and not (isinstance(node.value, ast.Constant) and node.value.value is None)
    ):
        yield "return None"
    if isinstance(node, ast.Raise | ast.Assign | ast.AugAssign | ast.Expr) and not (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)  # a docstring
    ):
        yield "delete statement"


def _apply(node: ast.AST, kind: str) -> ast.AST:
    if kind == "flip comparison":
        assert isinstance(node, ast.Compare)
        node.ops[0] = _FLIP[type(node.ops[0])]()
        return node
    if kind == "swap and/or":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return node
    if kind == "drop not":
        assert isinstance(node, ast.UnaryOp)
        return node.operand
    if kind == "swap True/False":
        assert isinstance(node, ast.Constant)
        return ast.Constant(value=not node.value)
    if kind == "return None":
        assert isinstance(node, ast.Return)
        return ast.Return(value=ast.Constant(value=None))
    if kind == "delete statement":
        return ast.Pass()
    raise ValueError(kind)


class _Replace(ast.NodeTransformer):
    def __init__(self, target: int, kind: str) -> None:
        self.target, self.kind, self.seen = target, kind, -1

    def visit(self, node: ast.AST) -> ast.AST:
        self.seen += 1
        if self.seen == self.target:
            return _apply(node, self.kind)
        return super().visit(node)


def mutants(source: str, scope: tuple[str, ...]) -> list[Mutant]:
    tree = ast.parse(source)
    allowed = _in_scope(tree, scope)
    # number nodes in the order _Replace.visit sees them (a pre-order walk)
    order: list[ast.AST] = []

    def walk(n: ast.AST) -> None:
        order.append(n)
        for child in ast.iter_child_nodes(n):
            walk(child)

    walk(tree)
    out: list[Mutant] = []
    for i, node in enumerate(order):
        if id(node) not in allowed:
            continue
        for kind in _candidates(node):
            mutated = _Replace(i, kind).visit(copy.deepcopy(tree))
            ast.fix_missing_locations(mutated)
            out.append(Mutant(i, kind, getattr(node, "lineno", 0), ast.unparse(mutated) + "\n"))
    return out


def _dirty(path: Path) -> bool:
    r = subprocess.run(
        ["git", "status", "--porcelain", "--", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return bool(r.stdout.strip())


def _run_tests(tests: tuple[str, ...], timeout: float, cache: str) -> str:
    env = dict(os.environ, PYTHONPYCACHEPREFIX=cache, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]
    try:
        r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "killed (timeout)"
    if r.returncode == 0:
        return "survived"
    if r.returncode in (1,):
        return "killed"
    return f"killed (pytest exit {r.returncode})"  # collection/import error: the mutant broke loading


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_target(
    name: str,
    target: Target,
    timeout: float,
    only: set[int] | None,
    lines: tuple[int, int] | None = None,
    max_mutants: int | None = None,
) -> tuple[int, int]:
    path = ROOT / target.path
    if _dirty(path):
        raise SystemExit(
            f"mutation: {target.path} has uncommitted changes; commit them first (nothing mutated)"
        )
    original = path.read_bytes()
    found = mutants(original.decode(), target.scope)
    chosen = [
        n
        for n, m in enumerate(found)
        if (only is None or n in only) and (lines is None or lines[0] <= m.line <= lines[1])
    ][:max_mutants]
    print(
        f"== {name}: {target.path}, {len(found)} mutants ({len(chosen)} run), tests {' '.join(target.tests)}",
        flush=True,
    )
    killed = survived = 0
    with tempfile.TemporaryDirectory(prefix="factorops-mut-") as cache:
        baseline = _run_tests(target.tests, timeout * 3, cache)
        if baseline != "survived":
            raise SystemExit(
                f"mutation: the tests fail on the unmutated {target.path} ({baseline}); fix them first"
            )
        try:
            for n in chosen:
                m = found[n]
                started = time.monotonic()
                path.write_text(m.text)
                try:
                    verdict = _run_tests(target.tests, timeout, cache)
                finally:
                    path.write_bytes(original)
                if verdict == "survived":
                    survived += 1
                else:
                    killed += 1
                print(
                    f"  #{n:<3} line {m.line:<4} {m.kind:<17} {verdict} ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
        finally:
            path.write_bytes(original)
    total = killed + survived
    rate = 100.0 * killed / total if total else 100.0
    print(f"== {name}: {killed}/{total} killed ({rate:.0f}%), {survived} survived", flush=True)
    return killed, survived


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("modules", nargs="*", help=f"which targets, of {', '.join(TARGETS)} (default: all)")
    ap.add_argument(
        "--timeout", type=float, default=300, help="seconds per test run (a hang counts as killed)"
    )
    ap.add_argument("--only", type=int, action="append", help="run only mutant number N (repeatable)")
    ap.add_argument("--tests", nargs="+", help="run these test files instead of the configured ones")
    ap.add_argument("--lines", help="only mutants on source lines A-B (e.g. 40-75)")
    ap.add_argument("--max-mutants", type=int, help="run at most N mutants (the first N selected)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args(argv)
    names = args.modules or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        ap.error(f"unknown module {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    if args.list:
        for name in names:
            t = TARGETS[name]
            for n, m in enumerate(mutants((ROOT / t.path).read_text(), t.scope)):
                print(f"{name} #{n} line {m.line} {m.kind}")
        return 0
    lines: tuple[int, int] | None = None
    if args.lines:
        a, _, b = args.lines.partition("-")
        if not (a.isdigit() and (b or a).isdigit()):
            ap.error(f"--lines: expected A-B (line numbers), got {args.lines!r}")
        lines = (int(a), int(b or a))
    signal.signal(signal.SIGTERM, _sigterm)
    if args.tests:
        for name in names:
            TARGETS[name] = Target(TARGETS[name].path, tuple(args.tests), TARGETS[name].scope)
    results = {
        name: run_target(
            name,
            TARGETS[name],
            args.timeout,
            set(args.only) if args.only else None,
            lines,
            args.max_mutants,
        )
        for name in names
    }
    print("\nmodule        killed  survived  rate")
    for name, (k, s) in results.items():
        print(f"{name:<13} {k:>6}  {s:>8}  {100.0 * k / (k + s) if k + s else 100.0:.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
