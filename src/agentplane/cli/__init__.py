"""The command line: ``agentplane run|resume|worker|runs|approvals|audit|usage|economics|mcp|
a2a|demo``."""

from .app import app, main

__all__ = ["app", "main"]
