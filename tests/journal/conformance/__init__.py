"""The conformance suite every ``JournalStore`` back-end must pass.

A back-end's test module provides two async fixtures and subclasses ``JournalStoreConformance``::

    @pytest_asyncio.fixture
    async def store(...) -> AsyncIterator[JournalStore]:
        ...  # a fresh, empty store; closed afterwards

    @pytest_asyncio.fixture
    async def second_store(store, ...) -> AsyncIterator[JournalStore]:
        ...  # another store object on the SAME database (as a second process would open it)

    class TestMyJournal(JournalStoreConformance):
        pass

The suite uses the public ``JournalStore`` interface only (never SQL), so a PostgreSQL store can
subclass it unchanged. Nothing here asserts on durations: lease expiry is tested by sleeping well
past a tiny lease and checking the outcome.
"""

from .audit import AuditConformance
from .blobs import BlobsConformance
from .helpers import (
    BIG_TEXT,
    CLOSE_EVENTS,
    END_EVENTS,
    META,
    WORKFLOW_HASH,
    append,
    assert_chain,
    close_wait_event,
    last_seq,
    new_run,
    open_wait_event,
    recomputed_hash,
    status,
    waiting_run,
)
from .leases import LeasesConformance
from .runs import RunsConformance
from .sharing import SharingConformance
from .waits import WaitsConformance


class JournalStoreConformance(RunsConformance, BlobsConformance, WaitsConformance,
                              LeasesConformance, SharingConformance, AuditConformance):
    """Behaviour every journal back-end must show. Needs fixtures ``store`` and ``second_store``."""


__all__ = [
    "BIG_TEXT",
    "CLOSE_EVENTS",
    "END_EVENTS",
    "META",
    "WORKFLOW_HASH",
    "JournalStoreConformance",
    "append",
    "assert_chain",
    "close_wait_event",
    "last_seq",
    "new_run",
    "open_wait_event",
    "recomputed_hash",
    "status",
    "waiting_run",
]
