"""The one place that turns a domain operation (pydantic input model -> output model) into an MCP tool.

The input model is the single description of the arguments: its fields become the tool's input
schema, the SDK validates against them, and the domain receives the model itself. Domain errors
become MCP tool errors naming the field; any other exception is logged and reported as an internal
error without a traceback in the result. Blocking domain work runs in a worker thread.

Start-up registers every tool from its input model alone (a light `models.py` of its capability),
named by `input_model` and imported when the tool is first listed or called: `initialize` needs no
model, `tools/list` every input model and nothing else, a first call its own. The implementation (the operation and its output
model) is named by a loader, a function that imports it; it runs on the tool's first call, in a worker
thread, and binds the output model the SDK validates every result against (the output schema is not
listed: see `FactoropsServer.list_tools`).
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
import types
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from enum import Enum
from typing import Annotated, Any, Literal, TypedDict, Union, Unpack, get_args, get_origin

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import ToolAnnotations
from pydantic import BaseModel

from factorops.store.ledger import LedgerError
from factorops.store.store import Store
from factorops.tools.kernel.actor import Actor
from factorops.tools.kernel.errors import DomainError, NotFound

from .runtime import Runtime

log = logging.getLogger("factorops.server")

SyncOp = Callable[[Store, Any, Any], Any]  # (store, input model, now) -> output model
AsyncOp = Callable[[Runtime, Any, Context], Awaitable[Any]]  # (runtime, input model, ctx) -> output
# A tool's implementation, imported when called: () -> (output model, operation).
SyncImpl = Callable[[], tuple[type[BaseModel], SyncOp]]
AsyncImpl = Callable[[], tuple[type[BaseModel], AsyncOp]]
# A tool's input model, or a function that imports it (`input_model`).
ModelRef = type[BaseModel] | Callable[[], type[BaseModel]]


def input_model(module: str, name: str) -> Callable[[], type[BaseModel]]:
    """Input model `name` of `module`, imported when its tool is first listed or called: building
    every tool's model at start-up (pydantic builds a validator per class) is work `initialize`
    and another tool's first call do not need."""

    def load() -> type[BaseModel]:
        # `__import__` rather than importlib.import_module: the same import, but through the
        # interpreter's import statement path, which `-X importtime` logs (tests read that log).
        model = getattr(__import__(module, fromlist=[name]), name)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):  # pragma: no cover
            raise TypeError(f"{module}.{name} is not a pydantic model")
        return model

    return load


Transport = Literal["stdio", "http", "in-process"]

# How this process serves MCP when a request carries no HTTP request object: `run_stdio_async` sets
# "stdio"; an in-memory client (tests, embedding) leaves the default.
SERVING: ContextVar[Transport] = ContextVar("factorops_mcp_transport", default="in-process")


def client_name(ctx: Context | None) -> str | None:
    """The client's name as it declared it in `initialize` (self-declared: recorded, never trusted)."""
    try:
        info = ctx.session.client_params.client_info  # type: ignore[union-attr]
        name = str(info.name).strip()
    except Exception:  # no session (outside a request) or no initialize params
        return None
    return name or None


def transport_of(ctx: Context | None) -> Transport:
    """ "http" when the request came with an HTTP request object, otherwise how this process serves."""
    try:
        request = ctx.request_context.request  # type: ignore[union-attr]
    except Exception:  # outside a request
        request = None
    if request is not None and getattr(request, "headers", None) is not None:
        return "http"
    return SERVING.get()


def actor_for(ctx: Context | None) -> Actor:
    """Who acts in an MCP request: always an assistant, named by its (unverified) client name, with
    the transport. Every tool that changes state passes this actor to the domain, which enforces
    what an assistant may do; a person's answer to an elicitation is `Actor.elicitation(
    client_name(ctx), transport_of(ctx))` instead."""
    return Actor.assistant(client_name(ctx), transport_of(ctx))


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


def signature_for(model: type[BaseModel], out: type[BaseModel] = BaseModel) -> inspect.Signature:
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


