"""``@tool``: a Python function declared as a tool, by its importable ``module:function``.

A run may resume in another process, days later, after a crash: the tool must then be found
again by name. So ``@tool`` records where the function lives and refuses, when it is declared,
a function no other process could import (a lambda, a closure, a method, code typed at a
prompt). The function itself is returned unchanged: it stays callable and typed as written.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypedDict, TypeVar, Unpack, overload

import pydantic

from agentplane.errors import AgentplaneError
from agentplane.governance.autonomy import Autonomy
from agentplane.runtime.spec import RetrySpec, ToolSpec
from agentplane.tools.base import Effect, Trust
from agentplane.tools.isolation import Isolation
from agentplane.tools.trust import FieldTrust

F = TypeVar("F", bound=Callable[..., Any])

ATTRIBUTE = "__agentplane_tool__"
"""Where ``@tool`` keeps a function's declaration."""


class DefinitionError(AgentplaneError):
    """A tool, agent or workflow cannot be defined as written (a function that cannot be
    re-imported, contradicting settings, two things of one name). The message names it and
    says what to do."""


@dataclass(frozen=True, slots=True)
class ToolDeclaration:
    """What ``@tool`` recorded about a function."""

    function: Callable[..., Any]
    name: str
    """The tool's name as agents see it (default: the function's name)."""
    python: str
    """``module:function``: where any process finds the function again."""
    folder: Path
    """Folder the module is imported from (a workflow's ``base_dir``)."""
    compensate: str | Callable[..., Any] | None
    """The tool that reverses this one: a function, or the name of a tool."""
    settings: dict[str, Any]
    """The rest of the tool's ``ToolSpec`` fields, as given."""

    def spec(self) -> ToolSpec:
        """The tool's entry in a workflow spec (the same as in its YAML twin)."""
        compensate = self.compensate
        if callable(compensate):
            compensate = declaration_of(compensate).name
        return ToolSpec(name=self.name, python=self.python, compensate=compensate,
                        **self.settings)

    def check_identity(self) -> None:
        """Refuse a function that its ``module:function`` no longer names (redefined,
        wrapped after declaration, replaced)."""
        module = sys.modules.get(self.function.__module__)
        found = getattr(module, self.function.__name__, None) if module is not None else None
        if found is not self.function:
            raise DefinitionError(
                f"tool {self.name}: {self.python} does not name this function in module "
                f"{self.function.__module__} (it was redefined, replaced or wrapped after "
                "@tool); declare tools once, at module level, with @tool outermost")


def _module_file(fn: Callable[..., Any]) -> tuple[str, Path]:
    """The importable module name of ``fn`` and the folder to import it from."""
    module: ModuleType | None = sys.modules.get(fn.__module__)
    file = getattr(module, "__file__", None)
    what = f"{fn.__module__}.{fn.__qualname__}"
    if module is None or not file:
        raise DefinitionError(
            f"{what} cannot be a tool: its module has no file (typed at a prompt, `python -c`, "
            "a notebook cell), so a run resumed in another process could not import it; "
            "put it in a .py file")
    path = Path(file).resolve()
    name = fn.__module__
    spec = getattr(module, "__spec__", None)
    if name == "__main__" and spec is not None and spec.name not in ("__main__", None):
        name = spec.name  # `python -m package.module`: importable by that name
    elif name == "__main__":
        if not path.stem.isidentifier():
            raise DefinitionError(
                f"{what} cannot be a tool: its script {path.name} is not an importable module "
                "name; rename the file (letters, digits, underscores)")
        return path.stem, path.parent
    parts = name.split(".")
    depth = len(parts) if path.name == "__init__.py" else len(parts) - 1
    return name, path.parents[depth]


def _declare(fn: Callable[..., Any], name: str | None,
             compensate: str | Callable[..., Any] | None,
             settings: dict[str, Any]) -> ToolDeclaration:
    if not callable(fn) or not hasattr(fn, "__qualname__"):
        raise DefinitionError(f"@tool takes a function, not {type(fn).__name__}")
    qualname: str = fn.__qualname__
    if fn.__name__ == "<lambda>":
        raise DefinitionError(
            f"a lambda in {fn.__module__} cannot be a tool: it has no name to import it by; "
            "define it with def at module level")
    if "<locals>" in qualname or "." in qualname:
        raise DefinitionError(
            f"{fn.__module__}.{qualname} cannot be a tool: it is defined inside "
            f"{'a function' if '<locals>' in qualname else 'a class'}, so another process "
            "cannot import it by name; define it at module level")
    module, folder = _module_file(fn)
    settings = {k: v for k, v in settings.items() if v is not None}
    declaration = ToolDeclaration(fn, name or fn.__name__, f"{module}:{fn.__name__}", folder,
                                  compensate, settings)
    try:
        declaration.spec()
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise DefinitionError(f"tool {declaration.name}: {problems}") from None
    return declaration


