"""OAuth for MCP servers (the MCP authorization spec), through the ``mcp`` SDK's auth support.

The SDK's providers do the protocol: protected-resource metadata discovery (RFC 9728),
authorization-server metadata (RFC 8414, OpenID discovery), dynamic client registration
(RFC 7591) or a client ID metadata document, PKCE authorization code, client credentials
(secret or ``private_key_jwt``), refresh, and scope step-up on ``insufficient_scope``. This
module adds what is Agentplane's own:

* where tokens live: encrypted at rest (Fernet) in ``$AGENTPLANE_HOME/mcp-auth/``, keyed by
  the server's URL; the key comes from ``AGENTPLANE_SECRET_KEY`` or a key file created on
  first use (``$AGENTPLANE_HOME/secret.key``, mode 0600). Tokens never reach events or logs.
* the person's one-time login (``agentplane mcp login SERVER``): a loopback callback on
  127.0.0.1 receives the authorization code after the person approves in a browser.
* an unattended run never opens a browser: a server that needs a person's authorization fails
  with "MCP server X needs authorization: run `agentplane mcp login X`".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.server
import json
import os
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlparse

import httpx2
import platformdirs
from cryptography.fernet import Fernet, InvalidToken
from mcp.client.auth import OAuthClientProvider, OAuthFlowError
from mcp.client.auth.extensions.client_credentials import (
    ClientCredentialsOAuthProvider,
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthMetadata,
    OAuthToken,
)
from pydantic import AnyUrl

from agentplane.errors import AgentplaneError

from .spec import MCPAuthSpec, MCPServerSpec

KEY_ENV = "AGENTPLANE_SECRET_KEY"
"""A Fernet key (``agentplane mcp login --new-key`` prints one) that encrypts stored tokens."""
CLIENT_NAME = "Agentplane"
STORE_VERSION = 1
"""Version of the stored (decrypted) JSON layout: ``url``, ``tokens``, ``expires_at``,
``client_info``, ``server``."""


class MCPAuthError(AgentplaneError):
    """An MCP server's authorization failed or is missing."""


class MCPAuthRequired(MCPAuthError):
    """The server needs a person's authorization, which an unattended run cannot ask for."""

    def __init__(self, server: str, why: str = "") -> None:
        super().__init__(f"MCP server {server} needs authorization{why}: run "
                         f"`agentplane mcp login {server}`")
        self.server = server


