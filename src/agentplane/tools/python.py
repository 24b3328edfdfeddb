"""Python functions as tools: ``module:function``, importable from the workflow's folder.

Arguments are validated against the function's signature (with pydantic) before the call, and
the same signature gives the JSON Schema the model sees. A function may be sync (run on a thread
of its own so it does not block other runs) or async, and may take a keyword argument
``context``. Its result is converted by ``json_values.to_json_value``; where its code runs is
declared by ``isolation`` (see that module).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, get_type_hints

import pydantic

from agentplane.errors import AgentplaneError

from .base import Effect, Tool, ToolArgumentsError, ToolContext, Trust
from .docstrings import described, read_docstring
from .isolation import (
    Isolation,
    ToolCrashedError,
    describe_base_exception,
    run_in_process,
    run_in_thread,
)
from .json_values import to_json_value
from .trust import FieldTrust


class ToolImportError(AgentplaneError):
    """A ``python:`` tool reference cannot be imported."""


def _module_from_folder(module: str, folder: Path) -> ModuleType | None:
    parts = module.split(".")
    candidates = [folder.joinpath(*parts).with_suffix(".py"),
                  folder.joinpath(*parts, "__init__.py")]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return None
    # A unique name per folder: two workflows may each have their own `tools.py`.
    tag = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:10]
    unique = f"agentplane_workflow_{tag}.{module}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        return None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[unique] = loaded
    # The folder is on the path only while the module loads, so its own sibling imports work
    # but another workflow's folder never shadows this one's (or the reverse).
    sys.path.insert(0, str(folder))
    try:
        spec.loader.exec_module(loaded)
    except Exception:
        del sys.modules[unique]
        raise
    finally:
        sys.path.remove(str(folder))
    return loaded


def import_function(ref: str, folder: Path) -> Callable[..., Any]:
    """Import ``module:function`` from ``folder`` (or from the installed packages)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ToolImportError(f"python tool reference {ref!r} must look like module:function")
    try:
        module = _module_from_folder(module_name, folder) or importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ToolImportError(
            f"cannot import module {module_name!r} for tool {ref!r}: no {module_name}.py in "
            f"{folder} and no installed module of that name ({exc})"
        ) from exc
    except Exception as exc:
        raise ToolImportError(
            f"importing {module_name!r} for tool {ref!r} failed: {exc!r}"
        ) from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ToolImportError(f"module {module_name!r} has no function {attr!r} (tool {ref!r})")
    return fn  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=1024)
def _arguments_model(fn: Callable[..., Any], name: str) -> tuple[type[pydantic.BaseModel], bool]:
    """A pydantic model of the function's parameters (without ``context``); built once per
    function and name."""
    signature = inspect.signature(fn)
    hints = get_type_hints(fn, include_extras=True)  # keeps Annotated[..., Field(...)]
    fields: dict[str, Any] = {}
    docs = read_docstring(fn).parameters  # Args: / Parameters / :param x: descriptions
    takes_context = False
    for param in signature.parameters.values():
        if param.name == "context":
            takes_context = True
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (described(annotation, default, docs.get(param.name)), default)
    model = pydantic.create_model(
        f"{name}_arguments", __config__=pydantic.ConfigDict(extra="forbid"), **fields
    )
    return model, takes_context


def validate_arguments(fn: Callable[..., Any], name: str,
                       arguments: dict[str, Any]) -> pydantic.BaseModel:
    """The arguments checked against the function's signature, or ``ToolArgumentsError``."""
    model, _ = _arguments_model(fn, name)
    try:
        return model.model_validate(arguments)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ToolArgumentsError(f"invalid arguments for {name}: {problems}") from exc


