"""Personal data in the journal, encrypted per subject so it can be erased without breaking the
hash chain (crypto-shredding).

A value marked personal is journaled as an *envelope* — ``{"$pii": {"v": 1, "kid": KEY_ID,
"n": NONCE, "c": CIPHERTEXT}}``, AES-256-GCM over the value's JSON with the key id as
associated data — under a key kept for its subject (the person the run is about) *outside* the
journal, in a :class:`SubjectKeys` store. The chain hashes the envelope, so destroying the key
(``agentplane data erase --subject ID``) leaves every hash as it was: ``audit verify`` still
holds, while every reader — the runtime, the API, the console, exports, telemetry — gets
``"[erased]"`` where the value was. Nothing in an envelope names the subject: the key id is
random, and only the key store maps subjects to keys.

Readers see plaintext through :func:`reveal`, which the journal's stores apply when they read
events, run inputs and waits (not when ``audit verify`` reads the stored form). Stored text
without the ``"$pii"`` marker is never walked, so data without personal values costs one
substring search to read.

The default key store is a JSON file (``$AGENTPLANE_SUBJECT_KEYS``, else ``subject-keys.json``
in ``$AGENTPLANE_HOME`` or the user's data folder), written atomically with mode 0600 under a
lock; a deployment with a KMS gives its own :class:`SubjectKeys` to :func:`use_keys`. Keys and
plaintext never reach logs, events or error messages.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

MARKER = "$pii"
"""The key of an envelope; stored text containing ``"$pii"`` may hold envelopes."""
ERASED = "[erased]"
"""What a reader gets for a value whose subject's key was destroyed."""
_QUOTED = f'"{MARKER}"'


class SubjectKeys(Protocol):
    """Where subjects' keys live (a file, a KMS). Keys are 32 random bytes."""

    def key_for(self, subject: str) -> tuple[str, bytes]:
        """The subject's key id and key, made on first use."""

    def key(self, kid: str) -> bytes | None:
        """The key of ``kid``; None once its subject was erased (or it never existed)."""

    def erase(self, subject: str, *, by: str, reason: str = "") -> bool:
        """Destroy the subject's key; False when the subject has none."""


class FileSubjectKeys:
    """Subjects' keys in a JSON file kept apart from the journal (mode 0600, replaced
    atomically, writers serialised by a lock file). Erased subjects leave a tombstone with the
    subject's SHA-256 (not its id), when and by whom."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._cache: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {"version": 1, "subjects": {}, "keys": {}, "erased": []}
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"subject key file {self.path}: not valid JSON "
                             f"(line {getattr(exc, 'lineno', '?')})") from None
        if not isinstance(data.get("keys"), dict) or not isinstance(data.get("subjects"), dict):
            raise ValueError(f"subject key file {self.path}: no `keys` and `subjects` objects")
        self._cache = (stamp, data)
        return data

    @contextlib.contextmanager
    def _writing(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        with self._lock, lock.open("a") as held:
            _flock(held.fileno())
            self._cache = None
            data = self._read()
            yield data
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            self._cache = None

    def key_for(self, subject: str) -> tuple[str, bytes]:
        known = self._read()["subjects"].get(subject)
        if known is not None:
            return known, _b64d(self._read()["keys"][known])
        with self._writing() as data:
            kid = data["subjects"].get(subject)
            if kid is None:
                kid = secrets.token_hex(12)
                data["subjects"][subject] = kid
                data["keys"][kid] = _b64e(secrets.token_bytes(32))
            return kid, _b64d(data["keys"][kid])

    def key(self, kid: str) -> bytes | None:
        found = self._read()["keys"].get(kid)
        return None if found is None else _b64d(found)

    def erase(self, subject: str, *, by: str, reason: str = "") -> bool:
        with self._writing() as data:
            kid = data["subjects"].pop(subject, None)
            if kid is None:
                return False
            data["keys"].pop(kid, None)
            data.setdefault("erased", []).append({
                "subject_sha256": hashlib.sha256(subject.encode()).hexdigest(),
                "at": time.time(), "by": by, "reason": reason})
            return True

    def erased(self) -> list[dict[str, Any]]:
        """Tombstones of erased subjects: their SHA-256, when, by whom, why."""
        return list(self._read().get("erased", []))


def _flock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: the thread lock alone
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _b64e(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.b64decode(text)


def default_key_file() -> Path:
    """``$AGENTPLANE_SUBJECT_KEYS``, else ``subject-keys.json`` in ``$AGENTPLANE_HOME`` or the
    user's data folder for Agentplane."""
    configured = os.environ.get("AGENTPLANE_SUBJECT_KEYS")
    if configured:
        return Path(configured).expanduser()
    home = os.environ.get("AGENTPLANE_HOME")
    if home:
        return Path(home).expanduser() / "subject-keys.json"
    import platformdirs  # only without AGENTPLANE_HOME: importing the journal needs none

    return Path(platformdirs.user_data_dir("agentplane", appauthor=False)) / "subject-keys.json"


_configured: SubjectKeys | None = None
_defaults: dict[Path, FileSubjectKeys] = {}


def use_keys(keys: SubjectKeys | None) -> None:
    """Use ``keys`` for every seal and reveal of this process (None: the default file)."""
    global _configured
    _configured = keys


def active_keys() -> SubjectKeys:
    """The configured key store, else the default file's (looked up each time: the
    environment may change between runs of a process)."""
    if _configured is not None:
        return _configured
    path = default_key_file()
    found = _defaults.get(path)
    if found is None:
        found = _defaults[path] = FileSubjectKeys(path)
    return found


def seal(value: Any, subject: str, keys: SubjectKeys | None = None) -> dict[str, Any]:
    """``value`` as an envelope under ``subject``'s key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kid, key = (keys or active_keys()).key_for(subject)
    nonce = secrets.token_bytes(12)
    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, kid.encode())
    return {MARKER: {"v": 1, "kid": kid, "n": _b64e(nonce), "c": _b64e(sealed)}}


def is_envelope(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(MARKER), dict)


def may_hold(text: str | None) -> bool:
    """Whether stored JSON text may hold envelopes (one substring search)."""
    return text is not None and _QUOTED in text


def reveal(value: Any, keys: SubjectKeys | None = None,
           found: list[Any] | None = None) -> Any:
    """``value`` with every envelope replaced by its plaintext, or ``"[erased]"`` when the key
    is gone. ``found`` collects the plaintexts revealed (the runtime re-learns a run's personal
    values from them)."""
    if is_envelope(value):
        plain = _open(value[MARKER], keys or active_keys())
        if found is not None and plain is not ERASED:
            found.append(plain)
        return plain
    if isinstance(value, dict):
        return {k: reveal(v, keys, found) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v, keys, found) for v in value]
    return value


def _open(envelope: dict[str, Any], keys: SubjectKeys) -> Any:
    kid = str(envelope.get("kid"))
    key = keys.key(kid)
    if key is None:
        return ERASED  # (without loading the cipher: a reader of erased data pays nothing)
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        plain = AESGCM(key).decrypt(_b64d(str(envelope["n"])), _b64d(str(envelope["c"])),
                                    kid.encode())
    except (InvalidTag, KeyError, ValueError):
        return ERASED  # a damaged envelope reveals nothing; audit verify reports the damage
    return json.loads(plain)


def reveal_text(text: str | None, value: Any) -> Any:
    """``value`` (parsed from stored ``text``) revealed when the text may hold envelopes."""
    return reveal(value) if may_hold(text) else value
