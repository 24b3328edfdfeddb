"""The ``personal:`` settings of a workflow spec: whom a run is about and which values are
personal data, so the journal keeps them encrypted under that person's key (and
``agentplane data erase --subject ID`` can make them unreadable without breaking the chain).

::

    personal:
      subject: $.customer_id          # JSONPath into the run's input: whom the run is about
      input: [$.email, $.message]     # personal values of the input
      detect: true                    # e-mail addresses, phone numbers, IBANs, card and ID
                                      # numbers the guardians' detectors find in tool results
    tools:
      - {name: lookup_customer, ..., personal: [$.name, $.address]}   # or [$] for all of it

Kept apart from ``spec`` (one concept per module); ``agentplane.runtime.personal`` reads it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentplane.tools.trust import PathError, parse_path


def check_paths(paths: list[str] | None) -> list[str] | None:
    """Each path parses (a JSONPath subset: ``$``, ``.name``, ``..name``, ``[*]``, ``[N]``)."""
    for path in paths or ():
        try:
            parse_path(path)
        except PathError as exc:
            raise ValueError(f"{exc} (e.g. $.email)") from None
    return paths


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonalSpec(_Spec):
    """Whom a run is about, and which of its values are personal."""

    subject: str | None = None
    """JSONPath into the run's input naming the person (``$.customer_id``); without it, each
    run is its own subject (``run:<id>``)."""
    input: list[str] = Field(default_factory=list)
    """Paths of the input whose values are personal (the subject's id always is)."""
    detect: bool = True
    """Also treat as personal what the detectors find in tool results (e-mail addresses, phone
    numbers, IBANs, card numbers, resident ids)."""

    @field_validator("input")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        return check_paths(paths) or []

    @field_validator("subject")
    @classmethod
    def _subject(cls, path: str | None) -> str | None:
        check_paths([path] if path else None)
        return path
