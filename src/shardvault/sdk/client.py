"""The synchronous Python client of the shardvault REST API.

``Client(base_url, token=...)`` or ``Client.from_credentials_file(path)``; use it as a
context manager or call :meth:`Client.close`. Resources: ``client.signers``,
``client.keys``, ``client.wallets`` and ``client.networks``. Every non-2xx answer
raises :class:`ShardvaultApiError`.

Import and export do their cryptography here, in the caller's process: an imported
private key is split and sealed to the signers before anything is sent, and an
exported key is opened, verified share by share and recombined locally. Python
cannot wipe memory; the SDK drops its references to secrets as soon as it can.
"""

from __future__ import annotations

import base64
import builtins
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from shardvault import __version__
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.protocols.key_export import open_export_shares
from shardvault.protocols.key_import import seal_import_shares
from shardvault.protocols.registry import canonical_protocol, scheme_for_protocol
from shardvault.sdk._keymaterial import (
    Ed25519Format,
    private_key_to_scalar,
    scalar_to_private_key,
)
from shardvault.sdk._signers import select_cluster, verify_signers
from shardvault.sdk.encoding import b64url_encode, hex_decode, hex_encode_0x
from shardvault.sdk.errors import (
    ApiConnectionError,
    CredentialsError,
    InvalidArgument,
    InvalidResponse,
    ShardvaultApiError,
)
from shardvault.sdk.models import (
    Cluster,
    ExportedKey,
    Key,
    KeyPage,
    Network,
    Signature,
    SignaturePage,
    Wallet,
    WalletPage,
)

__all__ = [
    "SIGNATURE_KINDS",
    "Client",
    "KeysApi",
    "NetworksApi",
    "SignersApi",
    "WalletsApi",
    "error_from_response",
]

#: The ``kind`` values of a signature request.
SIGNATURE_KINDS = ("Hash", "Message", "Transaction", "Eip191", "Eip712", "Psbt", "Bip322")

_M = TypeVar("_M", bound=BaseModel)

#: Codes used when an error answer carries no envelope.
_STATUS_CODES: Mapping[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    422: "ValidationError",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
_MAX_FALLBACK_MESSAGE = 300


def error_from_response(response: httpx.Response) -> ShardvaultApiError:
    """A :class:`ShardvaultApiError` for a non-2xx response.

    Reads the ``{"error": {"code", "message", "details"}}`` envelope; falls back to
    FastAPI's ``{"detail": ...}`` and then to the status line and a shortened body.
    """
    status = response.status_code
    code: str | None = None
    message: str | None = None
    details: Any = None
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        envelope = body.get("error")
        if isinstance(envelope, dict):
            if isinstance(envelope.get("code"), str) and envelope["code"]:
                code = envelope["code"]
            if isinstance(envelope.get("message"), str):
                message = envelope["message"]
            details = envelope.get("details")
        elif isinstance(envelope, str):
            message = envelope
        elif "detail" in body:
            detail = body["detail"]
            message = detail if isinstance(detail, str) else json.dumps(detail)
            details = None if isinstance(detail, str) else detail
    if code is None:
        code = _STATUS_CODES.get(status, f"Http{status}")
    if message is None:
        try:
            text = " ".join(response.text.split())
        except UnicodeDecodeError:  # pragma: no cover - httpx decodes leniently
            text = ""
        if len(text) > _MAX_FALLBACK_MESSAGE:
            text = text[:_MAX_FALLBACK_MESSAGE] + "…"
        reason = response.reason_phrase or "error"
        message = f"HTTP {status} {reason}" + (f": {text}" if text else "")
    return ShardvaultApiError(status, code, message, details)


_ID_SEGMENT = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]+")


def _segment(value: str, what: str) -> str:
    """One URL path segment from an id; refuses what could change the path."""
    if not isinstance(value, str) or not value or value in (".", ".."):
        raise InvalidArgument(f"{what} must be a non-empty id")
    return value if _ID_SEGMENT.fullmatch(value) else quote(value, safe="")


