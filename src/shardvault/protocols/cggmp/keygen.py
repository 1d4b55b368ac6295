"""CGGMP24 threshold key generation on secp256k1 (ePrint 2021/060 rev. 2024, the
threshold "Key Generation" figure; cf. Lockness ``cggmp21`` ``keygen/threshold.rs``),
as a sans-I/O state machine with echo broadcast and identifiable abort.

Parties ``1..n``, threshold ``t`` (any ``t`` shares reconstruct the key; the
polynomials have degree ``t - 1``), ``sid`` the session id. Party ``i`` samples
``f_i(x) = a_i0 + a_i1 x + ... + a_i(t-1) x^(t-1)``, its Feldman commitments
``F_i = (a_i0 G, ..., a_i(t-1) G)``, a Π_sch nonce with commitment ``A_i`` for
``a_i0``, and 32 random bytes each for ``rid_i`` and the blinding ``u_i``.

1. broadcast: ``V_i = H(sid, i, t, n, rid_i, F_i, A_i, u_i)`` (injective transcript).
2. broadcast: the echo vector of round 1 (one hash per party of the round-1
   broadcast received from it) and the opening ``(rid_i, u_i, A_i, F_i)``.
   Receivers check the echo (an equivocating sender is named), then the opening
   against ``V_j``. Then ``rid = rid_1 xor ... xor rid_n``.
3. point-to-point to each ``j`` (``secret=True``: the transport encrypts it): the
   share ``sigma_ij = f_i(j)`` and the Π_sch response ``z_i`` for ``a_i0``, whose
   challenge binds ``(sid, rid)`` (as the Π_sch session id) and the prover ``i``.
   Receivers check Feldman (``sigma_ij G = sum_k j^k F_ik``) and Π_sch, then finish.

Result (:class:`KeyShare`): ``x_j = sum_i sigma_ij``, ``X = sum_i F_i0``, and every
party's public share ``X_k = sum_i F_i(k)``; ``check_consistent()`` is run.

Every failed check aborts with ``ProtocolError(blame=..., check=...)``. Checks run
stage by stage, senders in ascending order, so honest parties seeing the same
fault name the same party. Check names: ``keygen-round1-decode``,
``keygen-round2-decode``, ``keygen-echo-broadcast``, ``keygen-commitment``,
``keygen-round3-decode``, ``keygen-feldman``, the proof's own ``pi-sch: ...``,
and (no blame; negligible probability) ``keygen-result``.

Like the paper and Lockness there is no confirmation round: a fault seen by one
receiver only (a bad point-to-point share) aborts that receiver while the others
finish. The caller must treat the key as created only once every party reports
success.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.hashing import Transcript
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.shamir import (
    check_indices,
    check_threshold,
    derive_public_share,
    evaluate_polynomial,
    feldman_commit,
)
from shardvault.crypto.zk import sch
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError
from shardvault.protocols.cggmp.common import (
    HASH,
    check_echo_vectors,
    echo_entry_hash,
    stage,
)
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine

__all__ = ["PROTOCOL", "CggmpKeygen", "Decommitment", "commitment", "proof_session_id"]

PROTOCOL = "cggmp24/keygen"
_G = SECP256K1
_RID = 32  # 2 kappa bits of joint randomness (kappa = 128)
_U = 32  # commitment blinding
_POINT = _G.element_size  # 33
_SCALAR = _G.scalar_size  # 32


@dataclass(frozen=True, slots=True)
class Decommitment:
    """The round-2 opening of ``V_i``: ``(rid_i, u_i, A_i, F_i)``. All public."""

    rid: bytes
    u: bytes
    sch_commitment: Point
    feldman: tuple[Point, ...]

    def to_bytes(self) -> bytes:
        return (
            self.rid
            + self.u
            + self.sch_commitment.encode()
            + b"".join(c.encode() for c in self.feldman)
        )

    @staticmethod
    def encoded_length(threshold: int) -> int:
        return _RID + _U + _POINT + threshold * _POINT

    @classmethod
    def from_bytes(cls, data: bytes, threshold: int) -> Decommitment:
        """Exact length; every point on the curve and not the identity."""
        if len(data) != cls.encoded_length(threshold):
            raise InvalidEncoding("keygen decommitment: wrong length")
        rid, u = data[:_RID], data[_RID : _RID + _U]
        pos = _RID + _U
        a = _G.decode_point(data[pos : pos + _POINT])
        pos += _POINT
        feldman = tuple(
            _G.decode_point(data[pos + k * _POINT : pos + (k + 1) * _POINT])
            for k in range(threshold)
        )
        return cls(rid, u, a, feldman)


def commitment(
    session_id: bytes, party: int, threshold: int, participants: int, d: Decommitment
) -> bytes:
    """``V_i = H(sid, i, t, n, rid_i, F_i, A_i, u_i)`` (injective transcript)."""
    tr = Transcript("shardvault/cggmp24/keygen/commit/v1")
    tr.append("session-id", session_id)
    tr.append_int("party", party)
    tr.append_int("threshold", threshold)
    tr.append_int("participants", participants)
    tr.append("rid", d.rid)
    tr.extend("F", (c.encode() for c in d.feldman))
    tr.append("A", d.sch_commitment.encode())
    tr.append("u", d.u)
    return hashlib.sha256(tr.encode()).digest()


def proof_session_id(session_id: bytes, rid: bytes) -> bytes:
    """The Π_sch Fiat-Shamir session id: an injective, domain-tagged encoding of
    ``(sid, rid)`` (the prover index is bound by Π_sch itself)."""
    tr = Transcript("shardvault/cggmp24/keygen/pi-sch-sid/v1")
    tr.append("session-id", session_id)
    tr.append("rid", rid)
    return tr.encode()


def _entry_hash(session_id: bytes, round_: int, sender: int, payload: bytes) -> bytes:
    return echo_entry_hash("shardvault/cggmp24/keygen/echo/v1", session_id, round_, sender, payload)


class CggmpKeygen(StateMachine[KeyShare]):
    """One party ``me`` of a CGGMP24 ``threshold``-of-``participants`` key generation.

    Result: this party's :class:`KeyShare`. ``repr`` hides every secret.
    """

    protocol = PROTOCOL
    last_round = 3
    broadcast_rounds = frozenset({1, 2})

    def __init__(
        self,
        session_id: bytes,
        me: int,
        threshold: int,
        participants: int,
        registry: SessionRegistry,
        *,
        rng: Rng = OS_RNG,
    ) -> None:
        for name, value in (("threshold", threshold), ("participants", participants)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidParameters(f"{name} must be an integer")
        check_threshold(threshold, participants)
        check_indices([me], participants)
        super().__init__(session_id, me, registry)
        self.t = threshold
        self.n = participants
        self._all = set(range(1, participants + 1))
        self._coefficients: list[int] = [_G.random_scalar(rng) for _ in range(threshold)]
        self._nonce: sch.SchNonce | None = sch.commit(rng=rng)
        self._mine = Decommitment(
            rng.token_bytes(_RID),
            rng.token_bytes(_U),
            self._nonce.commitment.A,
            tuple(feldman_commit(_G, self._coefficients)),
        )
        self._decommitments: dict[int, Decommitment] = {me: self._mine}
        self._round1: dict[int, bytes] = {}
        self._rid = b""
        self._own_share = 0
        v_i = commitment(session_id, me, threshold, participants, self._mine)
        self._round1[me] = v_i
        self.send(1, None, v_i)
        self._advance()  # a 1-of-1 generation has nobody to wait for

    def __repr__(self) -> str:
        return f"CggmpKeygen(me={self.me}, t={self.t}, n={self.n}, round={self.round})"

    def expected_senders(self, round_: int) -> set[int]:
        return self._all - {self.me}

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        try:
            if round_ == 1:
                self._round1_received(messages)
            elif round_ == 2:
                self._round2_received(messages)
            else:
                self._round3_received(messages)
        except ProtocolError:
            # An aborted run is never resumed: drop the secrets it still holds.
            self._coefficients, self._nonce, self._own_share = [], None, 0
            raise

    # -- echo ----------------------------------------------------------------------
    def _echo_vector(self) -> bytes:
        return b"".join(
            _entry_hash(self.session_id, 1, j, self._round1[j]) for j in sorted(self._all)
        )

    def _check_echoes(self, claims: dict[int, bytes]) -> None:
        """See :func:`common.check_echo_vectors`."""
        check_echo_vectors(
            me=self.me,
            order=sorted(self._all),
            mine=self._echo_vector(),
            claims=claims,
            round_=1,
            check="keygen-echo-broadcast",
        )

    # -- round handlers --------------------------------------------------------------
    def _round1_received(self, messages: dict[int, ProtocolMessage]) -> None:
        def check(sender: int) -> None:
            if len(messages[sender].payload) != HASH:
                raise ProtocolError(
                    f"round-1 commitment of party {sender} has the wrong size",
                    blame=(sender,),
                    check="keygen-round1-decode",
                )

        stage(messages, check)
        for sender, msg in messages.items():
            self._round1[sender] = msg.payload
        self.send(2, None, self._echo_vector() + self._mine.to_bytes())

    def _round2_received(self, messages: dict[int, ProtocolMessage]) -> None:
        echo_len = self.n * HASH
        echoes: dict[int, bytes] = {}
        decoded: dict[int, Decommitment] = {}

        def decode(sender: int) -> None:
            data = messages[sender].payload
            if len(data) != echo_len + Decommitment.encoded_length(self.t):
                raise ProtocolError(
                    f"round-2 payload of party {sender} has the wrong size",
                    blame=(sender,),
                    check="keygen-round2-decode",
                )
            try:
                decoded[sender] = Decommitment.from_bytes(data[echo_len:], self.t)
            except InvalidEncoding as exc:
                raise ProtocolError(
                    f"round-2 payload of party {sender} is malformed: {exc.message}",
                    blame=(sender,),
                    check="keygen-round2-decode",
                ) from None
            echoes[sender] = data[:echo_len]

        stage(messages, decode)
        self._check_echoes(echoes)

        def check_commitment(sender: int) -> None:
            v = commitment(self.session_id, sender, self.t, self.n, decoded[sender])
            if v != self._round1[sender]:
                raise ProtocolError(
                    f"party {sender}'s decommitment does not match its round-1 commitment",
                    blame=(sender,),
                    check="keygen-commitment",
                )

        stage(decoded, check_commitment)
        self._decommitments.update(decoded)
        rid = bytearray(_RID)
        for j in sorted(self._decommitments):
            for k, b in enumerate(self._decommitments[j].rid):
                rid[k] ^= b
        self._rid = bytes(rid)
        z = self._schnorr_response(proof_session_id(self.session_id, self._rid))
        q = _G.order
        for j in sorted(self._all - {self.me}):
            share = evaluate_polynomial(self._coefficients, j, q)
            self.send(3, j, _G.encode_scalar(share) + z.to_bytes(), secret=True)
        self._own_share = evaluate_polynomial(self._coefficients, self.me, q)
        self._coefficients = []  # erased: only f_i(me) is still needed

    def _schnorr_response(self, fs_sid: bytes) -> sch.SchResponse:
        """Π_sch response for ``a_i0`` (consumes the round-1 nonce)."""
        nonce, self._nonce = self._nonce, None
        if nonce is None:  # pragma: no cover - rounds run once
            raise ProtocolError("Π_sch nonce already used", check="keygen-internal")
        return sch.respond(nonce, self._coefficients[0], session_id=fs_sid, prover_id=self.me)

    def _round3_received(self, messages: dict[int, ProtocolMessage]) -> None:
        shares: dict[int, int] = {}
        responses: dict[int, sch.SchResponse] = {}

        def decode(sender: int) -> None:
            data = messages[sender].payload
            try:
                if len(data) != _SCALAR + _SCALAR:
                    raise InvalidEncoding("wrong length")
                shares[sender] = _G.decode_scalar(data[:_SCALAR])
                responses[sender] = sch.SchResponse.from_bytes(data[_SCALAR:])
            except InvalidEncoding as exc:
                raise ProtocolError(
                    f"round-3 payload of party {sender} is malformed: {exc.message}",
                    blame=(sender,),
                    check="keygen-round3-decode",
                ) from None

        stage(messages, decode)

        def check_feldman(sender: int) -> None:
            expected = derive_public_share(_G, self._decommitments[sender].feldman, self.me)
            if _G.mul_base(shares[sender]) != expected:
                raise ProtocolError(
                    f"party {sender}'s share for us does not match its Feldman commitments",
                    blame=(sender,),
                    check="keygen-feldman",
                )

        fs_sid = proof_session_id(self.session_id, self._rid)

        def check_sch(sender: int) -> None:
            d = self._decommitments[sender]
            try:
                sch.verify_response(
                    d.feldman[0],
                    sch.SchCommitment(d.sch_commitment),
                    responses[sender],
                    session_id=fs_sid,
                    prover_id=sender,
                )
            except InvalidProof as exc:
                raise ProtocolError(
                    f"party {sender}'s Π_sch for its constant term does not verify: {exc.message}",
                    blame=(sender,),
                    check=exc.check,
                ) from None

        stage(shares, check_feldman)
        stage(responses, check_sch)
        shares[self.me] = self._own_share
        self._own_share = 0
        self._finish(sum(shares.values()) % _G.order)

    def _finish(self, secret: int) -> None:
        parties = sorted(self._decommitments)
        summed = [_G.sum(self._decommitments[i].feldman[k] for i in parties) for k in range(self.t)]
        public = {k: derive_public_share(_G, summed, k) for k in sorted(self._all)}
        if summed[0].is_identity() or secret == 0 or any(p.is_identity() for p in public.values()):
            raise ProtocolError(
                "key generation produced a zero key or share", check="keygen-result"
            )
        try:
            share = KeyShare(self.me, secret, summed[0], public, self.t)
            share.check_consistent()
        except InvalidParameters as exc:  # pragma: no cover - implied by the checks above
            raise ProtocolError(
                f"key share is inconsistent: {exc.message}", check="keygen-result"
            ) from None
        self.finish(share)
