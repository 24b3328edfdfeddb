"""What workflows declare for interop: MCP servers (``mcp_servers:``) and remote A2A agents
(``remote_agents:``).

```yaml
mcp_servers:
  - name: files
    command: [python, servers/files.py]     # stdio: a subprocess, from the workflow's folder
    tools:                                  # the tools agents may use, and what they do
      - {name: read_file, effect: read}
      - {name: write_file, effect: write}   # unknown tools are not assumed harmless
  - name: crm
    url: http://127.0.0.1:8801/mcp          # streamable HTTP
    headers: {Authorization: "Bearer ${CRM_TOKEN}"}   # values from the environment
    trust: untrusted                        # the default: results are content from outside
    timeout_s: 20
    tools: [{name: lookup_customer, effect: read}]
agents:
  - name: clerk
    tools: [files_read_file, crm_lookup_customer]   # <server>_<tool>
```
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentplane.tools.base import Effect, Trust
from agentplane.tools.trust import TrustField

ServerName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9\-]{0,31}$")]


class MCPToolSpec(BaseModel):
    """One tool of an MCP server that agents may use, and its side effect."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    """The tool's name on the server."""
    effect: Effect = Effect.WRITE
    idempotent: bool = False
    external: bool = False
    cost_usd: float = Field(default=0.0, ge=0)
    trust: TrustField | None = None
    """Overrides the server's ``trust`` for this tool; per field:
    ``{default: untrusted, trusted: ["$.items[*].id"]}``."""
    composed: list[str] | None = None
    """Arguments that are free text the agent composes (default: by name, e.g. ``body``)."""
    destination: list[str] | None = None
    """Arguments that say where an external call goes (default: by name, e.g. ``url``)."""


class MCPServerSpec(BaseModel):
    """An MCP server over stdio (``command``) or streamable HTTP (``url``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ServerName
    command: list[str] | None = Field(default=None, min_length=1)
    url: str | None = Field(default=None, pattern=r"^https?://")
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment for a stdio server; ``${VAR}`` is replaced from the environment."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers; ``${VAR}`` is replaced from the environment (keys stay out of files)."""
    trust: TrustField = Trust.UNTRUSTED
    """Whether results may carry outside instructions: untrusted unless declared otherwise
    (or per field, as for a tool)."""
    timeout_s: float = Field(default=30.0, gt=0)
    """How long one call may take before it fails (and the connection is reopened)."""
    tools: list[MCPToolSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of command (stdio) and url (streamable HTTP)")
        return self

    def exposed(self, tool: str) -> str:
        """The name agents use for one of this server's tools."""
        return f"{self.name}_{tool}"


class RemoteAgentSpec(BaseModel):
    """A remote A2A agent that agents may hand a task to, as a tool taking ``message``.

    ```yaml
    remote_agents:
      - name: partner_refunds
        url: http://127.0.0.1:8766/agents/refund-desk
        key_env: PARTNER_A2A_KEY        # the key stays in the environment
        effect: write                   # what it may do on our behalf (default write)
      - name: researcher
        registry: acme/researcher       # an entry of the agent registry: its replicas
      - name: translator
        capability: translation         # the registry's best entry with this capability
        min_trust: trusted
    ```
    Exactly one of ``url``, ``registry`` and ``capability``. With the registry, each new task
    goes to a replica picked round robin among the healthy ones, and fails over to the next
    when its message cannot be delivered; a started task stays on its replica.
    Its answers are untrusted content; its task is a durable step, followed by task id after a
    crash instead of being sent again; the usage it reports is metered.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")]
    url: str | None = Field(default=None, pattern=r"^https?://")
    """A fixed address: the agent's base URL (its card at ``URL/.well-known/agent-card.json``)."""
    registry: str | None = Field(default=None, min_length=1, max_length=200)
    """The id of an entry in the agent registry (``agentplane registry list``)."""
    capability: str | None = Field(default=None, min_length=1, max_length=200)
    """A capability: the registry entry that has it, with a replica up, is used
    (``agentplane registry find``)."""
    min_trust: Literal["untrusted", "trusted"] | None = None
    """With ``registry`` or ``capability``: refuse entries less trusted than this."""
    key_env: str | None = None
    description: str | None = None
    effect: Effect = Effect.WRITE
    trust: TrustField = Trust.UNTRUSTED
    """Its answers are outside content unless declared otherwise (or per field of the task
    result, e.g. ``{default: untrusted, trusted: ["$.task_id"]}``)."""
    cost_usd: float = Field(default=0.0, ge=0)
    timeout_s: float = Field(default=600.0, gt=0)
    """How long to follow a task before the step gives up on it (it goes on remotely)."""
    retries: int = Field(default=8, ge=0, le=100)
    """Consecutive failed attempts to reach the replica that has the task (with backoff)
    before the step fails; a message not yet delivered fails over to another replica
    instead."""

    @model_validator(mode="after")
    def _one_address(self) -> RemoteAgentSpec:
        given = [k for k in ("url", "registry", "capability") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of url (a fixed address), registry (the id of a registry "
                "entry) and capability (the registry's entry with it)"
                + (f"; got {' and '.join(given)}" if given else ""))
        if self.url is not None and self.min_trust is not None:
            raise ValueError("min_trust applies to registry entries; an agent at a url has no "
                             "registry trust level")
        return self
