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

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentplane.tools.base import Effect, Trust

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
    trust: Trust | None = None
    """Overrides the server's ``trust`` for this tool."""


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
    trust: Trust = Trust.UNTRUSTED
    """Whether results may carry outside instructions: untrusted unless declared otherwise."""
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
    ```
    Its answers are untrusted content; its task is a durable step, followed by task id after a
    crash instead of being sent again; the usage it reports is metered.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")]
    url: str = Field(pattern=r"^https?://")
    key_env: str | None = None
    description: str | None = None
    effect: Effect = Effect.WRITE
    cost_usd: float = Field(default=0.0, ge=0)
    timeout_s: float = Field(default=600.0, gt=0)
