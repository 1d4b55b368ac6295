"""CGGMP24 one-round signing from a presignature (ePrint 2021/060, 2024-10-21
revision, Fig. 10 "ECDSA Signing").

Each signer ``i`` of the presigning set sends ``sigma_i = k_i m + r chi_i mod q``
(``m`` the message hash as an integer mod q, ``r = x(R) mod q``); anyone holding
the presignature's public part combines ``s = sum sigma_j``. Before release the
combiner checks every partial signature with the paper's per-party equation
``sigma_j Gamma = m Delta_j + r S_j`` (so a bad share names its signer), then the
final signature with libsecp256k1 (coincurve): low-s normalised, recovery id
checked by recovering the public key (docs/security.md item 16).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import coincurve

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.errors import InvalidParameters, NonceReused, ProtocolError
from shardvault.protocols.cggmp.presignature import Presignature, PresignaturePublic
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine

__all__ = [
    "PROTOCOL",
    "EcdsaSignature",
    "Signing",
    "combine",
    "message_scalar",
    "sign_share",
    "verify_share",
]

PROTOCOL = "cggmp24/sign"

_G = SECP256K1
_Q = SECP256K1.order


@dataclass(frozen=True, slots=True)
class EcdsaSignature:
    """``(r, s, recid)`` with ``s <= q/2``."""

    r: int
    s: int
    recid: int

    def to_compact(self) -> bytes:
        return self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big")

    def to_der(self) -> bytes:
        return bytes(
            coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(self.to_compact()))
        )

    def to_recoverable(self) -> bytes:
        """``r || s || recid`` (65 bytes, coincurve's format)."""
        return self.to_compact() + bytes([self.recid])


def message_scalar(message_hash: bytes) -> int:
    """``m`` = the 32-byte hash as a big-endian integer mod q (SEC 1 bits2int for a
    256-bit hash on secp256k1)."""
    if not isinstance(message_hash, bytes) or len(message_hash) != 32:
        raise InvalidParameters("message hash must be 32 bytes")
    return int.from_bytes(message_hash, "big") % _Q


def sign_share(presig: Presignature, message_hash: bytes) -> int:
    """Fig. 10, step 1: ``sigma_i = k_i m + r chi_i mod q``. Consumes the presignature
    (a second call raises ``NonceReused``); a persistent pool marks it consumed
    durably first."""
    m = message_scalar(message_hash)
    r = presig.r
    if r == 0:
        raise ProtocolError("r = 0: presignature unusable", check="sign: r != 0")
    k, chi = presig.consume()
    # Constant-time on k_i and chi_i (libsecp256k1); m and r are public.
    f = _G.scalars
    return f.add(f.mul(k, m), f.mul(chi, r))


def verify_share(public: PresignaturePublic, j: int, sigma_j: int, message_hash: bytes) -> bool:
    """The paper's per-party check (Fig. 10, output): ``sigma_j Gamma = m Delta_j + r S_j``."""
    if not isinstance(sigma_j, int) or isinstance(sigma_j, bool) or not 0 <= sigma_j < _Q:
        return False
    m = message_scalar(message_hash)
    lhs = public.Gamma * sigma_j
    rhs = _G.add(public.Delta[j] * m, public.S[j] * public.r)
    return lhs == rhs


def combine(
    public: PresignaturePublic,
    partial_sigs: Mapping[int, int],
    message_hash: bytes,
    public_key: Point | None = None,
) -> EcdsaSignature:
    """Combine the signers' ``sigma_j`` into a verified ECDSA signature (Fig. 10,
    output: ``s = sum sigma_j``).

    ``ProtocolError`` with ``check="sign: sigma_j Gamma = m Delta_j + r S_j"`` and the
    bad signers in ``blame`` when partial signatures fail the per-party check;
    ``check="sign: final signature"`` if the combined signature does not verify
    with libsecp256k1 (never released)."""
    key = public.public_key if public_key is None else public_key
    if key != public.public_key:
        raise InvalidParameters("public key does not match the presignature's key")
    message_scalar(message_hash)  # validates the hash
    if set(partial_sigs) != set(public.signers):
        raise ProtocolError(
            "partial signatures must come from exactly the presigning set",
            blame=tuple(sorted(set(partial_sigs) - set(public.signers))),
            check="sign: signer set",
        )
    bad = tuple(
        j for j in public.signers if not verify_share(public, j, partial_sigs[j], message_hash)
    )
    if bad:
        raise ProtocolError(
            f"partial signatures of {list(bad)} fail the per-party check",
            blame=bad,
            check="sign: sigma_j Gamma = m Delta_j + r S_j",
        )
    r = public.r
    s = sum(partial_sigs[j] for j in public.signers) % _Q
    if r == 0 or s == 0:
        raise ProtocolError("degenerate signature (r or s is 0)", check="sign: final signature")
    x_overflow = int.from_bytes(public.R.data[1:], "big") >= _Q
    recid = (public.R.data[0] & 1) | (2 if x_overflow else 0)
    if s > _Q // 2:
        s = _Q - s
        recid ^= 1
    sig = EcdsaSignature(r, s, recid)
    pub = coincurve.PublicKey(key.encode())
    ok = pub.verify(sig.to_der(), message_hash, hasher=None)
    try:
        recovered = coincurve.PublicKey.from_signature_and_message(
            sig.to_recoverable(), message_hash, hasher=None
        )
    except ValueError:
        recovered = None
    if not ok or recovered is None or recovered.format() != pub.format():
        raise ProtocolError(
            "combined signature does not verify (not released)", check="sign: final signature"
        )
    return sig


class Signing(StateMachine[EcdsaSignature]):
    """The one-round online signing as a state machine among the presigning set:
    each signer broadcasts ``sigma_i`` (32 bytes) and every signer combines and
    verifies. The presignature is consumed in the constructor, before ``sigma_i``
    is queued (a persistent pool must mark it consumed durably before calling)."""

    protocol = PROTOCOL
    last_round = 1
    broadcast_rounds = frozenset({1})

    def __init__(
        self,
        session_id: bytes,
        presig: Presignature,
        message_hash: bytes,
        registry: SessionRegistry,
    ) -> None:
        message_scalar(message_hash)
        if presig.consumed:
            raise NonceReused("presignature already used", check="presignature-reuse")
        super().__init__(session_id, presig.me, registry)
        self.public = presig.public
        self.message_hash = message_hash
        sigma = sign_share(presig, message_hash)
        self._sigmas = {self.me: sigma}
        self.send(1, None, sigma.to_bytes(32, "big"))

    def __repr__(self) -> str:
        return f"Signing(me={self.me}, signers={list(self.public.signers)}, round={self.round})"

    def expected_senders(self, round_: int) -> set[int]:
        return set(self.public.signers) - {self.me}

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        bad = []
        for j in sorted(messages):
            data = messages[j].payload
            value = int.from_bytes(data, "big") if len(data) == 32 else _Q
            if value >= _Q:
                bad.append(j)
            self._sigmas[j] = value
        if bad:
            raise ProtocolError(
                f"partial signatures of {bad} are malformed",
                blame=tuple(bad),
                check="sign-round1-decode",
            )
        self.finish(combine(self.public, self._sigmas, self.message_hash))
