"""What one signature request asks of the back end, and how its answer is stored.

A :class:`SigningJob` holds the normalized request (stored, and compared for
idempotency), the payloads the back end signs (one, or one per PSBT input, each with
its Taproot root) and the function that builds the :class:`SigningResult` from one
checked :class:`BackendSignature` per payload. The builders here are shared by the
plain kinds (``plain.py``) and the chain kinds (``chains.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shardvault.chains import evm
from shardvault.crypto.ecdsa_der import der_encode_ecdsa

__all__ = [
    "BackendSignature",
    "SigningJob",
    "SigningResult",
    "compact_ecdsa",
    "der_result",
    "ecdsa_values",
    "evm_result",
    "plain_result",
    "raw_result",
]


@dataclass(frozen=True, slots=True)
class BackendSignature:
    """One signature from the back end, checked by the API: ECDSA ``(r, s, recid)``
    (recovers to the key) or a 64-byte Schnorr/EdDSA ``raw``."""

    raw: bytes
    r: int | None = None
    s: int | None = None
    recid: int | None = None


@dataclass(frozen=True, slots=True)
class SigningResult:
    """What is stored and answered: the signature fields (``encoded`` None: no single
    signature, e.g. a PSBT), the signed payload and extra fields."""

    r: bytes | None
    s: bytes | None
    recid: int | None
    encoded: bytes | None
    signed_data: bytes | None = None
    details: dict[str, Any] | None = None


@dataclass(slots=True)
class SigningJob:
    """The normalized request (stored, compared for idempotency), what to sign
    (``(payload, taproot_root)`` pairs, in order) and how to assemble the result from
    one back-end signature per payload."""

    normalized: dict[str, Any]
    payloads: list[tuple[bytes, bytes | None]] = field(default_factory=list)
    finish: Callable[[list[BackendSignature]], SigningResult] | None = None

    def single(
        self,
        payload: bytes,
        finish: Callable[[BackendSignature], SigningResult],
        root: bytes | None = None,
    ) -> None:
        """A job of one signature."""
        self.payloads = [(payload, root)]
        self.finish = lambda sigs: finish(sigs[0])


def ecdsa_values(sig: BackendSignature) -> tuple[int, int, int]:
    """``(r, s, recid)`` of a checked ECDSA signature."""
    assert sig.r is not None and sig.s is not None and sig.recid is not None
    return sig.r, sig.s, sig.recid


def compact_ecdsa(sig: BackendSignature) -> bytes:
    """``r || s`` (64 bytes) of a checked ECDSA signature."""
    r, s, _recid = ecdsa_values(sig)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def evm_result(sig: BackendSignature, signed_data: bytes | None = None) -> SigningResult:
    """An ECDSA signature in the EVM's 65-byte ``r || s || v`` form."""
    r, s, recid = ecdsa_values(sig)
    return SigningResult(
        r=r.to_bytes(32, "big"),
        s=s.to_bytes(32, "big"),
        recid=recid,
        encoded=evm.signature_65(r, s, recid),
        signed_data=signed_data,
    )


def raw_result(sig: BackendSignature, signed_data: bytes | None = None) -> SigningResult:
    """A 64-byte Schnorr or EdDSA signature, split into its two halves."""
    return SigningResult(
        r=sig.raw[:32], s=sig.raw[32:64], recid=None, encoded=sig.raw, signed_data=signed_data
    )


def der_result(sig: BackendSignature, signed_data: bytes | None = None) -> SigningResult:
    """An ECDSA signature (low s, checked by the API) with its DER encoding."""
    r, s, recid = ecdsa_values(sig)
    return SigningResult(
        r=r.to_bytes(32, "big"),
        s=s.to_bytes(32, "big"),
        recid=recid,
        encoded=der_encode_ecdsa(r, s),
        signed_data=signed_data,
    )


def plain_result(sig: BackendSignature) -> SigningResult:
    """A ``Hash`` or raw ``Message`` signature: ECDSA as r, s, recid and DER; Schnorr
    and EdDSA as their 64 bytes."""
    return der_result(sig) if sig.recid is not None else raw_result(sig)
