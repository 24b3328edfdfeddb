"""The demo's compliance part: a run whose output is labelled as AI-generated, and a signed
receipt of it that verifies offline and against the journal."""

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