class ToolSettings(TypedDict, total=False):
    """The settings ``@tool`` takes: those of a YAML ``tools:`` entry (``ToolSpec``)."""

    name: str
    description: str
    effect: Effect | str
    idempotent: bool
    compensate: str | Callable[..., Any]
    trust: Trust | FieldTrust | str | dict[str, Any]
    external: bool
    cost_usd: float
    autonomy: Autonomy | str
    timeout_s: float
    isolation: Isolation | str
    retry: RetrySpec | dict[str, Any]
    composed: list[str]
    destination: list[str]
    personal: list[str]


@overload
def tool(fn: F, /, **settings: Unpack[ToolSettings]) -> F: ...


@overload
def tool(fn: None = None, /, **settings: Unpack[ToolSettings]) -> Callable[[F], F]: ...


def tool(fn: F | None = None, /, **settings: Unpack[ToolSettings]) -> F | Callable[[F], F]:
    """Declare a module-level function as a tool; the settings are those of a YAML
    ``tools:`` entry (see ``ToolSpec``).

    ``effect``: ``read`` | ``write`` (the default: an undeclared tool is not assumed harmless)
    | ``irreversible``. ``idempotent``: a call repeated with the same idempotency key changes
    nothing more (the function gets the key as ``context.idempotency_key``), so it may be re-run
    after a crash. ``compensate``: the tool (function, or tool name) that reverses this one.
    ``cost_usd``: what one call costs, USD. ``timeout_s``: seconds a call may take.

    The function's parameters (type hints, defaults) give the arguments' JSON Schema; its
    docstring's first paragraph the description the model sees, and its parameter section
    (Google ``Args:``, NumPy ``Parameters``, Sphinx ``:param x:``) each parameter's, unless
    ``Field(description=...)`` gives one (see ``tools.docstrings``). A keyword parameter
    ``context`` receives the call's ``ToolContext``. Usable bare (``@tool``) or with settings
    (``@tool(effect="read")``), or as a call on a function defined elsewhere:
    ``tool(tools.lookup_order, effect="read")``.
    """
    given: dict[str, Any] = dict(settings)
    name = given.pop("name", None)
    compensate = given.pop("compensate", None)
    # falsy flags are left out, so the spec keeps its defaults (as a YAML entry would)
    given = {k: v for k, v in given.items() if v is not None and v is not False}

    def decorate(function: F) -> F:
        declaration = _declare(function, name, compensate, given)
        previous: ToolDeclaration | None = getattr(function, ATTRIBUTE, None)
        if previous is not None and previous.spec() != declaration.spec():
            raise DefinitionError(
                f"{declaration.python} is already declared as tool {previous.name} with other "
                "settings; declare a function as a tool once")
        setattr(function, ATTRIBUTE, declaration)
        return function

    return decorate(fn) if fn is not None else decorate


def declaration_of(fn: Callable[..., Any]) -> ToolDeclaration:
    """The declaration ``@tool`` recorded; a plain function gets the default settings (an
    undeclared tool is a ``write``)."""
    declared: ToolDeclaration | None = getattr(fn, ATTRIBUTE, None)
    return declared if declared is not None else _declare(fn, None, None, {})


def share_modules(declarations: list[ToolDeclaration], base_dir: Path) -> None:
    """Let the workflow loader find the modules already imported in this process, instead of
    loading a second copy of each from ``base_dir`` (a script's top level would run again; a
    module's state would be doubled). The name is the loader's own, in ``tools.python``."""
    tag = hashlib.sha256(str(base_dir.resolve()).encode()).hexdigest()[:10]
    for declaration in declarations:
        module = sys.modules.get(declaration.function.__module__)
        if module is not None and declaration.folder == base_dir.resolve():
            name = declaration.python.partition(":")[0]
            sys.modules.setdefault(f"agentplane_workflow_{tag}.{name}", module)
