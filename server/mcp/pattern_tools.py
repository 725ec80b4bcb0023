"""Wire patterns and guardrails (Factors IX, XI, XII) to MCP: tools, resources, change notices."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from factorops.resources import factors as factor_views
from factorops.resources import patterns as views
from factorops.tools.guardrails import check as guardrails
from factorops.tools.patterns import mining as pattern_mining
from factorops.tools.patterns import records as patterns

from .registration import actor_for, add_async_tool, add_sync_tool, read_view, thread_progress
from .runtime import Runtime


async def _notify(ctx: Context) -> None:
    """Tell the client the patterns resources changed: to `subscriptions/listen` streams (2026-07-28)
    and as `notifications/resources/list_changed` on handshake-era sessions."""
    # A client that cannot take notifications still gets its result.
    with contextlib.suppress(Exception):
        await ctx.notify_resources_changed()
    with contextlib.suppress(Exception):
        await ctx.session.send_resource_list_changed()


async def _record(
    runtime: Runtime, inp: patterns.PatternRecordInput, ctx: Context
) -> patterns.PatternRecordResult:
    store = await runtime.store(ctx)
    now = runtime.now()
    actor = actor_for(ctx)  # an assistant: it proposes, a person decides
    result: patterns.PatternRecordResult = await anyio.to_thread.run_sync(
        lambda: patterns.record(store, inp, now, actor)
    )
    await _notify(ctx)
    return result


async def _mine(runtime: Runtime, inp: pattern_mining.PatternsMineInput, ctx: Context) -> Any:
    store = await runtime.store(ctx)
    now = runtime.now()
    progress = thread_progress(ctx)

    result = await anyio.to_thread.run_sync(lambda: pattern_mining.mine(store, inp, now, progress))
    if result.candidates:
        await _notify(ctx)
    return result


def register(app: MCPServer, runtime: Runtime) -> None:
    add_async_tool(
        app,
        runtime,
        "pattern_record",
        "Record a candidate pattern, anti-pattern or guardrail, or update one by id (an active one "
        "gets a revision). A person promotes.",
        patterns.PatternRecordInput,
        patterns.PatternRecordResult,
        _record,
    )
    add_sync_tool(
        app,
        runtime,
        "patterns_search",
        "Search patterns and guardrails learned in this project.",
        patterns.PatternsSearchInput,
        patterns.PatternsSearchResult,
        patterns.search,
        read_only=True,
    )
    add_async_tool(
        app,
        runtime,
        "patterns_mine",
        "Mine git history and sessions for candidate patterns (incremental).",
        pattern_mining.PatternsMineInput,
        pattern_mining.PatternsMineResult,
        _mine,
    )
    add_sync_tool(
        app,
        runtime,
        "guardrail_check",
        "Check an intended action or command against active guardrails.",
        guardrails.GuardrailCheckInput,
        guardrails.GuardrailCheckResult,
        guardrails.check,
        read_only=True,
    )

    @app.resource(
        "agentops://patterns", name="patterns", mime_type="text/markdown", description="Patterns index"
    )
    async def patterns_index() -> str:
        return await read_view(runtime, None, views.patterns_index, runtime.now())

    @app.resource(
        "agentops://patterns/{pattern_id}",
        name="pattern",
        mime_type="text/markdown",
        description="One pattern as Markdown",
    )
    async def pattern_detail(pattern_id: str, ctx: Context) -> str:
        return await read_view(runtime, ctx, views.pattern_detail, pattern_id)

    @app.resource(
        "agentops://guardrails", name="guardrails", mime_type="text/markdown", description="Active guardrails"
    )
    async def guardrails_list() -> str:
        return await read_view(runtime, None, views.guardrails_view)

    @app.resource(
        "agentops://factors",
        name="factors",
        mime_type="text/markdown",
        description="The twelve AgentOps factors and the tools that serve them",
    )
    def factors_all() -> str:
        return factor_views.render_all()

    @app.resource(
        "agentops://factors/{n}",
        name="factor",
        mime_type="text/markdown",
        description="One factor (1-12 or I-XII)",
    )
    def factor_one(n: str) -> str:
        f = factor_views.lookup(n)
        if f is None:
            raise ResourceNotFoundError(f"no factor {n!r}; use 1-12 or I-XII")
        return factor_views.render_one(f)
