"""Compliance commands: ``compliance report|retain``, ``provenance sign|verify``, and under
``audit``: ``keygen``, ``receipt``, ``verify-receipt``, ``checkpoint``.

Like the rest of the CLI, each command imports what it uses when it runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from . import render, settings
from ._typer import group
from .render import escape

if TYPE_CHECKING:
    from agentplane.journal import JournalStore
    from agentplane.journal.chain import AuditReport

T = TypeVar("T")

compliance_app = group()
provenance_app = group()
out = render.lazy_console()

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
KeyOption = Annotated[Path | None, typer.Option(
    "--key", help="The Ed25519 private key (PEM) that signs (default: audit-key.pem in "
                  "$AGENTPLANE_HOME; make one with `agentplane audit keygen`).",
    show_default=False)]
PublicKeyOption = Annotated[Path, typer.Option(
    "--public-key", help="The Ed25519 public key (PEM) the signature must hold under.")]


def default_key() -> Path:
    """Where ``audit keygen`` writes the deployment's signing key unless told otherwise."""
    return settings.home() / "audit-key.pem"


def public_key_file(private_key: Path) -> Path:
    """The public half written next to a private key: ``KEY.pub.pem``."""
    return private_key.with_name(private_key.name.removesuffix(".pem") + ".pub.pem")


def _read(db: str | None, body: Callable[[JournalStore], Awaitable[T]]) -> T:
    from .app import _read as read_journal  # the program's own reader; app imports this module

    return read_journal(db, body)


def keygen(key: KeyOption = None) -> None:
    """Write a new Ed25519 key pair for receipts and checkpoints (private key mode 0600, never
    printed; the public key, KEY.pub.pem, is what verifiers need)."""
    from agentplane.compliance import keys

    private = key or default_key()
    private.parent.mkdir(parents=True, exist_ok=True)
    kid = keys.generate(private, public_key_file(private))
    out.print(f"wrote private key {private} (mode 0600) and public key "
              f"{public_key_file(private)}; key id {kid}", markup=False)


def receipt(run_id: str, key: KeyOption = None, db: DbOption = None) -> None:
    """Print a signed receipt (compact JWS, Ed25519) of a run: id, workflow hash, head hash,
    event count, outcome, time."""
    from agentplane.compliance.receipts import make_receipt

    async def body(store: JournalStore) -> str:
        return await make_receipt(store, run_id, key or default_key())

    print(_read(db, body))


