"""Exit codes, and the one paragraph a person sees instead of a traceback.

The codes (README, "Commands"): 0 ok, 1 failure (a run that ended ``failed`` or
``needs_reconciliation``, a broken chain, a disk that cannot be written), 2 bad input, 3 not
found (a run, an approval, a key, a journal). A run that waits for a person is not a failure:
the command did what was asked and exits 0; its output says who must act.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterable

from agentplane._extras import missing_extra
from agentplane.errors import AgentplaneError, ConfigError

from . import render

OK, FAILURE, BAD_INPUT, NOT_FOUND = 0, 1, 2, 3
INTERRUPTED = 130

FAILED_STATUSES = frozenset({"failed", "needs_reconciliation"})
"""Run statuses that make a command that drove the run exit 1."""

DEBUG_ENV = "AGENTPLANE_DEBUG"


def outcome(statuses: Iterable[str]) -> int:
    """The exit code of a command that drove runs to these statuses."""
    return FAILURE if any(s in FAILED_STATUSES for s in statuses) else OK


def _storage_message(exc: BaseException) -> str:
    from agentplane.journal.health import storage_hint

    text = str(exc)
    return f"the journal could not be used ({text}): {storage_hint(text)}"


def _os_message(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"cannot use{where}: {exc.strerror or exc}"


def failure_message(exc: BaseException) -> tuple[str, int]:
    """What to tell a person about an exception that ended a command, and the exit code."""
    if isinstance(exc, AgentplaneError):
        return str(exc), exc.exit_code
    missing = missing_extra(exc)
    if missing is not None:
        return str(missing), missing.exit_code
    from agentplane.storage import is_driver_error  # loaded by whatever raised a driver error

    if is_driver_error(exc):
        return _storage_message(exc), FAILURE
    if isinstance(exc, OSError):
        return _os_message(exc), FAILURE
    return (f"internal error ({type(exc).__name__}: {exc}); this is a bug, please report it "
            f"(set {DEBUG_ENV}=1 to see the traceback)"), FAILURE


def safe_streams() -> None:
    """Text the CLI prints can hold anything a run recorded or a person typed, lone surrogates
    included: print it escaped rather than fail on it."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def check_arguments(argv: list[str]) -> None:
    """Refuse, naming it, an argument that is not UTF-8 text (Python hands such bytes over as
    lone surrogates, which no id, name or file in Agentplane can contain)."""
    for n, arg in enumerate(argv[1:], start=1):
        bad = next((i for i, ch in enumerate(arg) if "\ud800" <= ch <= "\udfff"), None)
        if bad is not None:
            byte = ord(arg[bad]) - 0xDC00 if ord(arg[bad]) >= 0xDC80 else None
            what = f"byte 0x{byte:02x}" if byte is not None else "a lone surrogate"
            raise ConfigError(f"argument {n} ({arg!r}) is not UTF-8 text ({what} at character "
                              f"{bad + 1}); pass text as UTF-8")


def run_main(app: Callable[[], object]) -> None:
    """Run a typer app: errors print as one paragraph on stderr with their exit code.

    What exists when a command line starts (modules, typer, the program) lives as long as the
    process: it is moved to the cyclic collector's permanent generation (``gc.freeze()``, O(1)),
    so that neither the collections while the command runs nor the one Python makes at exit
    walk it again (``runtime/gcpolicy.py`` does the same when a runtime starts)."""
    gc.freeze()
    safe_streams()
    try:
        check_arguments(sys.argv)
        app()
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)
    except Exception as exc:
        if os.environ.get(DEBUG_ENV) and not isinstance(exc, AgentplaneError):
            raise
        from rich.text import Text

        message, code = failure_message(exc)
        render.console(stderr=True).print(Text("error: ", style="red") + Text(message))
        sys.exit(code)
