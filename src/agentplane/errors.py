"""Errors a person using Agentplane can hit.

Every error here carries a message that says what was wrong, where, and what to do. The CLI
prints the message as one paragraph and never a traceback.
"""

from __future__ import annotations


class AgentplaneError(Exception):
    """Base class of every error meant for a person, not a developer."""

    exit_code: int = 1


class ConfigError(AgentplaneError):
    """A setting, URL or environment variable is wrong."""

    exit_code = 2


class NotFoundError(AgentplaneError):
    """A run, approval or other object named by the user does not exist."""

    exit_code = 3
