"""The synchronous Python client of the shardvault REST API.

``Client(base_url, token=..., signer=...)`` or ``Client.from_credentials_file(path)``;
use it as a context manager or call :meth:`Client.close`. With a ``signer`` (a
:class:`UserActionSigner`, from the file's ``credentialId`` and ``privateKey``),
every state-changing request is signed as a user action first (three round trips:
``POST /auth/action/init``, ``POST /auth/action``, the request with its
``X-DFNS-USERACTION`` header). Resources: ``client.signers``,
``client.keys``, ``client.wallets`` and ``client.networks`` (``_signers``, ``keys``,
``wallets``). Every non-2xx answer raises :class:`ShardvaultApiError`.

Import and export do their cryptography here, in the caller's process
(``key_transfer``): an imported private key is split and sealed to the signers
before anything is sent, and an exported key is opened, verified share by share and
recombined locally. Python cannot wipe memory; the SDK drops its references to
secrets as soon as it can.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from shardvault import __version__
from shardvault.errors import ShardvaultError
from shardvault.sdk._http import error_from_response
from shardvault.sdk._signers import SignersApi, roster_from_credentials
from shardvault.sdk.errors import (
    ApiConnectionError,
    CredentialsError,
    InvalidArgument,
    InvalidResponse,
)
from shardvault.sdk.keys import KeysApi
from shardvault.sdk.signature_requests import SIGNATURE_KINDS, signature_body
from shardvault.sdk.user_actions import (
    SAFE_METHODS,
    USER_ACTION_HEADER,
    UserActionSigner,
    body_text,
)
from shardvault.sdk.wallets import NetworksApi, WalletsApi
from shardvault.transport.roster import Roster

__all__ = [
    "SIGNATURE_KINDS",
    "Client",
    "KeysApi",
    "NetworksApi",
    "SignersApi",
    "UserActionSigner",
    "WalletsApi",
    "error_from_response",
    "signature_body",
]


class Client:
    """A shardvault API client (synchronous, thread-safe like ``httpx.Client``).

    ``pinned_identity_keys`` (signer id -> 32-byte Ed25519 identity key), when given,
    makes import and export refuse any signer whose identity key is not pinned.
    ``roster``, the cluster roster signed by every signer (its signatures checked
    here), pins its signers' identity keys unless ``pinned_identity_keys`` is given;
    ``from_credentials_file`` passes the roster of ``credentials.json``.
    ``transport`` replaces httpx's network transport (tests, proxies).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        pinned_identity_keys: Mapping[str, bytes] | None = None,
        roster: Roster | None = None,
        signer: UserActionSigner | None = None,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidArgument("base_url must be an http:// or https:// URL")
        if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
            raise InvalidArgument("token must be a non-empty single-line string")
        self.base_url = base_url.rstrip("/")
        #: Signs the user action of every state-changing request (None: not signed).
        self.signer = signer
        if roster is not None:
            try:
                roster.verify()
            except ShardvaultError as exc:
                raise InvalidArgument(f"roster: {exc.message}") from None
        #: The cluster roster this client pinned (None: not pinned from a roster).
        self.roster = roster
        if pinned_identity_keys is None and roster is not None:
            pinned_identity_keys = roster.identity_keys()
        self.pinned_identity_keys: Mapping[str, bytes] | None = (
            None
            if pinned_identity_keys is None
            else {k: bytes(v) for k, v in pinned_identity_keys.items()}
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": f"shardvault-sdk/{__version__}",
            },
            timeout=timeout,
            transport=transport,
        )
        self.signers = SignersApi(self)
        self.keys = KeysApi(self)
        self.wallets = WalletsApi(self)
        self.networks = NetworksApi(self)

    @classmethod
    def from_credentials_file(cls, path: str | Path, **kwargs: Any) -> Self:
        """A client from a ``credentials.json`` written by ``shardvault up``
        (``{"baseUrl", "token", "orgId", "roster"}``). The roster's signatures are
        checked (``CredentialsError`` naming the signer otherwise) and its signers'
        identity keys pinned: import and export then refuse a signer whose keys in
        ``GET /signers`` differ (``SignerNotPinned``). A file without a roster (written
        before rosters existed) pins nothing. ``kwargs`` go to the constructor
        (``pinned_identity_keys=`` replaces the roster's pins)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CredentialsError(f"no credentials file at {path}") from None
        except OSError as exc:
            raise CredentialsError(f"cannot read {path}: {exc.strerror}") from None
        except (ValueError, UnicodeDecodeError):
            raise CredentialsError(f"{path} is not valid JSON") from None
        if not isinstance(data, dict):
            raise CredentialsError(f"{path} must hold a JSON object")
        base_url, token = data.get("baseUrl"), data.get("token")
        if not isinstance(base_url, str) or not isinstance(token, str) or not token:
            raise CredentialsError(f"{path} must have string fields baseUrl and token")
        kwargs.setdefault("roster", roster_from_credentials(data, path))
        if "signer" not in kwargs:
            cred_id, private_key = data.get("credentialId"), data.get("privateKey")
            if cred_id is not None or private_key is not None:
                if not isinstance(cred_id, str) or not isinstance(private_key, str):
                    raise CredentialsError(f"{path}: credentialId and privateKey must be strings")
                try:
                    kwargs["signer"] = UserActionSigner(cred_id, private_key)
                except (ValueError, TypeError):
                    raise CredentialsError(
                        f"{path}: privateKey is not a supported PEM private key"
                    ) from None
        return cls(base_url, token=token, **kwargs)

    # -- plumbing --------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        user_action: str | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON (``None`` for an empty body).
        ``user_action``: a user-action token obtained beforehand
        (:meth:`sign_user_action`) instead of signing now.

        Raises :class:`ShardvaultApiError` for a non-2xx answer and
        :class:`ApiConnectionError` when the server cannot be reached.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        method = method.upper()
        content = body_text(json_body) if json_body is not None else None
        headers: dict[str, str] = {}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            if user_action is not None:
                headers[USER_ACTION_HEADER] = user_action
            elif self.signer is not None and method not in SAFE_METHODS:
                headers[USER_ACTION_HEADER] = self._sign(method, path, content or "")
            response = self._http.request(
                method,
                path,
                content=content.encode("utf-8") if content is not None else None,
                headers=headers,
                params=query or None,
            )
        except httpx.TimeoutException:
            raise ApiConnectionError(
                f"{method} {path}: no answer from {self.base_url} in time", code="Timeout"
            ) from None
        except httpx.TransportError as exc:
            raise ApiConnectionError(
                f"cannot reach {self.base_url} ({type(exc).__name__}: {exc})"
            ) from None
        if not response.is_success:
            raise error_from_response(response)
        if not response.content:
            return None
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise InvalidResponse(f"{method} {path}: the answer is not JSON") from None

    def _sign(self, method: str, path: str, content: str) -> str:
        assert self.signer is not None
        url_path = self._http.build_request(method, path).url.path
        try:
            return self.signer.sign_request(self._http, method, url_path, content)
        except httpx.HTTPStatusError as exc:
            raise error_from_response(exc.response) from None

    def sign_user_action(self, method: str, path: str, json_body: Any = None) -> str:
        """A user-action token for ``method path`` with ``json_body``, to pass later as
        ``request(..., user_action=...)`` (once, within its lifetime)."""
        if self.signer is None:
            raise InvalidArgument("this client has no credential to sign with (signer)")
        try:
            return self._sign(
                method.upper(), path, body_text(json_body) if json_body is not None else ""
            )
        except httpx.TimeoutException:
            raise ApiConnectionError(
                f"{method} {path}: no answer from {self.base_url} in time", code="Timeout"
            ) from None
        except httpx.TransportError as exc:
            raise ApiConnectionError(
                f"cannot reach {self.base_url} ({type(exc).__name__}: {exc})"
            ) from None

    def health(self) -> Any:
        """``GET /health`` (the decoded JSON)."""
        return self.request("GET", "/health")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:  # never the token
        return f"Client(base_url={self.base_url!r})"
