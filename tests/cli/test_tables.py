"""The CLI's tables at 80 columns (rich honours ``COLUMNS``): every line fits, no id, status or
figure is cut (no ``…``), headers are whole, and small costs keep their digits."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from agentplane.cli.render import money
from agentplane.journal import open_store
from agentplane.runtime import Runtime, load_workflow

from .harness import REFUND, STUCK, Cli, make_cli

WIDTH = 80


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The demo's nine runs (three wait for a person), a key and a registered agent, read
    through a terminal 80 columns wide."""
    cli = make_cli(tmp_path_factory.mktemp("tables"), db=False)
    cli.ok("demo", "--no-serve")
    cli.ok("keys", "create", "grafana dashboards on the ops floor", "--role", "operator",
           "--tenant", "acme-industries-europe")
    cli.ok("registry", "add", REFUND)
    cli.columns = WIDTH
    return cli


def fits(text: str, *, shortened: bool = False) -> None:
    """Every line fits; nothing is shortened with an ellipsis unless ``shortened`` (free text
    that the JSON output has in full)."""
    lines = text.splitlines()
    assert lines, "nothing printed"
    too_wide = [line for line in lines if len(line) > WIDTH]
    assert not too_wide, too_wide
    assert shortened or "…" not in text


def whole(text: str, *words: str) -> None:
    """Each word appears unbroken on one line."""
    for word in words:
        assert re.search(rf"(^|\s){re.escape(word)}(\s|$)", text, re.M), (word, text)


def test_runs_list(demo: Cli) -> None:
    runs = demo.json("runs", "list")
    text = demo.ok("runs", "list").stdout
    fits(text)
    whole(text, "RUN", "WORKFLOW", "STATUS")
    for run in runs:
        whole(text, run["id"], run["status"], run["workflow"])


def test_approvals_list(demo: Cli) -> None:
    approvals = demo.json("approvals", "list")
    text = demo.ok("approvals", "list").stdout
    fits(text)
    for a in approvals:
        whole(text, a["id"], a["run_id"], a["kind"])
    assert "DE12500105170648489890" in text.replace("\n", "")  # the IBAN may wrap, not vanish


async def test_resume_names_the_run_that_needs_a_person(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pending runs with long ids: resume drives one to completion and the other to an
    approval; at 80 columns both ids are whole and the waiting one is named with what to do."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # loading a workflow extends sys.path
    cli = make_cli(tmp_path)
    store = open_store(cli.db_url)
    runtime = Runtime(store)
    try:
        for flow, run_id in ((STUCK, "run-waits-for-a-person-0123456789"),
                             (REFUND, "run-completes-on-its-own-0123456789")):
            await runtime.start(load_workflow(flow), "go", run_id=run_id)
    finally:
        await runtime.aclose()
        await store.close()
    cli.columns = WIDTH
    text = cli.ok("resume").stdout
    fits(text)
    whole(text, "run-waits-for-a-person-0123456789", "run-completes-on-its-own-0123456789",
          "waiting", "completed")
    assert ("run run-waits-for-a-person-0123456789 waits for a person: `agentplane "
            "approvals list` shows what to decide") in " ".join(text.split())


def test_usage_report(demo: Cli) -> None:
    for by in ([], ["--by", "workflow"], ["--by", "workflow", "--by", "model"]):
        text = demo.ok("usage", "report", *by).stdout
        fits(text)
        for header in ("MODEL CALLS", "CACHED INPUT TOKENS", "COST USD",
                       "COST PER OUTCOME USD", "ENERGY KWH"):
            assert header in text, header
        assert "0.0000" not in text
    rows = demo.json("usage", "report", "--by", "workflow")
    text = demo.ok("usage", "report", "--by", "workflow").stdout
    for row in rows:
        whole(text, row["workflow"])
        if row["cost_usd"]:
            whole(text, money(row["cost_usd"]))


def test_keys_list(demo: Cli) -> None:
    text = demo.ok("keys", "list").stdout
    fits(text)
    whole(text, "operator", "acme-industries-europe", "grafana", "dashboards", "floor")


def test_registry_list(demo: Cli) -> None:
    text = demo.ok("registry", "list").stdout
    fits(text)
    whole(text, "refund-desk/clerk", "trusted", "local:refund-desk/clerk")


def test_runs_show(demo: Cli) -> None:
    for run in demo.json("runs", "list"):
        shown = demo.json("runs", "show", run["id"])
        text = demo.ok("runs", "show", run["id"]).stdout
        fits(text, shortened=True)
        for event in shown["events"]:
            whole(text, event["type"])
            if event["step_key"]:
                whole(text, event["step_key"])


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (0.00003, "<0.0001"), (0.0001, "0.00010"), (0.00347, "0.0035"),
    (0.0823, "0.082"), (0.5, "0.50"), (1, "1.00"), (1234.567, "1,234.57"),
    (-0.0005, "-0.00050"), (-0.00001, ">-0.0001"),
])
def test_money_keeps_significant_digits(value: float, text: str) -> None:
    assert money(value) == text
