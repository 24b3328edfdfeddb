"""The runtime: durable runs of multi-agent workflows (agent loop, patterns, recovery)."""

from .context import (
    NeedsReconciliation,
    RunContext,
    RunFailure,
    Suspended,
    idempotency_key,
    wait_id,
)
from .loop import AgentResult, run_agent
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
    "AgentResult",
    "AgentSpec",
    "AgentStep",
    "NeedsReconciliation",
    "ParallelStep",
    "ProviderSpec",
    "RunContext",
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
    "idempotency_key",
    "load_workflow",
    "new_run_id",
    "parse_spec",
    "resolve",
    "run_agent",
    "wait_id",
    "workflow_from_dict",
]
