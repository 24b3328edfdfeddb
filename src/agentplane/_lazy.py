"""Lazy exports for package ``__init__`` modules: a name is imported from its home module on
first access, so importing a package costs nothing until something is used (PEP 562)."""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: `import agentplane` loads no typing
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str],
                 namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``homes`` maps each exported name to its
    module — absolute (``agentplane.errors``) or a submodule of ``package`` (``runner``).
    The value is cached in ``namespace`` (the package's globals), so the next access is a
    plain lookup."""

    def __getattr__(name: str) -> Any:  # noqa: N807 (the module hook's own name)
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = home if home.startswith("agentplane") else f"{package}.{home}"
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
