"""How an OAuth token's claims become an Agentplane identity, and the settings' errors."""

from __future__ import annotations

import pytest

from agentplane.errors import ConfigError
from agentplane.server.oauth import OAuthSettings, identity_of, role_of

SETTINGS = OAuthSettings(issuer="https://id.example", resource="https://plane.example/mcp")


def test_the_strongest_role_named_by_claim_or_scope_wins() -> None:
    assert role_of({"scope": "openid agentplane:viewer agentplane:operator"}, SETTINGS) == \
        "operator"
    assert role_of({"roles": ["approver"], "scp": ["agentplane:operator"]}, SETTINGS) == \
        "approver"
    assert role_of({"roles": "admin viewer"}, SETTINGS) == "admin"
    assert role_of({"scope": "openid profile"}, SETTINGS) is None
    lenient = OAuthSettings(issuer=SETTINGS.issuer, resource=SETTINGS.resource,
                            default_role="viewer")
    assert role_of({}, lenient) == "viewer"


def test_subject_and_tenant_become_the_identity() -> None:
    who = identity_of({"sub": "alice", "tenant": "acme", "scope": "agentplane:operator",
                       "iat": 1_800_000_000}, SETTINGS)
    assert who is not None
    assert (who.identity, who.role, who.tenant) == ("oauth:alice", "operator", "acme")
    assert who.can("run") and not who.can("approve") and who.sees("acme")
    assert not who.sees("default")
    assert identity_of({"sub": "bob", "scope": "agentplane:viewer"}, SETTINGS) is not None
    assert identity_of({"sub": "bob", "scope": "agentplane:viewer"},
                       SETTINGS).tenant == "default"  # type: ignore[union-attr]
    assert identity_of({"scope": "agentplane:viewer"}, SETTINGS) is None  # no subject
    assert identity_of({"sub": "bob", "tenant": 7, "roles": ["admin"]}, SETTINGS) is None


def test_settings_from_the_environment() -> None:
    assert OAuthSettings.from_env({}) is None
    found = OAuthSettings.from_env({"AGENTPLANE_OAUTH_ISSUER": "https://id.example",
                                    "AGENTPLANE_OAUTH_RESOURCE": "https://plane.example/mcp",
                                    "AGENTPLANE_OAUTH_TENANT_CLAIM": "org"})
    assert found is not None and found.tenant_claim == "org"
    assert found.metadata_url == ("https://plane.example/.well-known/oauth-protected-resource"
                                  "/mcp")
    with pytest.raises(ConfigError, match="set both AGENTPLANE_OAUTH_ISSUER"):
        OAuthSettings.from_env({"AGENTPLANE_OAUTH_ISSUER": "https://id.example"})
    with pytest.raises(ConfigError, match="DEFAULT_ROLE must be one of"):
        OAuthSettings.from_env({"AGENTPLANE_OAUTH_ISSUER": "https://id.example",
                                "AGENTPLANE_OAUTH_RESOURCE": "https://plane.example/mcp",
                                "AGENTPLANE_OAUTH_DEFAULT_ROLE": "root"})
    with pytest.raises(ConfigError, match="must be an http"):
        OAuthSettings.from_env({"AGENTPLANE_OAUTH_ISSUER": "id.example",
                                "AGENTPLANE_OAUTH_RESOURCE": "https://plane.example/mcp"})
