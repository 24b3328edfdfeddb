"""Evaluations and simulations: a workflow scored on a dataset of cases (``agentplane eval``)
and stressed by a perturbed runtime (``agentplane simulate``) before it goes live.

Above the runtime, like the CLI and the server: it starts real durable runs and reads their
journals; nothing below imports it. Names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentplane._lazy import lazy_exports

if TYPE_CHECKING:
    from .compare import CaseDiff, Comparison, compare
    from .evaluate import CaseResult, Evaluation, evaluate
    from .export import to_json, to_junit
    from .scoring import Check
    from .simulate import SimulationReport, got_worse, simulate
    from .spec import (
        Dataset,
        DatasetError,
        ScenariosError,
        ScenariosFile,
        load_dataset,
        load_scenarios,
    )
    from .store import EvalStore

_EXPORTS = {
    **dict.fromkeys(["CaseDiff", "Comparison", "compare"], "compare"),
    **dict.fromkeys(["CaseResult", "Evaluation", "evaluate"], "evaluate"),
    **dict.fromkeys(["to_json", "to_junit"], "export"),
    "Check": "scoring",
    **dict.fromkeys(["SimulationReport", "got_worse", "simulate"], "simulate"),
    **dict.fromkeys(["Dataset", "DatasetError", "ScenariosError", "ScenariosFile",
                     "load_dataset", "load_scenarios"], "spec"),
    "EvalStore": "store",
}

__all__ = [
    "CaseDiff",
    "CaseResult",
    "Check",
    "Comparison",
    "Dataset",
    "DatasetError",
    "EvalStore",
    "Evaluation",
    "ScenariosError",
    "ScenariosFile",
    "SimulationReport",
    "compare",
    "evaluate",
    "got_worse",
    "load_dataset",
    "load_scenarios",
    "simulate",
    "to_json",
    "to_junit",
]

__getattr__ = lazy_exports(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
