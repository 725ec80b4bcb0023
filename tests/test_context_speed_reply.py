"""Counting a reply by its parts, and remembering what was counted (issue #19, warm loads).

A warm `context_load` spent most of its time in BPE: every map line and file block was priced
again on every load, and the whole reply was counted several times while it was trimmed. Now
texts are counted once and remembered, and a reply is counted as the sum of parts cut where
o200k's pre-tokenizer always starts a new piece. Both must stay exact: the count is what the
client's tokenizer says of the whole text, on any text (hostile ones included), and a file edited
between loads is read, screened for secrets and counted again.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from factorops.server.mcp.app import build_app
from factorops.server.mcp.runtime import Runtime
from factorops.tools.context.budget import TextMemo, reply_tokens
from factorops.tools.kernel.tokens import count_tokens

from .conftest import commit_files, git

# Characters and runs around the cuts: newlines before spaces, slashes, blank lines and more
# newlines; `n` before `=`; escapes; non-ASCII letters, marks and spaces; digits; contractions.
_ALPHABET = [
    "\n",
    " ",
    "  ",
    "/",
    "\r",
    "\t",
    "n",
    "N",
    "=",
    "===",
    "\\",
    "\\n",
    "\\\\n===",
    "\\n===",
    "n=",
    "a",
    "Z",
    "9",
    "12345",
    "é",
    "e\u0301",
    "\u2028",
    "\u00a0",
    "\u3000",
    "\x0b",
    "\x1c",
    "😀",
    "}",
    "]",
    ",",
    '"',
    "'s",
    "'LL",
    '\n  "',
    '\n  "/',
    "\n  \n",
    '\n  "\n',
    "\n    ",
    " \n",
    "\n/",
]


def test_a_reply_counted_by_parts_is_counted_exactly_on_any_text() -> None:
    rng = random.Random(20261126)
    for _ in range(6000):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 60)))
        assert reply_tokens(text) == count_tokens(text), repr(text)


def test_a_memo_is_exact_and_bounded() -> None:
    memo = TextMemo(max_chars=800)
    texts = [f"def f{i}(x):\n    return x * {i}\n" * (1 + i % 3) for i in range(200)]
    for t in texts + texts[::-1]:
        assert memo.count(t) == count_tokens(t)
    assert memo._chars <= 800  # old texts are dropped, not kept forever


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    files = {
        f"shop/part_{i}.py": "".join(
            f"def levy_{i}_{j}(amount):\n    return amount * 0.{j}\n\n" for j in range(30)
        )
        for i in range(12)
    }
    files["shop/config.py"] = "TIMEOUT = 3\n"
    commit_files(root, files, "initial import")
    return root


async def _load(c: Client, **kw: Any) -> dict[str, Any]:
    r = await c.call_tool("context_load", kw)
    assert not r.is_error, r.content[0].text  # type: ignore[union-attr]
    return r.structured_content or {}


async def test_the_tokens_a_reply_reports_are_those_of_the_text_the_client_receives(runtime: Runtime) -> None:
    async with Client(build_app(runtime)) as c:
        for task, budget in [
            ("change levy_3_4", 900),
            ("levy amounts", 2500),
            ("levy_7_1 and levy_2_9", 6000),
        ]:
            for _ in range(2):  # the second time from what was remembered
                r = await c.call_tool("context_load", {"task": task, "budget_tokens": budget})
                text = r.content[0].text  # type: ignore[union-attr]
                got = r.structured_content or {}
                assert got["tokens"] == count_tokens(text), task
                assert got["tokens"] <= budget


async def test_a_file_edited_between_loads_is_screened_again(runtime: Runtime, project: Path) -> None:
    async with Client(build_app(runtime)) as c:
        first = await _load(c, task="config timeout", paths=["shop/config.py"])
        assert "TIMEOUT = 3" in first["content"]
        (project / "shop/config.py").write_text(
            'TIMEOUT = 3\nAPI_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789AB"\n'
        )
        second = await _load(c, task="config timeout", paths=["shop/config.py"])
        assert "ghp_abcdef" not in second["content"] and "[REDACTED:github-token]" in second["content"]
        (project / "shop/config.py").write_text(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n"
        )
        third = await _load(c, task="config timeout", paths=["shop/config.py"])
        assert third["excluded"] == ["shop/config.py"]  # a credential now: skipped whole
        assert "b3BlbnNzaC1rZXk" not in third["content"]
