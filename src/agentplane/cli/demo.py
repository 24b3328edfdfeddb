"""``agentplane demo``: run the demo workflows in the terminal and summarise them."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentplane.demo import workflow_files
from agentplane.governance.keys import keyring_for
from agentplane.journal import Event, JournalStore, open_store, verify
from agentplane.runtime import Runtime, load_workflow

from .render import status_text

DEMO_INPUTS = {
    "refund-desk": "Refund order A1",
    "payment-approval": "Pay ACME's invoice INV-2041 of 1200 EUR",
    "injected-mail": "Pay ACME's invoice INV-2041 of 1200 EUR",
}


def _totals(events: list[Event]) -> tuple[int, int, int]:
    models = sum(1 for e in events if e.type == "model.completed")
    tools = sum(1 for e in events if e.type == "tool.completed")
    tokens = sum((e.usage or {}).get("input_tokens", 0) + (e.usage or {}).get("output_tokens", 0)
                 for e in events)
    return models, tools, tokens


async def run_demo(store: JournalStore, runtime: Runtime, out: Console) -> None:
    out.print(f"[bold]Agentplane demo[/] — offline, scripted model, journal at {store.url}\n")
    table = Table(box=None, header_style="bold")
    for column in ("WORKFLOW", "RUN", "STATUS", "MODEL CALLS", "TOOL CALLS", "TOKENS"):
        table.add_column(column, no_wrap=True)
    results: list[str] = []
    for path in workflow_files():
        workflow = load_workflow(path)
        with out.status(f"running {workflow.spec.name} — {workflow.spec.description}"):
            run = await runtime.run(workflow, DEMO_INPUTS.get(workflow.spec.name, "Go ahead."))
        events = await store.events(run.id)
        models, tools, tokens = _totals(events)
        last = events[-1].data if events else {}
        result = str(last.get("output") or last.get("error") or "")
        if run.status == "waiting":
            waits = await store.waits(run_id=run.id)
            result = "; ".join(f"waiting for a person: {w.data.get('reason')} "
                               f"(agentplane approvals approve {w.id})" for w in waits)
        out.print(f"  {status_text(run.status)}  {workflow.spec.name}: {run.id}")
        table.add_row(workflow.spec.name, run.id, status_text(run.status), str(models),
                      str(tools), str(tokens))
        results.append(f"[bold]{workflow.spec.name}[/]: {escape(result)}")
    out.print()
    out.print(table)
    out.print()
    for line in results:
        out.print(line)
    report = await verify(store)
    state = "[green]holds[/]" if report.ok else "[red]is broken[/]"
    out.print(f"\naudit chain {state}: {report.runs} runs, {report.events} events")
    blocked = 0
    for run in await store.list_runs(workflow="injected-mail", limit=1):
        blocked += sum(1 for e in await store.events(run.id)
                       if e.type == "guard.decided" and e.data.get("result") == "deny")
    out.print(f"guardians blocked {blocked} call(s) in injected-mail "
              "(`agentplane runs show RUN` shows the decision and its reason)")
    out.print("next: `agentplane runs list`, `agentplane runs show RUN`, "
              "`agentplane approvals list`, `agentplane audit export RUN`")


DEMO_KEY_NAME = "demo admin"


async def serve_demo(db_url: str, port: int, out: Console) -> None:
    """Serve the console and API on loopback with the demo workflows and a new admin key (the
    previous demo's key is revoked, so only the one printed last works)."""
    from .serve import serve_plane

    store = open_store(db_url)
    ring = keyring_for(store)
    for old in ring.list():
        if old.name == DEMO_KEY_NAME:
            ring.revoke(old.id)
    _, secret = ring.create(DEMO_KEY_NAME, role="admin", tenant="*")
    ring.close()

    async def announce(url: str) -> None:
        out.print(f"\n[bold]Console[/]: {url}/   API: {url}/api/v1   OpenAPI: {url}/openapi.json")
        out.print(f"[bold]Admin key[/] (paste it at the console's sign-in): {secret}",
                  soft_wrap=True)
        out.print("Ctrl-C stops the server; the journal stays where it is.")

    try:
        await serve_plane(store, workflow_files(), host="127.0.0.1", port=port,
                          announce=announce)
    finally:
        await store.close()
