"""The five tools of issue #6 share one slice of the tools/list budget: at most 700 o200k tokens."""

from __future__ import annotations

import json

from mcp import Client

from factorops.tools.kernel.tokens import count_tokens

OPS_TOOLS = {"approval_request", "approval_status", "validation_run", "metrics_report", "route_task"}
OPS_BUDGET = 700


async def test_ops_tools_fit_their_share_of_tools_list(client: Client) -> None:
    listed = [t for t in (await client.list_tools()).tools if t.name in OPS_TOOLS]
    assert {t.name for t in listed} == OPS_TOOLS
    per_tool = {
        t.name: count_tokens(
            json.dumps(t.model_dump(mode="json", by_alias=True, exclude_none=True)), "o200k_base"
        )
        for t in listed
    }
    print(f"ops tools in tools/list: {sum(per_tool.values())} o200k tokens {per_tool}")
    assert sum(per_tool.values()) <= OPS_BUDGET, per_tool
