"""``agentplane memory``: review, quarantine and delete what agents remember.

Memories live in the journal's database (``--db``), per tenant (``--tenant``). What a person
does here (quarantine, release, delete, forget, promote, retire) is recorded in the memory
audit with who did it (``--as``) and why (``--reason``); ``memory audit`` shows it.
Everything is imported inside the commands: ``agentplane --help`` pays for none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from . import render, settings
from ._typer import group

if TYPE_CHECKING:
    from agentplane.memory import Memory, MemoryKind, MemoryStatus, MemoryStore, Skill

T = TypeVar("T")

memory_app = group()  # its help is where the program adds it (app.py)
out = render.lazy_console()

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
TenantOption = Annotated[str, typer.Option("--tenant", help="Whose memories.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AsOption = Annotated[str | None, typer.Option("--as", help="Who is acting (default: "
                                              "$AGENTPLANE_USER or your login).",
                                              show_default=False)]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; kept in the memory audit.",
                                           show_default=False)]
IdArgument = Annotated[str, typer.Argument(help="The memory's id (mem:...).", show_default=False)]


def _with_store(db: str | None, body: Callable[[MemoryStore], T]) -> T:
    """Run ``body`` on the memory store in an existing database (never creates one)."""
    from agentplane.memory import MemoryStore
    from agentplane.storage import open_database

    handle = open_database(settings.database_url(db), create=False)
    try:
        return body(MemoryStore(handle))
    finally:
        handle.close()


def _reason(reason: str) -> str:
    from agentplane.errors import ConfigError

    if not reason.strip():
        raise ConfigError("--reason is empty: say why (it is kept in the memory audit)")
    return reason.strip()


def _memory_json(m: Memory) -> dict[str, Any]:
    data = asdict(m)
    data["meta"] = dict(m.meta)
    return data


def _memories_table(memories: list[Memory]) -> None:
    from ._tables import Column, fitted

    columns = [Column("ID"), Column("KIND", drop=2), Column("STATUS"), Column("TRUST"),
               Column("SUBJECT", wrap=True, drop=1), Column("TEXT", wrap=True,
                                                            whole_words=False),
               Column("CREATED", drop=3)]
    rows = [[m.id, m.kind, m.status, m.trust, m.subject or "", m.text, m.created_at[:19]]
            for m in memories]
    out.print(fitted(columns, rows, out.width))


def memory_list(
    kind: Annotated[str | None, typer.Option(help="factual, experiential or procedural.",
                                             show_default=False)] = None,
    subject: Annotated[str | None, typer.Option(help="Only about this subject.",
                                                show_default=False)] = None,
    status: Annotated[str | None, typer.Option(
        help="active, superseded, quarantined, pending, retired or deleted (default: all "
             "but deleted).", show_default=False)] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    tenant: TenantOption = "default",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a tenant's memories, newest first."""
    # The store checks kind and status, naming the ones it knows.
    found = _with_store(db, lambda s: s.list(
        tenant, kind=cast("MemoryKind | None", kind), subject=subject,
        status=cast("MemoryStatus | None", status), limit=limit))
    if as_json:
        print(render.dump_json([_memory_json(m) for m in found]))
    elif not found:
        out.print(f"no memories in tenant {render.escape(tenant)}")
    else:
        _memories_table(found)


def memory_show(memory_id: IdArgument, tenant: TenantOption = "default", db: DbOption = None,
                as_json: JsonOption = False) -> None:
    """Show one memory: its content, provenance, trust, validity and what it superseded."""
    from agentplane.errors import NotFoundError

    found = _with_store(db, lambda s: s.get(tenant, memory_id))
    if found is None:
        raise NotFoundError(f"no memory {memory_id!r} in tenant {tenant!r}; "
                            "`agentplane memory list` shows them")
    data = _memory_json(found)
    if as_json:
        print(render.dump_json(data))
        return
    for name, value in data.items():
        if value not in (None, "", {}) or name in ("text", "status"):
            shown = value if isinstance(value, str) else render.dump_json(value)
            out.print(f"[bold]{name}[/]: {render.escape(shown)}")


def _acted(m: Memory, verb: str, as_json: bool) -> None:
    if as_json:
        print(render.dump_json(_memory_json(m)))
    else:
        out.print(f"memory {render.escape(m.id)} {verb} (now {m.status})")


def memory_quarantine(memory_id: IdArgument, reason: ReasonOption, as_: AsOption = None,
                      tenant: TenantOption = "default", db: DbOption = None,
                      as_json: JsonOption = False) -> None:
    """Keep a memory out of recall until someone releases it."""
    why, who = _reason(reason), settings.actor(as_)
    _acted(_with_store(db, lambda s: s.quarantine(tenant, memory_id, by=who, reason=why)),
           "quarantined", as_json)


