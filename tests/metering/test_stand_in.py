"""``scripted:MODEL``: a scripted agent standing in for MODEL is metered and priced as MODEL."""

from __future__ import annotations

from pathlib import Path

from agentplane.journal import open_store
from agentplane.metering.catalog import load_catalog
from agentplane.metering.ledger import ledger_for
from agentplane.metering.pricing import catalog_pricing
from agentplane.metering.usage import MODEL
from agentplane.runtime import Runtime, workflow_from_dict

USAGE = {"input_tokens": 1000, "output_tokens": 500}


def test_the_pricer_prices_a_stand_in_as_its_model() -> None:
    pricer, worst_case = catalog_pricing()
    expected = float(load_catalog().cost("gpt-4o-mini", input_tokens=1000,
                                         output_tokens=500).to("USD").amount)
    assert expected > 0
    assert pricer("scripted:gpt-4o-mini", USAGE).usd == expected
    assert pricer("scripted", USAGE).usd == 0
    assert pricer("scripted:scripted", USAGE).usd == 0
    assert worst_case("scripted:gpt-4o-mini", 1000, 500) > 0
    assert worst_case("scripted", 1000, 500) == 0


async def test_a_stand_in_run_is_metered_at_the_models_price(tmp_path: Path) -> None:
    workflow = workflow_from_dict({
        "name": "rehearsal",
        "agents": [{"name": "clerk", "model": "scripted:gpt-4o-mini",
                    "script": [{"content": "done", "usage": USAGE}]}],
        "steps": [{"agent": "clerk"}],
    }, base_dir=tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    runtime = Runtime(store)
    try:
        run = await runtime.run(workflow, "go")
        assert run.status == "completed"
        ledger = ledger_for(store)
        await ledger.sync(store, runtime.metering.pricer)
        [model_call] = [e for e in ledger.events() if e["type"] == MODEL]
        assert model_call["model"] == "scripted:gpt-4o-mini"
        pricer, _ = catalog_pricing()
        assert model_call["cost_usd"] == pricer("scripted:gpt-4o-mini", USAGE).usd > 0
        ledger.close()
    finally:
        await runtime.aclose()
        await store.close()