def tool_hints(
    *, read_only: bool = False, destructive: bool = False, idempotent: bool = False, open_world: bool = False
) -> ToolAnnotations:
    """A tool's behaviour hints (docs/authority.md lists them per tool). Only the hints that differ
    from the spec's defaults (readOnlyHint false, destructiveHint true, idempotentHint false,
    openWorldHint true) are written: tools/list is context every assistant pays for, and a client
    reads an absent hint as its default, so the meaning is the same. A read-only tool states
    `readOnlyHint` and, where nothing leaves the machine, `openWorldHint: false`; the spec gives the
    other two meaning only when readOnlyHint is false."""
    if read_only:
        return ToolAnnotations(read_only_hint=True, open_world_hint=False if not open_world else None)
    return ToolAnnotations(
        destructive_hint=False if not destructive else None,
        idempotent_hint=True if idempotent else None,
        open_world_hint=False if not open_world else None,
    )


class ToolOptions(TypedDict, total=False):
    """How a tool is announced: `read_only` for a tool that changes nothing, or `hints` of its own
    (`tool_hints(...)`); without either, a tool that changes state is additive, not idempotent, local."""

    read_only: bool
    hints: ToolAnnotations | None
    meta: dict[str, Any] | None  # the tool's `_meta` in tools/list


def add_sync_tool(
    app: MCPServer,
    runtime: Runtime,
    name: str,
    description: str,
    model: ModelRef,
    impl: SyncImpl,
    **options: Unpack[ToolOptions],
) -> None:
    """Register `op(store, model_instance, now)` (`impl()` gives the output model and `op`, imported on
    the first call); it runs in a worker thread."""

    def load() -> tuple[type[BaseModel], AsyncOp]:
        out, op = impl()

        async def run(runtime: Runtime, inp: Any, ctx: Context) -> Any:
            store = await runtime.store(ctx)
            now = runtime.now()
            return await anyio.to_thread.run_sync(lambda: op(store, inp, now))

        return out, run

    add_async_tool(app, runtime, name, description, model, load, **options)


def add_async_tool(
    app: MCPServer,
    runtime: Runtime,
    name: str,
    description: str,
    model: ModelRef,
    impl: AsyncImpl,
    **options: Unpack[ToolOptions],
) -> None:
    """Register `await op(runtime, model_instance, ctx)` (`impl()` gives the output model and `op`,
    imported on the first call) for tools that talk back to the client (progress, elicitation) and so
    must stay on the event loop. `model` may be `input_model(...)`: imported when the tool is added
    to the SDK (first listed or called)."""
    lazy = _LazyImpl(app, name, impl)
    resolved: list[type[BaseModel]] = []

    def model_class() -> type[BaseModel]:
        if not resolved:
            resolved.append(model if isinstance(model, type) else model())
        return resolved[0]

    async def tool(ctx: Context, **kwargs: Any) -> BaseModel:
        inp = model_class()(**kwargs)
        op = await lazy.op()
        try:
            result: BaseModel = await op(runtime, inp, ctx)
        except DomainError as exc:
            raise ToolError(str(exc)) from None
        except STORAGE_ERRORS as exc:
            log.warning("%s: storage error: %s", name, exc)
            raise ToolError(storage_error(exc)) from None
        return result

    tool.__name__ = name
    # Every tool states all four hints; a tool that changes state without passing its own is
    # additive (nothing is lost: every change is a new ledger commit), not idempotent, local.
    annotations = options.get("hints") or tool_hints(read_only=options.get("read_only", False))

    def register() -> None:
        _apply_signature(tool, signature_for(model_class()))
        app.add_tool(
            tool,
            name=name,
            description=description,
            annotations=annotations,
            meta=options.get("meta"),
            structured_output=True,
        )
        _strings_stay_strings(app, name)

    defer = getattr(app, "defer_tool", None)  # FactoropsServer: when first listed or called
    if defer is not None:
        defer(name, register)
    else:
        register()


