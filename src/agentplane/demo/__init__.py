"""Demo workflows that show the product offline, on the scripted model."""

from pathlib import Path

WORKFLOWS_DIR = Path(__file__).with_name("workflows")


def workflow_files() -> list[Path]:
    """The demo workflow files, in the order the demo runs them."""
    order = ["refund-desk", "research-team", "incident-triage", "support-handoff", "stuck-agent",
             "payment-approval", "injected-mail", "budget-cap", "verified-answer",
             "private-router"]
    return [WORKFLOWS_DIR / f"{name}.yaml" for name in order]
