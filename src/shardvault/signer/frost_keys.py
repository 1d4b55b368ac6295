"""The sealed record of a FROST key share in a signer's store (JSON inside the
store's AEAD): the key package and the public key package, plus the key's signer
ids in party-index order."""

from __future__ import annotations

import json

from shardvault.crypto.groups import Point
from shardvault.errors import InvalidParameters
from shardvault.protocols.frost.ciphersuites import Ciphersuite
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage

__all__ = ["key_from_record", "key_to_record"]


def key_to_record(kp: KeyPackage, public: PublicKeyPackage, signer_ids: list[str]) -> bytes:
    return json.dumps(
        {
            "suite": kp.ciphersuite.name,
            "identifier": kp.identifier,
            "share": kp.ciphersuite.group.encode_scalar(kp.signing_share).hex(),
            "groupKey": public.group_public_key.encode().hex(),
            "minSigners": public.min_signers,
            "verifyingShares": {
                str(i): y.encode().hex() for i, y in public.verifying_shares.items()
            },
            "signerIds": signer_ids,
        }
    ).encode()


def key_from_record(
    suite: Ciphersuite, record: bytes
) -> tuple[KeyPackage, PublicKeyPackage, list[str]]:
    """Rebuild a key package from its sealed record. The record was validated when it
    was stored and is authenticated by the store's AEAD, so its points are not
    re-validated here (the share is still checked against its verifying share)."""
    data = json.loads(record)
    g = suite.group
    if data["suite"] != suite.name:
        raise InvalidParameters("stored key belongs to another ciphersuite")
    group_key = Point(g, bytes.fromhex(data["groupKey"]))
    verifying = {int(i): Point(g, bytes.fromhex(y)) for i, y in data["verifyingShares"].items()}
    ident = int(data["identifier"])
    kp = KeyPackage(
        suite,
        ident,
        g.decode_scalar(bytes.fromhex(data["share"])),
        verifying[ident],
        group_key,
        int(data["minSigners"]),
    )
    return (
        kp,
        PublicKeyPackage(suite, group_key, verifying, kp.min_signers),
        list(data["signerIds"]),
    )
