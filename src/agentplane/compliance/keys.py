"""The deployment's signing key for receipts and checkpoints: an Ed25519 key pair in PEM files.

The private key file is written with mode 0600 and never printed or logged; the public key is
what a third party needs to verify a receipt or a checkpoint file offline.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from agentplane._extras import require
from agentplane.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

FEATURE = "signed receipts and checkpoints"


class SigningKeyError(ConfigError):
    """A key file is missing, unreadable or not an Ed25519 key."""


def generate(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 key pair; the private key file gets mode 0600 and an existing file
    is never overwritten. Returns the key id of the public key."""
    ed25519 = require("cryptography.hazmat.primitives.asymmetric.ed25519", extra="compliance",
                      feature=FEATURE)
    from cryptography.hazmat.primitives import serialization

    for path in (private_path, public_path):
        if path.exists():
            raise SigningKeyError(f"{path} already exists: choose another file or remove it first "
                            "(a key is never overwritten)")
    key: Ed25519PrivateKey = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public = key.public_key()
    public_path.write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))
    return key_id(public)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(f"{what} {path} not found (create a pair with `agentplane audit "
                        "keygen`)") from None
    except OSError as exc:
        raise SigningKeyError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_private(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file."""
    require("cryptography", extra="compliance", feature=FEATURE)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(_read(path, "private key"), password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file."""
    require("cryptography", extra="compliance", feature=FEATURE)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(_read(path, "public key"))
    except (ValueError, TypeError):
        raise SigningKeyError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: the first 16 hex digits of the SHA-256 of its raw
    bytes (so a verifier can tell which key signed)."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
