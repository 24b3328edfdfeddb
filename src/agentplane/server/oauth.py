"""OAuth access tokens from a configured issuer, accepted alongside Agentplane API keys.

The server is an OAuth *resource server* (the MCP authorization spec): it publishes its
protected-resource metadata (RFC 9728) at ``/.well-known/oauth-protected-resource[/PATH]``,
names it in the ``WWW-Authenticate`` challenge of a 401, and accepts JWT access tokens signed
by the issuer's keys (its JWKS), for this resource (``aud``), unexpired. Claims become an
Agentplane identity (docs/mcp-auth.md):

* ``sub`` → the caller, journaled as ``oauth:SUBJECT``;
* the tenant claim (``tenant`` by default) → its tenant (``default`` when absent);
* roles: the role claim (``roles``, a list or a space-separated string) and scopes
  ``agentplane:ROLE`` (in ``scope`` or ``scp``) → the strongest of them
  (viewer < operator < approver < admin); a token naming no role is refused unless a
  default role is configured.

Configured from the environment (``AGENTPLANE_OAUTH_*``, see ``OAuthSettings.from_env``);
without ``AGENTPLANE_OAUTH_ISSUER`` nothing changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from agentplane.errors import ConfigError
from agentplane.governance.keys import ROLES, ApiKey, Role

from .auth import Authenticator, RequireCaller

log = logging.getLogger(__name__)

ENV_PREFIX = "AGENTPLANE_OAUTH_"
SCOPE_PREFIX = "agentplane:"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA")


@dataclass(frozen=True)
class OAuthSettings:
    """Which issuer's tokens are accepted, for which resource, and how claims map."""

    issuer: str
    """The authorization server (``iss`` must equal it)."""
    resource: str
    """This server's resource identifier, e.g. ``https://plane.example.com/mcp`` (``aud``
    must contain it)."""
    jwks_url: str | None = None
    """Where the issuer's signing keys are; by default from its metadata (``jwks_uri``)."""
    tenant_claim: str = "tenant"
    role_claim: str = "roles"
    default_tenant: str = "default"
    default_role: Role | None = None
    leeway_s: int = 30
    scopes: tuple[str, ...] = field(default=tuple(f"{SCOPE_PREFIX}{r}" for r in ROLES))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OAuthSettings | None:
        """``AGENTPLANE_OAUTH_ISSUER`` and ``..._RESOURCE`` (both, or neither), optionally
        ``..._JWKS_URL``, ``..._TENANT_CLAIM``, ``..._ROLE_CLAIM``, ``..._DEFAULT_TENANT``,
        ``..._DEFAULT_ROLE``."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name, "").strip()
            return value or None

        issuer, resource = get("ISSUER"), get("RESOURCE")
        if issuer is None and resource is None:
            return None
        if issuer is None or resource is None:
            raise ConfigError(f"set both {ENV_PREFIX}ISSUER (the authorization server) and "
                              f"{ENV_PREFIX}RESOURCE (this server's URL, e.g. "
                              "https://host/mcp) to accept OAuth tokens, or neither")
        for name, url in (("ISSUER", issuer), ("RESOURCE", resource),
                          ("JWKS_URL", get("JWKS_URL"))):
            if url is not None and urlparse(url).scheme not in ("http", "https"):
                raise ConfigError(f"{ENV_PREFIX}{name} must be an http(s) URL, not {url!r}")
        role = get("DEFAULT_ROLE")
        if role is not None and role not in ROLES:
            raise ConfigError(f"{ENV_PREFIX}DEFAULT_ROLE must be one of {', '.join(ROLES)}, "
                              f"not {role!r}")
        return cls(issuer=issuer, resource=resource, jwks_url=get("JWKS_URL"),
                   tenant_claim=get("TENANT_CLAIM") or "tenant",
                   role_claim=get("ROLE_CLAIM") or "roles",
                   default_tenant=get("DEFAULT_TENANT") or "default",
                   default_role=role)

    @property
    def metadata_path(self) -> str:
        """Where the metadata is served: the well-known prefix before the resource's path."""
        return WELL_KNOWN + urlparse(self.resource).path.rstrip("/")

    @property
    def metadata_url(self) -> str:
        parsed = urlparse(self.resource)
        return f"{parsed.scheme}://{parsed.netloc}{self.metadata_path}"

    def metadata(self) -> dict[str, Any]:
        """The protected-resource metadata document (RFC 9728)."""
        return {"resource": self.resource, "authorization_servers": [self.issuer],
                "scopes_supported": list(self.scopes), "bearer_methods_supported": ["header"],
                "resource_name": "Agentplane"}

    @property
    def challenge(self) -> str:
        return f'Bearer realm="agentplane", resource_metadata="{self.metadata_url}"'


