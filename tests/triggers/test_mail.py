"""The mail trigger against a real Dovecot IMAP server the test starts itself: each new
message starts one untrusted run whose input is the parsed mail, attachments as blobs; the
done keyword is set after the claim; IDLE wakes the poller on a new mail; credentials come
from the environment and never reach an error."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentplane.errors import ConfigError
from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime, load_workflow
from agentplane.triggers.fire import FireResult
from agentplane.triggers.mail import MailAccount, MailPoller, watch_mail
from agentplane.triggers.mail_local import LocalDovecot
from agentplane.triggers.mail_parse import attachment_bytes, parse_mail
from agentplane.triggers.store import TriggerStore

from .mail_servers import ENV, PASSWORD, USER, dovecot_server, mail_workflow, message, pending

PDF = b"%PDF-1.4 an invoice\n" + bytes(range(256))


@pytest.fixture
def dovecot() -> Iterator[LocalDovecot]:
    yield from dovecot_server()


def test_a_mail_is_parsed_html_as_text_and_attachments_kept() -> None:
    mail = parse_mail(message(1, body="Plain words.", html="<p>Pay <b>now</b></p>",
                              attachments=[("invoice.pdf", "application/pdf", PDF)]).as_bytes())
    assert (mail.sender, mail.to, mail.subject) == ("sender1@example.org",
                                                    ["desk@example.com"], "Request number 1")
    assert mail.text == "Plain words."  # the plain part is preferred
    assert mail.date == "2026-12-03T09:00:00+00:00"
    assert mail.message_id == "<m1@example.org>"
    assert [(a.name, a.content_type, a.data) for a in mail.attachments] == [
        ("invoice.pdf", "application/pdf", PDF)]
    html_only = message(2)
    html_only.set_content("<html><body><h1>Leave</h1><p>From Monday<br>to Friday</p>"
                          "<script>x()</script></body></html>", subtype="html")
    text = parse_mail(html_only.as_bytes()).text
    assert "# Leave" in text and "From Monday" in text and "to Friday" in text
    assert "x()" not in text


async def test_each_new_mail_starts_one_untrusted_run_with_attachments_as_blobs(
        dovecot: LocalDovecot, tmp_path: Path, runtime: Runtime, journal: JournalStore,
        triggers: TriggerStore) -> None:
    dovecot.deliver(USER, message(1, attachments=[("invoice.pdf", "application/pdf", PDF)]),
                    message(2))
    workflow = load_workflow(mail_workflow(tmp_path, dovecot, idle=False))
    poller = MailPoller(runtime, workflow, "inbox", store=triggers, env=ENV)
    try:
        first = await poller.check()
        assert [r.started for r in first] == [True, True]
        assert pending(dovecot) == []  # marked once claimed
        assert await poller.check() == []  # nothing new
        runs = {r.run_id: await journal.require_run(r.run_id) for r in first}
        for run in runs.values():
            assert run.meta["input_trust"] == "untrusted"
            assert run.input["to"] == ["desk@example.com"]
        one = runs[first[0].run_id].input
        assert (one["from"], one["subject"], one["uid"]) == ("sender1@example.org",
                                                             "Request number 1", 1)
        [stored] = one["attachments"]
        assert (stored["name"], stored["type"], stored["size"]) == ("invoice.pdf",
                                                                    "application/pdf", len(PDF))
        assert stored["sha256"] == hashlib.sha256(PDF).hexdigest()
        assert await attachment_bytes(journal, stored["blob"]) == PDF
        fired = [e for e in await journal.events(first[0].run_id)
                 if e.type == EventType.TRIGGER_FIRED]
        assert [(e.data["kind"], e.data["key"]) for e in fired] == [
            ("mail", f"{one['uidvalidity']}:1")]
        assert fired[0].data["detail"]["message_id"] == "<m1@example.org>"

        # Someone clears the keyword (another client, a restore): the store's claim still
        # holds, the mails are only marked again.
        client = dovecot.client(USER)
        client.select_folder("INBOX")
        client.remove_flags([1, 2], ["$AgentplaneDone"])
        client.logout()
        again = await poller.check()
        assert [(r.run_id, r.started) for r in again] == [(r.run_id, False) for r in first]
        assert pending(dovecot) == []
        assert len(await journal.list_runs(workflow="mailbox")) == 2
    finally:
        await poller.aclose()


async def test_idle_wakes_the_poller_on_a_new_mail(
        dovecot: LocalDovecot, tmp_path: Path, runtime: Runtime,
        triggers: TriggerStore) -> None:
    # A poll interval far longer than the test may take: only IDLE can bring the mail in.
    workflow = load_workflow(mail_workflow(tmp_path, dovecot, poll_s=3600))
    poller = MailPoller(runtime, workflow, "inbox", store=triggers, env=ENV)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        while poller._mailbox is None or not poller._mailbox.idle:  # connected, idling
            await asyncio.sleep(0.05)
        assert triggers.fires("default", "mailbox") == []
        await asyncio.sleep(0.3)  # into IDLE
        await asyncio.to_thread(dovecot.deliver, USER, message(7, subject="Arrived while idle"))
        async with asyncio.timeout(60):
            while not triggers.fires("default", "mailbox"):
                await asyncio.sleep(0.05)
        [fired] = triggers.fires("default", "mailbox")
        assert fired.detail["subject"] == "Arrived while idle"
    finally:
        stop.set()
        async with asyncio.timeout(30):
            await task


async def test_credentials_come_from_the_environment_and_never_reach_errors(
        dovecot: LocalDovecot, tmp_path: Path, runtime: Runtime, triggers: TriggerStore,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    workflow = load_workflow(mail_workflow(tmp_path, dovecot, idle=False, poll_s=0.05))
    with pytest.raises(ConfigError, match="DESK_MAIL_PASSWORD") as missing:
        MailPoller(runtime, workflow, "inbox", store=triggers, env={"DESK_MAIL_USER": USER})
    assert "DESK_MAIL_USER" not in str(missing.value)
    wrong = {"DESK_MAIL_USER": USER, "DESK_MAIL_PASSWORD": "not-" + PASSWORD}
    account = MailAccount.from_env(workflow.spec.triggers[0].mail, wrong)  # type: ignore[arg-type]
    assert PASSWORD not in repr(account)
    poller = MailPoller(runtime, workflow, "inbox", store=triggers, env=wrong)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    async with asyncio.timeout(60):
        while triggers.state("default", "mailbox", "inbox").failures == 0:
            await asyncio.sleep(0.05)
    stop.set()
    async with asyncio.timeout(30):
        await task
    state = triggers.state("default", "mailbox", "inbox")
    assert state.last_error is not None and "imap:" in state.last_error
    assert PASSWORD not in state.last_error
    assert "mail trigger mailbox/inbox" in caplog.text  # the failure was logged ...
    assert PASSWORD not in caplog.text  # ... without either password


async def test_a_disabled_trigger_leaves_the_mail_alone(
        dovecot: LocalDovecot, tmp_path: Path, runtime: Runtime,
        triggers: TriggerStore) -> None:
    dovecot.deliver(USER, message(1))
    workflow = load_workflow(mail_workflow(tmp_path, dovecot, idle=False))
    triggers.set_enabled("default", "mailbox", "inbox", False)
    poller = MailPoller(runtime, workflow, "inbox", store=triggers, env=ENV)
    try:
        assert await poller.check() == []
        assert pending(dovecot) == [1]
        triggers.set_enabled("default", "mailbox", "inbox", True)
        assert [r.started for r in await poller.check()] == [True]
    finally:
        await poller.aclose()


async def test_without_idle_the_mailbox_is_looked_at_every_poll_s(
        dovecot: LocalDovecot, tmp_path: Path, runtime: Runtime,
        triggers: TriggerStore) -> None:
    workflow = load_workflow(mail_workflow(tmp_path, dovecot, idle=False, poll_s=0.1))
    started: list[FireResult] = []
    stop = asyncio.Event()
    dovecot.deliver(USER, message(3))
    task = asyncio.create_task(watch_mail(runtime, [workflow], store=triggers, stop=stop,
                                          env=ENV, on_fire=started.append))
    try:
        async with asyncio.timeout(60):
            while len(started) < 1:
                await asyncio.sleep(0.05)
            # a later look (no IDLE: the poll) finds the next mail
            await asyncio.to_thread(dovecot.deliver, USER, message(4))
            while len(started) < 2:
                await asyncio.sleep(0.05)
        assert [f.run_id for f in started] == [
            f.run_id for f in reversed(triggers.fires("default", "mailbox"))]
        assert pending(dovecot) == []
    finally:
        stop.set()
        async with asyncio.timeout(30):
            await task
