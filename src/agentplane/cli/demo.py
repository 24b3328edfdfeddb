"""``agentplane demo``: run the demo workflows in the terminal and summarise them."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentplane.demo import workflow_files
from agentplane.governance.keys import ALL_TENANTS, KeyRing, keyring_for
from agentplane.journal import Event, EventType, JournalStore, open_store, verify
from agentplane.runtime import Runtime, load_workflow

from .demo_compliance import run_compliance_demo
from .demo_triggers import run_trigger_demo
from .render import status_text

DEMO_INPUTS = {
    "refund-desk": "Refund order A1",
    "payment-approval": "Pay ACME's invoice INV-2041 of 1200 EUR",
    "injected-mail": "Pay ACME's invoice INV-2041 of 1200 EUR",
    "verified-answer": "Review checkout for the on-call engineer.",
    "private-router": "How do vendors price agents?",
}


def _totals(events: list[Event]) -> tuple[int, int, int]:
    models = sum(1 for e in events if e.type == EventType.MODEL_COMPLETED)
    tools = sum(1 for e in events if e.type == EventType.TOOL_COMPLETED)
    tokens = sum((e.usage or {}).get("input_tokens", 0) + (e.usage or {}).get("output_tokens", 0)
                 for e in events)
    return models, tools, tokens


def demo_run_id(workflow: str) -> str:
    """The id of the demo's run of ``workflow``: one per journal, so running the demo again
    shows the same runs instead of adding more."""
    return f"run-demo-{workflow}"


async def run_demo(store: JournalStore, runtime: Runtime, out: Console) -> None:
    out.print(f"[bold]Agentplane demo[/] — offline, scripted model, journal at {store.url}\n")
    table = Table(box=None, header_style="bold")
    for column in ("WORKFLOW", "RUN", "STATUS", "MODEL CALLS", "TOOL CALLS", "TOKENS"):
        table.add_column(column, no_wrap=True)
    results: list[str] = []
    reused = 0
    for path in workflow_files():
        workflow = load_workflow(path)
        run_id = demo_run_id(workflow.spec.name)
        earlier = await store.get_run(run_id)
        with out.status(f"running {workflow.spec.name} — {workflow.spec.description}"):
            if earlier is None:
                run = await runtime.run(workflow, DEMO_INPUTS.get(workflow.spec.name,
                                                                  "Go ahead."), run_id=run_id)
            elif earlier.status in ("pending", "running"):  # an earlier demo stopped half-way
                run = await runtime.execute(run_id)
            else:
                run, reused = earlier, reused + 1
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
    if reused:
        out.print(f"\n{reused} run(s) are the earlier demo's, shown again rather than run once "
                  "more (a demo adds its runs to a journal once; pass another --db for a "
                  "fresh one)")
    out.print()
    out.print(table)
    out.print()
    for line in results:
        out.print(line)
    await run_compliance_demo(store, runtime, out)
    await run_trigger_demo(store, runtime, out)
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


def demo_key(ring: KeyRing) -> str:
    """The demo's admin key of every tenant, with a new secret: made the first time, then the
    same key rotated (earlier demos' duplicates are revoked)."""
    own = [k for k in ring.list(include_revoked=True)
           if k.name == DEMO_KEY_NAME and k.role == "admin" and k.tenant == ALL_TENANTS]
    if not own:
        return ring.create(DEMO_KEY_NAME, role="admin", tenant=ALL_TENANTS)[1]
    for extra in own[1:]:
        if extra.revoked_at is None:
            ring.revoke(extra.id)
    return ring.rotate(own[0].id)[1]


async def serve_demo(db_url: str, port: int, out: Console) -> None:
    """Serve the console and API on loopback with the demo workflows and the demo's admin key:
    one key, whose secret is new each time (the previous demo's stops working), not one more
    permanent admin key per demo."""
    from .serve import serve_plane

    store = open_store(db_url)
    ring = keyring_for(store)
    secret = demo_key(ring)
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
