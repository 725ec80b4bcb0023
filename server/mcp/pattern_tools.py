"""Wire patterns and guardrails (Factors IX, XI, XII) to MCP: tools, resources, change notices.

Registration names the input models (imported when a tool is first listed or called); each tool's implementation is imported on its first call
(start-up cost, see registration.py), each view on its first read.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from pydantic import BaseModel

from .registration import (
    AsyncOp,
    SyncOp,
    actor_for,
    add_async_tool,
    add_sync_tool,
    input_model,
    read_view,
    thread_progress,
)
from .runtime import Runtime

if TYPE_CHECKING:
    from factorops.tools.patterns import models as patterns
    from factorops.tools.patterns.records import PatternRecordResult


async def _notify(ctx: Context) -> None:
    """Tell the client the patterns resources changed: to `subscriptions/listen` streams (2026-07-28)
    and as `notifications/resources/list_changed` on handshake-era sessions."""
    # A client that cannot take notifications still gets its result.
    with contextlib.suppress(Exception):
        await ctx.notify_resources_changed()
    with contextlib.suppress(Exception):
        await ctx.session.send_resource_list_changed()


async def _record(runtime: Runtime, inp: patterns.PatternRecordInput, ctx: Context) -> PatternRecordResult:
    from factorops.tools.patterns import records

    store = await runtime.store(ctx)
    now = runtime.now()
    actor = actor_for(ctx)  # an assistant: it proposes, a person decides
    result: PatternRecordResult = await anyio.to_thread.run_sync(
        lambda: records.record(store, inp, now, actor)
    )
    await _notify(ctx)
    return result


async def _mine(runtime: Runtime, inp: patterns.PatternsMineInput, ctx: Context) -> Any:
    from factorops.tools.patterns import mining as pattern_mining

    store = await runtime.store(ctx)
    now = runtime.now()
    progress = thread_progress(ctx)

    result = await anyio.to_thread.run_sync(lambda: pattern_mining.mine(store, inp, now, progress))
    if result.candidates:
        await _notify(ctx)
    return result


def _pattern_record() -> tuple[type[BaseModel], AsyncOp]:
    from factorops.tools.patterns import records

    return records.PatternRecordResult, _record


def _patterns_search() -> tuple[type[BaseModel], SyncOp]:
    from factorops.tools.patterns import records, row_postings

    row_postings.enable()  # a serving process: its searches build and use the row postings

    return records.PatternsSearchResult, records.search


def _patterns_mine() -> tuple[type[BaseModel], AsyncOp]:
    from factorops.tools.patterns import mining

    return mining.PatternsMineResult, _mine


def _guardrail_check() -> tuple[type[BaseModel], SyncOp]:
    from factorops.tools.guardrails import check

    return check.GuardrailCheckResult, check.check


def register(app: MCPServer, runtime: Runtime) -> None:
    add_async_tool(
        app,
        runtime,
        "pattern_record",
        "Record a candidate pattern, anti-pattern or guardrail, or update one by id (an active one "
        "gets a revision). A person promotes.",
        input_model("factorops.tools.patterns.models", "PatternRecordInput"),
        _pattern_record,
    )
    add_sync_tool(
        app,
        runtime,
        "patterns_search",
        "Search patterns and guardrails learned in this project.",
        input_model("factorops.tools.patterns.models", "PatternsSearchInput"),
        _patterns_search,
        read_only=True,
    )
    add_async_tool(
        app,
        runtime,
        "patterns_mine",
        "Mine git history and sessions for candidate patterns (incremental).",
        input_model("factorops.tools.patterns.models", "PatternsMineInput"),
        _patterns_mine,
    )
    add_sync_tool(
        app,
        runtime,
        "guardrail_check",
        "Check an intended action or command against active guardrails.",
        input_model("factorops.tools.guardrails.models", "GuardrailCheckInput"),
        _guardrail_check,
        read_only=True,
    )

    @app.resource(
        "agentops://patterns", name="patterns", mime_type="text/markdown", description="Patterns index"
    )
    async def patterns_index() -> str:
        from factorops.resources import patterns as views

        return await read_view(runtime, None, views.patterns_index, runtime.now())

    @app.resource(
        "agentops://patterns/{pattern_id}",
        name="pattern",
        mime_type="text/markdown",
        description="One pattern as Markdown",
    )
    async def pattern_detail(pattern_id: str, ctx: Context) -> str:
        from factorops.resources import patterns as views

        return await read_view(runtime, ctx, views.pattern_detail, pattern_id)

    @app.resource(
        "agentops://guardrails", name="guardrails", mime_type="text/markdown", description="Active guardrails"
    )
    async def guardrails_list() -> str:
        from factorops.resources import patterns as views

        return await read_view(runtime, None, views.guardrails_view)

    @app.resource(
        "agentops://factors",
        name="factors",
        mime_type="text/markdown",
        description="The twelve AgentOps factors and the tools that serve them",
    )
    def factors_all() -> str:
        from factorops.resources import factors as factor_views

        return factor_views.render_all()

    @app.resource(
        "agentops://factors/{n}",
        name="factor",
        mime_type="text/markdown",
        description="One factor (1-12 or I-XII)",
    )
    def factor_one(n: str) -> str:
        from factorops.resources import factors as factor_views

        f = factor_views.lookup(n)
        if f is None:
            raise ResourceNotFoundError(f"no factor {n!r}; use 1-12 or I-XII")
        return factor_views.render_one(f)
