"""Signed user actions, transparently, for the tests that predate them.

Every state-changing request needs an ``X-DFNS-USERACTION`` header since issue 13.
The tests written before it send their requests through FastAPI's ``TestClient``
or ``httpx.ASGITransport`` with a bearer token; :func:`install` wraps both
transports so that such a request, when its bearer token is registered here
(:func:`register` / :func:`register_credentials`: the token and its credential's
private key) and it carries no user-action header of its own, is first signed
through the real flow (``POST /auth/action/init`` with the exact body text, the
credential's signature of the ``clientData``, ``POST /auth/action``) on the same
app. Nothing is bypassed: the server verifies each step as for any client.

Tests of the flow itself use unregistered tokens, or a header of their own, or
``NO_SIGN_HEADER`` to opt out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from starlette.testclient import _TestClientTransport

from shardvault.sdk.user_actions import USER_ACTION_HEADER, UserActionSigner

#: A request carrying this header (any value) is sent as it is.
NO_SIGN_HEADER = "X-Test-No-User-Action"
_SIGNERS: dict[str, UserActionSigner] = {}
_SAFE = {"GET", "HEAD", "OPTIONS"}
_EXEMPT = {"/auth/action/init", "/auth/action"}


def register(token: str, credential_id: str, private_key: str) -> UserActionSigner:
    signer = UserActionSigner(credential_id, private_key)
    _SIGNERS[token] = signer
    return signer


def register_credentials(creds: Mapping[str, Any]) -> UserActionSigner:
    """Register a ``credentials.json`` (or ``OrgAdmin.credentials()``) mapping."""
    return register(creds["token"], creds["credentialId"], creds["privateKey"])


def register_admin(admin: Any) -> UserActionSigner:
    """Register an :class:`shardvault.api.OrgAdmin`."""
    return register(admin.token, admin.credential_id, admin.private_key)


def signer_for(token: str) -> UserActionSigner:
    return _SIGNERS[token]


def _needs_signing(request: httpx.Request) -> UserActionSigner | None:
    if request.method.upper() in _SAFE or request.url.path in _EXEMPT:
        return None
    if USER_ACTION_HEADER in request.headers or NO_SIGN_HEADER in request.headers:
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return _SIGNERS.get(token.strip())


def _payload(request: httpx.Request) -> str | None:
    """The body text to sign, or None when it is not JSON (the server refuses it)."""
    body = request.read()
    if not body:
        return ""
    try:
        text = body.decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    return text


def _step(request: httpx.Request, path: str, body: Mapping[str, Any]) -> httpx.Request:
    return httpx.Request(
        "POST",
        request.url.copy_with(path=path, query=None),
        headers={
            "Authorization": request.headers["authorization"],
            "Content-Type": "application/json",
        },
        content=json.dumps(body).encode(),
    )


def _register_bootstrap() -> None:
    """``create_org`` and ``ensure_admin`` register what they create (patched where
    the tests import them from: ``shardvault.api`` and ``shardvault.api.bootstrap``)."""
    import shardvault.api
    from shardvault.api import bootstrap

    real_create_org = bootstrap.create_org
    real_ensure_admin = bootstrap.ensure_admin

    def create_org(*args: Any, **kwargs: Any) -> Any:
        admin = real_create_org(*args, **kwargs)
        register_admin(admin)
        return admin

    def ensure_admin(*args: Any, **kwargs: Any) -> Any:
        path = real_ensure_admin(*args, **kwargs)
        register_credentials(json.loads(path.read_text()))
        return path

    for module in (bootstrap, shardvault.api):
        module.create_org = create_org  # type: ignore[attr-defined]
        module.ensure_admin = ensure_admin  # type: ignore[attr-defined]


def sign_and_send(
    send: Callable[[httpx.Request], httpx.Response], request: httpx.Request
) -> httpx.Response:
    """Sign ``request`` (if it needs it, see the module doc) through ``send``, then send it."""
    signer = _needs_signing(request)
    payload = _payload(request) if signer is not None else None
    if signer is not None and payload is not None:
        init = send(
            _step(
                request,
                "/auth/action/init",
                signer.init_body(request.method, request.url.path, payload),
            )
        )
        init.read()
        if init.status_code == 200:
            done = send(_step(request, "/auth/action", _assertion(signer, init.json())))
            done.read()
            if done.status_code == 200:
                request.headers[USER_ACTION_HEADER] = done.json()["userAction"]
    return send(request)


class SigningTransport(httpx.BaseTransport):
    """An ``httpx.HTTPTransport`` (to a live server) that signs as :func:`install` does."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return sign_and_send(self.inner.handle_request, request)

    def close(self) -> None:
        self.inner.close()


def install() -> None:
    """Wrap the test transports and the bootstrap functions (idempotent)."""
    if getattr(_TestClientTransport, "_signing_installed", False):
        return
    _register_bootstrap()
    sync_handle = _TestClientTransport.handle_request
    async_handle = httpx.ASGITransport.handle_async_request

    def handle_request(self: Any, request: httpx.Request) -> httpx.Response:
        return sign_and_send(lambda r: sync_handle(self, r), request)

    async def handle_async_request(self: Any, request: httpx.Request) -> httpx.Response:
        signer = _needs_signing(request)
        payload = _payload(request) if signer is not None else None
        if signer is not None and payload is not None:
            init = await async_handle(
                self,
                _step(
                    request,
                    "/auth/action/init",
                    signer.init_body(request.method, request.url.path, payload),
                ),
            )
            await init.aread()
            if init.status_code == 200:
                challenge = init.json()
                done = await async_handle(
                    self, _step(request, "/auth/action", _assertion(signer, challenge))
                )
                await done.aread()
                if done.status_code == 200:
                    request.headers[USER_ACTION_HEADER] = done.json()["userAction"]
        return await async_handle(self, request)

    _TestClientTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.ASGITransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
    _TestClientTransport._signing_installed = True  # type: ignore[attr-defined]


def _assertion(signer: UserActionSigner, challenge: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "challengeIdentifier": challenge["challengeIdentifier"],
        "firstFactor": signer.first_factor(challenge["challenge"]),
    }
