"""The whole tools/list answer is context every assistant pays for: keep it within budget."""

from __future__ import annotations

import json

from mcp import Client

from factorops.tools.kernel.tokens import count_tokens

TOOLS_LIST_BUDGET = 2500  # o200k_base tokens, all tools together


async def test_tools_list_fits_the_token_budget(client: Client) -> None:
    listed = await client.list_tools()
    payload = json.dumps(
        {"tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools]}
    )
    tokens = count_tokens(payload, "o200k_base")
    print(f"tools/list: {len(listed.tools)} tools, {tokens} o200k tokens")
    assert {"session_start", "checkpoint_save", "session_resume", "session_end"} <= {
        t.name for t in listed.tools
    }
    assert tokens <= TOOLS_LIST_BUDGET


async def test_every_tool_has_a_short_description_and_no_schema_titles(client: Client) -> None:
    listed = await client.list_tools()
    for tool in listed.tools:
        assert tool.description and len(tool.description) <= 200, tool.name
        assert not _schema_titles(tool.input_schema), tool.name


def _schema_titles(schema: object, in_properties: bool = False) -> list[str]:
    """`title` keywords of a JSON schema (a property *named* title is not one)."""
    found: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "title" and not in_properties and isinstance(value, str):
                found.append(value)
            found += _schema_titles(value, in_properties=(key == "properties" and not in_properties))
    elif isinstance(schema, list):
        for item in schema:
            found += _schema_titles(item)
    return found
