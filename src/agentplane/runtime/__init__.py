"""The runtime: durable runs of multi-agent workflows (agent loop, patterns, recovery).

What a program drives runs with. The engine's own machinery (``RunContext``, ``run_agent``,
``wait_id``, ``idempotency_key``) lives in ``runtime.context`` and ``runtime.loop`` and is not
exported here: it may change between releases. Most programs use the top-level
``agentplane.Agent`` / ``Workflow`` / ``Runtime`` instead (``agentplane.api``).
"""

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
