"""Wire context loading (Factors II, III) to MCP: `context_load` (with progress) and `count_tokens`."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer

from factorops.tools.context import load as context
from factorops.tools.context.budget import DEFAULT_MAX_REPLY_CHARS
from factorops.tools.metrics import report as metrics
from factorops.tools.watch import live

from .registration import add_async_tool, add_sync_tool, thread_progress
from .runtime import Runtime


async def _load(runtime: Runtime, inp: context.ContextLoadInput, ctx: Context) -> live.ContextLoadLive:
    store = await runtime.store(ctx)
    now = runtime.now()
    progress = thread_progress(ctx)

    def work() -> Any:
        return live.context_load(store, inp, now, progress)

    result: live.ContextLoadLive = await anyio.to_thread.run_sync(work)
    used = result.context.used_tokens + result.tokens
    metrics.record_context_use(store, now, inp.session_id, used, result.context.window_tokens)
    return result


def register(app: MCPServer, runtime: Runtime) -> None:
    add_async_tool(
        app,
        runtime,
        "context_load",
        "Context for a task within a token budget (whole reply; default 40% rule): paths, best files, repo map.",
        context.ContextLoadInput,
        live.ContextLoadLive,
        _load,
        read_only=True,
    )
    # Replies stay under the default cap; clients that save longer tool results to a file read this.
    tool = app._tool_manager.get_tool("context_load")
    if tool is not None:
        tool.meta = {"anthropic/maxResultSizeChars": DEFAULT_MAX_REPLY_CHARS}
    add_sync_tool(
        app,
        runtime,
        "count_tokens",
        "Count tokens of text or project files.",
        context.CountTokensInput,
        context.CountTokensResult,
        context.count,
        read_only=True,
    )