async def call_inline(fn: Callable[..., Any], name: str, arguments: dict[str, Any],
                      context: ToolContext, *,
                      validated: pydantic.BaseModel | None = None) -> Any:
    """Call the function in this process and convert its result to JSON (``to_json_value``).

    ``validated``: the arguments already checked by ``validate_arguments`` (the tool's
    ``check``), so they are not validated twice; without it they are validated here.

    Whatever the function raises that is not an ``Exception`` (``SystemExit``,
    ``KeyboardInterrupt``, ``GeneratorExit``, ...) comes back as a ``ToolCrashedError``."""
    model, takes_context = _arguments_model(fn, name)
    if validated is None:
        validated = validate_arguments(fn, name, arguments)
    kwargs = {k: getattr(validated, k) for k in model.model_fields}
    if takes_context:
        kwargs["context"] = context
    if inspect.iscoroutinefunction(fn):
        try:
            result = await fn(**kwargs)
        except Exception:
            raise
        except BaseException as exc:  # user code must not stop the runtime
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and task is not None and task.cancelling():
                raise  # a real cancellation (a timeout, a cancelled run): let it through
            raise ToolCrashedError(f"the tool raised {describe_base_exception(exc)}") from None
    else:
        result = await run_in_thread(fn, kwargs)
    return to_json_value(result)


_CHECKED_KEPT = 1024
"""At most this many checked-but-not-yet-called argument sets are kept per tool."""


def python_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    effect: Effect = Effect.WRITE,
    idempotent: bool = False,
    compensate: str | None = None,
    trust: Trust | FieldTrust | None = None,
    external: bool = False,
    cost_usd: float = 0.0,
    timeout_s: float | None = None,
    isolation: Isolation = Isolation.INLINE,
    ref: str | None = None,
    folder: Path | None = None,
    composed: tuple[str, ...] | list[str] | None = None,
    destination: tuple[str, ...] | list[str] | None = None,
) -> Tool:
    """Wrap a Python function as a ``Tool``.

    ``isolation=process`` runs every call in a child process (see ``isolation``); it needs
    ``ref`` (``module:function``) and ``folder`` to import the function there."""
    tool_name = name or fn.__name__
    model, _ = _arguments_model(fn, tool_name)
    if isolation is Isolation.PROCESS and (ref is None or folder is None):
        raise ToolImportError(f"tool {tool_name}: process isolation needs the function's "
                              "module:function reference and folder")

    # The runtime checks a call's arguments before it journals the start and then invokes the
    # tool with the same dict: what the check produced is kept (by the dict's identity, with
    # the dict itself so the identity cannot be reused) and the call takes it instead of
    # validating again. Entries whose call never comes (a refused step) are dropped in bulk.
    checked: dict[int, tuple[dict[str, Any], pydantic.BaseModel]] = {}

    def validate(arguments: dict[str, Any]) -> pydantic.BaseModel:
        validated = validate_arguments(fn, tool_name, arguments)
        if isolation is Isolation.INLINE:
            if len(checked) >= _CHECKED_KEPT:
                checked.clear()
            checked[id(arguments)] = (arguments, validated)
        return validated

    async def invoke(arguments: dict[str, Any], context: ToolContext) -> Any:
        if isolation is Isolation.PROCESS:
            assert ref is not None and folder is not None
            return await run_in_process(ref, folder, tool_name, arguments, context)
        kept = checked.pop(id(arguments), None)
        validated = kept[1] if kept is not None and kept[0] is arguments else None
        return await call_inline(fn, tool_name, arguments, context, validated=validated)

    schema = model.model_json_schema()
    schema.pop("title", None)
    return Tool(
        name=tool_name,
        description=description or read_docstring(fn).summary or tool_name,
        parameters=json.loads(json.dumps(schema)),
        invoke=invoke,
        effect=effect,
        idempotent=idempotent,
        compensate=compensate,
        trust=trust,
        external=external,
        cost_usd=cost_usd,
        check=validate,
        timeout_s=timeout_s,
        composed=None if composed is None else tuple(composed),
        destination=None if destination is None else tuple(destination),
    )