def _parse(model: type[_M], data: Any, what: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        why = errors[0]["msg"] if errors else "invalid"
        raise InvalidResponse(f"unexpected {what} from the server ({where}: {why})") from None


def _page(
    client: Client, path: str, model: type[_M], what: str, limit: int | None, token: str | None
) -> _M:
    """One page of ``GET path`` (``limit``, ``paginationToken``)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidArgument("limit must be an int")
    data = client.request("GET", path, params={"limit": limit, "paginationToken": token})
    return _parse(model, data, what)


def _follow_pages(path: str, fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """Every item of ``fetch(token)`` pages (``.items``, ``.next_page_token``), following
    the tokens; a token seen twice is a broken server (InvalidResponse)."""
    token: str | None = None
    seen: set[str] = set()
    while True:
        page = fetch(token)
        yield from page.items
        token = page.next_page_token
        if not token:
            return
        if token in seen:
            raise InvalidResponse(f"GET {path}: the pagination token repeats")
        seen.add(token)


def _require_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidArgument(f"{what} must be bytes, got {type(value).__name__}")
    return bytes(value)


#: The kind a lone payload argument implies, and the argument each kind takes.
_DEFAULT_KIND: Mapping[str, str] = {
    "hash": "Hash",
    "message": "Message",
    "transaction": "Transaction",
    "psbt": "Psbt",
    "typed_data": "Eip712",
}
_PAYLOAD_OF_KIND: Mapping[str, str] = {
    **{kind: arg for arg, kind in _DEFAULT_KIND.items()},
    "Eip191": "message",
    "Bip322": "message",
}


def _hex_or_bytes(value: object, what: str) -> str:
    """0x-hex of bytes; a hex string (0x optional) is checked and normalised."""
    if isinstance(value, str):
        return hex_encode_0x(hex_decode(value, what=what))
    return hex_encode_0x(_require_bytes(value, what))


def _psbt_text(value: object) -> str:
    """A PSBT for the API: bytes -> base64; a str (base64 or hex) is passed as is."""
    if isinstance(value, str):
        if not value:
            raise InvalidArgument("psbt must not be empty")
        return value
    return base64.b64encode(_require_bytes(value, "psbt")).decode("ascii")


def signature_body(
    *,
    kind: str | None = None,
    hash: bytes | None = None,
    message: bytes | str | None = None,
    taproot_merkle_root: bytes | None = None,
    transaction: bytes | str | None = None,
    psbt: bytes | str | None = None,
    typed_data: Mapping[str, Any] | None = None,
    network: str | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    """The JSON body of a signature request. Without ``kind`` it follows from the one
    payload given: ``hash`` -> Hash, ``message`` -> Message, ``transaction`` ->
    Transaction, ``psbt`` -> Psbt, ``typed_data`` -> Eip712. ``Eip191`` and ``Bip322``
    take ``message``."""
    payloads = {
        "hash": hash,
        "message": message,
        "transaction": transaction,
        "psbt": psbt,
        "typed_data": typed_data,
    }
    given = [name for name, value in payloads.items() if value is not None]
    if len(given) != 1:
        raise InvalidArgument(
            "pass exactly one of hash=, message=, transaction=, psbt=, typed_data="
        )
    if kind is None:
        kind = _DEFAULT_KIND[given[0]]
    if kind not in SIGNATURE_KINDS:
        raise InvalidArgument(f"kind must be one of {', '.join(SIGNATURE_KINDS)}")
    wanted = _PAYLOAD_OF_KIND[kind]
    if given[0] != wanted:
        raise InvalidArgument(f"kind {kind} takes {wanted}=, not {given[0]}=")
    body: dict[str, Any] = {"kind": kind}
    if hash is not None:
        body["hash"] = hex_encode_0x(_require_bytes(hash, "hash"))
    elif message is not None:
        body["message"] = _hex_or_bytes(message, "message")
    elif transaction is not None:
        body["transaction"] = _hex_or_bytes(transaction, "transaction")
    elif psbt is not None:
        body["psbt"] = _psbt_text(psbt)
    elif typed_data is not None:
        if not isinstance(typed_data, Mapping):
            raise InvalidArgument("typed_data must be a mapping (an EIP-712 document)")
        keys = {"types", "domain", "primaryType", "message"}
        if set(typed_data) != keys:
            raise InvalidArgument(
                "typed_data must have exactly types, domain, primaryType and message"
            )
        body.update({k: typed_data[k] for k in ("types", "domain", "primaryType", "message")})
    if taproot_merkle_root is not None:
        root = _require_bytes(taproot_merkle_root, "taproot_merkle_root")
        body["taprootMerkleRoot"] = hex_encode_0x(root) if root else ""
    if network is not None:
        body["network"] = network
    if external_id is not None:
        body["externalId"] = external_id
    return body


class Client:
    """A shardvault API client (synchronous, thread-safe like ``httpx.Client``).

    ``pinned_identity_keys`` (signer id -> 32-byte Ed25519 identity key), when given,
    makes import and export refuse any signer whose identity key is not pinned.
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
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidArgument("base_url must be an http:// or https:// URL")
        if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
            raise InvalidArgument("token must be a non-empty single-line string")
        self.base_url = base_url.rstrip("/")
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
        (``{"baseUrl", "token", "orgId"}``). ``kwargs`` go to the constructor."""
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
        return cls(base_url, token=token, **kwargs)

    # -- plumbing --------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request; return the decoded JSON (``None`` for an empty body).

        Raises :class:`ShardvaultApiError` for a non-2xx answer and
        :class:`ApiConnectionError` when the server cannot be reached.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                path,
                json=json_body,
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


class SignersApi:
    """``GET /signers``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> list[Cluster]:
        data = self._client.request("GET", "/signers")
        clusters = data.get("clusters") if isinstance(data, dict) else None
        if not isinstance(clusters, list):
            raise InvalidResponse("GET /signers: expected {clusters: [...]}")
        return [_parse(Cluster, c, "signer cluster") for c in clusters]


class KeysApi:
    """``/keys``: create (DKG), list, get, update, delete, refresh, import, sign, export."""

    def __init__(self, client: Client) -> None:
        self._client = client

    # -- CRUD ------------------------------------------------------------------

    def create(self, *, scheme: str, curve: str, name: str | None = None) -> Key:
        """A new key by distributed key generation (``POST /keys``)."""
        body: dict[str, Any] = {"scheme": scheme, "curve": curve}
        if name is not None:
            body["name"] = name
        return _parse(Key, self._client.request("POST", "/keys", json_body=body), "key")

    def get(self, key_id: str) -> Key:
        data = self._client.request("GET", f"/keys/{_segment(key_id, 'key_id')}")
        return _parse(Key, data, "key")

    def list(self, limit: int | None = None, pagination_token: str | None = None) -> KeyPage:
        """One page of keys; pass ``page.next_page_token`` back for the next one."""
        return _page(self._client, "/keys", KeyPage, "key page", limit, pagination_token)

    def iter_all(self, page_size: int | None = None) -> Iterator[Key]:
        """Every key, following ``nextPageToken`` across pages."""
        return _follow_pages("/keys", lambda t: self.list(limit=page_size, pagination_token=t))

    def update(self, key_id: str, *, name: str) -> Key:
        data = self._client.request(
            "PUT", f"/keys/{_segment(key_id, 'key_id')}", json_body={"name": name}
        )
        return _parse(Key, data, "key")

    def delete(self, key_id: str) -> Key:
        """Archive the key: the signers erase their shares and it never signs again."""
        path = f"/keys/{_segment(key_id, 'key_id')}"
        data = self._client.request("DELETE", path)
        if data is None:  # a bare 204: read back the archived key
            data = self._client.request("GET", path)
        return _parse(Key, data, "key")

    def refresh(self, key_id: str) -> Key:
        """Proactive refresh of an ECDSA (CGGMP24) key (``POST /keys/{keyId}/refresh``):
        every signer gets a new share of the same key and erases its old one. The
        public key does not change. Needs every signer of the key; other schemes answer
        400 ``RefreshNotSupported``."""
        data = self._client.request(
            "POST", f"/keys/{_segment(key_id, 'key_id')}/refresh", json_body={}
        )
        return _parse(Key, data, "key")

    # -- signing -----------------------------------------------------------------

    def sign(
        self,
        key_id: str,
        hash: bytes | None = None,
        message: bytes | None = None,
        taproot_merkle_root: bytes | None = None,
        external_id: str | None = None,
        *,
        kind: str | None = None,
        network: str | None = None,
        transaction: bytes | str | None = None,
        psbt: bytes | str | None = None,
        typed_data: Mapping[str, Any] | None = None,
    ) -> Signature:
        """Sign a 32-byte ``hash`` (Schnorr/ECDSA) or a ``message`` (EdDSA), or a chain
        payload: ``transaction`` (kind Transaction, with ``network``: EVM or Solana),
        ``psbt`` (bytes, or base64/hex text), ``typed_data`` (an EIP-712 document), or
        ``message`` with ``kind="Eip191"`` / ``kind="Bip322"`` (Bip322 needs a Bitcoin
        ``network``). A Message with a Solana ``network`` is signed as a Solana
        off-chain message.

        ``taproot_merkle_root`` (Schnorr): ``None`` signs under the untweaked key
        (plain BIP 340), ``b""`` applies the BIP 86 key-path tweak, 32 bytes the
        BIP 341 script-tree tweak. A retry with the same ``external_id`` returns
        the first result and never signs twice.
        """
        body = signature_body(
            kind=kind,
            hash=hash,
            message=message,
            taproot_merkle_root=taproot_merkle_root,
            transaction=transaction,
            psbt=psbt,
            typed_data=typed_data,
            network=network,
            external_id=external_id,
        )
        data = self._client.request(
            "POST", f"/keys/{_segment(key_id, 'key_id')}/signatures", json_body=body
        )
        return _parse(Signature, data, "signature")

    def list_signatures(self, key_id: str) -> builtins.list[Signature]:
        """Every signature request of the key (all pages)."""
        path = f"/keys/{_segment(key_id, 'key_id')}/signatures"

        def fetch(token: str | None) -> SignaturePage:
            data = self._client.request("GET", path, params={"paginationToken": token})
            if isinstance(data, list):  # a bare array is accepted too (one page)
                items = [_parse(Signature, s, "signature") for s in data]
                return SignaturePage.model_construct(items=items, next_page_token=None)
            return _parse(SignaturePage, data, "signature page")

        return builtins.list(_follow_pages(path, fetch))

    def get_signature(self, key_id: str, signature_id: str) -> Signature:
        path = (
            f"/keys/{_segment(key_id, 'key_id')}/signatures/"
            f"{_segment(signature_id, 'signature_id')}"
        )
        return _parse(Signature, self._client.request("GET", path), "signature")

    # -- import / export -----------------------------------------------------------

    def import_key(
        self,
        private_key: bytes,
        *,
        curve: str,
        protocol: str,
        min_signers: int,
        name: str | None = None,
        ed25519_format: Ed25519Format | None = None,
        cluster_id: str | None = None,
    ) -> Key:
        """Import an existing private key without sending it anywhere.

        The SDK fetches the signers, checks each one's encryption-key signature
        under its identity key (and the pinned identity keys, if configured),
        derives the signing scalar, splits it ``min_signers``-of-n with Feldman
        commitments, seals each share to its signer with HPKE and posts only the
        sealed shares. Raises :class:`SignerVerificationError` naming a signer
        that fails the checks, before anything is sent.

        ``protocol``/``curve``: ``FROST``/``ed25519`` (EdDSA), ``FROST_BITCOIN``/
        ``secp256k1`` (Schnorr, BIP 340) or ``CGGMP24``/``secp256k1`` (ECDSA;
        ``CGGMP21`` is accepted as an alias and the key is stored as CGGMP24).

        ``private_key``: secp256k1 -- the 32-byte big-endian key; ed25519 -- a
        32-byte RFC 8032 seed (default), a 64-byte Solana keypair (seed || public
        key; chosen automatically for 64 bytes) or, with ``ed25519_format="scalar"``,
        the 32-byte little-endian signing scalar.
        """
        if isinstance(protocol, str):
            protocol = canonical_protocol(protocol)
        if scheme_for_protocol(protocol, curve) is None:
            raise InvalidArgument(f"unsupported protocol/curve combination {protocol}/{curve}")
        if isinstance(min_signers, bool) or not isinstance(min_signers, int) or min_signers < 1:
            raise InvalidArgument("min_signers must be a positive int")
        clusters = self._client.signers.list()
        cluster = select_cluster(clusters, cluster_id)
        signers = verify_signers(cluster.signers, self._client.pinned_identity_keys)
        if min_signers > len(signers):
            raise InvalidArgument(
                f"min_signers {min_signers} exceeds the {len(signers)} signers of the cluster"
            )
        raw = _require_bytes(private_key, "private_key")
        secret = private_key_to_scalar(raw, curve=curve, ed25519_format=ed25519_format)
        del raw
        try:
            group_public_key, sealed = seal_import_shares(
                secret,
                curve=curve,
                protocol=protocol,
                min_signers=min_signers,
                signers=[(s.signer_id, s.encryption_key) for s in signers],
            )
        finally:
            del secret
        body: dict[str, Any] = {
            "curve": curve,
            "protocol": protocol,
            "minSigners": min_signers,
            "encryptedKeyShares": [
                {"signerId": sid, "encryptedKeyShare": b64url_encode(blob)} for sid, blob in sealed
            ],
        }
        if name is not None:
            body["name"] = name
        key = _parse(Key, self._client.request("POST", "/keys/import", json_body=body), "key")
        if key.public_key_bytes != bytes(group_public_key):
            raise InvalidResponse(
                f"the server reports public key {key.public_key} for imported key {key.id}, "
                f"but the imported key's public key is {bytes(group_public_key).hex()}"
            )
        return key

    def export_key(self, key_id: str) -> bytes:
        """Export a key's private key; afterwards the key no longer signs.

        Generates a one-time HPKE key pair, asks every signer (through the API) for
        its share sealed to it, verifies each share against the signer's signed
        public share (a bad one raises, naming the signer), recombines and checks
        the result against the key's public key before returning it.

        Returns secp256k1 (Schnorr and ECDSA keys): the 32-byte big-endian private
        key; ed25519: the 32-byte
        little-endian signing scalar. An Ed25519 seed cannot come back: the scalar
        is SHA-512(seed) clamped, a one-way function, and only the scalar was ever
        shared among the signers.
        """
        key = self.get(key_id)
        clusters = self._client.signers.list()
        by_id = {s.signer_id: s for c in clusters for s in c.signers}
        missing = [sid for sid in key.signers if sid not in by_id]
        if missing:
            raise InvalidResponse(
                f"key {key.id} is held by signers not listed in GET /signers: " + ", ".join(missing)
            )
        verified = verify_signers(
            [by_id[sid] for sid in key.signers], self._client.pinned_identity_keys
        )
        key_pair = HpkeKeyPair.generate()
        body = {
            "encryptionKey": b64url_encode(key_pair.public_key),
            "supportedSchemes": [{"protocol": key.protocol, "curve": key.curve}],
        }
        data = self._client.request(
            "POST", f"/keys/{_segment(key.id, 'key_id')}/export", json_body=body
        )
        exported = _parse(ExportedKey, data, "export")
        if (
            exported.public_key_bytes != key.public_key_bytes
            or exported.curve != key.curve
            or exported.protocol != key.protocol
            or exported.min_signers != key.min_signers
        ):
            raise InvalidResponse(
                f"the export of {key.id} describes another key than GET /keys/{key.id}"
            )
        try:
            shares = [
                (s.signer_id, s.encrypted_key_share_bytes) for s in exported.encrypted_key_shares
            ]
        except InvalidArgument as exc:
            raise InvalidResponse(exc.message) from None
        secret = open_export_shares(
            shares,
            signer_identity_keys={s.signer_id: s.identity_key for s in verified},
            key_pair=key_pair,
            key_id=key.id,
            curve=key.curve,
            protocol=key.protocol,
            group_public_key=key.public_key_bytes,
            min_signers=key.min_signers,
            signer_ids=list(key.signers),
        )
        del key_pair
        try:
            return scalar_to_private_key(key.curve, secret)
        finally:
            del secret


class NetworksApi:
    """``GET /networks``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> builtins.list[Network]:
        data = self._client.request("GET", "/networks")
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise InvalidResponse("GET /networks: expected {items: [...]}")
        return [_parse(Network, n, "network") for n in items]


def _tags(tags: object) -> builtins.list[str]:
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise InvalidArgument("tags must be a list of strings")
    return [str(t) for t in tags]


class WalletsApi:
    """``/wallets``: create, list, get, update, tags, sign."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        network: str,
        signing_key_id: str | None = None,
        scheme: str | None = None,
        curve: str | None = None,
        name: str | None = None,
        external_id: str | None = None,
        tags: builtins.list[str] | None = None,
    ) -> Wallet:
        """A wallet on ``network``. Its key: the existing ``signing_key_id``, else a new
        key of ``scheme``/``curve``, else a new key of the network's default scheme.
        Repeating an ``external_id`` returns the wallet it created (409 if the request
        differs)."""
        body: dict[str, Any] = {"network": network}
        if signing_key_id is not None:
            if scheme is not None or curve is not None:
                raise InvalidArgument("pass signing_key_id or scheme and curve, not both")
            body["signingKey"] = {"id": signing_key_id}
        elif scheme is not None or curve is not None:
            if scheme is None or curve is None:
                raise InvalidArgument("pass both scheme and curve")
            body["signingKey"] = {"scheme": scheme, "curve": curve}
        if name is not None:
            body["name"] = name
        if external_id is not None:
            body["externalId"] = external_id
        if tags is not None:
            body["tags"] = _tags(tags)
        return _parse(Wallet, self._client.request("POST", "/wallets", json_body=body), "wallet")

    def get(self, wallet_id: str) -> Wallet:
        data = self._client.request("GET", f"/wallets/{_segment(wallet_id, 'wallet_id')}")
        return _parse(Wallet, data, "wallet")

    def list(self, limit: int | None = None, pagination_token: str | None = None) -> WalletPage:
        """One page of wallets; pass ``page.next_page_token`` back for the next one."""
        return _page(self._client, "/wallets", WalletPage, "wallet page", limit, pagination_token)

    def iter_all(self, page_size: int | None = None) -> Iterator[Wallet]:
        """Every wallet, following ``nextPageToken`` across pages."""
        return _follow_pages("/wallets", lambda t: self.list(limit=page_size, pagination_token=t))

    def update(self, wallet_id: str, *, name: str) -> Wallet:
        data = self._client.request(
            "PUT", f"/wallets/{_segment(wallet_id, 'wallet_id')}", json_body={"name": name}
        )
        return _parse(Wallet, data, "wallet")

    def add_tags(self, wallet_id: str, tags: builtins.list[str]) -> Wallet:
        data = self._client.request(
            "PUT",
            f"/wallets/{_segment(wallet_id, 'wallet_id')}/tags",
            json_body={"tags": _tags(tags)},
        )
        return _parse(Wallet, data, "wallet")

    def remove_tags(self, wallet_id: str, tags: builtins.list[str]) -> Wallet:
        data = self._client.request(
            "DELETE",
            f"/wallets/{_segment(wallet_id, 'wallet_id')}/tags",
            json_body={"tags": _tags(tags)},
        )
        return _parse(Wallet, data, "wallet")

    def sign(
        self,
        wallet_id: str,
        *,
        kind: str | None = None,
        hash: bytes | None = None,
        message: bytes | str | None = None,
        taproot_merkle_root: bytes | None = None,
        transaction: bytes | str | None = None,
        psbt: bytes | str | None = None,
        typed_data: Mapping[str, Any] | None = None,
        external_id: str | None = None,
    ) -> Signature:
        """Sign with the wallet's key on the wallet's network (``POST
        /wallets/{walletId}/signatures``); payloads as :meth:`KeysApi.sign`."""
        body = signature_body(
            kind=kind,
            hash=hash,
            message=message,
            taproot_merkle_root=taproot_merkle_root,
            transaction=transaction,
            psbt=psbt,
            typed_data=typed_data,
            external_id=external_id,
        )
        data = self._client.request(
            "POST", f"/wallets/{_segment(wallet_id, 'wallet_id')}/signatures", json_body=body
        )
        return _parse(Signature, data, "signature")

    def sign_transaction(
        self, wallet_id: str, transaction: bytes | str, *, external_id: str | None = None
    ) -> Signature:
        """Sign an unsigned EVM or Solana transaction (bytes or hex); the signed one is
        ``signature.signed_data`` (0x-hex)."""
        return self.sign(wallet_id, transaction=transaction, external_id=external_id)

    def sign_psbt(
        self, wallet_id: str, psbt: bytes | str, *, external_id: str | None = None
    ) -> Signature:
        """Sign every input of the PSBT the wallet's key can spend; the result is
        ``signature.signed_data`` (base64)."""
        return self.sign(wallet_id, psbt=psbt, external_id=external_id)

    def sign_typed_data(
        self, wallet_id: str, typed_data: Mapping[str, Any], *, external_id: str | None = None
    ) -> Signature:
        """Sign an EIP-712 document (``signature.signature.encoded``: 65-byte r||s||v)."""
        return self.sign(wallet_id, typed_data=typed_data, external_id=external_id)
