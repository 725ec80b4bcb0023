"""Build the MCP server: one place that wires every capability to the protocol.

`FactoropsServer` adds to the SDK's server: trimmed tool schemas (token cost), short argument-error
messages that name the field (pydantic's defaults carry a URL and input echo), a hook per tool call so
metrics see latency and outcome of every call, the project bound by the first request of any kind
(so a resource read first still honours the client's roots), resource and prompt errors that carry
the domain's message as tool errors do, and a stdio transport that answers every request line.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver import server as sdk_server
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError, UnexpectedResourceError
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, CallToolResult, Tool
from pydantic import AnyUrl, ValidationError

from factorops import __version__
from factorops.tools.kernel.errors import DomainError, NotFound

from . import context_tools, ops_tools, pattern_tools, session_tools
from .registration import SERVING, STORAGE_ERRORS, storage_error
from .runtime import CallRecord, Runtime
from .schema_trim import trim
from .stdio import screened_stdio

log = logging.getLogger("factorops.server")

INSTRUCTIONS = (
    "factorops: 12-Factor AgentOps. Start work with session_start, save progress with "
    "checkpoint_save, continue a previous session with session_resume, close with session_end."
)


_BUILDING = threading.Lock()  # see FactoropsServer.__init__


class FactoropsServer(MCPServer[Any]):
    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        # One server built at a time: two threads swapping the SDK's module attribute at once
        # could leave the stand-in there for good.
        with _BUILDING:
            configure = sdk_server.configure_logging
            if logging.getLogger().handlers:
                # The SDK's __init__ builds a rich console handler (importing rich, ~30 ms of
                # start-up) for `logging.basicConfig`, which does nothing when the root logger
                # already has handlers, as under `factorops serve` (`setup_logging`). Skip it then.
                sdk_server.configure_logging = _logging_configured
            try:
                super().__init__(
                    name="factorops",
                    version=__version__,
                    instructions=INSTRUCTIONS,
                    log_level="WARNING",
                    **kwargs,
                )
            finally:
                sdk_server.configure_logging = configure
        self.runtime = runtime
        # Tools registered when first listed or called, in the order they were declared (below).
        self._deferred: dict[str, Callable[[], None]] = {}
        self._tool_order: dict[str, int] = {}

    def defer_tool(self, name: str, register: Callable[[], None]) -> None:
        """Run `register` (which adds tool `name`) when the tool is first listed, called or looked up,
        not at start-up: the SDK builds each tool's argument model and JSON schema as it is added,
        which `initialize` does not need (~15 tools; start-up cost, issue #19)."""
        self._deferred[name] = register
        self._tool_order[name] = len(self._tool_order)

    def _register(self, name: str | None = None) -> None:
        """Add the deferred tools: all of them, or only `name`."""
        for n in list(self._deferred) if name is None else [name]:
            register = self._deferred.pop(n, None)
            if register is not None:
                register()

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        self._register(name)  # the HTTP transport checks Mcp-Param headers against it
        return super()._tool_input_schema(name)

    async def read_resource(self, uri: AnyUrl | str, context: Context[Any, Any] | None = None) -> Any:
        if context is not None:
            await self.runtime.resolve(context)
        try:
            return await super().read_resource(uri, context)
        except UnexpectedResourceError as exc:
            # The SDK reports any exception but ResourceError as "Error reading resource URI";
            # a domain error is the client's to fix and its message says how, as for tools.
            domain = _cause(exc, DomainError)
            if isinstance(domain, NotFound):
                raise ResourceNotFoundError(str(domain)) from None
            if domain is not None:
                raise MCPError(code=INVALID_PARAMS, message=str(domain), data={"uri": str(uri)}) from None
            storage = _cause(exc, STORAGE_ERRORS)
            if storage is not None:
                log.warning("resource %s: storage error: %s", uri, storage)
                raise MCPError(
                    code=INTERNAL_ERROR, message=storage_error(storage), data={"uri": str(uri)}
                ) from None
            raise

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> Any:
        if context is not None:
            await self.runtime.resolve(context)
        try:
            return await super().get_prompt(name, arguments, context)
        except MCPError:
            raise
        except ValueError as exc:
            # The SDK wraps whatever the prompt raised as "Error rendering prompt NAME" (and the wire
            # shows only that): find the reason and send it, as a tool error would.
            domain = _cause(exc, DomainError)
            if domain is not None:
                raise MCPError(code=INVALID_PARAMS, message=str(domain)) from None
            invalid = _cause(exc, ValidationError)
            if isinstance(invalid, ValidationError):
                raise MCPError(
                    code=INVALID_PARAMS,
                    message=f"Invalid arguments for prompt {name}: {describe_validation(invalid)}",
                ) from None
            storage = _cause(exc, STORAGE_ERRORS)
            if storage is not None:
                log.warning("prompt %s: storage error: %s", name, storage)
                raise MCPError(code=INTERNAL_ERROR, message=storage_error(storage)) from None
            if exc.__cause__ is not None and exc.__cause__.__cause__ is None:
                # The SDK's own refusal (unknown prompt, missing argument): its message is the reason.
                raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
            log.error("prompt %s failed", name, exc_info=exc)
            raise MCPError(
                code=INTERNAL_ERROR, message=f"prompt {name} failed (an internal error, logged)"
            ) from None

    async def list_tools(self) -> list[Tool]:
        self._register()
        tools = sorted(
            await super().list_tools(), key=lambda t: self._tool_order.get(t.name, len(self._tool_order))
        )
        return [
            t.model_copy(
                # The output schema is left out of the listing: it would double the tokens every
                # session pays for tools/list, and results still carry structuredContent plus the
                # same JSON as text. Models in factorops.tools document the shapes (docs/tools.md).
                update={"input_schema": trim(t.input_schema), "output_schema": None}
            )
            for t in tools
        ]

    async def run_stdio_async(self) -> None:
        """Serve stdio with every request line answered (see `stdio.py`)."""
        SERVING.set("stdio")  # requests handled below name their transport (`actor_for`)
        async with screened_stdio() as (read_stream, write_stream):
            server = self._lowlevel_server  # what the SDK's own run_stdio_async runs
            await server.run(read_stream, write_stream, server.create_initialization_options())

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        self._register(name)
        if context is not None:
            await self.runtime.resolve(context)
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


def _logging_configured(level: str = "INFO") -> None:
    """Stands in for the SDK's `configure_logging` while the root logger has handlers: its
    `logging.basicConfig` would be a no-op then, so the rich handler it builds is never used."""


def _cause(exc: BaseException, kinds: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
    """The first exception of `kinds` in exc's chain of causes (exc itself included), or None."""
    seen: BaseException | None = exc
    for _ in range(20):
        if seen is None:
            return None
        if isinstance(seen, kinds):
            return seen
        if seen.__cause__ is not None:
            seen = seen.__cause__
        else:
            seen = None if seen.__suppress_context__ else seen.__context__
    return None


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
