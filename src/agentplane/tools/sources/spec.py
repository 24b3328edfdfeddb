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
  - name: docs
    url: https://mcp.example.com/mcp        # a hosted server that requires OAuth
    auth: {scope: "docs:read"}              # a person logs in once: `agentplane mcp login docs`
    tools: [{name: search, effect: read}]
  - name: billing
    url: https://billing.example.com/mcp
    auth:                                   # an unattended worker: client credentials
      flow: client_credentials
      client_id: worker-7
      client_secret_env: BILLING_CLIENT_SECRET
    tools: [{name: invoice, effect: read}]
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


class MCPAuthSpec(BaseModel):
    """How Agentplane obtains OAuth tokens for an MCP server (the MCP authorization spec).

    The server's protected-resource metadata names its authorization server; scopes come from
    ``scope``, else from the server's challenge or its metadata, and grow on an
    ``insufficient_scope`` challenge (step-up). Tokens are stored encrypted (docs/mcp-auth.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    flow: Literal["authorization_code", "client_credentials", "identity_assertion"] = \
        "authorization_code"
    """``authorization_code``: a person authorizes once (``agentplane mcp login SERVER``), runs
    use and refresh the stored tokens. ``client_credentials``: an unattended worker's own
    credentials, no person involved. ``identity_assertion``: enterprise-managed authorization
    (SEP-990): the person's ID token from the enterprise identity provider is exchanged there
    for an identity assertion grant (ID-JAG), which ``issuer`` turns into an access token."""
    scope: str | None = Field(default=None, min_length=1)
    """Scopes to ask for (space separated); by default those the server asks for."""
    client_id: str | None = Field(default=None, min_length=1)
    """A client registered beforehand; without it the client registers itself (dynamic client
    registration) or uses ``client_metadata_url`` where the server accepts one."""
    client_secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The environment variable holding the client's secret (never the secret itself)."""
    private_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """client_credentials with ``private_key_jwt``: the variable holding the PEM private key."""
    signing_algorithm: str = "RS256"
    token_auth: Literal["client_secret_basic", "client_secret_post", "none"] | None = None
    """How the client authenticates at the token endpoint (default: basic with a secret)."""
    client_metadata_url: str | None = Field(default=None, pattern=r"^https://")
    """An HTTPS URL of this client's metadata document, used as its client id where the
    authorization server supports client ID metadata documents."""
    issuer: str | None = Field(default=None, pattern=r"^https?://")
    """client_credentials, identity_assertion: the authorization server the credentials
    belong to."""
    idp_token_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    """identity_assertion: the enterprise identity provider's token endpoint."""
    idp_client_id: str | None = None
    """identity_assertion: this client's id at the identity provider."""
    id_token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """identity_assertion: the environment variable holding the person's ID token."""

    @model_validator(mode="after")
    def _credentials(self) -> MCPAuthSpec:
        if self.flow == "client_credentials":
            if self.client_id is None:
                raise ValueError("flow client_credentials needs client_id")
            if (self.client_secret_env is None) == (self.private_key_env is None):
                raise ValueError("flow client_credentials needs exactly one of "
                                 "client_secret_env and private_key_env")
        elif self.flow == "identity_assertion":
            missing = [k for k in ("issuer", "client_id", "client_secret_env",
                                   "idp_token_endpoint", "id_token_env")
                       if getattr(self, k) is None]
            if missing:
                raise ValueError(f"flow identity_assertion needs {', '.join(missing)}")
        elif self.private_key_env is not None:
            raise ValueError("private_key_env applies to flow client_credentials only")
        return self


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
    auth: MCPAuthSpec | None = None
    """OAuth for a server that requires it (streamable HTTP only)."""
    tools: list[MCPToolSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of command (stdio) and url (streamable HTTP)")
        if self.auth is not None and self.url is None:
            raise ValueError("auth applies to a server at a url (streamable HTTP), not stdio")
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
