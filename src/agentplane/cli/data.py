"""``agentplane data``: personal data a person asked to have erased.

``data erase --subject ID`` destroys the subject's key (crypto-shredding): every value the
journal keeps sealed under it reads ``[erased]`` from then on — in the API, the console,
exports, telemetry and the runtime — while ``audit verify`` still holds, because the chain
hashes the sealed form. What agents remembered about the subject (``agentplane memory``) is
deleted with it. ``data erased`` lists the erasures (the subject's SHA-256, never its id).
Everything is imported inside the commands: ``agentplane --help`` pays for none of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from . import render, settings
from ._typer import group

if TYPE_CHECKING:
    from agentplane.journal.personal import FileSubjectKeys

data_app = group()  # its help is where the program adds it (app.py)
out = render.lazy_console()

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
KeysOption = Annotated[Path | None, typer.Option(
    "--keys", help="The subject key file (default: $AGENTPLANE_SUBJECT_KEYS or "
                   "subject-keys.json in $AGENTPLANE_HOME).", show_default=False)]


def _keys(path: Path | None) -> FileSubjectKeys:
    from agentplane.journal.personal import FileSubjectKeys, default_key_file

    return FileSubjectKeys(path or default_key_file())


@data_app.command("erase")
def data_erase(
    subject: Annotated[str, typer.Option("--subject", help="Whom to erase: the value the "
                                         "workflow's `personal.subject` names (e.g. a customer "
                                         "id).", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why (e.g. the request's "
                                        "reference); kept with the erasure.",
                                        show_default=False)],
    tenant: Annotated[str, typer.Option("--tenant", help="Whose memories to forget.")
                      ] = "default",
    db: DbOption = None,
    keys: KeysOption = None,
    as_: Annotated[str | None, typer.Option("--as", help="Who is acting (default: "
                                            "$AGENTPLANE_USER or your login).",
                                            show_default=False)] = None,
) -> None:
    """Erase a subject's personal data: destroy its key and forget its memories."""
    from agentplane.errors import ConfigError
    from agentplane.memory import MemoryStore
    from agentplane.storage import open_database

    if not subject.strip():
        raise ConfigError("--subject is empty: name whom to erase")
    if not reason.strip():
        raise ConfigError("--reason is empty: say why (it is kept with the erasure)")
    by = settings.actor(as_)
    store = _keys(keys)
    had_key = store.erase(subject, by=by, reason=reason.strip())
    handle = open_database(settings.database_url(db), create=False)
    try:
        forgotten = MemoryStore(handle).forget(tenant, subject, by=by, reason=reason.strip())
    finally:
        handle.close()
    if not had_key and not forgotten:
        out.print(f"Nothing kept for subject {render.escape(subject)}: no key in "
                  f"{store.path}, no memories in tenant {tenant}.")
        return
    out.print(f"Erased subject {render.escape(subject)}: "
              + ("its key is destroyed (sealed values now read [erased]); " if had_key
                 else "it had no key; ")
              + f"{forgotten} memories forgotten.")


@data_app.command("erased")
def data_erased(keys: KeysOption = None,
                json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
                ) -> None:
    """List erasures: when, by whom, why (the subject's SHA-256, never its id)."""
    found = _keys(keys).erased()
    if json_:
        print(render.dump_json(found))
        return
    if not found:
        out.print("No erasures.")
        return
    for entry in found:
        at = datetime.fromtimestamp(entry["at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        out.print(f"{at}  {entry['subject_sha256'][:16]}…  "
                  f"{entry['by']}  {render.escape(entry['reason'])}")
