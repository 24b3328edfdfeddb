"""Webhook deliveries: which trigger a ``POST /hooks/NAME`` is for, its signature, its delivery
id and its payload — checked before anything is claimed or started.

- Resolution: ``NAME`` is a webhook trigger's name among the served workflows (one workflow
  may own it; ``/hooks/WORKFLOW/NAME`` picks among several). Runs go to tenant ``default``.
- Signature: ``X-Agentplane-Signature: sha256=HEX``, the HMAC-SHA256 of the raw body under the
  secret in the environment variable ``secret_env`` names; compared in constant time (also
  accepted as ``X-Hub-Signature-256``, GitHub's header of the same form).
- Delivery id: ``X-Agentplane-Delivery``, else ``X-GitHub-Delivery``, else ``Idempotency-Key``;
  without one, the body's SHA-256 (identical bodies are then one delivery). Retries of one
  delivery start one run.
- Payload: JSON; with ``schema`` declared, valid against that JSON Schema (422 naming each
  problem and where).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentplane.runtime import Workflow
from agentplane.runtime.trigger_spec import TriggerSpec, WebhookSpec

SIGNATURE_HEADERS = ("x-agentplane-signature", "x-hub-signature-256")
DELIVERY_HEADERS = ("x-agentplane-delivery", "x-github-delivery", "idempotency-key")


class WebhookError(Exception):
    """A delivery refused: ``status`` is the HTTP answer, ``problems`` the invalid fields."""

    def __init__(self, status: int, message: str,
                 problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problems = problems


@dataclass(frozen=True)
class Hook:
    workflow: Workflow
    trigger: TriggerSpec

    @property
    def spec(self) -> WebhookSpec:
        assert self.trigger.webhook is not None
        return self.trigger.webhook


def find_hook(workflows: Mapping[str, Workflow], name: str, workflow: str | None = None
              ) -> Hook:
    """The webhook trigger ``name`` (of ``workflow`` when given); 404 / 409 otherwise."""
    found = [Hook(w, t) for w in workflows.values() for t in w.spec.triggers or ()
             if t.webhook is not None and t.name == name
             and (workflow is None or w.spec.name == workflow)]
    if not found:
        raise WebhookError(404, f"no webhook trigger {name!r}"
                           + (f" in workflow {workflow!r}" if workflow else "")
                           + " is served here")
    if len(found) > 1:
        owners = ", ".join(sorted(h.workflow.spec.name for h in found))
        raise WebhookError(409, f"webhook {name!r} is declared by several workflows "
                                f"({owners}): post to /hooks/WORKFLOW/{name}")
    return found[0]


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=HEX``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def check_signature(spec: WebhookSpec, body: bytes, headers: Mapping[str, str]) -> None:
    """401 unless a signature header carries the body's HMAC under the trigger's secret."""
    secret = os.environ.get(spec.secret_env)
    if not secret:
        raise WebhookError(503, f"the webhook's secret is not configured: set the environment "
                                f"variable {spec.secret_env} on the server")
    sent = next((headers[h] for h in SIGNATURE_HEADERS if h in headers), None)
    if sent is None:
        raise WebhookError(401, "the delivery is not signed: send X-Agentplane-Signature: "
                                "sha256=HMAC-SHA256(secret, raw body) in hex")
    if not hmac.compare_digest(sent.strip().lower().encode(), sign(secret, body).encode()):
        raise WebhookError(401, "the delivery's signature does not match its body (wrong "
                                "secret, or the body was changed on the way)")


def delivery_id(body: bytes, headers: Mapping[str, str]) -> tuple[str, str]:
    """The delivery's id and the header it came from (``body-sha256`` without one)."""
    for header in DELIVERY_HEADERS:
        value = headers.get(header, "").strip()
        if value:
            if len(value) > 200:
                raise WebhookError(400, f"{header} is longer than 200 characters")
            return value, header
    return "sha256:" + hashlib.sha256(body).hexdigest(), "body-sha256"


def payload(spec: WebhookSpec, body: bytes) -> Any:
    """The JSON body, valid against the trigger's schema when it declares one."""
    try:
        data = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(400, f"the body is not JSON ({exc})") from exc
    if spec.schema_ is not None:
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(spec.schema_)
        errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
        problems = [{"where": "body" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}"
                                                 for p in error.absolute_path),
                     "problem": error.message} for error in errors]
        if problems:
            raise WebhookError(422, f"the payload does not match the webhook's schema: "
                                    f"{problems[0]['where']}: {problems[0]['problem']}",
                               problems)
    return data