def home() -> Path:
    """``AGENTPLANE_HOME``, or the user's data directory (as the CLI resolves it)."""
    configured = os.environ.get("AGENTPLANE_HOME")
    return Path(configured).expanduser() if configured else Path(
        platformdirs.user_data_dir("agentplane", appauthor=False))


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by the owner only, atomically (a crash leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def secret_key(root: Path | None = None) -> Fernet:
    """The key that encrypts stored tokens: ``AGENTPLANE_SECRET_KEY``, else the key file."""
    configured = os.environ.get(KEY_ENV)
    if configured is not None:
        try:
            return Fernet(configured.strip().encode())
        except ValueError as exc:
            raise MCPAuthError(f"{KEY_ENV} is not a Fernet key (32 url-safe base64-encoded "
                               f"bytes): {exc}") from None
    path = (root or home()) / "secret.key"
    if not path.exists():
        _write_private(path, Fernet.generate_key())
    try:
        return Fernet(path.read_bytes().strip())
    except ValueError as exc:
        raise MCPAuthError(f"{path} does not hold a Fernet key: {exc}") from None


class EncryptedTokenStorage:
    """The SDK's ``TokenStorage`` for one server, in one encrypted file per server URL."""

    def __init__(self, url: str, root: Path | None = None) -> None:
        self.url = url
        self.root = root or home()
        digest = hashlib.sha256(url.encode()).hexdigest()[:24]
        self.path = self.root / "mcp-auth" / f"{digest}.json.enc"

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data: dict[str, Any] = json.loads(secret_key(self.root).decrypt(
                self.path.read_bytes()))
        except InvalidToken:
            raise MCPAuthError(
                f"stored authorization for {self.url} ({self.path}) cannot be decrypted with "
                f"this key ({KEY_ENV} or the key file changed): log in again") from None
        if data.get("version", STORE_VERSION) > STORE_VERSION:
            raise MCPAuthError(f"stored authorization for {self.url} ({self.path}) was written "
                               "by a newer Agentplane: upgrade, or log in again")
        return data if data.get("url") == self.url else {}

    def _save(self, **changes: Any) -> None:
        data = self._load() | changes | {"url": self.url, "version": STORE_VERSION}
        _write_private(self.path, secret_key(self.root).encrypt(json.dumps(data).encode()))

    async def get_tokens(self) -> OAuthToken | None:
        raw = self._load().get("tokens")
        return None if raw is None else OAuthToken.model_validate(raw)

    async def set_tokens(self, tokens: OAuthToken) -> None:
        expires_at = None if tokens.expires_in is None else time.time() + tokens.expires_in
        self._save(tokens=tokens.model_dump(mode="json", exclude_none=True),
                   expires_at=expires_at)

    def expires_at(self) -> float | None:
        """When the stored access token expires (seconds since the epoch), if it said."""
        found = self._load().get("expires_at")
        return float(found) if isinstance(found, int | float) else None

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        raw = self._load().get("client_info")
        return None if raw is None else OAuthClientInformationFull.model_validate(raw)

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._save(client_info=client_info.model_dump(mode="json", exclude_none=True))

    def remember(self, metadata: OAuthMetadata, auth_server_url: str | None) -> None:
        """Keep the authorization server's metadata: a later run refreshes at its token
        endpoint without discovering it again."""
        self._save(server={"metadata": metadata.model_dump(mode="json", exclude_none=True),
                           "url": auth_server_url})

    def discovered(self) -> tuple[OAuthMetadata, str | None] | None:
        raw = self._load().get("server")
        if not isinstance(raw, dict):
            return None
        return OAuthMetadata.model_validate(raw["metadata"]), raw.get("url")

    def forget(self) -> None:
        """Drop what is stored for this server (``mcp login`` starts afresh)."""
        self.path.unlink(missing_ok=True)


class MemoryTokenStorage:
    """Tokens held by the process only (client credentials: cheap to obtain again)."""

    def __init__(self) -> None:
        self._tokens: OAuthToken | None = None
        self._client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self._tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self._tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self._client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self._client = client_info


class _Callback(http.server.BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        if urlparse(self.path).path != "/callback":
            self.send_error(404)
            return
        self.server.deliver(query)
        ok = "code" in query
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(b"Agentplane is authorized: you may close this window.\n" if ok else
                         b"Authorization failed: see the terminal.\n")

    def log_message(self, format: str, *args: Any) -> None:  # the query holds the code
        return


class _CallbackServer(http.server.ThreadingHTTPServer):
    def __init__(self, port: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(("127.0.0.1", port), _Callback)
        self.loop = loop
        self.answers: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    def deliver(self, query: dict[str, str]) -> None:
        self.loop.call_soon_threadsafe(self.answers.put_nowait, query)


class LoopbackLogin:
    """A person's authorization: the browser goes to the authorization server, which sends
    the code back to ``http://127.0.0.1:PORT/callback`` (RFC 8252 loopback redirect)."""

    def __init__(self, open_url: Callable[[str], Awaitable[None]], *, port: int = 0,
                 timeout_s: float = 300.0) -> None:
        self.open_url = open_url
        self.port = port
        self.timeout_s = timeout_s
        self._server: _CallbackServer | None = None

    @contextlib.contextmanager
    def listening(self) -> Iterator[str]:
        """Serve the callback while in the block; yields the redirect URI."""
        server = _CallbackServer(self.port, asyncio.get_running_loop())
        thread = threading.Thread(target=server.serve_forever, name="mcp-login-callback",
                                  daemon=True)
        thread.start()
        self._server = server
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/callback"
        finally:
            self._server = None
            server.shutdown()
            server.server_close()

    async def redirect(self, authorization_url: str) -> None:
        await self.open_url(authorization_url)

    async def callback(self) -> AuthorizationCodeResult:
        if self._server is None:
            raise MCPAuthError("the login callback is not listening")
        try:
            query = await asyncio.wait_for(self._server.answers.get(), self.timeout_s)
        except TimeoutError:
            raise MCPAuthError(f"no authorization within {self.timeout_s:.0f}s") from None
        if "code" not in query:
            raise MCPAuthError("the authorization server refused: "
                               f"{query.get('error', 'no code')} "
                               f"{query.get('error_description', '')}".rstrip())
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"),
                                       iss=query.get("iss"))


def _secret(auth: MCPAuthSpec, server: str) -> str | None:
    if auth.client_secret_env is None:
        return None
    value = os.environ.get(auth.client_secret_env)
    if not value:
        raise MCPAuthError(f"MCP server {server} needs the environment variable "
                           f"{auth.client_secret_env} (its client secret), which is not set")
    return value


def _client_credentials(spec: MCPServerSpec, auth: MCPAuthSpec) -> OAuthClientProvider:
    assert spec.url is not None and auth.client_id is not None
    if auth.private_key_env is not None:
        pem = os.environ.get(auth.private_key_env)
        if not pem:
            raise MCPAuthError(f"MCP server {spec.name} needs the environment variable "
                               f"{auth.private_key_env} (its PEM private key), which is not set")
        signer = SignedJWTParameters(issuer=auth.client_id, subject=auth.client_id,
                                     signing_key=pem, signing_algorithm=auth.signing_algorithm)
        return _PrivateKeyJWT(
            server_url=spec.url, storage=MemoryTokenStorage(), client_id=auth.client_id,
            assertion_provider=signer.create_assertion_provider(), scope=auth.scope,
            issuer=auth.issuer)
    secret = _secret(auth, spec.name)
    assert secret is not None
    method: Literal["client_secret_basic", "client_secret_post"] = (
        "client_secret_post" if auth.token_auth == "client_secret_post" else
        "client_secret_basic")
    return _ClientCredentials(
        server_url=spec.url, storage=MemoryTokenStorage(), client_id=auth.client_id,
        client_secret=secret, token_endpoint_auth_method=method, scope=auth.scope,
        issuer=auth.issuer)


class _Remembering(OAuthClientProvider):
    """Keeps the error that stopped its flow: the SDK's transport reports a failed request to
    the session as a bare JSON-RPC error, so the cause would otherwise be lost."""

    failure: Exception | None = None

    async def _auth_flow(self, request: httpx2.Request
                         ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        flow = super()._auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                outgoing = await flow.asend((yield outgoing))
        except StopAsyncIteration:
            return
        except Exception as exc:
            self.failure = exc
            raise


class _ClientCredentials(_Remembering, ClientCredentialsOAuthProvider):
    pass


class _PrivateKeyJWT(_Remembering, PrivateKeyJWTOAuthProvider):
    pass


class _StoredTokensProvider(_Remembering):
    """The SDK's provider, knowing when a stored token expires: after a restart, an expired
    access token is refreshed before use instead of being sent and refused."""

    async def _initialize(self) -> None:
        await super()._initialize()
        storage = self.context.storage
        if isinstance(storage, EncryptedTokenStorage):
            self.context.token_expiry_time = storage.expires_at()
            found = storage.discovered()
            if found is not None and self.context.oauth_metadata is None:
                self.context.oauth_metadata, self.context.auth_server_url = found

    async def _handle_token_response(self, response: httpx2.Response) -> None:
        await super()._handle_token_response(response)
        storage = self.context.storage
        if isinstance(storage, EncryptedTokenStorage) and self.context.oauth_metadata:
            storage.remember(self.context.oauth_metadata, self.context.auth_server_url)


def _identity_assertion(spec: MCPServerSpec, auth: MCPAuthSpec) -> httpx2.Auth:
    """Enterprise-managed authorization (SEP-990): the ID token is exchanged at the identity
    provider (RFC 8693) for an ID-JAG, which the SDK's provider presents (RFC 7523)."""
    assert spec.url and auth.issuer and auth.client_id and auth.id_token_env
    id_token = os.environ.get(auth.id_token_env)
    if not id_token:
        raise MCPAuthError(f"MCP server {spec.name} needs the environment variable "
                           f"{auth.id_token_env} (the person's ID token), which is not set")
    secret = _secret(auth, spec.name)
    assert secret is not None and auth.idp_token_endpoint is not None
    idp = auth.idp_token_endpoint

    async def exchange(audience: str, resource: str) -> str:
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": id_token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                "audience": audience, "resource": resource}
        if auth.idp_client_id:
            form["client_id"] = auth.idp_client_id
        if auth.scope:
            form["scope"] = auth.scope
        async with httpx2.AsyncClient(timeout=30) as client:
            answer = await client.post(idp, data=form)
        if answer.status_code != 200:
            raise MCPAuthError(f"MCP server {spec.name}: the identity provider refused the "
                               f"token exchange (HTTP {answer.status_code})")
        grant = answer.json().get("access_token")
        if not isinstance(grant, str):
            raise MCPAuthError(f"MCP server {spec.name}: the identity provider's answer has "
                               "no access_token")
        return grant

    return IdentityAssertionOAuthProvider(
        server_url=spec.url, storage=MemoryTokenStorage(), client_id=auth.client_id,
        client_secret=secret, issuer=auth.issuer, assertion_provider=exchange,
        scope=auth.scope, token_endpoint_auth_method=(
            "client_secret_post" if auth.token_auth == "client_secret_post"
            else "client_secret_basic"))


def _unattended(server: str) -> tuple[Callable[[str], Awaitable[None]],
                                      Callable[[], Awaitable[AuthorizationCodeResult]]]:
    async def redirect(_url: str) -> None:
        raise MCPAuthRequired(server)

    async def callback() -> AuthorizationCodeResult:
        raise MCPAuthRequired(server)

    return redirect, callback


async def provider(spec: MCPServerSpec, *, login: LoopbackLogin | None = None,
                   redirect_uri: str | None = None,
                   storage: EncryptedTokenStorage | None = None) -> httpx2.Auth | None:
    """The SDK auth provider for ``spec`` (``None`` without ``auth:``).

    Without ``login`` (a run), a server asking for a person's authorization fails with
    ``MCPAuthRequired``; with it (``mcp login``), the person is sent to the browser.
    """
    auth = spec.auth
    if auth is None or spec.url is None:
        return None
    if auth.flow == "client_credentials":
        return _client_credentials(spec, auth)
    if auth.flow == "identity_assertion":
        return _identity_assertion(spec, auth)
    store = storage or EncryptedTokenStorage(spec.url)
    if auth.client_id is not None and await store.get_client_info() is None:
        secret = _secret(auth, spec.name)
        method = auth.token_auth or ("client_secret_basic" if secret else "none")
        await store.set_client_info(OAuthClientInformationFull(
            client_id=auth.client_id, client_secret=secret,
            redirect_uris=[AnyUrl(redirect_uri or "http://127.0.0.1/callback")],
            token_endpoint_auth_method=method))
    metadata = OAuthClientMetadata(
        client_name=CLIENT_NAME,
        redirect_uris=[AnyUrl(redirect_uri or "http://127.0.0.1/callback")],
        grant_types=["authorization_code", "refresh_token"], response_types=["code"],
        scope=auth.scope, token_endpoint_auth_method=auth.token_auth or "none")
    redirect, callback = (login.redirect, login.callback) if login is not None else \
        _unattended(spec.name)
    return _StoredTokensProvider(server_url=spec.url, client_metadata=metadata, storage=store,
                                 redirect_handler=redirect, callback_handler=callback,
                                 client_metadata_url=auth.client_metadata_url)


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (nested) exception groups and their causes."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
        return
    yield exc
    if exc.__cause__ is not None:
        yield from leaves(exc.__cause__)


def explain(exc: BaseException, spec: MCPServerSpec, auth: httpx2.Auth | None = None,
            refused: int | None = None) -> AgentplaneError | None:
    """A clear error for an authorization failure hidden in ``exc`` (or kept by ``auth``, the
    session's provider; ``refused``: the last 401 or 403 the server answered), or ``None``."""
    failure = getattr(auth, "failure", None)
    if failure is not None:
        exc = BaseExceptionGroup("auth", [failure, exc]) if isinstance(exc, Exception) else exc
    found = list(leaves(exc))
    for leaf in found:
        if isinstance(leaf, MCPAuthRequired) and refused == 403:  # a step-up a run cannot do
            return MCPAuthRequired(spec.name, " with more scope (the server answered 403 "
                                              "insufficient_scope)")
        if isinstance(leaf, MCPAuthError):
            return leaf
    for leaf in found:
        if isinstance(leaf, OAuthFlowError):
            return MCPAuthError(f"MCP server {spec.name}: authorization failed: {leaf}")
    statuses = [getattr(getattr(leaf, "response", None), "status_code", None) for leaf in found]
    status = next((s for s in statuses if s in (401, 403)), refused)
    if status in (401, 403) and spec.auth is None:
        return MCPAuthError(
            f"MCP server {spec.name} needs authorization (HTTP {status}): declare `auth:` "
            f"for it in the workflow, then run `agentplane mcp login {spec.name}`")
    if status == 403:
        return MCPAuthError(f"MCP server {spec.name} refused access (HTTP 403): the "
                            "authorized identity may not use it (role, tenant or scope)")
    if status == 401:
        if spec.auth is not None and spec.auth.flow == "client_credentials":
            return MCPAuthError(f"MCP server {spec.name} refused the token its client "
                                "credentials obtained (HTTP 401)")
        return MCPAuthRequired(spec.name, " (its token was refused)")
    return None


__all__ = ["EncryptedTokenStorage", "LoopbackLogin", "MCPAuthError", "MCPAuthRequired",
           "explain", "provider", "secret_key"]
