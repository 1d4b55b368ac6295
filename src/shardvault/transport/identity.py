"""Who a party is on the wire: its identity key (Ed25519, signs everything it
sends) and its encryption key (X25519, HPKE), and the statement by which a signer
vouches for its encryption key.

Shared by both ends: the signers and the coordinator address each other with
``PartyKeys``; a client (the SDK) checks a ``SignerDescriptor`` before it seals an
import share to that signer. A session's start request names its parties with
``party_to_json`` (the coordinator) and ``party_from_json`` (the signer), by id:
each side takes the keys from the roster it pinned (``transport.roster``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shardvault.transport.rpc import hex_arg

__all__ = [
    "PartyKeys",
    "SignerDescriptor",
    "encryption_key_statement",
    "party_from_json",
    "party_to_json",
]


@dataclass(frozen=True, slots=True)
class PartyKeys:
    """A session party's public keys: identity (Ed25519) and encryption (X25519)."""

    identity_key: bytes
    encryption_key: bytes


@dataclass(frozen=True, slots=True)
class SignerDescriptor:
    """A signer node's public identity, as GET /signers shows it."""

    signer_id: str
    #: Ed25519 public key (32 bytes); signs everything the signer publishes.
    identity_key: bytes
    #: X25519 HPKE public key (32 bytes) for import shares and protocol secrets.
    encryption_key: bytes
    #: Ed25519 signature by identity_key over encryption_key_statement(...).
    encryption_key_signature: bytes


def encryption_key_statement(signer_id: str, encryption_key: bytes) -> bytes:
    """The exact bytes a signer signs to vouch for its encryption key."""
    sid = signer_id.encode()
    return b"shardvault/signer-encryption-key/v1" + bytes([len(sid)]) + sid + encryption_key


def party_to_json(index: int, signer_id: str) -> dict[str, Any]:
    """One entry of a start request's ``parties``: signer ``signer_id`` at party
    ``index``. No keys: each signer takes its peers' keys from its pinned roster."""
    return {"index": index, "signerId": signer_id}


def party_from_json(entry: Any) -> tuple[int, str, PartyKeys | None]:
    """``(index, signer id, keys named by the entry or None)`` of one ``parties``
    entry. An entry may still name a signer's keys (``identityKey`` and
    ``encryptionKey``, both or neither); the signer then checks them against its
    roster. Bad hex raises ``InvalidParameters``; a missing or mistyped field
    ``KeyError``/``TypeError``/``ValueError`` (a malformed request). The caller checks
    the indices."""
    keys = None
    if "identityKey" in entry or "encryptionKey" in entry:
        keys = PartyKeys(hex_arg(entry["identityKey"]), hex_arg(entry["encryptionKey"]))
    return int(entry["index"]), str(entry["signerId"]), keys
