"""Build the MCP server: one place that wires every capability to the protocol.

`FactoropsServer` adds three things to the SDK's server: trimmed tool schemas (token cost),
short argument-error messages that name the field (pydantic's defaults carry a URL and input echo),
and a hook per tool call so metrics see latency and outcome of every call.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, Tool
from pydantic import ValidationError

from factorops import __version__

from . import context_tools, ops_tools, pattern_tools, session_tools
from .runtime import CallRecord, Runtime
from .schema_trim import trim

INSTRUCTIONS = (
    "factorops: 12-Factor AgentOps. Start work with session_start, save progress with "
    "checkpoint_save, continue a previous session with session_resume, close with session_end."
)


class FactoropsServer(MCPServer[Any]):
    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(
            name="factorops", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING", **kwargs
        )
        self.runtime = runtime

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        return [
            t.model_copy(
                # The output schema is left out of the listing: it would double the tokens every
                # session pays for tools/list, and results still carry structuredContent plus the
                # same JSON as text. Models in factorops.tools document the shapes (docs/tools.md).
                update={"input_schema": trim(t.input_schema), "output_schema": None}
            )
            for t in tools
        ]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        started = self.runtime.now()
        t0 = time.perf_counter()
        outcome = "error"
        result: Any = None
        try:
            result = await super().call_tool(name, arguments, context)
            outcome = "error" if isinstance(result, CallToolResult) and result.is_error else "ok"
            return result
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(f"Invalid arguments for {name}: {describe_validation(cause)}") from None
            raise
        finally:
            self.runtime.record_call(
                CallRecord(
                    tool=name,
                    started=started,
                    latency_ms=(time.perf_counter() - t0) * 1000,
                    outcome=outcome,
                    args_chars=len(json.dumps(arguments, default=str)),
                    result_chars=_result_chars(result),
                    session_id=arguments.get("session_id")
                    if isinstance(arguments.get("session_id"), str)
                    else None,
                )
            )


def describe_validation(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"]) or "arguments"
        parts.append(f"{loc}: {e['msg']}")
    return "; ".join(parts)


def _result_chars(result: Any) -> int:
    if isinstance(result, CallToolResult):
        return sum(len(getattr(c, "text", "") or "") for c in result.content)
    return 0


def build_app(runtime: Runtime) -> FactoropsServer:
    app = FactoropsServer(runtime)
    session_tools.register(app, runtime)
    context_tools.register(app, runtime)
    pattern_tools.register(app, runtime)
    ops_tools.register(app, runtime)
    return app
