"""FROST signing as sans-I/O state machines: ``FrostSigner`` (one per participant)
and ``FrostCoordinator`` (RFC 9591's Coordinator role, party ``COORDINATOR``).

The signing request (message and, for the BIP 340 suite, the optional Taproot
merkle root) is fixed when a party starts, so a coordinator cannot switch the
message between rounds, and the nonces are hedged with it.

Round 1: each signer -> coordinator: its commitment (D_i, E_i).
Round 2: coordinator -> signers: the sorted commitment list (the signing package).
Round 3: each signer -> coordinator: its signature share z_i.
The coordinator verifies every share, naming any bad signer, then aggregates and
verifies the final signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError
from shardvault.protocols.frost.ciphersuites import Ciphersuite
from shardvault.protocols.frost.keys import (
    KeyPackage,
    PublicKeyPackage,
    normalize_key_package,
    normalize_public_key_package,
)
from shardvault.protocols.frost.signing import (
    SigningCommitment,
    aggregate,
    commit,
    sign,
)
from shardvault.protocols.messages import (
    COORDINATOR,
    ProtocolMessage,
    SessionRegistry,
    StateMachine,
)

__all__ = ["FrostCoordinator", "FrostSigner", "signing_request_digest"]


def signing_request_digest(session_id: bytes, msg: bytes, merkle_root: bytes | None) -> bytes:
    """What every party binds to: session, message and tweak (hedges the nonces)."""
    root = (
        b"\x00"
        if merkle_root is None
        else b"\x01" + len(merkle_root).to_bytes(1, "big") + merkle_root
    )
    return hashlib.sha256(
        b"shardvault/frost-sign" + len(session_id).to_bytes(1, "big") + session_id + root + msg
    ).digest()


def _protocol_name(suite_name: str) -> str:
    return f"frost-sign/{suite_name}"


class FrostSigner(StateMachine[int]):
    """A participant in one signing session. Result: the signature share it sent.

    Starting sends round one (RFC 9591 section 5.1 ``commit``, nonces drawn from ``rng``
    and hedged with the signing request); the signing package from the coordinator
    triggers round two (section 5.2 ``sign``).
    """

    last_round = 1
    broadcast_rounds = frozenset({1})  # the signing package goes to every signer alike

    def __init__(
        self,
        key_package: KeyPackage,
        session_id: bytes,
        message: bytes,
        registry: SessionRegistry,
        *,
        merkle_root: bytes | None = None,
        rng: Rng = OS_RNG,
    ) -> None:
        super().__init__(session_id, key_package.identifier, registry)
        self.protocol = _protocol_name(key_package.ciphersuite.name)
        self.key_package = normalize_key_package(key_package, merkle_root)
        self.message = message
        extra = signing_request_digest(session_id, message, merkle_root)
        self._nonces, commitment = commit(self.key_package, rng=rng, extra=extra)
        self.send(1, COORDINATOR, commitment.encode())
        # Round 1 of this machine is "wait for the signing package".

    def __repr__(self) -> str:
        return f"FrostSigner({self.key_package.ciphersuite.name}, me={self.me}, round={self.round})"

    def expected_senders(self, round_: int) -> set[int]:
        return {COORDINATOR}

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        suite = self.key_package.ciphersuite
        try:
            commitments = decode_signing_package(
                suite, messages[COORDINATOR].payload, self._nonces.commitment
            )
            share = sign(self.key_package, self._nonces, self.message, commitments)
        except (InvalidEncoding, InvalidParameters) as exc:
            raise ProtocolError(
                f"bad signing package: {exc}", blame=(COORDINATOR,), check="signing-package"
            ) from exc
        self.send(2, COORDINATOR, suite.group.encode_scalar(share))
        self.finish(share)
        # Nonces are erased by sign(); the share is public once sent.


def encode_signing_package(commitments: Sequence[SigningCommitment]) -> bytes:
    return bytes([len(commitments)]) + b"".join(
        c.identifier.to_bytes(1, "big") + c.encode() for c in commitments
    )


def decode_signing_package(
    suite: Ciphersuite, data: bytes, known: SigningCommitment | None = None
) -> list[SigningCommitment]:
    """Decode and validate every commitment. ``known`` (the caller's own commitment)
    is reused when its bytes match exactly, saving two point validations."""
    size = 1 + 2 * suite.group.element_size
    if not data or len(data) != 1 + data[0] * size:
        raise InvalidEncoding("signing package has the wrong size")
    mine = b"" if known is None else known.encode()
    out = []
    for k in range(data[0]):
        chunk = data[1 + k * size : 1 + (k + 1) * size]
        if known is not None and chunk[0] == known.identifier and chunk[1:] == mine:
            out.append(known)
        else:
            out.append(SigningCommitment.decode(suite, chunk[0], chunk[1:]))
    return out


class FrostCoordinator(StateMachine[bytes]):
    """Collects commitments, sends the signing package, verifies shares, aggregates
    (RFC 9591's Coordinator: section 5.3 ``aggregate`` with the section 5.4 checks).

    Result: the encoded signature (64 bytes Ed25519 / BIP 340, 65 bytes FROST(secp256k1)).
    """

    last_round = 2

    def __init__(
        self,
        public_package: PublicKeyPackage,
        session_id: bytes,
        signers: Sequence[int],
        message: bytes,
        registry: SessionRegistry,
        *,
        merkle_root: bytes | None = None,
    ) -> None:
        super().__init__(session_id, COORDINATOR, registry)
        suite = public_package.ciphersuite
        self.protocol = _protocol_name(suite.name)
        ids = sorted(set(signers))
        if len(ids) != len(signers) or len(ids) < public_package.min_signers:
            raise InvalidParameters(
                f"need at least {public_package.min_signers} distinct signers, got {list(signers)}"
            )
        unknown = [i for i in ids if i not in public_package.verifying_shares]
        if unknown:
            raise InvalidParameters(f"unknown signers {unknown}")
        self.public_package = normalize_public_key_package(public_package, merkle_root)
        self.signers = ids
        self.message = message
        self._commitments: list[SigningCommitment] = []

    def __repr__(self) -> str:
        return f"FrostCoordinator({self.public_package.ciphersuite.name}, signers={self.signers})"

    def expected_senders(self, round_: int) -> set[int]:
        return set(self.signers)

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        suite = self.public_package.ciphersuite
        if round_ == 1:
            for sender in self.signers:
                try:
                    self._commitments.append(
                        SigningCommitment.decode(suite, sender, messages[sender].payload)
                    )
                except InvalidEncoding as exc:
                    raise ProtocolError(
                        f"commitment of signer {sender} is malformed: {exc}",
                        blame=(sender,),
                        check="commitment",
                    ) from exc
            self.send(1, None, encode_signing_package(self._commitments))
            return
        shares: dict[int, int] = {}
        bad = []
        for sender in self.signers:
            try:
                shares[sender] = suite.group.decode_scalar(messages[sender].payload)
            except InvalidEncoding:
                bad.append(sender)
        if bad:
            raise ProtocolError(
                f"malformed signature share from {bad}", blame=tuple(bad), check="signature-share"
            )
        self.finish(aggregate(self.public_package, self.message, self._commitments, shares))
