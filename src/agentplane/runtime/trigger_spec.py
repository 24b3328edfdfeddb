"""The ``triggers:`` and ``defer:`` settings of a workflow spec: what starts its runs by
itself, and when a run that can wait should start.

::

    triggers:
      - {name: nightly, schedule: "0 2 * * *", timezone: Europe/Berlin, catch_up: once}
      - {name: tickets, webhook: {secret_env: TICKETS_HOOK_SECRET}}
      - {name: inbox, mail: {host: imap.example.com, user_env: MAIL_USER,
                             password_env: MAIL_PASSWORD}}
    defer: {within: 12h, prefer: cheapest, signal: prices.json}

Kept apart from ``spec`` (one concept per module); ``agentplane.triggers`` reads it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookSpec(_Spec):
    """``POST /hooks/NAME``, signed with HMAC-SHA256 by a secret read from the environment."""

    # ``schema`` in YAML and in the pinned copy (``schema_`` in Python: ``schema`` is taken)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              serialize_by_alias=True)

    secret_env: str = Field(min_length=1)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    """A JSON Schema the payload must match (else 422, and no run)."""
    untrusted: bool = False
    """Treat the payload as content from outside (the guardians see it so), though signed."""


class MailSpec(_Spec):
    """An IMAP mailbox: each new message starts a run (its content is untrusted)."""

    host: str = Field(min_length=1)
    port: int = Field(default=993, ge=1, le=65535)
    tls: bool = True
    user_env: str = Field(min_length=1)
    password_env: str = Field(min_length=1)
    mailbox: str = "INBOX"
    idle: bool = True
    """Wait with IMAP IDLE where the server offers it (a new mail starts its run at once);
    else, or when false, look every ``poll_s`` seconds."""
    poll_s: float = Field(default=60.0, gt=0, le=86_400)
    """Seconds between looks when not idling, and the longest an IDLE lasts before the
    mailbox is searched again."""
    done_keyword: str = Field(default="$AgentplaneDone", pattern=r"^\$?[A-Za-z][\w$\-]{0,63}$")
    """The IMAP keyword set on a message once its run is claimed (a courtesy for people
    and other clients: the trigger store's claim is what makes a mail start one run)."""


class TriggerSpec(_Spec):
    """One trigger: exactly one of ``schedule``, ``webhook`` or ``mail``."""

    name: Name
    schedule: str | None = None
    """A cron expression (five fields), in ``timezone``."""
    timezone: str = "UTC"
    catch_up: Literal["skip", "once", "all"] = "skip"
    webhook: WebhookSpec | None = None
    mail: MailSpec | None = None
    input: Any = None
    """Input of the runs a schedule starts."""
    enabled: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> TriggerSpec:
        kinds = [k for k in ("schedule", "webhook", "mail") if getattr(self, k) is not None]
        if len(kinds) > 1:
            raise ValueError(f"trigger {self.name} declares {' and '.join(kinds)}: a trigger is "
                             "one of schedule, webhook or mail (declare one trigger each)")
        return self


def _unique_names(triggers: list[TriggerSpec]) -> list[TriggerSpec]:
    """A trigger is addressed by its name (``/hooks/NAME``, ``triggers fire WORKFLOW NAME``, the
    slots a schedule claims), so two with one name would share all of that."""
    seen: set[str] = set()
    for trigger in triggers:
        if trigger.name in seen:
            raise ValueError(f"two triggers are named {trigger.name!r}; a trigger's name is its "
                             "webhook path and the key of its fires, so give each its own")
        seen.add(trigger.name)
    return triggers


Triggers = Annotated[list[TriggerSpec], AfterValidator(_unique_names)]
"""A workflow's ``triggers:``, each name once."""


class DeferSpec(_Spec):
    """A run that may wait: start it in the best window of a signal, within a deadline."""

    within: str = Field(min_length=1)
    """How long the run may wait: ``30m``, ``12h``, ``2d``."""
    prefer: Literal["cheapest", "greenest"] = "cheapest"
    signal: str | None = None
    """A forecast file (relative to the workflow's folder) or an http(s) URL."""
