"""Pattern files as people edit them: exact round trips, tolerated edits, and clear errors that name
the file and line while every other pattern keeps working."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from factorops.server.mcp.runtime import Runtime
from factorops.store.ledger_layout import pattern_path
from factorops.store.store import Store
from factorops.tools.patterns import markdown as pattern_markdown
from factorops.tools.patterns import records as patterns
from factorops.tools.patterns.markdown import PatternFileError
from factorops.tools.patterns.model import Evidence, GuardrailRule, Pattern

from .conftest import Clock, git

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NAME = "patterns/pat-x.md"


def sample(**kw: Any) -> Pattern:
    base: dict[str, Any] = {
        "id": "pat-x",
        "title": "No: force pushes — ever",
        "kind": "guardrail",
        "status": "active",
        "problem": "Force pushes rewrite shared history.\n\nTwo paragraphs, `code`, and: colons.",
        "solution": "Open a pull request.",
        "tags": ["git", "yes", "no", "1.10"],
        "scope": ["src/**/*.py"],
        "confidence": 0.7,
        "rule": GuardrailRule(effect="block", command_regex=r"git\s+push\s+--force"),
        "evidence": Evidence(sessions=["ses-1"], commits=["abc1234"], excerpt='quote "this"'),
        "created": NOW,
        "updated": NOW,
    }
    return Pattern(**{**base, **kw})


def test_round_trip_is_exact() -> None:
    p = sample()
    text = pattern_markdown.render(p)
    back = pattern_markdown.parse(text, NAME)
    assert back == p and pattern_markdown.render(back) == text
    # YAML-looking values stay what they are: no "no" -> false, no "1.10" -> 1.1.
    assert back.tags == ["git", "yes", "no", "1.10"]
    empty = sample(problem="", solution="")
    assert pattern_markdown.parse(pattern_markdown.render(empty), NAME) == empty


def test_tolerated_hand_edits() -> None:
    text = pattern_markdown.render(sample())
    edited = (
        "\ufeff"  # a BOM some editors add
        + text.replace('title: "No: force pushes — ever"', "title: Never force push")  # bare string
        .replace("---\nid:", "---\n# a comment a person left\n\nid:", 1)
        .replace("Open a pull request.", "Open a pull request.\n\nAnd ask a reviewer.")
    ).replace("\n", "\r\n")  # Windows line endings
    p = pattern_markdown.parse(edited, NAME)
    assert p.title == "Never force push"
    assert p.solution == "Open a pull request.\r\n\r\nAnd ask a reviewer.".replace("\r\n", "\n")


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda t: t.replace("---\n", "", 1), "line 1: front matter must start"),
        (lambda t: t.replace("\n---\n\n#", "\n\n#", 1), "front matter is not closed"),
        (lambda t: t.replace("confidence: 0.7", "confidence 0.7"), "line 6: expected 'key: value'"),
        (lambda t: t.replace('"1.10"]', '"1.10"'), "line 7: value of 'tags' is not valid"),
        (lambda t: t.replace('kind: "guardrail"', 'kind: "rule"'), "kind: Input should be"),
        (lambda t: t.replace("confidence: 0.7", "confidence: 7"), "confidence: Input should be less"),
        (lambda t: t.replace('status: "active"', 'stauts: "active"'), "line 5: unknown key 'stauts'"),
        (lambda t: t.replace("confidence: 0.7", "confidence: 0.7\nconfidence: 0.9"), "given twice"),
        (lambda t: t.replace('id: "pat-x"\n', ""), "id: Field required"),
    ],
)
def test_malformed_files_name_file_and_line(edit: Any, needle: str) -> None:
    text = pattern_markdown.render(sample())
    broken = edit(text)
    assert broken != text
    with pytest.raises(PatternFileError) as info:
        pattern_markdown.parse(broken, NAME)
    assert str(info.value).startswith(NAME) and needle in str(info.value), str(info.value)


def _break(store: Store, pid: str, old: str, new: str) -> None:
    path = store.ledger.path / pattern_path(pid)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    git(store.ledger.path, "commit", "-qam", "hand edit")


async def test_a_broken_file_leaves_the_rest_working(client: Client, runtime: Runtime, clock: Clock) -> None:
    ids = []
    for title in ("Retry with backoff", "Pin dependency versions"):
        r = await client.call_tool("pattern_record", {"title": title, "solution": "see title"})
        ids.append(r.structured_content["id"])  # type: ignore[index]
    store = await runtime.store(None)
    _break(store, ids[0], "confidence: 0.5", "confidence: [oops")
    result = store.rebuild()
    assert len(result.errors) == 1 and f"{pattern_path(ids[0])}: line" in result.errors[0]
    # The broken one: clear errors naming the file, through the tool, the resource and the CLI views.
    r = await client.call_tool("pattern_record", {"id": ids[0], "title": "x"})
    assert r.is_error and pattern_path(ids[0]) in r.content[0].text  # type: ignore[union-attr]
    with pytest.raises(MCPError, match="broken"):
        await client.read_resource(f"agentops://patterns/{ids[0]}")
    # The rest keeps working.
    r = await client.call_tool("patterns_search", {"query": "dependency versions"})
    assert [h["id"] for h in r.structured_content["results"]] == [ids[1]]  # type: ignore[index]
    index = (await client.read_resource("agentops://patterns")).contents[0].text  # type: ignore[union-attr]
    assert ids[1] in index and ids[0] not in index
    # Fixed by hand: a rebuild brings it back.
    _break(store, ids[0], "confidence: [oops", "confidence: 0.5")
    assert store.rebuild().errors == ()
    assert patterns.get(store, ids[0]).title == "Retry with backoff"


def test_a_file_whose_id_does_not_match_its_name_is_refused(store: Store, clock: Clock) -> None:
    pid = patterns.record(store, patterns.PatternRecordInput(title="Copied by hand"), clock()).id
    src = store.ledger.path / pattern_path(pid)
    (store.ledger.path / "patterns/pat-copy.md").write_text(src.read_text())
    git(store.ledger.path, "add", "-A")
    git(store.ledger.path, "commit", "-qm", "copy a pattern by hand")
    result = store.rebuild()
    assert len(result.errors) == 1 and "patterns/pat-copy.md: id" in result.errors[0]
    assert [r[0] for r in store.db.execute("SELECT id FROM patterns")] == [pid]