class _LazyImpl:
    """A tool's implementation, imported on its first call rather than at start-up.

    The import runs in a worker thread (the event loop keeps answering meanwhile); two first calls
    at once both import, which Python's import lock makes safe, and bind the same output model.
    Until then the tool's metadata has no output model; the SDK derives the output schema from the
    model when it is bound, as it would have at registration.
    """

    def __init__(self, app: MCPServer, name: str, impl: AsyncImpl) -> None:
        self._app, self._name, self._impl = app, name, impl
        self._op: AsyncOp | None = None

    async def op(self) -> AsyncOp:
        if self._op is None:
            meta = _metadata(self._app, self._name)

            def load() -> tuple[FuncMetadata, AsyncOp]:
                out, op = self._impl()
                return FuncMetadata(arg_model=meta.arg_model, output_model=out), op

            bound, op = await anyio.to_thread.run_sync(load)
            meta.output_schema = bound.output_schema
            meta.output_model = bound.output_model
            self._op = op
        return self._op


async def read_view(runtime: Runtime, ctx: Context | None, render: Callable[..., str], *args: Any) -> str:
    """A resource's Markdown: `render(store, *args)` in a worker thread. An id that names nothing is
    a resource-not-found error; another `DomainError` (a hand edit broke the ledger file) a resource
    error that names the file. Static resources get no Context from the SDK (`ctx=None`), so no
    roots: the store an earlier request opened (or --project / the working directory) is used."""
    store = await runtime.store(ctx)
    try:
        return await anyio.to_thread.run_sync(lambda: render(store, *args))
    except NotFound as exc:
        raise ResourceNotFoundError(str(exc)) from None
    except DomainError as exc:
        raise ResourceError(str(exc)) from None


def admits_str(annotation: Any) -> bool:
    """Whether a field's type takes a string as it is: `str`, an optional or union with `str`, a
    string enum or `Literal`, or `Any`."""
    if annotation is Any or annotation is str:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return admits_str(get_args(annotation)[0])
    if origin is Literal:
        return any(isinstance(a, str) for a in get_args(annotation))
    if origin is Union or origin is types.UnionType:
        return any(admits_str(a) for a in get_args(annotation))
    if not isinstance(annotation, type):
        return False
    if issubclass(annotation, Enum):
        return any(isinstance(m.value, str) for m in annotation)
    return issubclass(annotation, str)


class StringsStayStrings(FuncMetadata):
    """The SDK's argument handling, except that a string stays a string where the field takes one.

    The SDK pre-parses string arguments as JSON for every field not annotated exactly `str` (so a
    client that sends a list as '["a"]' still works). For `str | None`, a string enum or a union with
    `str`, that turns `'{"a": 1}'`, `'[1]'` into objects and lists that then fail validation, and
    `'null'` silently into None. Only fields that cannot take a string are pre-parsed here.
    """

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        keep: set[str] = set()
        for name, info in self.arg_model.model_fields.items():
            if admits_str(info.annotation):
                keep.add(name)
                if info.alias:
                    keep.add(info.alias)
        parsed = super().pre_parse_json({k: v for k, v in data.items() if k not in keep})
        return {k: (v if k in keep else parsed[k]) for k, v in data.items()}


def _metadata(app: MCPServer, name: str) -> FuncMetadata:
    tool = app._tool_manager.get_tool(name)
    if tool is None:  # pragma: no cover - add_tool registered it
        raise RuntimeError(f"tool {name} was not registered")
    return tool.fn_metadata


def _strings_stay_strings(app: MCPServer, name: str) -> None:
    # The SDK builds a tool's metadata inside `add_tool` and offers no hook for its pre-parsing, so the
    # registered tool's metadata is swapped for the subclass above (same argument model). Its output
    # model is bound on the first call (`_LazyImpl`): registration does not import it.
    tool = app._tool_manager.get_tool(name)
    if tool is None:  # pragma: no cover - add_tool just registered it
        raise RuntimeError(f"tool {name} was not registered")
    tool.fn_metadata = StringsStayStrings(arg_model=tool.fn_metadata.arg_model)


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
