"""What a presignature is bound to before it is made (docs/security.md item 15).

A CGGMP24 presignature is only valid for one key and one set of signers, and any
derivation or tweak must be fixed before presigning (never applied to a raw
presignature afterward). The binding is a digest of exactly those facts; the signer
pool files each presignature under it and hands it out only for the same binding.
"""

from __future__ import annotations

from collections.abc import Sequence

from shardvault.crypto.hashing import Transcript
from shardvault.errors import InvalidParameters

__all__ = ["NO_DERIVATION", "presignature_binding"]

#: The derivation of a key used as it is (no HD path, no tweak).
NO_DERIVATION = b""


def presignature_binding(
    key_id: str,
    public_key: bytes,
    signers: Sequence[int],
    derivation: bytes = NO_DERIVATION,
) -> bytes:
    """32-byte binding of a presignature to ``key_id``, its encoded group public key,
    the signer indices (any order; sorted here) and the derivation/tweak bytes."""
    ids = sorted(set(signers))
    if len(ids) != len(signers) or not ids or not all(1 <= i <= 255 for i in ids):
        raise InvalidParameters("signer indices must be distinct, in 1..255")
    t = Transcript("shardvault/cggmp24/presignature-binding/v1")
    t.append("key-id", key_id.encode())
    t.append("public-key", public_key)
    t.append("signers", bytes(ids))
    t.append("derivation", derivation)
    return t.digest()[:32]
