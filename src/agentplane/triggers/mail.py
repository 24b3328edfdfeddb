"""The mail trigger: an IMAP mailbox whose every new message starts a run.

::

    triggers:
      - name: inbox
        mail: {host: imap.example.com, user_env: DESK_MAIL_USER, password_env: DESK_MAIL_PASSWORD}

A :class:`MailPoller` logs in (credentials from the environment variables the spec names; never
logged), selects the mailbox and looks for messages without the trigger's keyword
(``$AgentplaneDone``). Each becomes a run through :func:`~agentplane.triggers.fire.fire` with
the key ``"{uidvalidity}:{uid}"`` — IMAP's own identity of a message in a mailbox — and
``untrusted=True``: the input is the parsed mail (``mail_parse``), attachments stored as blobs.
Only once the fire is claimed is the keyword set: the claim in the trigger store is what makes
a mail start one run, across restarts, crashes and several pollers; the keyword is a courtesy
that saves fetching the message again. Between looks the poller waits with IMAP IDLE where the
server offers it (a new mail wakes it at once), else sleeps ``poll_s`` seconds.

The IMAP client is IMAPClient (blocking; each call runs in a worker thread).
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from agentplane._extras import require
from agentplane.errors import ConfigError
from agentplane.runtime import Runtime, Workflow
from agentplane.runtime.trigger_spec import MailSpec

from .fire import FireResult, find_trigger, fire
from .mail_parse import mail_input, parse_mail
from .store import TriggerStore

log = logging.getLogger("agentplane.triggers.mail")

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OSError, imaplib.IMAP4.error)
"""Errors that mean the connection (or the session) is unusable; imapclient's derive from
imaplib's."""

RETRY_S = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0)
"""Waits before reconnecting after the server failed (then 60 s each time)."""


@dataclass(frozen=True)
class MailAccount:
    """Where to log in: the spec's server and the credentials its environment variables hold."""

    spec: MailSpec
    user: str
    password: str

    def __repr__(self) -> str:  # the password never reaches a log line or a traceback
        return (f"MailAccount({self.user}@{self.spec.host}:{self.spec.port}"
                f"/{self.spec.mailbox})")

    @classmethod
    def from_env(cls, spec: MailSpec, env: Mapping[str, str] | None = None) -> MailAccount:
        """The account of ``spec``; a clear error naming the variable that is not set."""
        env = os.environ if env is None else env
        missing = [name for name in (spec.user_env, spec.password_env) if not env.get(name)]
        if missing:
            raise ConfigError(f"mail trigger on {spec.host}: set the environment variable"
                              f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                              "(the mailbox's user and password)")
        return cls(spec, env[spec.user_env], env[spec.password_env])


