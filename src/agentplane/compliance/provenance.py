"""C2PA manifests on the images (PNG, JPEG) and PDFs agents produce, with the official
``c2pa-python`` bindings: signed by the deployment's certificate chain (ES256 or Ed25519), and
read back with their signature, hash binding and (given trust anchors) certificate trust.

The manifest is the file's implicit label (China's labelling measures; EU AI Act Art. 50(2),
machine-readable marking): a ``c2pa.actions`` assertion saying the content was created by a
trained algorithm (IPTC digital source type ``trainedAlgorithmicMedia``) and an
``org.agentplane.label`` assertion with the producer, the models, the run id, the time and
the SHA-256 of the file as it was before signing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentplane._extras import require
from agentplane.errors import AgentplaneError, ConfigError
from agentplane.journal import EventType, JournalStore, NewEvent
from agentplane.journal.events import utc_now

from .labels import PRODUCER, RULES, content_sha256, models_used

FEATURE = "C2PA manifests on images and PDFs"
LABEL_ASSERTION = "org.agentplane.label"
AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".pdf": "application/pdf"}


class ProvenanceError(AgentplaneError):
    """A file cannot be signed, or carries no readable manifest."""


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    """The deployment's C2PA signing identity: a PEM certificate chain (leaf first, then its
    issuers) and the leaf's PEM private key (ECDSA P-256 → ES256, or Ed25519)."""

    certificate_chain: Path
    private_key: Path


@dataclass(slots=True)
class Provenance:
    """What a file's C2PA manifest says and whether it holds."""

    state: str
    """``Trusted`` (signature, hashes and certificate chain to a given trust anchor hold),
    ``Valid`` (signature and hashes hold; the chain was not checked against an anchor) or
    ``Invalid``."""
    label: dict[str, Any]
    """The ``org.agentplane.label`` assertion (producer, models, run id, time, SHA-256)."""
    generator: str
    signer: str | None
    """The signing certificate's subject, as the manifest reports it."""
    failures: list[str] = field(default_factory=list)
    trust_checked: bool = False
    """Whether trust anchors were given: then only ``Trusted`` is good enough."""

    @property
    def ok(self) -> bool:
        if self.trust_checked:
            return self.state == "Trusted" and not self.failures
        return self.state in ("Valid", "Trusted") and not self.failures


def _c2pa() -> Any:
    return require("c2pa", extra="compliance", feature=FEATURE)


def media_type(path: Path) -> str:
    kind = MEDIA_TYPES.get(path.suffix.lower())
    if kind is None:
        raise ProvenanceError(f"{path}: C2PA manifests are embedded in PNG, JPEG and PDF files "
                              f"here, not {path.suffix or 'files without an extension'}")
    return kind


def _algorithm(private_key_pem: bytes) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError("the C2PA signing key is not an unencrypted PEM private key") from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        return "es256"
    raise ConfigError("the C2PA signing key must be ECDSA P-256 (ES256) or Ed25519")


def manifest_for(label: dict[str, Any], title: str) -> dict[str, Any]:
    """The C2PA manifest definition of an AI-generated file with ``label``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        __version__ = version("agentplane")
    except PackageNotFoundError:  # running from a source tree
        __version__ = "0"
    return {
        "claim_generator_info": [{"name": PRODUCER, "version": __version__}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created", "digitalSourceType": AI_SOURCE,
                "softwareAgent": {"name": PRODUCER, "version": __version__}}]}},
            {"label": LABEL_ASSERTION, "data": label},
        ],
    }


def sign_file(source: Path, dest: Path, identity: SigningIdentity, *, run_id: str,
              models: list[str], time: str) -> dict[str, Any]:
    """Write ``source`` to ``dest`` with an embedded, signed C2PA manifest; returns the label
    it carries. ``dest`` may be ``source`` (the file is replaced once signed)."""
    c2pa = _c2pa()
    kind = media_type(source)
    try:
        data = source.read_bytes()
        chain = identity.certificate_chain.read_bytes()
        key = identity.private_key.read_bytes()
    except OSError as exc:
        raise ProvenanceError(f"cannot read {exc.filename}: {exc.strerror}") from None
    label = {"producer": PRODUCER, "ai_generated": True, "models": models, "run_id": run_id,
             "time": time, "content_sha256": content_sha256(data), "media_type": kind}
    signed = dest.with_name(dest.name + ".signing")
    try:
        info = c2pa.C2paSignerInfo(_algorithm(key).encode(), chain, key, None)
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(
                json.dumps(manifest_for(label, source.name))) as builder, \
                open(source, "rb") as src, open(signed, "w+b") as out:
            builder.sign(signer, kind, src, out)
        signed.replace(dest)
    except c2pa.C2paError as exc:
        signed.unlink(missing_ok=True)
        raise ProvenanceError(f"cannot sign {source}: {exc}") from None
    return label


def verify_file(path: Path, trust_anchors: Path | None = None) -> Provenance:
    """Read and validate the C2PA manifest of ``path``; with ``trust_anchors`` (PEM CA
    certificates) the signing chain must lead to one of them."""
    c2pa = _c2pa()
    media_type(path)
    context = None
    if trust_anchors is not None:
        context = c2pa.Context.from_dict({
            "trust": {"trust_anchors": trust_anchors.read_text(encoding="utf-8")},
            "verify": {"verify_trust": True}})
    try:
        reader = c2pa.Reader(str(path), context=context) if context else c2pa.Reader(str(path))
        with reader:
            state = str(reader.get_validation_state() or "Invalid")
            manifest = reader.get_active_manifest() or {}
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"{path} carries no readable C2PA manifest ({exc})") from None
    label: dict[str, Any] = next((a.get("data", {}) for a in manifest.get("assertions", [])
                                  if a.get("label") == LABEL_ASSERTION), {})
    generator = ", ".join(str(g.get("name")) for g in manifest.get("claim_generator_info", []))
    failures = [f"{f.get('code')}: {f.get('explanation')}"
                for f in results.get("activeManifest", {}).get("failure", [])]
    if trust_anchors is None:  # not asked: an unknown issuer alone is no failure
        failures = [f for f in failures if not f.startswith("signingCredential.untrusted")]
    signer = (manifest.get("signature_info") or {}).get("common_name") or (
        manifest.get("signature_info") or {}).get("issuer")
    return Provenance(state, dict(label), generator, signer, failures,
                      trust_anchors is not None)


async def sign_run_file(store: JournalStore, run_id: str, source: Path, dest: Path,
                        identity: SigningIdentity) -> dict[str, Any]:
    """Sign a file a run produced: its manifest names the run and the models it called, and
    the run's journal gains a ``content.labelled`` event for the file (hash-chained)."""
    run = await store.require_run(run_id)
    events = await store.events(run.id, resolve_blobs=False)
    label = sign_file(source, dest, identity, run_id=run.id, models=models_used(events),
                      time=utc_now())
    await store.append(run.id, [NewEvent(EventType.CONTENT_LABELLED, "system", None,
                                         {**label, "file": dest.name, "c2pa": True,
                                          "rules": list(RULES)})])
    return label
