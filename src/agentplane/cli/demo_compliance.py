"""The demo's compliance part: a run whose output is labelled as AI-generated, a signed
receipt of it that verifies offline and against the journal, and a customer's personal data
erased (crypto-shredding) with every hash chain still holding."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from agentplane._extras import MissingExtraError
from agentplane.demo import WORKFLOWS_DIR
from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime, load_workflow

from . import settings
from .compliance import public_key_file

LABELLED = WORKFLOWS_DIR / "labelled-report.yaml"
DEMO_INPUT = "Report on ACME's deliveries this quarter"
CARE_DESK = WORKFLOWS_DIR.parent / "personal" / "care-desk.yaml"
CARE_INPUT = {"customer_id": "C-1042", "message": "My speaker arrived broken, please help."}


async def run_compliance_demo(store: JournalStore, runtime: Runtime, out: Console) -> None:
    """Run (once per journal) the labelled report, print its labelled output and a receipt."""
    from .demo import demo_run_id

    workflow = load_workflow(LABELLED)
    run_id = demo_run_id(workflow.spec.name)
    run = await store.get_run(run_id)
    if run is None:
        run = await runtime.run(workflow, DEMO_INPUT, run_id=run_id)
    elif run.status in ("pending", "running"):
        run = await runtime.execute(run_id)
    events = await store.events(run_id)
    output = next((e.data.get("output") for e in reversed(events)
                   if e.type == EventType.RUN_COMPLETED), None)
    label = next((e.data for e in reversed(events) if e.type == EventType.CONTENT_LABELLED), {})
    out.print(f"\n[bold]Labelled output[/] ({workflow.spec.name}, {run_id}):")
    out.print(escape(str(output)))
    out.print(f"implicit label: producer {escape(str(label.get('producer')))}, models "
              f"{escape(', '.join(label.get('models', [])))}, SHA-256 "
              f"{str(label.get('content_sha256'))[:16]}… (`agentplane runs show {run_id}`)")
    try:
        await _receipt(store, run_id, out)
    except MissingExtraError as exc:
        out.print(f"[yellow]no receipt[/]: {escape(str(exc))}")
    await _erasure(store, runtime, out)


async def _erasure(store: JournalStore, runtime: Runtime, out: Console) -> None:
    """Run the care desk once per journal (its customer's values are journaled sealed), then
    erase the customer: the values read [erased], every chain still holds."""
    from agentplane.journal import verify
    from agentplane.journal.personal import ERASED, active_keys

    from .demo import demo_run_id

    workflow = load_workflow(CARE_DESK)
    run_id = demo_run_id(workflow.spec.name)
    if await store.get_run(run_id) is None:
        await runtime.run(workflow, CARE_INPUT, run_id=run_id)
    erased = active_keys().erase(CARE_INPUT["customer_id"], by="user:demo",
                                 reason="the demo's erasure request")
    events = await store.events(run_id)
    shown = str([e.data for e in events])
    report = await verify(store)
    left = [v for v in ("Lena Ortiz", "lena.ortiz@example.org", "C-1042") if v in shown]
    state = "[green]holds[/]" if report.ok else "[red]is broken[/]"
    out.print(f"\n[bold]Personal data erased[/] ({workflow.spec.name}, {run_id}): customer "
              f"C-1042's key {'destroyed now' if erased else 'was destroyed earlier'}; "
              f"{shown.count(ERASED)} values read {escape(ERASED)}, "
              f"{'none' if not left else ', '.join(left)} of the customer left in the journal; "
              f"audit chain {state} (`agentplane data erase --subject ID`)")


def _key_folder(store: JournalStore) -> Path:
    """Beside a SQLite journal (the demo's own), else in $AGENTPLANE_HOME."""
    from agentplane.storage import parse_url

    url = parse_url(store.url)
    if url.scheme == "sqlite" and url.path and url.path != ":memory:":
        return Path(url.path).resolve().parent
    return settings.home()


async def _receipt(store: JournalStore, run_id: str, out: Console) -> None:
    from agentplane.compliance import keys
    from agentplane.compliance.receipts import make_receipt, verify_receipt

    key = _key_folder(store) / "demo-audit-key.pem"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        keys.generate(key, public_key_file(key))
    token = await make_receipt(store, run_id, key)
    check = await verify_receipt(token, public_key_file(key), store)
    state = "[green]verifies[/]" if check.ok else "[red]does not verify[/]"
    out.print(f"signed receipt (JWS, Ed25519) {state}: run {run_id}, "
              f"{check.claims['events']} events, head {str(check.claims['head_hash'])[:12]}, "
              f"{check.claims['outcome']}")
    out.print(escape(token), soft_wrap=True)
    out.print(f"check it yourself: `agentplane audit verify-receipt RECEIPT --public-key "
              f"{escape(str(public_key_file(key)))}`")
