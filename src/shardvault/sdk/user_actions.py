"""Client side of signed user actions (the Dfns flow, docs/governance.md).

:class:`UserActionSigner` holds a credential (its id and private key, PEM) and
turns a state-changing request into its ``X-DFNS-USERACTION`` header:
``POST /auth/action/init`` with the exact body text that will be sent, sign the
``clientData`` ``{"type": "key.get", "challenge": ...}``, ``POST /auth/action``.
Ed25519, ECDSA (P-256, secp256k1; DER signatures) and RSA (PKCS#1 v1.5) keys.
Works over any ``httpx.Client`` / ``httpx.AsyncClient`` (the SDK's, a test client).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from shardvault.protocols.user_action import b64url_encode

__all__ = ["SAFE_METHODS", "USER_ACTION_HEADER", "UserActionSigner", "body_text"]

USER_ACTION_HEADER = "X-DFNS-USERACTION"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def body_text(body: Any) -> str:
    """The JSON text a client sends for ``body`` ("" for none): compact separators."""
    if body is None:
        return ""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class UserActionSigner:
    """A credential that signs user-action challenges. ``origin``, when given, is
    added to the ``clientData`` with ``crossOrigin: false`` (as the Dfns Python SDK
    does); the TS SDK's form (type and challenge only) is the default."""

    def __init__(self, credential_id: str, private_key_pem: str, *, origin: str | None = None):
        key = serialization.load_pem_private_key(private_key_pem.encode("utf-8"), password=None)
        if not isinstance(
            key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        ):
            raise ValueError("unsupported credential key type")
        self.credential_id = credential_id
        self._key = key
        self.origin = origin

    def __repr__(self) -> str:  # never the key
        return f"UserActionSigner(credential_id={self.credential_id!r})"

    def _sign(self, data: bytes) -> bytes:
        key = self._key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hashes.SHA256()))
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def first_factor(self, challenge: str) -> dict[str, Any]:
        """The ``firstFactor`` of ``POST /auth/action`` for ``challenge``."""
        client_data: dict[str, Any] = {"type": "key.get", "challenge": challenge}
        if self.origin is not None:
            client_data |= {"origin": self.origin, "crossOrigin": False}
        data = json.dumps(client_data, separators=(",", ":")).encode("utf-8")
        return {
            "kind": "Key",
            "credentialAssertion": {
                "credId": self.credential_id,
                "clientData": b64url_encode(data),
                "signature": b64url_encode(self._sign(data)),
            },
        }

    @staticmethod
    def init_body(method: str, path: str, payload: str) -> dict[str, Any]:
        return {
            "userActionPayload": payload,
            "userActionHttpMethod": method.upper(),
            "userActionHttpPath": path,
            "userActionServerKind": "Api",
        }

    def sign_request(
        self,
        http: httpx.Client,
        method: str,
        path: str,
        payload: str,
        headers: dict[str, str] | None = None,
    ) -> str:
        """The user-action token for ``method path`` with body text ``payload``.
        Raises ``httpx.HTTPStatusError`` when the server refuses a step."""
        init = http.post(
            "/auth/action/init", json=self.init_body(method, path, payload), headers=headers
        )
        init.raise_for_status()
        challenge = init.json()
        signed = http.post(
            "/auth/action",
            json={
                "challengeIdentifier": challenge["challengeIdentifier"],
                "firstFactor": self.first_factor(challenge["challenge"]),
            },
            headers=headers,
        )
        signed.raise_for_status()
        return str(signed.json()["userAction"])

    async def sign_request_async(
        self,
        http: httpx.AsyncClient,
        method: str,
        path: str,
        payload: str,
        headers: dict[str, str] | None = None,
    ) -> str:
        """:meth:`sign_request` over an async client."""
        init = await http.post(
            "/auth/action/init", json=self.init_body(method, path, payload), headers=headers
        )
        init.raise_for_status()
        challenge = init.json()
        signed = await http.post(
            "/auth/action",
            json={
                "challengeIdentifier": challenge["challengeIdentifier"],
                "firstFactor": self.first_factor(challenge["challenge"]),
            },
            headers=headers,
        )
        signed.raise_for_status()
        return str(signed.json()["userAction"])
