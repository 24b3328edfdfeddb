"""``agentplane run --sensitivity``: a personal run of the routing demo stays on its local
model; a value that is not a classification is refused with the ones that are."""

from __future__ import annotations

from pathlib import Path

from agentplane.demo import WORKFLOWS_DIR

from .harness import failed, make_cli

ROUTER_DEMO = WORKFLOWS_DIR / "private-router.yaml"


def test_a_personal_run_is_routed_to_the_local_model(tmp_path: Path) -> None:
    cli = make_cli(tmp_path)
    run = cli.json("run", ROUTER_DEMO, "--input", '"How do vendors price agents?"',
                   "--sensitivity", "personal", "--run-id", "p1")
    assert run["status"] == "completed"
    events = cli.json("runs", "show", "p1")["events"]
    chosen = {e["data"]["chosen"] for e in events if e["type"] == "model.routed"}
    assert chosen == {"onprem"}
    message = failed(cli("run", ROUTER_DEMO, "--sensitivity", "secret"), 2)
    assert "sensitivity 'secret' is not one of public, internal, personal, confidential" in (
        message)