class OAuthCaller(ApiKey):
    """A caller known by an OAuth access token: journaled as ``oauth:SUBJECT``."""

    __slots__ = ()

    @property
    def identity(self) -> str:
        return f"oauth:{self.id}"

    @property
    def described(self) -> str:
        return f"{'an' if self.role[:1] in 'aeiou' else 'a'} {self.role} (OAuth)"


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def role_of(claims: Mapping[str, Any], settings: OAuthSettings) -> Role | None:
    """The strongest role the claims grant (role claim or ``agentplane:ROLE`` scopes)."""
    named = set(_words(claims.get(settings.role_claim)))
    for scope in _words(claims.get("scope")) + _words(claims.get("scp")):
        if scope.startswith(SCOPE_PREFIX):
            named.add(scope.removeprefix(SCOPE_PREFIX))
    granted = [r for r in ROLES if r in named]
    return granted[-1] if granted else settings.default_role


def identity_of(claims: Mapping[str, Any], settings: OAuthSettings) -> OAuthCaller | None:
    """The Agentplane identity of verified claims, or None when they grant no role."""
    role = role_of(claims, settings)
    subject = claims.get("sub")
    if role is None or not isinstance(subject, str) or not subject:
        return None
    tenant = claims.get(settings.tenant_claim, settings.default_tenant)
    if not isinstance(tenant, str) or not tenant:
        return None
    issued = claims.get("iat")
    at = datetime.fromtimestamp(issued, UTC) if isinstance(issued, int | float) else \
        datetime.now(UTC)
    return OAuthCaller(subject, f"OAuth token from {settings.issuer}", role, tenant,
                       at.isoformat())


class JWTVerifier:
    """A ``BearerVerifier`` for the issuer's JWT access tokens (checked against its JWKS)."""

    def __init__(self, settings: OAuthSettings) -> None:
        self.settings = settings
        self._keys: jwt.PyJWKClient | None = None
        self._lock = asyncio.Lock()

    async def _jwks_url(self) -> str:
        if self.settings.jwks_url is not None:
            return self.settings.jwks_url
        issuer = self.settings.issuer.rstrip("/")
        async with httpx.AsyncClient(timeout=10) as client:
            for path in ("/.well-known/oauth-authorization-server",
                         "/.well-known/openid-configuration"):
                answer = await client.get(issuer + path)
                if answer.status_code == 200 and isinstance(answer.json().get("jwks_uri"),
                                                            str):
                    found: str = answer.json()["jwks_uri"]
                    return found
        raise ConfigError(f"the OAuth issuer {issuer} publishes no jwks_uri in its metadata: "
                          f"set {ENV_PREFIX}JWKS_URL")

    async def keys(self) -> jwt.PyJWKClient:
        async with self._lock:
            if self._keys is None:
                self._keys = jwt.PyJWKClient(await self._jwks_url(), cache_keys=True,
                                             lifespan=300, timeout=10)
            return self._keys

    async def verify(self, token: str) -> OAuthCaller | None:
        if token.count(".") != 2:
            return None  # not a JWT (an API key, say): another verifier's
        try:
            jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        try:
            keys = await self.keys()
            key = await asyncio.to_thread(keys.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=list(ALGORITHMS), audience=self.settings.resource,
                issuer=self.settings.issuer, leeway=self.settings.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]})
        except (jwt.PyJWTError, httpx.HTTPError, ConfigError) as exc:
            log.info("OAuth token refused: %s", type(exc).__name__)  # never the token
            return None
        return identity_of(claims, self.settings)


def install_oauth(app: Starlette, authenticator: Authenticator,
                  settings: OAuthSettings | None = None, *,
                  door: RequireCaller | None = None) -> OAuthSettings | None:
    """Accept the configured issuer's tokens on ``app`` (settings from the environment when
    not given): the metadata route, the challenge that names it (on ``door`` only when given,
    e.g. serve's ``/mcp``; else on every 401), the verifier."""
    settings = settings or OAuthSettings.from_env()
    if settings is None:
        return None

    async def metadata(_: Request) -> JSONResponse:
        return JSONResponse(settings.metadata(), headers={"Cache-Control": "max-age=300"})

    for path in {settings.metadata_path, WELL_KNOWN}:
        app.add_route(path, metadata, methods=["GET"], include_in_schema=False)
    authenticator.add(JWTVerifier(settings))
    if door is not None:
        door.challenge = settings.challenge
    else:
        authenticator.challenge = settings.challenge
    return settings


__all__ = ["JWTVerifier", "OAuthCaller", "OAuthSettings", "identity_of", "install_oauth",
           "role_of"]
