"""The Python API: declare tools, agents and workflows, run them, act on their runs.

A box above the runtime (it only uses the runtime's, journal's and models' public parts); the
top-level ``agentplane`` package re-exports it lazily.
"""

from .agents import Agent
from .results import Approval, RunResult, RunUsage
from .runtime import Runtime, default_db
from .tools import DefinitionError, ToolDeclaration, tool
from .workflows import Step, Workflow, parallel, step, supervisor

__all__ = [
    "Agent",
    "Approval",
    "DefinitionError",
    "RunResult",
    "RunUsage",
    "Runtime",
    "Step",
    "ToolDeclaration",
    "Workflow",
    "default_db",
    "parallel",
    "step",
    "supervisor",
    "tool",
]
