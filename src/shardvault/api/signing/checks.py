"""The API's own check of every signature the back end returns, before it is stored
or released: the right size for the scheme, and for ECDSA (CGGMP24) the form (ranges,
low s, recovery id) and that it recovers to the key's public key under the signed
digest. A signature that fails is an internal error (500): nothing is released.
"""

from __future__ import annotations

import coincurve

from shardvault.api.signing.jobs import BackendSignature
from shardvault.crypto.groups import SECP256K1

__all__ = ["checked_signature", "ecdsa_signature"]


def ecdsa_signature(encoded: bytes, public_key: bytes, digest: bytes) -> tuple[int, int, int]:
    """``(r, s, recid)`` of a back end's CGGMP24 signature ``r || s || recid``, after
    checking its form (ranges, low-s) and that it recovers to the key's public key."""
    if len(encoded) != 65:
        raise RuntimeError("signing back end returned an ECDSA signature of the wrong size")
    r = int.from_bytes(encoded[:32], "big")
    s = int.from_bytes(encoded[32:64], "big")
    recid = encoded[64]
    n = SECP256K1.order  # r in 1..n-1, low-s: s in 1..n/2
    if not (0 < r < n and 0 < s <= n // 2 and recid <= 3):
        raise RuntimeError("signing back end returned a malformed ECDSA signature")
    try:
        recovered = coincurve.PublicKey.from_signature_and_message(
            encoded, digest, hasher=None
        ).format(compressed=True)
    except Exception:
        recovered = b""
    if recovered != public_key:
        raise RuntimeError("signing back end returned an ECDSA signature that does not verify")
    return r, s, recid


def checked_signature(
    scheme: str, raw: bytes, public_key: bytes, payload: bytes
) -> BackendSignature:
    """The back end's signature ``raw`` of ``payload`` by the key ``public_key``,
    checked (ECDSA: form and recovery to the key; Schnorr and EdDSA: 64 bytes)."""
    if scheme == "ECDSA":
        r, s, recid = ecdsa_signature(raw, public_key, payload)
        return BackendSignature(raw, r, s, recid)
    if len(raw) != 64:
        raise RuntimeError("signing back end returned a signature of the wrong size")
    return BackendSignature(raw)