def verify_receipt(
    receipt_text: Annotated[str, typer.Argument(
        metavar="RECEIPT", help="The receipt, or a file holding it, or - for standard input.")],
    public_key: PublicKeyOption,
    db: Annotated[str | None, typer.Option(
        "--db", help="Also check the journal in this database still matches the receipt.",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a receipt offline (its signature), and with --db that the journal still matches.
    Exits 1 when either does not hold."""
    import asyncio
    import re
    import sys

    from agentplane.compliance.receipts import ReceiptError, verify_receipt

    token = receipt_text
    if receipt_text == "-":
        token = sys.stdin.read()
    elif not re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", receipt_text.strip()):
        token = Path(receipt_text).read_text(encoding="utf-8")  # not a JWS: a file
    try:
        if db is None:
            check = asyncio.run(verify_receipt(token, public_key))
        else:
            check = _read(db, lambda store: verify_receipt(token, public_key, store))
    except ReceiptError as exc:
        if as_json:
            print(render.dump_json({"ok": False, "signature": False, "error": str(exc)}))
        else:
            out.print(f"[red]receipt invalid[/]: {escape(str(exc))}")
        raise typer.Exit(1) from None
    if as_json:
        print(render.dump_json({"ok": check.ok, "signature": True, "claims": check.claims,
                                "journal_checked": check.journal_checked,
                                "problems": check.problems}))
    else:
        c = check.claims
        out.print(f"[green]signature holds[/]: run {escape(str(c['run']))} of "
                  f"{escape(str(c['workflow']))}, {c['outcome']}, {c['events']} events ending "
                  f"in {str(c['head_hash'])[:12]}, at {c['time']}")
        if check.journal_checked and check.ok:
            out.print("[green]the journal still matches[/]")
        for problem in check.problems:
            out.print(f"[red]journal differs[/]: {escape(problem)}")
    if not check.ok:
        raise typer.Exit(1)


def checkpoint(
    to: Annotated[str, typer.Option("--to", help="Append to this JSONL file, or POST to this "
                                                 "http(s) URL (which serves the file on GET).")],
    key: KeyOption = None,
    db: DbOption = None,
) -> None:
    """Append a signed checkpoint of every run's head hash and event count, outside the
    journal, for `agentplane audit verify --against`."""
    from agentplane.compliance.checkpoints import shown, write_checkpoint

    async def body(store: JournalStore) -> None:
        written = await write_checkpoint(store, to, key or default_key())
        out.print(f"checkpoint {written.line}: {written.runs} runs recorded in {shown(to)}",
                  markup=False)

    _read(db, body)


async def add_checkpoint_breaks(store: JournalStore, report: AuditReport, source: str,
                                public_key: Path | None, runs: list[str] | None) -> None:
    """``audit verify --against``: add to ``report`` the runs that no longer match what the
    checkpoints recorded (only ``runs`` when given), and problems of the checkpoints
    themselves (as breaks of the pseudo-run ``(checkpoints)``)."""
    from agentplane.compliance.checkpoints import check_against
    from agentplane.journal.chain import ChainBreak

    check = await check_against(store, source, public_key)
    if public_key is None:
        typer.echo("note: checkpoint signatures not checked (pass --public-key)", err=True)
    report.breaks.extend(ChainBreak("(checkpoints)", None, p) for p in check.problems)
    seen = {b.run_id for b in report.breaks}
    report.breaks.extend(b for b in check.breaks
                         if b.run_id not in seen and (runs is None or b.run_id in runs))


CertOption = Annotated[Path | None, typer.Option(
    "--cert", envvar="AGENTPLANE_C2PA_CERT", help="The deployment's C2PA certificate chain "
    "(PEM, leaf first; default: c2pa-chain.pem in $AGENTPLANE_HOME).", show_default=False)]
CertKeyOption = Annotated[Path | None, typer.Option(
    "--cert-key", envvar="AGENTPLANE_C2PA_KEY", help="The leaf certificate's private key (PEM, "
    "ES256 or Ed25519; default: c2pa-key.pem in $AGENTPLANE_HOME).", show_default=False)]


def provenance_sign(
    file: Annotated[Path, typer.Argument(help="A PNG, JPEG or PDF a run produced.")],
    run: Annotated[str, typer.Option("--run", help="The run that produced it.")],
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write the signed file here (default: sign FILE in place).",
        show_default=False)] = None,
    cert: CertOption = None,
    cert_key: CertKeyOption = None,
    db: DbOption = None,
) -> None:
    """Embed a signed C2PA manifest (AI-generated; producer, models, run, time, SHA-256) in a
    file a run produced, and journal its label in the run."""
    from agentplane.compliance.provenance import SigningIdentity, sign_run_file

    identity = SigningIdentity(cert or settings.home() / "c2pa-chain.pem",
                               cert_key or settings.home() / "c2pa-key.pem")
    target = out_file or file

    async def body(store: JournalStore) -> None:
        label = await sign_run_file(store, run, file, target, identity)
        out.print(f"signed {target}: C2PA manifest for run {label['run_id']} "
                  f"(models: {', '.join(label['models']) or 'none'})", markup=False)

    _read(db, body)


def provenance_verify(
    file: Annotated[Path, typer.Argument(help="A PNG, JPEG or PDF.")],
    trust: Annotated[Path | None, typer.Option(
        "--trust", help="PEM CA certificates the signer must chain to (else the signature and "
                        "hashes are checked, not who signed).", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a file's C2PA manifest (signature, content hashes, and with --trust the signer's
    chain) and print its producer, models and run. Exits 1 when it does not hold."""
    from agentplane.compliance.provenance import verify_file

    found = verify_file(file, trust)
    if as_json:
        print(render.dump_json({"ok": found.ok, "state": found.state, "label": found.label,
                                "generator": found.generator, "signer": found.signer,
                                "failures": found.failures}))
    else:
        label = found.label
        colour = "green" if found.ok else "red"
        out.print(f"[{colour}]{found.state}[/]: {escape(str(file))} — producer "
                  f"{escape(str(label.get('producer', found.generator)))}, models "
                  f"{escape(', '.join(map(str, label.get('models', []))) or 'none')}, run "
                  f"{escape(str(label.get('run_id', '?')))}, signed by "
                  f"{escape(str(found.signer))}")
        for failure in found.failures:
            out.print(f"[red]failure[/]: {escape(failure)}")
    if not found.ok:
        raise typer.Exit(1)


def report(
    workflow: Annotated[Path, typer.Argument(help="The workflow YAML file.")],
    db: Annotated[str | None, typer.Option(
        "--db", help="Also read the journal in this database: runs, incidents, evaluations.",
        show_default=False)] = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write to FILE.md (Markdown) or FILE.json (default: Markdown on "
                      "standard output).", show_default=False)] = None,
) -> None:
    """Technical documentation in the shape of the EU AI Act's Annex IV: purpose, risk class,
    models, data sources, human oversight, guardians and their figures, accuracy, retention,
    and the incidents in the journal."""
    import asyncio

    from agentplane.compliance.report import build_report
    from agentplane.compliance.report_markdown import render as markdown
    from agentplane.errors import ConfigError
    from agentplane.runtime.workflow import load_workflow

    from ._inputs import write_text

    if out_file is not None and out_file.suffix.lower() not in (".md", ".json"):
        raise ConfigError(f"--out {out_file}: name a .md or .json file")
    flow = load_workflow(workflow)
    data = (asyncio.run(build_report(flow)) if db is None
            else _read(db, lambda store: build_report(flow, store)))
    text = (render.dump_json(data) + "\n" if out_file is not None
            and out_file.suffix.lower() == ".json" else markdown(data))
    if out_file is None:
        print(text, end="")
    else:
        write_text(out_file, text)
        out.print(f"wrote the technical documentation of {flow.spec.name} to {out_file}",
                  markup=False)


def retain(
    archive: Annotated[Path | None, typer.Option(
        "--archive", help="JSONL file the runs are archived to before they are deleted "
                          "(appended to; default: retention-archive.jsonl in "
                          "$AGENTPLANE_HOME).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list the runs due.")] = False,
    as_: Annotated[str | None, typer.Option("--as", help="Who is acting (default: "
                                            "$AGENTPLANE_USER or your login).")] = None,
    db: DbOption = None,
) -> None:
    """Archive, then delete, the finished runs older than their workflow's retention_days
    (each deletion recorded in the journal's retention record; the other chains still hold)."""
    from agentplane.compliance.retention import retain as run_retention

    target = archive or settings.home() / "retention-archive.jsonl"

    async def body(store: JournalStore) -> None:
        result = await run_retention(store, target, actor=settings.actor(as_), dry_run=dry_run)
        for item in result.due:
            verb = "due" if dry_run else "archived and deleted"
            out.print(f"{verb}: run {item.run_id} of {item.workflow} (last change "
                      f"{item.updated_at}, retention {item.retention_days} days)", markup=False)
        summary = (f"{len(result.due)} runs due" if dry_run else
                   f"{len(result.deleted)} runs archived to {target} and deleted")
        out.print(f"{summary}; {result.kept} kept", markup=False)

    _read(db, body)


compliance_app.command("report")(report)
compliance_app.command("retain")(retain)
provenance_app.command("sign")(provenance_sign)
provenance_app.command("verify")(provenance_verify)


def add_audit_commands(audit_app: typer.Typer) -> None:
    """Add the signing commands to the program's ``audit`` group."""
    audit_app.command("keygen")(keygen)
    audit_app.command("receipt")(receipt)
    audit_app.command("verify-receipt")(verify_receipt)
    audit_app.command("checkpoint")(checkpoint)
