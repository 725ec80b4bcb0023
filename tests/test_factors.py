"""The twelve-factor guide: every factor by number and roman numeral, each naming a real tool."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from factorops.resources import factors

ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]


async def read(c: Client, uri: str) -> str:
    return str((await c.read_resource(uri)).contents[0].text)  # type: ignore[union-attr]


@pytest.mark.parametrize("n", range(1, 13))
async def test_each_factor_by_number_and_roman(client: Client, n: int) -> None:
    by_number = await read(client, f"agentops://factors/{n}")
    by_roman = await read(client, f"agentops://factors/{ROMAN[n - 1]}")
    lower = await read(client, f"agentops://factors/{ROMAN[n - 1].lower()}")
    assert by_number == by_roman == lower
    f = factors.FACTORS[n - 1]
    assert f.number == n and f.roman == ROMAN[n - 1]
    assert by_number.startswith(f"# Factor {ROMAN[n - 1]} ({n}): {f.name}") and "Served by:" in by_number


async def test_index_lists_all_twelve_with_links(client: Client) -> None:
    text = await read(client, "agentops://factors")
    for n, roman in enumerate(ROMAN, start=1):
        assert f"**{roman}. " in text and f"(`agentops://factors/{n}`)" in text


async def test_tools_named_by_the_guide_exist(client: Client) -> None:
    """Factors IX and XI are served by this capability's tools: those names must be real."""
    listed = {t.name for t in (await client.list_tools()).tools}
    for name in ("patterns_mine", "patterns_search", "pattern_record"):
        assert name in listed and name in factors.lookup("IX").tools  # type: ignore[union-attr]
    assert "guardrail_check" in listed and "guardrail_check" in factors.lookup("11").tools  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["0", "13", "XIII", "iiii", "", "one", "-1", "1.5"])
async def test_unknown_factors_are_not_found(client: Client, bad: str) -> None:
    assert factors.lookup(bad) is None
    if bad:
        with pytest.raises(MCPError, match="1-12 or I-XII"):
            await client.read_resource(f"agentops://factors/{bad}")


def test_guide_is_short_and_in_our_words() -> None:
    """Each entry is a few sentences of our own (the original texts are CC BY-SA: not copied)."""
    for f in factors.FACTORS:
        assert 20 <= len(f.practice) <= 300 and len(f.idea) <= 80
        assert f.tools.strip()
    assert len({f.idea for f in factors.FACTORS}) == 12
