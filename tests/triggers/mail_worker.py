"""A mail poller process for the crash test: ``python -m tests.triggers.mail_worker WORKFLOW DB``
watches the workflow's ``inbox`` trigger until killed; ``MAIL_WORKER_PACE`` seconds pass after
each message, so a kill -9 lands in the middle of a mailbox."""

from __future__ import annotations

import asyncio
import os
import sys

from agentplane.journal import open_store
from agentplane.runtime import Runtime, load_workflow
from agentplane.triggers.fire import FireResult
from agentplane.triggers.mail import MailPoller, _Mailbox
from agentplane.triggers.store import TriggerStore


class PacedPoller(MailPoller):
    async def _one(self, box: _Mailbox, uid: int) -> FireResult | None:
        result = await super()._one(box, uid)
        await asyncio.sleep(float(os.environ.get("MAIL_WORKER_PACE", "0")))
        return result


async def main(workflow_path: str, db: str) -> None:
    store = open_store(db)
    runtime = Runtime(store)
    poller = PacedPoller(runtime, load_workflow(workflow_path), "inbox",
                         store=TriggerStore(store.database))
    print("watching", flush=True)
    await poller.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