def memory_release(memory_id: IdArgument, reason: ReasonOption = "", as_: AsOption = None,
                   tenant: TenantOption = "default", db: DbOption = None,
                   as_json: JsonOption = False) -> None:
    """Let a quarantined memory be recalled again."""
    who = settings.actor(as_)
    _acted(_with_store(db, lambda s: s.release(tenant, memory_id, by=who, reason=reason)),
           "released", as_json)


def memory_delete(memory_id: IdArgument, reason: ReasonOption, as_: AsOption = None,
                  tenant: TenantOption = "default", db: DbOption = None,
                  as_json: JsonOption = False) -> None:
    """Delete one memory: its content is erased; the audit keeps its id, kind and subject."""
    why, who = _reason(reason), settings.actor(as_)
    _acted(_with_store(db, lambda s: s.delete(tenant, memory_id, by=who, reason=why)),
           "deleted", as_json)


def memory_forget(
    subject: Annotated[str, typer.Option("--subject", help="Whom or what to forget (a "
                                         "customer id, a supplier).", show_default=False)],
    reason: ReasonOption,
    as_: AsOption = None,
    tenant: TenantOption = "default",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Erase everything remembered about a subject (every kind and status), audited."""
    why, who = _reason(reason), settings.actor(as_)
    count = _with_store(db, lambda s: s.forget(tenant, subject, by=who, reason=why))
    if as_json:
        print(render.dump_json({"subject": subject, "deleted": count}))
    else:
        out.print(f"forgot {count} memor{'y' if count == 1 else 'ies'} about "
                  f"{render.escape(subject)}")


def memory_skills(
    promote: Annotated[str | None, typer.Option("--promote", help="Make this skill version "
                                                "the active one.", show_default=False)] = None,
    retire: Annotated[str | None, typer.Option("--retire", help="Withdraw this skill "
                                               "version.", show_default=False)] = None,
    reason: ReasonOption = "",
    as_: AsOption = None,
    tenant: TenantOption = "default",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List skills (tool sequences that worked) with their versions and successes; promote or
    retire one."""
    from agentplane.errors import ConfigError
    from agentplane.memory import Skills

    if promote and retire:
        raise ConfigError("give --promote or --retire, not both")
    who = settings.actor(as_)

    def body(store: MemoryStore) -> list[Skill]:
        skills = Skills(store)
        if promote:
            skills.promote(tenant, promote, by=who, reason=reason)
        if retire:
            skills.retire(tenant, retire, by=who, reason=reason)
        return skills.list(tenant)

    found = _with_store(db, body)
    if as_json:
        print(render.dump_json([s.to_json() for s in found]))
        return
    if not found:
        out.print(f"no skills in tenant {render.escape(tenant)}")
        return
    from ._tables import Column, fitted

    columns = [Column("ID"), Column("NAME", wrap=True), Column("VERSION"), Column("STATUS"),
               Column("SUCCESSES", justify="right"), Column("STEPS", wrap=True,
                                                            whole_words=False)]
    rows = [[s.id, s.name, str(s.version), s.status, str(s.successes),
             " → ".join(str(step) for step in s.steps) or f"workflow {s.workflow}"]
            for s in found]
    out.print(fitted(columns, rows, out.width))


def memory_audit(limit: Annotated[int, typer.Option(min=1, help="At most this many, newest "
                                                    "first.")] = 100,
                 tenant: TenantOption = "default", db: DbOption = None,
                 as_json: JsonOption = False) -> None:
    """Who quarantined, released, deleted, forgot, promoted or retired what, when and why
    (ids, kind and subject; never the content)."""
    entries = _with_store(db, lambda s: s.audit(tenant, limit=limit))
    if as_json:
        print(render.dump_json(entries))
        return
    if not entries:
        out.print(f"no memory audit entries in tenant {render.escape(tenant)}")
        return
    from ._tables import Column, fitted

    columns = [Column("TIME"), Column("ACTOR"), Column("ACTION"), Column("COUNT"),
               Column("KIND", drop=2), Column("SUBJECT", wrap=True),
               Column("IDS", wrap=True, drop=1), Column("REASON", wrap=True,
                                                         whole_words=False)]
    rows = [[e["time"][:19], e["actor"], e["action"], str(e["count"]), e["kind"] or "",
             e["subject"] or "", " ".join(e["memory_ids"]), e["reason"]] for e in entries]
    out.print(fitted(columns, rows, out.width))


memory_app.command("list")(memory_list)
memory_app.command("show")(memory_show)
memory_app.command("quarantine")(memory_quarantine)
memory_app.command("release")(memory_release)
memory_app.command("delete")(memory_delete)
memory_app.command("forget")(memory_forget)
memory_app.command("skills")(memory_skills)
memory_app.command("audit")(memory_audit)
