"""Optional parts of Agentplane and the one error a missing one gives.

The core (runtime, journal on SQLite, the scripted / OpenAI-compatible / Anthropic models, the
CLI) installs with ``pip install agentplane``. Each integration below is an extra, imported only
where it is used, through :func:`require`, so a missing one says which extra to install instead
of failing with a bare ``ModuleNotFoundError`` deep in a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from agentplane.errors import ConfigError

EXTRAS: dict[str, str] = {
    "server": "the API server and the console (FastAPI, uvicorn, Jinja2, pygal, Prometheus)",
    "mcp": "MCP: tools from MCP servers and `agentplane mcp serve` (the official MCP SDK)",
    "a2a": "A2A: remote agents as tools, the registry's agent cards and `agentplane a2a serve` "
           "(the official A2A SDK)",
    "otel": "OpenTelemetry traces exported over OTLP/HTTP",
    "postgres": "the PostgreSQL back-end (psycopg 3 and its pool)",
    "vectors": "vector search of the knowledge base with numpy (else pure Python)",
    "compliance": "signed run receipts and checkpoints, and C2PA manifests on generated "
                  "images and PDFs (cryptography, PyJWT, c2pa-python)",
    "mail": "the mail trigger: runs started by new messages of an IMAP mailbox (IMAPClient)",
}
"""Each extra and what it adds (``pip install 'agentplane[NAME]'``; ``[all]`` is every one)."""

PACKAGES: dict[str, str] = {
    "fastapi": "server", "uvicorn": "server", "jinja2": "server", "multipart": "server",
    "pygal": "server", "prometheus_client": "server", "starlette": "server",
    "mcp": "mcp", "a2a": "a2a", "opentelemetry": "otel", "psycopg": "postgres",
    "psycopg_pool": "postgres", "numpy": "vectors", "c2pa": "compliance",
    "imapclient": "mail",
}
"""The top-level package each extra brings, for naming the extra behind an import that failed
where no :func:`require` guarded it."""


class MissingExtraError(ConfigError):
    """An optional part of Agentplane is used but its extra is not installed."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.feature, self.extra, self.module = feature, extra, module
        super().__init__(f"{feature} needs the optional package {module!r}, which is not "
                         f"installed: install agentplane[{extra}] "
                         f"(pip install 'agentplane[{extra}]', or 'agentplane[all]' for "
                         "every optional part)")


def _missing(exc: ImportError, module: str) -> bool:
    """Whether ``exc`` says ``module`` (or a package it lives in) is absent, rather than that
    something inside an installed package failed to import (a bug to show as it is)."""
    if exc.name is None:
        return True  # a finder that refused the import without naming it
    return module == exc.name or module.startswith(exc.name + ".")


def missing_extra(exc: BaseException) -> MissingExtraError | None:
    """The :class:`MissingExtraError` an unguarded ``ModuleNotFoundError`` stands for, if the
    module it names comes with an extra; else None."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    package = exc.name.split(".")[0]
    extra = PACKAGES.get(package)
    return None if extra is None else MissingExtraError("this command", extra, package)


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def require(module: str, *, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` from the extra ``extra``, or raise :class:`MissingExtraError` naming
    the extra to install. ``feature`` says what needed it (default: the extra's description).
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; one of {', '.join(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if not _missing(exc, module):
            raise
        raise MissingExtraError(feature or EXTRAS[extra], extra, module) from exc
