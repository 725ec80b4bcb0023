"""Wire context loading (Factors II, III) to MCP: `context_load` (with progress) and `count_tokens`.

Registration names the input models (imported when a tool is first listed or called); the context pipeline (index, ranking, tree-sitter) is
imported on a tool's first call (start-up cost, see registration.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from factorops.tools.context.budget import DEFAULT_MAX_REPLY_CHARS  # light: no pipeline

from .registration import AsyncOp, SyncOp, add_async_tool, add_sync_tool, input_model, thread_progress
from .runtime import Runtime

if TYPE_CHECKING:
    from factorops.tools.context import models as context
    from factorops.tools.watch.live_context import ContextLoadLive


async def _load(runtime: Runtime, inp: context.ContextLoadInput, ctx: Context) -> ContextLoadLive:
    from factorops.tools.metrics import events as metrics
    from factorops.tools.watch import live_context as live

    store = await runtime.store(ctx)
    now = runtime.now()
    progress = thread_progress(ctx)

    def work() -> Any:
        return live.context_load(store, inp, now, progress)

    result: ContextLoadLive = await anyio.to_thread.run_sync(work)
    used = result.context.used_tokens + result.tokens
    metrics.record_context_use(store, now, inp.session_id, used, result.context.window_tokens)
    return result


def _context_load() -> tuple[type[BaseModel], AsyncOp]:
    from factorops.tools.metrics import events  # noqa: F401 (imported here, off the event loop)
    from factorops.tools.watch import live_context as live

    return live.ContextLoadLive, _load


def _count_tokens() -> tuple[type[BaseModel], SyncOp]:
    from factorops.tools.context import load

    return load.CountTokensResult, load.count


def register(app: MCPServer, runtime: Runtime) -> None:
    add_async_tool(
        app,
        runtime,
        "context_load",
        "Context for a task within a token budget (whole reply; default 40% rule): paths, best files, repo map.",
        input_model("factorops.tools.context.models", "ContextLoadInput"),
        _context_load,
        read_only=True,
        # Replies stay under the default cap; clients that save longer tool results to a file read this.
        meta={"anthropic/maxResultSizeChars": DEFAULT_MAX_REPLY_CHARS},
    )
    add_sync_tool(
        app,
        runtime,
        "count_tokens",
        "Count tokens of text or project files.",
        input_model("factorops.tools.context.models", "CountTokensInput"),
        _count_tokens,
        read_only=True,
    )
