"""The command line: ``agentplane run|resume|worker|runs|approvals|audit|usage|economics|mcp|
a2a|demo``.

Importing it allocates tens of thousands of objects (typer, the program) that live as long as
the process, so Python's cyclic collector is paused meanwhile: each of its collections would
walk them again and free nothing. It is on again, as it was, once the import is done; ``main``
then freezes them (``_exits.run_main``). Both together took a fifth off the CPU time of
``agentplane --help`` and a tenth off ``agentplane runs list`` (docs/performance.md).
"""

import gc

_collecting = gc.isenabled()
gc.disable()
try:
    from .app import app, main
finally:
    if _collecting:
        gc.enable()

__all__ = ["app", "main"]
