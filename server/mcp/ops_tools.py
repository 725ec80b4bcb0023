"""Wire approvals (VIII), validation (IV), metrics (V) and routing (VII) to MCP.

No tool here can decide an approval: deciding happens through the person's own client
(elicitation), the CLI or the dashboard, and `approvals.decide` enforces who may decide what (an
elicitation answer over HTTP does not decide high or critical risk). This face only translates.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from factorops.tools.kernel.actor import Actor

from .registration import (
    AsyncOp,
    SyncOp,
    add_async_tool,
    add_sync_tool,
    client_name,
    input_model,
    thread_progress,
    tool_hints,
    transport_of,
)
from .runtime import CallRecord, Runtime

if TYPE_CHECKING:
    from factorops.store.store import Store
    from factorops.tools.oversight import models as oversight
    from factorops.tools.oversight.approvals import Approval
    from factorops.tools.oversight.routing import RouteTaskResult

log = logging.getLogger("factorops.server")


class ApprovalAnswer(BaseModel):
    """What the person answers in their client."""

    approve: bool = Field(description="Approve this action?")
    comment: str = Field(default="", max_length=2000, description="Optional comment")


async def _request(runtime: Runtime, inp: oversight.ApprovalRequestInput, ctx: Context) -> Approval:
    from factorops.tools.oversight import approvals

    store = await runtime.store(ctx)
    now = runtime.now()
    created = await anyio.to_thread.run_sync(lambda: approvals.create(store, inp, now))
    caps = ctx.client_capabilities
    if caps is None or caps.elicitation is None:
        return created
    extra = [
        f"\n\n{label}: {text[:1500]}"
        for label, text in (
            ("Details", inp.details),
            ("Alternatives considered", inp.alternatives),
            ("Rollback", inp.rollback),
        )
        if text
    ]
    message = (
        f"[{inp.risk.upper()} risk] The assistant asks to: {inp.action}\n\nWhy: {inp.rationale}"
        + "".join(extra)
    )
    answer = None
    # No answer before the request expires: stop asking; it is expired for every other way too.
    limit = (created.expires_at - now).total_seconds() if created.expires_at else 0
    with anyio.move_on_after(max(0.0, limit)):
        try:
            answer = await ctx.elicit(message, ApprovalAnswer)
        except Exception as exc:  # the client could not ask: leave it pending for the CLI/dashboard
            log.info("elicitation failed (%s); approval %s stays pending", exc, created.id)
    if answer is None or answer.action == "cancel":
        return await anyio.to_thread.run_sync(lambda: approvals.status(store, created.id, runtime.now()))
    person = Actor.elicitation(client_name(ctx), transport_of(ctx))
    if answer.action == "accept":
        action: Literal["accept", "decline"] = "accept"
        approve, comment = answer.data.approve, answer.data.comment
    else:
        action, approve, comment = "decline", False, ""
    return await anyio.to_thread.run_sync(
        lambda: approvals.elicited(store, created.id, action, approve, person, comment, runtime.now())
    )


async def _status(runtime: Runtime, inp: oversight.ApprovalStatusInput, ctx: Context) -> Approval:
    from factorops.tools.oversight import approvals

    store = await runtime.store(ctx)
    deadline = anyio.current_time() + inp.wait_s
    waited = 0.0
    while True:
        st = await anyio.to_thread.run_sync(lambda: approvals.status(store, inp.id, runtime.now()))
        if st.status != "pending" or anyio.current_time() >= deadline:
            return st
        await ctx.report_progress(waited, inp.wait_s, f"waiting for a person to decide {inp.id}")
        await anyio.sleep(0.25)
        waited += 0.25


async def _validate(runtime: Runtime, inp: oversight.ValidationRunInput, ctx: Context) -> Any:
    from factorops.tools.watch import live as watch

    store = await runtime.store(ctx)
    now = runtime.now()
    progress = thread_progress(ctx)

    return await anyio.to_thread.run_sync(lambda: watch.validate(store, inp, now, progress))


def _metrics_hook(runtime: Runtime, rec: CallRecord) -> None:
    store = runtime.opened
    if store is not None:
        from factorops.tools.metrics import events  # light: not the report and its queries

        events.record_call(
            store,
            rec.started,
            rec.tool,
            rec.latency_ms,
            rec.outcome,
            rec.args_chars,
            rec.result_chars,
            rec.session_id,
        )


def _route(store: Store, inp: oversight.RouteTaskInput, now: datetime) -> RouteTaskResult:
    from factorops.tools.oversight import routing
    from factorops.tools.sessions import queries as session_queries

    return routing.route(store, inp, now, session_queries.outcomes)


def _close_metrics(store: Store) -> None:
    from factorops.tools.metrics import events

    events.close(store)


def _approval_request() -> tuple[type[BaseModel], AsyncOp]:
    from factorops.tools.oversight import approvals

    return approvals.Approval, _request


def _approval_status() -> tuple[type[BaseModel], AsyncOp]:
    from factorops.tools.oversight import approvals

    return approvals.Approval, _status


def _validation_run() -> tuple[type[BaseModel], AsyncOp]:
    from factorops.tools.watch import live

    return live.ValidationLive, _validate


def _metrics_report() -> tuple[type[BaseModel], SyncOp]:
    from factorops.tools.metrics import report

    return report.MetricsReport, report.report


def _route_task() -> tuple[type[BaseModel], SyncOp]:
    from factorops.tools.oversight import routing
    from factorops.tools.sessions import queries  # noqa: F401 (imported here, off the event loop)

    return routing.RouteTaskResult, _route


def register(app: MCPServer, runtime: Runtime) -> None:
    if os.environ.get("FACTOROPS_METRICS", "1") != "0":
        runtime.call_hooks.append(_metrics_hook)
    runtime.close_hooks.append(_close_metrics)
    add_async_tool(
        app,
        runtime,
        "approval_request",
        "Ask a person to approve a risky step; returns the decision, or a pending id to poll.",
        input_model("factorops.tools.oversight.models", "ApprovalRequestInput"),
        _approval_request,
        hints=tool_hints(),
    )
    add_async_tool(
        app,
        runtime,
        "approval_status",
        "Decision on an approval; wait_s waits for it.",
        input_model("factorops.tools.oversight.models", "ApprovalStatusInput"),
        _approval_status,
        read_only=True,
    )
    add_async_tool(
        app,
        runtime,
        "validation_run",
        "Run the project's configured validation gates (tests, lint, types).",
        input_model("factorops.tools.oversight.models", "ValidationRunInput"),
        _validation_run,
        # runs the commands the project configured as gates: they may reach beyond this machine
        hints=tool_hints(open_world=True),
    )
    add_sync_tool(
        app,
        runtime,
        "metrics_report",
        "Outcomes, routing, tool signals, alerts.",
        input_model("factorops.tools.metrics.models", "MetricsReportInput"),
        _metrics_report,
        read_only=True,
    )
    add_sync_tool(
        app,
        runtime,
        "route_task",
        "Route a task: workflow, tier, steps, gates, confidence.",
        input_model("factorops.tools.oversight.models", "RouteTaskInput"),
        _route_task,
        # not read-only: it records the decision, so that outcomes can later be joined to routes
        hints=tool_hints(),
    )

    @app.resource(
        "agentops://metrics",
        name="metrics",
        mime_type="text/markdown",
        description="Metrics of the last week",
    )
    async def metrics_resource() -> str:
        from factorops.resources import metrics as metrics_views

        store: Store = await runtime.store(None)
        return await anyio.to_thread.run_sync(metrics_views.week, store, runtime.now())
