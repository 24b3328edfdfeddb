"""Throwaway local mail servers for the tests and the mail-desk example: a real Dovecot IMAP
server (Debian's ``dovecot-imapd``) on a free loopback port, configured in a temporary folder
(passwd-file users, maildirs in the folder, no TLS, in the foreground), and an SMTP sink
(``aiosmtpd``) that keeps the messages it receives.

Nothing here is a mock of the mail protocols: the poller talks IMAP to Dovecot and the reply
tool talks SMTP to aiosmtpd, as they would to a company's servers.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any

DOVECOT = "dovecot"


def dovecot_binary() -> str | None:
    """The ``dovecot`` binary, or None (install Debian's ``dovecot-imapd``)."""
    return shutil.which(DOVECOT) or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if Path(p).exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{root}/mail/%u
mail_uid = {mail_user}
mail_gid = {mail_group}
default_login_user = {login_user}
default_internal_user = {internal_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


def _users() -> dict[str, str]:
    """Who Dovecot's processes run as: as root, the system's unprivileged users (Dovecot
    refuses mail access as root); otherwise the current user for everything."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        return {"mail_user": me, "mail_group": str(os.getegid()), "login_user": me,
                "internal_user": me}
    return {"mail_user": "nobody", "mail_group": "nogroup", "login_user": "dovenull",
            "internal_user": "dovecot"}


@dataclass
class LocalDovecot:
    """A Dovecot IMAP server of its own: ``with LocalDovecot({"desk": "pw"}) as imap: ...``.

    With ``cert`` and ``key`` (PEM files, e.g. a throwaway self-signed pair) it speaks IMAPS
    (TLS from the first byte) on ``port``, else plain IMAP."""

    users: dict[str, str]
    cert: Path | None = None
    key: Path | None = None
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="agentplane-imap-")))
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"

    def start(self, timeout_s: float = 20.0) -> LocalDovecot:
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError("the dovecot binary is not installed (Debian: apt-get install "
                               "dovecot-imapd)")
        self.root.chmod(0o755)  # the mail user must reach its maildir
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(exist_ok=True)
        users = _users()
        if os.geteuid() == 0:
            shutil.chown(self.root / "mail", users["mail_user"], users["mail_group"])
        (self.root / "passwd").write_text(
            "".join(f"{name}:{{PLAIN}}{pw}::::::\n" for name, pw in self.users.items()))
        tls = self.cert is not None and self.key is not None
        ssl = (f"ssl = required\nssl_cert = <{self.cert}\nssl_key = <{self.key}" if tls
               else "ssl = no")
        (self.root / "dovecot.conf").write_text(_CONFIG.format(
            root=self.root, ssl=ssl, plain_port=0 if tls else self.port,
            tls_port=self.port if tls else 0, **users))
        self.process = subprocess.Popen([binary, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dovecot exited at start: {err.strip()} {self.log()}")
            with contextlib.suppress(OSError), socket.create_connection(
                    (self.host, self.port), timeout=1) as s:
                if tls or s.recv(100).startswith(b"* OK"):
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dovecot did not listen on port {self.port}: {self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self, user: str) -> Any:
        """A logged-in IMAPClient (for delivering and inspecting mail)."""
        import ssl

        from imapclient import IMAPClient

        context = None
        if self.cert is not None:
            context = ssl.create_default_context(cafile=str(self.cert))
        client = IMAPClient(self.host, port=self.port, ssl=context is not None,
                            ssl_context=context, timeout=30)
        client.login(user, self.users[user])
        return client

    def deliver(self, user: str, *messages: bytes | Message, mailbox: str = "INBOX") -> None:
        """Put messages into a user's mailbox (IMAP APPEND, as a delivery agent would)."""
        client = self.client(user)
        try:
            for message in messages:
                raw = message if isinstance(message, bytes) else message.as_bytes()
                client.append(mailbox, raw)
        finally:
            client.logout()

    def __enter__(self) -> LocalDovecot:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


@dataclass
class LocalSmtp:
    """An SMTP server on a free loopback port that keeps what it receives (``aiosmtpd``, in its
    own thread): ``with LocalSmtp() as smtp: ... smtp.messages``."""

    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    messages: list[Message] = field(default_factory=list)
    _controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """aiosmtpd's hook: keep the message."""
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        message = message_from_bytes(raw)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def start(self) -> LocalSmtp:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> LocalSmtp:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
