"""Cursor hook events (`.cursor/hooks.json`, version 1) to domain calls and back.

Input: `conversation_id`, `generation_id`, `hook_event_name`, `workspace_roots` plus each event's
fields (`beforeShellExecution`: `command`, `cwd`; `beforeMCPExecution`: `tool_name`, `tool_input`,
`url` or `command`; `afterFileEdit`: `file_path`, `edits`; `stop`: `status`). Output for the
`before...` events: `{"permission": "deny", "userMessage", "agentMessage"}` to refuse; never
`"allow"` (that would skip Cursor's own approval); `{}` when there is nothing to say.
"""

from __future__ import annotations

import json
from typing import Any

from .common import command_verdict, dispatch
from .common import text as _str
from .run import BadEvent, Context


def _session(ctx: Context) -> str:
    return _str(ctx.event.get("conversation_id")) or "unknown"


def _answer(verdict: Any) -> dict[str, Any]:
    if verdict.effect == "deny":
        return {
            "permission": "deny",
            "userMessage": f"factorops refused this: {verdict.reason}",
            "agentMessage": verdict.reason,
        }
    if verdict.context:
        return {"agentMessage": verdict.context}
    return {}


def before_shell_execution(ctx: Context) -> dict[str, Any]:
    command = _str(ctx.event.get("command"))
    if command is None:
        raise BadEvent("beforeShellExecution without a command")
    # Cursor's events say nothing of a command's outcome, so no after-run answer can call a debug
    # spiral as Claude Code's PostToolUseFailure does: the spiral is called here, before the next
    # try, from the failures recorded in the project (validation_run, other clients).
    return _answer(command_verdict(ctx, command, spiral_note=True))


def before_mcp_execution(ctx: Context) -> dict[str, Any]:
    from factorops.tools.watch.before import before

    tool = _str(ctx.event.get("tool_name")) or "?"
    args = ctx.event.get("tool_input")
    text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False, sort_keys=True)
    return _answer(before(ctx.store(), ctx.now, action=f"mcp {tool} {text}"[:2000]))


def after_file_edit(ctx: Context) -> dict[str, Any]:
    from factorops.tools.watch import activity

    store = ctx.store()
    if store is not None and _str(ctx.event.get("file_path")):
        activity.record_edit(store, "cursor", _session(ctx), ctx.now)
    return {}


def stop(ctx: Context) -> dict[str, Any]:
    from factorops.tools.watch import activity

    store = ctx.store()
    if store is None or ctx.event.get("status") not in (None, "completed"):
        return {}
    msg = activity.stop_check(store, _session(ctx), None, ctx.now)
    return {"followup_message": msg} if msg else {}


HANDLERS = {
    "beforeShellExecution": before_shell_execution,
    "beforeMCPExecution": before_mcp_execution,
    "afterFileEdit": after_file_edit,
    "stop": stop,
}
EVENTS = tuple(HANDLERS)


def handle(ctx: Context) -> dict[str, Any] | None:
    return dispatch(HANDLERS, ctx)
