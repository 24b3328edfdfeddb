"""Python functions as tools: ``module:function``, importable from the workflow's folder.

Arguments are validated against the function's signature (with pydantic) before the call, and
the same signature gives the JSON Schema the model sees. A function may be sync (run in a thread
so it does not block other runs) or async, and may take a keyword argument ``context``.
"""

from __future__ import annotations

import asyncio
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
from pydantic_core import PydanticSerializationError

from agentplane.errors import AgentplaneError

from .base import Effect, Tool, ToolArgumentsError, ToolContext, Trust
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


def _arguments_model(fn: Callable[..., Any], name: str) -> tuple[type[pydantic.BaseModel], bool]:
    """A pydantic model of the function's parameters (without ``context``)."""
    signature = inspect.signature(fn)
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    takes_context = False
    for param in signature.parameters.values():
        if param.name == "context":
            takes_context = True
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    model = pydantic.create_model(
        f"{name}_arguments", __config__=pydantic.ConfigDict(extra="forbid"), **fields
    )
    return model, takes_context


def to_json_value(value: Any) -> Any:
    """Make a tool's return value JSON: pydantic models and dataclasses are dumped, the rest
    must already be JSON or is turned into its string form."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    try:
        return pydantic.TypeAdapter(Any).dump_python(value, mode="json")
    except PydanticSerializationError:
        return str(value)


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
    composed: tuple[str, ...] | list[str] | None = None,
    destination: tuple[str, ...] | list[str] | None = None,
) -> Tool:
    """Wrap a Python function as a ``Tool``."""
    tool_name = name or fn.__name__
    model, takes_context = _arguments_model(fn, tool_name)
    is_async = inspect.iscoroutinefunction(fn)

    def validate(arguments: dict[str, Any]) -> pydantic.BaseModel:
        try:
            return model.model_validate(arguments)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ToolArgumentsError(f"invalid arguments for {tool_name}: {problems}") from exc

    async def invoke(arguments: dict[str, Any], context: ToolContext) -> Any:
        validated = validate(arguments)
        kwargs = {k: getattr(validated, k) for k in model.model_fields}
        if takes_context:
            kwargs["context"] = context
        if is_async:
            result = await fn(**kwargs)
        else:
            result = await asyncio.to_thread(fn, **kwargs)
        return to_json_value(result)

    schema = model.model_json_schema()
    schema.pop("title", None)
    doc = inspect.getdoc(fn) or ""
    return Tool(
        name=tool_name,
        description=description or doc.split("\n\n")[0] or tool_name,
        parameters=json.loads(json.dumps(schema)),
        invoke=invoke,
        effect=effect,
        idempotent=idempotent,
        compensate=compensate,
        trust=trust,
        external=external,
        cost_usd=cost_usd,
        check=validate,
        composed=None if composed is None else tuple(composed),
        destination=None if destination is None else tuple(destination),
    )
