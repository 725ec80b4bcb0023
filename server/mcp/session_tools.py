"""Wire sessions (Factor VI) to MCP: four tools, two resources and the `resume` prompt.

Registration names the input models (`input_model`: imported when a tool is first listed or called);
each loader below imports its tool's implementation on the first call (start-up cost, see
registration.py).
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from .registration import SyncOp, add_sync_tool, input_model, read_view, tool_hints
from .runtime import Runtime


def _start() -> tuple[type[BaseModel], SyncOp]:
    from factorops.tools.watch import live  # the replies carry the context band

    return live.SessionStartLive, live.session_start


def _checkpoint() -> tuple[type[BaseModel], SyncOp]:
    from factorops.tools.watch import live

    return live.CheckpointLive, live.checkpoint


def _resume() -> tuple[type[BaseModel], SyncOp]:
    from factorops.tools.watch import live

    return live.ResumeLive, live.resume


def _end() -> tuple[type[BaseModel], SyncOp]:
    from factorops.tools.sessions import lifecycle

    return lifecycle.SessionEndResult, lifecycle.end


def register(app: MCPServer, runtime: Runtime) -> None:
    add_sync_tool(
        app,
        runtime,
        "session_start",
        "Start a tracked session for a goal; returns its id and a briefing from the last unfinished session.",
        input_model("factorops.tools.sessions.models", "SessionStartInput"),
        _start,
        hints=tool_hints(),
    )
    add_sync_tool(
        app,
        runtime,
        "checkpoint_save",
        "Save progress (summary, next steps, decisions, questions, files) "
        "to the git ledger so any later session can resume.",
        input_model("factorops.tools.sessions.models", "CheckpointInput"),
        _checkpoint,
        hints=tool_hints(),
    )
    add_sync_tool(
        app,
        runtime,
        "session_resume",
        "What a fresh assistant needs to continue a session (default: latest unfinished).",
        input_model("factorops.tools.sessions.models", "SessionResumeInput"),
        _resume,
        read_only=True,
    )
    add_sync_tool(
        app,
        runtime,
        "session_end",
        "Close a session with its outcome and learnings.",
        input_model("factorops.tools.sessions.models", "SessionEndInput"),
        _end,
        hints=tool_hints(idempotent=True),  # ending twice is refused: no further effect
    )

    @app.resource(
        "agentops://sessions",
        name="sessions",
        mime_type="text/markdown",
        description="Recent sessions, newest first",
    )
    async def sessions_list() -> str:
        from factorops.resources import sessions as views

        return await read_view(runtime, None, views.sessions_index)

    @app.resource(
        "agentops://sessions/{session_id}",
        name="session",
        mime_type="text/markdown",
        description="One session: resume state and checkpoint timeline",
    )
    async def session_detail(session_id: str, ctx: Context) -> str:
        from factorops.resources import sessions as views

        return await read_view(runtime, ctx, views.session_detail, session_id, runtime.now())

    @app.prompt(name="resume", description="Continue the latest unfinished session (or the one given)")
    async def resume_prompt(ctx: Context, session_id: str | None = None) -> str:
        from factorops.resources import sessions as views
        from factorops.tools.sessions import lifecycle
        from factorops.tools.sessions.models import SessionResumeInput

        store = await runtime.store(ctx)
        # A DomainError (no unfinished session, unknown id) reaches the client with its message:
        # FactoropsServer.get_prompt finds it behind the SDK's "Error rendering prompt".
        state = await anyio.to_thread.run_sync(
            lifecycle.resume, store, SessionResumeInput(session_id=session_id), runtime.now()
        )
        return views.resume_prompt_text(state)
