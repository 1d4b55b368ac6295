"""The JSON body of a signature request (``POST /keys/{keyId}/signatures`` and
``POST /wallets/{walletId}/signatures``), from the payload the caller gives.

Byte payloads go out as ``0x``-hex (a hex string is checked and normalised), a
PSBT as base64 (a string, base64 or hex, is passed as is), an EIP-712 document
as its four fields.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from shardvault.sdk._http import require_bytes
from shardvault.sdk.encoding import hex_decode, hex_encode_0x
from shardvault.sdk.errors import InvalidArgument

__all__ = ["SIGNATURE_KINDS", "signature_body"]

#: The ``kind`` values of a signature request.
SIGNATURE_KINDS = ("Hash", "Message", "Transaction", "Eip191", "Eip712", "Psbt", "Bip322")

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
    return hex_encode_0x(require_bytes(value, what))


def _psbt_text(value: object) -> str:
    """A PSBT for the API: bytes -> base64; a str (base64 or hex) is passed as is."""
    if isinstance(value, str):
        if not value:
            raise InvalidArgument("psbt must not be empty")
        return value
    return base64.b64encode(require_bytes(value, "psbt")).decode("ascii")


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
        body["hash"] = hex_encode_0x(require_bytes(hash, "hash"))
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
        root = require_bytes(taproot_merkle_root, "taproot_merkle_root")
        body["taprootMerkleRoot"] = hex_encode_0x(root) if root else ""
    if network is not None:
        body["network"] = network
    if external_id is not None:
        body["externalId"] = external_id
    return body
