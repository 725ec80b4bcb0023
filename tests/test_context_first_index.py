"""The first index of a big repository does less work (issue #19): token counts estimated from the
size (the exact count comes with the next index of a file, and `count_tokens` counts exactly),
Python's definitions and references from a lexical scan instead of tree-sitter, and each directory
resolved once per chunk. Through the index API, the MCP client and a real child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.store.datadir import DataDir
from factorops.store.store import Store
from factorops.tools.context import build, outline
from factorops.tools.kernel.tokens import count_tokens
from factorops.tools.registry import components

from .conftest import Clock, commit_files, git, new_repo

FILES = 120


def _module(i: int) -> str:
    # Uneven text: long words, digits and punctuation, so a size estimate is not the exact count.
    body = "".join(f"    value_{j} = compute_{i}({j}, 'x' * {j * i}) + 0x{j:04x}\n" for j in range(i % 7 + 1))
    return f'"""Module {i}: {"lorem ipsum " * (i % 5)}"""\n\n\ndef helper_{i}(x):\n{body}    return x\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    new_repo(root, {f"pkg/mod_{i:04d}.py": _module(i) for i in range(FILES)}, "initial import")
    return root


def _tokens(store: Store) -> dict[str, tuple[int, int]]:
    rows = store.db.execute("SELECT path, size, tokens FROM repo_files").fetchall()
    return {p: (size, tokens) for p, size, tokens in rows}


async def test_a_bulk_first_index_estimates_token_counts_and_counts_exactly_later(
    repo: Path, clock: Clock, bulk_from_ten: None
) -> None:
    store = Store.open(DataDir.for_project(repo), components())
    try:
        build.ensure_index(store)
        got = _tokens(store)
        assert len(got) == FILES
        # Not counted (so not cached: the cache holds exact counts only), but estimated from the size.
        assert store.db.execute("SELECT COUNT(*) FROM token_cache").fetchone()[0] == 0
        exact = {p: count_tokens((repo / p).read_text()) for p in got}
        assert any(exact[p] != tokens for p, (_s, tokens) in got.items())
        assert all(tokens == -(-size // 4) for size, tokens in got.values())  # 4 bytes a token
        # A file indexed again (changed) is counted exactly.
        changed = _module(3) + "\n\ndef added_later(y):\n    return y * 7\n"
        commit_files(repo, {"pkg/mod_0003.py": changed}, "edit one module")
        build.ensure_index(store)
        assert _tokens(store)["pkg/mod_0003.py"][1] == count_tokens(changed)
        assert _tokens(store)["pkg/mod_0004.py"][1] == got["pkg/mod_0004.py"][1]  # the others stay
    finally:
        store.close()
    # Through the MCP client: loads answer from the index, and count_tokens counts exactly.
    runtime = Runtime(project=repo, clock=clock, use_roots=False, starters=False)
    try:
        async with Client(build_app(runtime)) as c:
            r = await c.call_tool("context_load", {"task": "helper_7 compute_7", "budget_tokens": 2000})
            assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
            got_paths = {i["path"] for i in (r.structured_content or {})["items"]}
            assert "pkg/mod_0007.py" in got_paths | set((r.structured_content or {}).get("map", []))
            r = await c.call_tool("count_tokens", {"paths": ["pkg/mod_0005.py", "pkg/mod_0006.py"]})
            assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
            counts = {x["path"]: x["tokens"] for x in (r.structured_content or {})["counts"]}
            assert counts == {p: exact[p] for p in ("pkg/mod_0005.py", "pkg/mod_0006.py")}
    finally:
        runtime.close()


def test_indexing_python_loads_no_tree_sitter(repo: Path) -> None:
    """A real child process indexes the Python files: the lexical scan loads no Python grammar (the
    tree-sitter parse was most of a first index's work). (tree_sitter itself is loaded by the
    guardrails' shell parser when the store opens.)"""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from factorops.store.datadir import DataDir\n"
        "from factorops.store.store import Store\n"
        "from factorops.tools.context import build\n"
        "from factorops.tools.registry import components\n"
        "store = Store.open(DataDir.for_project(Path(sys.argv[1])), components())\n"
        "build.ensure_index(store)\n"
        "n = store.db.execute('SELECT COUNT(*) FROM repo_symbols').fetchone()[0]\n"
        "store.close()\n"
        "print(n, 'tree_sitter_python' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(repo)], capture_output=True, text=True, check=True, timeout=300
    ).stdout.split()
    assert out == [str(FILES), "False"]


TRICKY = '''\
"""A module docstring with code in it:

def not_a_definition():
    pass
"""
import functools  # a comment naming commented_out_name


@functools.cache
def decorated(first_arg, *, option=lambda: 1):
    return first_arg


class Outer(
    BaseOne,
    BaseTwo,
):
    """class Inner_in_docstring: no."""

    def method_one(self, text="def in_a_string(): pass"):
        def nested_helper():
            return call_inside()
        return nested_helper

    class Inner:
        def inner_method(self):
            return textwrap.dedent(
                """
payload at column zero
"""
            )

    async def method_two(
        self,
        value: int,
    ) -> dict[str, int]:
        return {"key": value}

    def after_multiline_header(self):
        rows = [
            first_item,
        ]
        return rows


if CONDITION:
    def conditional_function():
        return other_module.attribute_name
'''


def test_python_definitions_and_references_match_the_syntax_tree() -> None:
    lexical = outline.symbols("tricky.py", TRICKY)
    tree = outline._tree_symbols("py", TRICKY)
    assert tree is not None
    assert lexical == tree
    defs = {name: kind for name, kind, _line in lexical[0]}
    assert defs["method_one"] == "method" and defs["nested_helper"] == "function"
    assert defs["after_multiline_header"] == "method" and defs["conditional_function"] == "function"
    assert "not_a_definition" not in defs and "in_a_string" not in defs
    assert "commented_out_name" not in lexical[1] and "attribute_name" in lexical[1]


def test_the_chunk_reader_keeps_links_out_of_the_index(
    repo: Path, tmp_path: Path, bulk_from_ten: None
) -> None:
    """Each directory is resolved once per chunk and files are opened without following links; a
    link (to a secret file, or a directory outside the project) still goes through the full checks."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "elsewhere.py").write_text("OUTSIDE_SECRET_WORD = 1\n")
    (repo / ".env").write_text("API_KEY=abcdef0123456789abcdef\n")
    (repo / "notes_link.txt").symlink_to(repo / ".env")
    (repo / "linked_dir").symlink_to(outside, target_is_directory=True)
    (repo / "pkg" / "escape.py").symlink_to(outside / "elsewhere.py")
    commit_files(repo, {"pkg/plain.py": "PLAIN_WORD = 2\n"}, "add a plain file")
    git(repo, "add", "-f", "notes_link.txt", "linked_dir", "pkg/escape.py")
    git(repo, "commit", "-qm", "links")
    store = Store.open(DataDir.for_project(repo), components())
    try:
        build.ensure_index(store)
        paths = {p for (p,) in store.db.execute("SELECT path FROM repo_files").fetchall()}
        assert "pkg/plain.py" in paths and len(paths) == FILES + 1
        assert not {"notes_link.txt", "linked_dir", "pkg/escape.py", ".env"} & paths
        hits = store.db.execute("SELECT COUNT(*) FROM repo_fts WHERE repo_fts MATCH 'OUTSIDE_SECRET_WORD'")
        assert hits.fetchone()[0] == 0
    finally:
        store.close()
