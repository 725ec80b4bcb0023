"""Claude Code hook events (`sdk.d.ts` of @anthropic-ai/claude-agent-sdk) to domain calls and back.

Input: `BaseHookInput` (`session_id`, `transcript_path`, `cwd`, `hook_event_name`, ...) plus each
event's fields. Output: `SyncHookJSONOutput` JSON on stdout, with a `hookSpecificOutput` of the
event's type; nothing at all when there is nothing to say. Never `permissionDecision: "allow"`:
an allow would skip the person's own permission prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import command_verdict, dispatch
from .common import text as _str
from .run import Context

EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
CONTEXT_MAX = 4000  # characters of additionalContext we ever add


def _specific(event: str, **fields: Any) -> dict[str, Any]:
    return {"hookSpecificOutput": {"hookEventName": event, **{k: v for k, v in fields.items() if v}}}


def _rel(path: str, root: Path | None) -> str:
    p = Path(path)
    if root is not None and p.is_absolute():
        try:
            return str(p.resolve().relative_to(root))
        except ValueError:
            return str(p)
    return path


def _tool_input(ctx: Context) -> dict[str, Any]:
    ti = ctx.event.get("tool_input")
    return ti if isinstance(ti, dict) else {}


def _session(ctx: Context) -> str:
    return _str(ctx.event.get("session_id")) or "unknown"


def pre_tool_use(ctx: Context) -> dict[str, Any] | None:
    from factorops.tools.watch.before import before

    tool = _str(ctx.event.get("tool_name")) or ""
    ti = _tool_input(ctx)
    if tool == "Bash":
        command = _str(ti.get("command"))
        if command is None:
            return None
        verdict = command_verdict(ctx, command)
    elif tool in EDIT_TOOLS:
        path = _str(ti.get("file_path")) or _str(ti.get("notebook_path"))
        if path is None:
            return None
        verdict = before(ctx.store(), ctx.now, paths=[_rel(path, ctx.root)])
    elif tool.startswith("mcp__"):
        import json

        args = json.dumps(ti, ensure_ascii=False, sort_keys=True)[:1500]
        verdict = before(ctx.store(), ctx.now, action=f"{tool} {args}")
    else:
        return None
    if verdict.effect == "deny":
        return _specific("PreToolUse", permissionDecision="deny", permissionDecisionReason=verdict.reason)
    if verdict.context:
        return _specific("PreToolUse", additionalContext=verdict.context[:CONTEXT_MAX])
    return None


def _failed_response(resp: object) -> bool:
    if not isinstance(resp, dict):
        return False
    for key in ("exit_code", "exitCode", "returncode"):
        v = resp.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v != 0:
            return True
    return resp.get("is_error") is True


def _record_bash(ctx: Context, ok: bool, error: str) -> dict[str, Any] | None:
    from factorops.tools.watch import records, spiral

    command = _str(_tool_input(ctx).get("command"))
    store = ctx.store()
    if command is None or store is None:
        return None
    out = spiral.record_run(store, _session(ctx), command, ok, ctx.now, error, ctx.settings())
    if out.events:
        full = ctx.full_store()
        if full is not None:
            records.log_events(full, out.events)
    advice = out.advice()
    event = "PostToolUse" if ok else "PostToolUseFailure"
    return _specific(event, additionalContext=advice) if advice else None


def post_tool_use(ctx: Context) -> dict[str, Any] | None:
    tool = _str(ctx.event.get("tool_name")) or ""
    if tool == "Bash":
        resp = ctx.event.get("tool_response")
        failed = _failed_response(resp)
        error = str(resp.get("stderr") or "")[:300] if failed and isinstance(resp, dict) else ""
        return _record_bash(ctx, not failed, error)
    if tool in EDIT_TOOLS:
        from factorops.tools.watch import activity

        store = ctx.store()
        if store is not None:
            activity.record_edit(store, "claude-code", _session(ctx), ctx.now)
    return None


def post_tool_use_failure(ctx: Context) -> dict[str, Any] | None:
    if ctx.event.get("is_interrupt") is True or ctx.event.get("tool_name") != "Bash":
        return None  # the person stopped it: not a failure of the command
    return _record_bash(ctx, False, _str(ctx.event.get("error")) or "")


def _band(ctx: Context) -> str | None:
    from factorops.tools.watch import activity

    store = ctx.store()
    if store is None:
        return None
    band = activity.measure_context(
        store, "claude-code", _session(ctx), _str(ctx.event.get("transcript_path")), ctx.now, ctx.settings()
    )
    return None if band is None else f"factorops: {band.line()}"


def user_prompt_submit(ctx: Context) -> dict[str, Any] | None:
    line = _band(ctx)
    return _specific("UserPromptSubmit", additionalContext=line) if line else None


def session_start(ctx: Context) -> dict[str, Any] | None:
    from factorops.tools.watch import briefing

    store = ctx.store()
    if store is None:
        return {
            "systemMessage": "factorops hooks are installed but this project has no factorops data yet: "
            "run `factorops init` in it to enable guardrails, briefings and context bands."
        }
    # A resumed or compacted conversation starts with context already in use: name its band.
    line = _band(ctx)
    full = ctx.full_store()  # the briefing reads patterns and sessions: every component's tables
    text = briefing.briefing(full, ctx.now) if full is not None else None
    parts = [p for p in (text, line) if p]
    return _specific("SessionStart", additionalContext="\n".join(parts)) if parts else None


def pre_compact(ctx: Context) -> dict[str, Any] | None:
    from factorops.tools.watch import activity, briefing

    store = ctx.store()
    transcript = _str(ctx.event.get("transcript_path"))
    if store is None or transcript is None or not Path(transcript).is_file():
        return None
    line = _band(ctx)
    full = ctx.full_store()
    assert full is not None and ctx.root is not None
    sid, cid = briefing.checkpoint_from_transcript(
        full, activity.factorops_session(full, _session(ctx)), Path(transcript), ctx.now, ctx.root
    )
    activity.link_session(full, "claude-code", _session(ctx), sid, ctx.now)
    trigger = ctx.event.get("trigger")
    msg = f"factorops saved checkpoint {cid} in session {sid} before the {trigger or ''} compaction"
    return {"systemMessage": msg + (f" ({line.removeprefix('factorops: ')})" if line else "")}


def stop(ctx: Context) -> dict[str, Any] | None:
    from factorops.tools.watch import activity

    if ctx.event.get("stop_hook_active") is True:
        return None  # we already made it continue once: never loop
    store = ctx.store()
    if store is None:
        return None
    last = ctx.event.get("last_assistant_message")
    msg = activity.stop_check(store, _session(ctx), last if isinstance(last, str) else None, ctx.now)
    return {"decision": "block", "reason": msg} if msg else None


def session_end(ctx: Context) -> dict[str, Any] | None:
    from factorops.tools.watch import activity

    store = ctx.store()
    if store is not None:
        activity.note_session(
            store, "claude-code", _session(ctx), _str(ctx.event.get("transcript_path")), ctx.now
        )
    return None


HANDLERS = {
    "PreToolUse": pre_tool_use,
    "PostToolUse": post_tool_use,
    "PostToolUseFailure": post_tool_use_failure,
    "UserPromptSubmit": user_prompt_submit,
    "SessionStart": session_start,
    "PreCompact": pre_compact,
    "Stop": stop,
    "SessionEnd": session_end,
}
EVENTS = tuple(HANDLERS)


def handle(ctx: Context) -> dict[str, Any] | None:
    return dispatch(HANDLERS, ctx)
