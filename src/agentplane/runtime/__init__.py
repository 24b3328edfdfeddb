"""The runtime: durable runs of multi-agent workflows (agent loop, patterns, recovery).

What a program drives runs with. The engine's own machinery (``RunContext``, ``run_agent``,
``wait_id``, ``idempotency_key``) lives in ``runtime.context`` and ``runtime.loop`` and is not
exported here: it may change between releases. Most programs use the top-level
``agentplane.Agent`` / ``Workflow`` / ``Runtime`` instead (``agentplane.api``).

Names load when first used: ``agentplane.runtime.spec`` (what a workflow declares) does not
pull in the engine and its protocol clients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentplane._lazy import lazy_exports

if TYPE_CHECKING:
    from .context import NeedsReconciliation, RunFailure, Suspended
    from .runner import APPROVAL_KINDS, RunStateError, Runtime, new_run_id
    from .spec import (
        AgentSpec,
        AgentStep,
        ParallelStep,
        ProviderSpec,
        SupervisorStep,
        ToolSpec,
        WorkflowSpec,
    )
    from .worker import Worker
    from .workflow import (
        SpecError,
        SpecProblem,
        Workflow,
        load_workflow,
        parse_spec,
        resolve,
        workflow_from_dict,
    )

_EXPORTS = {
    **dict.fromkeys(["NeedsReconciliation", "RunFailure", "Suspended"], "context"),
    **dict.fromkeys(["APPROVAL_KINDS", "RunStateError", "Runtime", "new_run_id"], "runner"),
    **dict.fromkeys(["AgentSpec", "AgentStep", "ParallelStep", "ProviderSpec",
                     "SupervisorStep", "ToolSpec", "WorkflowSpec"], "spec"),
    "Worker": "worker",
    **dict.fromkeys(["SpecError", "SpecProblem", "Workflow", "load_workflow", "parse_spec",
                     "resolve", "workflow_from_dict"], "workflow"),
}

__all__ = [
    "APPROVAL_KINDS",
    "AgentSpec",
    "AgentStep",
    "NeedsReconciliation",
    "ParallelStep",
    "ProviderSpec",
    "RunFailure",
    "RunStateError",
    "Runtime",
    "SpecError",
    "SpecProblem",
    "SupervisorStep",
    "Suspended",
    "ToolSpec",
    "Worker",
    "Workflow",
    "WorkflowSpec",
    "load_workflow",
    "new_run_id",
    "parse_spec",
    "resolve",
    "workflow_from_dict",
]


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
