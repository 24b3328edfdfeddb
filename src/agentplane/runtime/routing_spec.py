"""The routing settings of a workflow spec: routers that pick a model per call.

On the workflow::

    routers:
      - name: desk
        candidates:
          - {model: local-llm, tags: [tools], context_window: 32000, local: true}
          - {model: openai:gpt-4o, tags: [tools, vision, json], region: eu}
        prefer: cheapest            # among the candidates that qualify

An agent uses one as ``model: router:desk``. Kept apart from ``spec`` (one concept per
module); ``spec`` hangs it on its models, the router (``agentplane.models.router``) reads it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")]
ROUTER_PREFIX = "router:"
"""An agent's ``model`` that starts with this names a router of the workflow."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RouteCandidate(_Spec):
    """A model a router may choose: a catalog model (``openai:gpt-4o``) or a provider entry."""

    model: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    """Capabilities: ``tools``, ``vision``, ``json``, or your own."""
    context_window: int | None = Field(default=None, ge=1)
    local: bool = False
    """Runs on the organisation's own machines: data marked personal or confidential may go."""
    region: str | None = None
    """Where the endpoint processes data (``eu``, ``cn``, ``us``...)."""


class RouterSpec(_Spec):
    """A named router: the candidates, in order of preference when nothing else decides."""

    name: Name
    candidates: list[RouteCandidate] = Field(min_length=1)
    prefer: Literal["cheapest", "first", "fastest"] = "cheapest"