class _Mailbox:
    """One logged-in IMAP connection with the mailbox selected (blocking calls)."""

    def __init__(self, account: MailAccount, timeout_s: float = 60.0) -> None:
        imapclient = require("imapclient", extra="mail", feature="the mail trigger")
        spec = account.spec
        self.client = imapclient.IMAPClient(spec.host, port=spec.port, ssl=spec.tls,
                                            timeout=timeout_s)
        try:
            self.client.login(account.user, account.password)
            selected = self.client.select_folder(spec.mailbox)
        except Exception:
            self.close()
            raise
        self.uidvalidity = int(selected.get(b"UIDVALIDITY", 0))
        flags = {bytes(f) for f in selected.get(b"PERMANENTFLAGS", ())}
        self.keywords = b"\\*" in flags or spec.done_keyword.encode() in flags
        """Whether the server keeps new keywords (else only the store's claims count)."""
        self.idle = spec.idle and self.client.has_capability("IDLE")
        self.done = spec.done_keyword

    def pending(self) -> list[int]:
        """Messages not marked done, oldest first."""
        self.client.noop()  # take in what other sessions changed (new mail, flags)
        found = self.client.search(["UNKEYWORD", self.done] if self.keywords else ["ALL"])
        return sorted(int(u) for u in found)

    def fetch(self, uid: int) -> bytes | None:
        """A message's bytes, without marking it seen; None if it was expunged meanwhile."""
        got = self.client.fetch([uid], ["BODY.PEEK[]"])
        data = got.get(uid)
        raw = None if data is None else data.get(b"BODY[]")
        return bytes(raw) if raw is not None else None

    def mark(self, uid: int) -> None:
        if self.keywords:
            self.client.add_flags([uid], [self.done])

    def wait(self, timeout_s: float, stop: threading.Event) -> None:
        """Wait for news: IMAP IDLE (returns when the server reports a change, after
        ``timeout_s`` or soon after ``stop``), else nothing to wait on (the caller sleeps)."""
        if not self.idle:
            return
        self.client.idle()
        try:
            deadline = time.monotonic() + timeout_s
            while not stop.is_set() and time.monotonic() < deadline:
                if self.client.idle_check(timeout=min(1.0, timeout_s)):
                    return
        finally:
            self.client.idle_done()

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # a dead connection: nothing to log out of
            try:
                self.client.shutdown()
            except Exception as exc:
                log.debug("closing a dead IMAP connection: %s", exc)


