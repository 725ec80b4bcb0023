"""The one place that turns a domain operation (pydantic input model -> output model) into an MCP tool.

The input model is the single description of the arguments: its fields become the tool's input
schema, the SDK validates against them, and the domain receives the model itself. Domain errors
become MCP tool errors naming the field; any other exception is logged and reported as an internal
error without a traceback in the result. Blocking domain work runs in a worker thread.
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from factorops.store.ledger import LedgerError
from factorops.store.store import Store
from factorops.tools.kernel.errors import DomainError

from .runtime import Runtime

log = logging.getLogger("factorops.server")

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)

SyncOp = Callable[[Store, Any, Any], Any]  # (store, input model, now) -> output model
AsyncOp = Callable[[Runtime, Any, Context], Awaitable[Any]]  # (runtime, input model, ctx) -> output


# A full disk, a read-only data dir, a locked database: the assistant cannot fix these, but it must
# be told what happened (and that the write did not complete) rather than "Error executing tool".
STORAGE_ERRORS = (OSError, sqlite3.OperationalError, LedgerError)


def storage_error(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        what = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    else:
        what = str(exc)
    return (
        f"storage: {what}. The operation did not complete; if the disk is full or the data dir is "
        "read-only, a person must fix that (`factorops doctor` checks it), then retry."
    )


def signature_for(model: type[BaseModel], out: type[BaseModel]) -> inspect.Signature:
    params = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)]
    for name, info in model.model_fields.items():
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[info.annotation, info]
            )
        )
    return inspect.Signature(params, return_annotation=out)


def _apply_signature(fn: Callable[..., Any], sig: inspect.Signature) -> None:
    fn.__signature__ = sig  # type: ignore[attr-defined]
    fn.__annotations__ = {p.name: p.annotation for p in sig.parameters.values()} | {
        "return": sig.return_annotation
    }


def add_sync_tool(
    app: MCPServer,
    runtime: Runtime,
    name: str,
    description: str,
    model: type[BaseModel],
    out: type[BaseModel],
    op: SyncOp,
    read_only: bool = False,
) -> None:
    """Register `op(store, model_instance, now)`; it runs in a worker thread."""

    async def run(runtime: Runtime, inp: Any, ctx: Context) -> Any:
        store = await runtime.store(ctx)
        now = runtime.now()
        return await anyio.to_thread.run_sync(lambda: op(store, inp, now))

    add_async_tool(app, runtime, name, description, model, out, run, read_only)


def add_async_tool(
    app: MCPServer,
    runtime: Runtime,
    name: str,
    description: str,
    model: type[BaseModel],
    out: type[BaseModel],
    op: AsyncOp,
    read_only: bool = False,
) -> None:
    """Register `await op(runtime, model_instance, ctx)` for tools that talk back to the client
    (progress, elicitation) and so must stay on the event loop."""

    async def tool(ctx: Context, **kwargs: Any) -> BaseModel:
        inp = model(**kwargs)
        try:
            result: BaseModel = await op(runtime, inp, ctx)
        except DomainError as exc:
            raise ToolError(str(exc)) from None
        except STORAGE_ERRORS as exc:
            log.warning("%s: storage error: %s", name, exc)
            raise ToolError(storage_error(exc)) from None
        return result

    _register(app, name, description, model, out, tool, read_only)


def _register(
    app: MCPServer,
    name: str,
    description: str,
    model: type[BaseModel],
    out: type[BaseModel],
    tool: Callable[..., Any],
    read_only: bool,
) -> None:
    from mcp.types import ToolAnnotations

    _apply_signature(tool, signature_for(model, out))
    tool.__name__ = name
    annotations = ToolAnnotations(read_only_hint=True) if read_only else None
    app.add_tool(tool, name=name, description=description, annotations=annotations, structured_output=True)


def thread_progress(ctx: Context) -> Callable[[float, float, str], None]:
    """A progress callback a worker thread can call: it hops back to the event loop to tell the client.

    Call this on the event loop (it captures the loop), then hand the callback to domain code.
    """
    import anyio.from_thread
    import anyio.lowlevel

    token = anyio.lowlevel.current_token()

    def progress(done: float, total: float, message: str) -> None:
        anyio.from_thread.run(ctx.report_progress, done, total, message, token=token)

    return progress
