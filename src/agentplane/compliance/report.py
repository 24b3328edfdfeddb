"""Technical documentation of a workflow in the shape of the EU AI Act's Annex IV, written
from its spec and, given the database, its journal.

Sections: general description (intended purpose, risk class), models and their providers,
tools and data sources with their trust, human-oversight measures (Art. 14: autonomy levels,
approvals), guardians and their measured figures (read from ``guardian_figures.json``, which
carries the AgentDojo figures of docs/agentdojo.md), accuracy from evaluations (an ``evals``
table, when one exists), record-keeping and log retention (Art. 12, 19), and the incidents
the journal holds for the serious-incident duty (Art. 73): guardian denials, runs sent to
reconciliation, rollbacks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from agentplane.journal import EventType, JournalStore
from agentplane.journal.events import utc_now
from agentplane.storage import parse_url

if TYPE_CHECKING:
    from agentplane.runtime.workflow import Workflow

RISK_MEANING = {
    "minimal": "minimal risk: no obligations beyond AI literacy (Art. 4)",
    "limited": "limited risk: transparency obligations (Art. 50): people are told they deal "
               "with an AI system and generated content is marked",
    "high": "high risk (Art. 6, Annex III): risk management, data governance, technical "
            "documentation, record-keeping, transparency, human oversight, accuracy and "
            "robustness (Art. 9–15)",
}
AUTONOMY_MEANING = {
    "in_the_loop": "every write or irreversible call waits for a person's approval",
    "on_the_loop": "write calls run and people are notified (they may halt or reverse); "
                   "irreversible calls wait for approval",
    "out_of_the_loop": "guardians alone decide; a person is called when a guardian asks",
}
INCIDENT_TYPES = {EventType.RUN_NEEDS_RECONCILIATION: "run sent to reconciliation",
                  EventType.ROLLBACK_STARTED: "rollback started",
                  EventType.ROLLBACK_COMPLETED: "rollback completed"}


def guardian_figures() -> dict[str, Any]:
    """The measured figures of the guardians (the data file shipped with this package)."""
    text = resources.files(__package__).joinpath("guardian_figures.json").read_text("utf-8")
    figures: dict[str, Any] = json.loads(text)
    return figures


def _provider_of(model: str, providers: dict[str, Any]) -> str:
    prefix = model.split(":", 1)[0]
    spec = providers.get(prefix)
    if spec is not None:
        return f"{spec.name} ({spec.kind}{', ' + spec.base_url if spec.base_url else ''})"
    if model.startswith("router:"):
        return "a router: chosen per call among its candidates"
    return {"scripted": "scripted (offline test double)", "openai": "OpenAI",
            "anthropic": "Anthropic"}.get(prefix, prefix)


def _trust(trust: Any, effect: str) -> str:
    if trust is None:
        return "trusted (a read's default)" if effect == "read" else "no trusted origin (default)"
    if hasattr(trust, "model_dump"):
        return json.dumps(trust.model_dump(mode="json", exclude_defaults=True))
    return str(getattr(trust, "value", trust))


def describe(flow: Workflow) -> dict[str, Any]:
    """What the spec says, section by section."""
    spec = flow.spec
    compliance = spec.compliance
    providers = {p.name: p for p in spec.providers}
    sources: list[dict[str, Any]] = [
        {"name": t.name, "kind": "tool", "effect": str(t.effect.value),
         "trust": _trust(t.trust, str(t.effect.value)), "external": t.external,
         "classification": t.classification, "region": t.region} for t in spec.tools]
    sources += [{"name": s.name, "kind": "MCP server", "effect": "as each tool declares",
                 "trust": "as each tool declares", "external": True} for s in spec.mcp_servers]
    sources += [{"name": r.name, "kind": "remote A2A agent", "effect": "write",
                 "trust": "untrusted", "external": True} for r in spec.remote_agents]
    if spec.knowledge is not None:
        sources.append({"name": "knowledge base", "kind": "retrieval", "effect": "read",
                        "trust": "as each document's source is declared", "external": False})
    guardians = spec.guardians
    return {
        "workflow": {"name": spec.name, "version": spec.version, "hash": flow.hash,
                     "description": spec.description},
        "purpose": compliance.purpose if compliance else None,
        "risk_class": compliance.risk_class if compliance else "minimal",
        "risk_meaning": RISK_MEANING[compliance.risk_class if compliance else "minimal"],
        "models": [{"agent": a.name, "model": a.model,
                    "provider": _provider_of(a.model, providers)} for a in spec.agents],
        "data_sources": sources,
        "oversight": {
            "workflow": str(spec.autonomy.value),
            "agents": {a.name: str(a.autonomy.value) for a in spec.agents if a.autonomy},
            "tools": {t.name: str(t.autonomy.value) for t in spec.tools if t.autonomy},
            "approval_timeout_s": spec.approval_timeout_s,
            "meaning": AUTONOMY_MEANING},
        "guardians": {"enabled": guardians.enabled, "default": guardians.default,
                      "policies": [p.model_dump(mode="json", exclude_defaults=True)
                                   for p in guardians.policies],
                      "guardian_agent": guardians.agent is not None,
                      "measured": guardian_figures()},
        "retention_days": compliance.retention_days if compliance else None,
        "labels": (compliance.labelled.model_dump(mode="json")
                   if compliance and compliance.labelled else None),
    }


@dataclass(frozen=True, slots=True)
class Incident:
    run_id: str
    seq: int
    time: str
    kind: str
    detail: str


async def incidents(store: JournalStore, workflow: str) -> tuple[int, list[Incident]]:
    """The runs of ``workflow`` and what in them the serious-incident duty is about."""
    runs = await store.list_runs(workflow=workflow, limit=1_000_000)
    found = []
    for run in sorted(runs, key=lambda r: r.created_at):
        for e in await store.events(run.id, resolve_blobs=False):
            if e.type == EventType.GUARD_DECIDED and e.data.get("result") == "deny":
                found.append(Incident(run.id, e.seq, e.time, "guardian blocked a call",
                                      f"{e.data.get('guardian')}/{e.data.get('policy_id')}: "
                                      f"{e.data.get('tool', e.data.get('call'))} — "
                                      f"{e.data.get('reason')}"))
            elif e.type in INCIDENT_TYPES:
                found.append(Incident(run.id, e.seq, e.time, INCIDENT_TYPES[e.type],
                                      str(e.data.get("reason") or e.data.get("tool") or "")))
    return len(runs), found


def evaluations(store: JournalStore, workflow: str) -> list[dict[str, Any]] | None:
    """Rows of an ``evals`` table about ``workflow``, or None when there is no such table."""
    db = store.database
    sql = ("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'evals'"
           if db.dialect == "sqlite" else
           "SELECT 1 FROM information_schema.tables WHERE table_name = 'evals' "
           "AND table_schema = current_schema()")
    if db.query_one(sql) is None:
        return None
    columns = _columns(store)
    rows = [dict(zip(columns, row, strict=False)) for row in db.query("SELECT * FROM evals")]
    return [r for r in rows if r.get("workflow", workflow) == workflow]


def _columns(store: JournalStore) -> list[str]:
    db = store.database
    if db.dialect == "sqlite":
        return [str(r[1]) for r in db.query("PRAGMA table_info(evals)")]
    return [str(r[0]) for r in db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'evals' "
        "AND table_schema = current_schema() ORDER BY ordinal_position")]


async def build_report(flow: Workflow, store: JournalStore | None = None) -> dict[str, Any]:
    """The whole report as data (what ``--out FILE.json`` writes)."""
    report = describe(flow)
    report["generated"] = utc_now()
    report["journal"] = parse_url(store.url).safe if store is not None else None
    if store is None:
        report["runs"], report["incidents"], report["evaluations"] = None, None, None
        return report
    count, found = await incidents(store, flow.spec.name)
    report["runs"] = count
    report["incidents"] = [asdict(i) for i in found]
    report["evaluations"] = evaluations(store, flow.spec.name)
    return report
