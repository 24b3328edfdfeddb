"""Where the CLI finds its database and who it acts as."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

DEFAULT_PORT = 8700
"""Where ``serve`` and ``demo`` listen unless told otherwise."""


def home() -> Path:
    """``AGENTPLANE_HOME``, or the user's data directory for Agentplane."""
    configured = os.environ.get("AGENTPLANE_HOME")
    if configured:
        return Path(configured).expanduser()
    import platformdirs  # only without AGENTPLANE_HOME

    return Path(platformdirs.user_data_dir("agentplane", appauthor=False))


def database_url(option: str | None) -> str:
    """``--db``, else ``AGENTPLANE_DB``, else a SQLite file under ``home()``."""
    if option:
        return option
    configured = os.environ.get("AGENTPLANE_DB")
    if configured:
        return configured
    return f"sqlite:///{home() / 'agentplane.db'}"


def actor(option: str | None) -> str:
    """Identity recorded on what a person does from the CLI: ``user:NAME``."""
    name = option or os.environ.get("AGENTPLANE_USER")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    return name if name.startswith("user:") else f"user:{name}"