class MailPoller:
    """Starts a run for every new message of one mail trigger of a workflow.

    ``check()`` looks once; ``run(stop)`` looks, waits (IDLE or ``poll_s``), and looks again
    until ``stop`` is set, reconnecting after failures (each counted in the trigger's
    failures). ``drive``: drive each run in this process, to its end or its first wait (else
    a worker takes it); ``on_fire``: called with each run started (as the scheduler's is, e.g.
    to hand it to a worker)."""

    def __init__(self, runtime: Runtime, workflow: Workflow, trigger: str, *,
                 store: TriggerStore, tenant: str = "default",
                 env: Mapping[str, str] | None = None, drive: bool = False,
                 on_fire: Callable[[FireResult], object] | None = None) -> None:
        spec = find_trigger(workflow, trigger)
        if spec.mail is None:
            raise ConfigError(f"trigger {trigger!r} of workflow {workflow.spec.name!r} is not "
                              "a mail trigger")
        self.runtime, self.workflow, self.trigger = runtime, workflow, trigger
        self.spec: MailSpec = spec.mail
        self.enabled = spec.enabled
        self.store, self.tenant, self.drive, self.on_fire = store, tenant, drive, on_fire
        self.account = MailAccount.from_env(self.spec, env)
        self._mailbox: _Mailbox | None = None
        self._stop = threading.Event()

    @property
    def name(self) -> str:
        return f"{self.workflow.spec.name}/{self.trigger}"

    async def _connected(self) -> _Mailbox:
        if self._mailbox is None:
            self._mailbox = await asyncio.to_thread(_Mailbox, self.account)
            log.info("mail trigger %s: watching %r (%s)", self.name, self.account,
                     "IDLE" if self._mailbox.idle else f"every {self.spec.poll_s:g} s")
        return self._mailbox

    async def check(self) -> list[FireResult]:
        """Start a run for each message not marked done (a message whose key fired before is
        only marked). Returns the fires, duplicates included."""
        if not self.store.is_enabled(self.tenant, self.workflow.spec.name, self.trigger,
                                     self.enabled):
            return []
        box = await self._connected()
        results = []
        for uid in await asyncio.to_thread(box.pending):
            try:
                result = await self._one(box, uid)
            except CONNECTION_ERRORS:
                raise  # the connection is gone: run() reconnects
            except Exception as exc:
                # this message's run could not start (fire counted the failure): the next look
                # tries it again, and it does not hold up the others
                log.error("mail trigger %s: message %s:%s: %s", self.name, box.uidvalidity,
                          uid, exc)
                continue
            if result is not None:
                results.append(result)
        return results

    async def _one(self, box: _Mailbox, uid: int) -> FireResult | None:
        raw = await asyncio.to_thread(box.fetch, uid)
        if raw is None:
            return None  # expunged since the search
        key = f"{box.uidvalidity}:{uid}"
        try:
            mail = parse_mail(raw)
            data = await mail_input(self.runtime.store, mail, mailbox=self.spec.mailbox,
                                    uid=uid, uidvalidity=box.uidvalidity)
        except Exception as exc:
            self.store.record_failure(self.tenant, self.workflow.spec.name, self.trigger, key,
                                      f"the message could not be read: {exc}")
            raise
        detail = {"mailbox": self.spec.mailbox, "uid": uid, "uidvalidity": box.uidvalidity,
                  "from": mail.sender, "subject": mail.subject[:200],
                  "message_id": mail.message_id}
        result = await fire(self.runtime, self.workflow, self.trigger, key, data,
                            store=self.store, tenant=self.tenant, untrusted=True,
                            detail=detail, drive=self.drive, kind="mail")
        await asyncio.to_thread(box.mark, uid)  # after the claim: a courtesy, not the guard
        if result.started:
            log.info("mail trigger %s: message %s started run %s", self.name, key,
                     result.run_id)
            if self.on_fire is not None:
                self.on_fire(result)
        return result

    async def wait(self) -> None:
        """Until the mailbox may have news: IDLE, else ``poll_s`` seconds (or a stop)."""
        box = await self._connected()
        if box.idle:
            await asyncio.to_thread(box.wait, self.spec.poll_s, self._stop)
        else:
            await asyncio.to_thread(self._stop.wait, self.spec.poll_s)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Look, wait, look again, until ``stop`` is set; failures reconnect with backoff."""
        stop = stop or asyncio.Event()
        watcher = asyncio.create_task(self._relay(stop))
        failures = 0
        try:
            while not stop.is_set():
                try:
                    await self.check()
                    await self.wait()
                    failures = 0
                except Exception as exc:  # the server, the network, a bad message: go on
                    await self._failed(exc)
                    delay = RETRY_S[min(failures, len(RETRY_S) - 1)]
                    failures += 1
                    await asyncio.to_thread(self._stop.wait, delay)
        finally:
            watcher.cancel()
            await self.aclose()

    async def _relay(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stop.set()  # wakes an IDLE or a poll wait in its thread

    async def _failed(self, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}".replace(self.account.password, "***")
        log.error("mail trigger %s: %s", self.name, error)
        self.store.record_failure(self.tenant, self.workflow.spec.name, self.trigger,
                                  "imap", error)
        await self._disconnect()

    async def _disconnect(self) -> None:
        box, self._mailbox = self._mailbox, None
        if box is not None:
            await asyncio.to_thread(box.close)

    async def aclose(self) -> None:
        self._stop.set()
        await self._disconnect()


def mail_triggers(workflow: Workflow) -> list[str]:
    """Names of the workflow's mail triggers."""
    return [t.name for t in workflow.spec.triggers or () if t.mail is not None]


async def watch_mail(runtime: Runtime, workflows: Iterable[Workflow], *, store: TriggerStore,
                     tenant: str = "default", stop: asyncio.Event | None = None,
                     env: Mapping[str, str] | None = None, drive: bool = False,
                     on_fire: Callable[[FireResult], object] | None = None) -> None:
    """Run a poller for every mail trigger of the given workflows until ``stop`` is set
    (what a long-running process such as ``agentplane serve`` calls). A trigger whose
    credentials are not in the environment fails here, before any poller starts."""
    stop = stop or asyncio.Event()
    pollers = [MailPoller(runtime, w, name, store=store, tenant=tenant, env=env, drive=drive,
                          on_fire=on_fire)
               for w in workflows for name in mail_triggers(w)]
    await asyncio.gather(*(p.run(stop) for p in pollers))
