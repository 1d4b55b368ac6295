"""CGGMP24 threshold key generation on secp256k1 (ePrint 2021/060, 2024-10-21
revision, Fig. 6 "ECDSA Key-Generation", carried over to Shamir shares; cf. Lockness
``cggmp21`` ``keygen/threshold.rs``), as a sans-I/O state machine with echo broadcast
and identifiable abort.

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

Rounds 1-2 are :mod:`.commit_reveal`'s; the messages are :mod:`.keygen_messages`.

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

from shardvault.crypto.groups import SECP256K1
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
from shardvault.errors import InvalidParameters, ProtocolError
from shardvault.protocols.cggmp.keygen_messages import (
    RID_SIZE,
    U_SIZE,
    Decommitment,
    MsgRound2,
    MsgRound3,
    commitment,
)
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.commit_reveal import CommitReveal
from shardvault.protocols.common import proof_errors, stage, xor_all
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine

__all__ = ["PROTOCOL", "KeyGeneration", "proof_session_id"]

PROTOCOL = "cggmp24/keygen"
_G = SECP256K1


def proof_session_id(session_id: bytes, rid: bytes) -> bytes:
    """The Π_sch Fiat-Shamir session id: an injective, domain-tagged encoding of
    ``(sid, rid)`` (the prover index is bound by Π_sch itself)."""
    tr = Transcript("shardvault/cggmp24/keygen/pi-sch-sid/v1")
    tr.append("session-id", session_id)
    tr.append("rid", rid)
    return tr.encode()


class KeyGeneration(StateMachine[KeyShare]):
    """One party ``me`` of a CGGMP24 ``threshold``-of-``participants`` key generation;
    its randomness comes from ``rng``.

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
        # Fig. 6, round 1: f_i, the Π_sch nonce for a_i0, rid_i and u_i.
        self._coefficients: list[int] = [_G.random_scalar(rng) for _ in range(threshold)]
        self._nonce: sch.SchNonce | None = sch.commit(rng=rng)
        self._mine = Decommitment(
            rng.token_bytes(RID_SIZE),
            rng.token_bytes(U_SIZE),
            self._nonce.commitment.A,
            tuple(feldman_commit(_G, self._coefficients)),
        )
        self._commits = CommitReveal(
            protocol="keygen",
            echo_domain="shardvault/cggmp24/keygen/echo/v1",
            session_id=session_id,
            me=me,
            order=sorted(self._all),
            opening=self._mine,
            commit=lambda j, d: commitment(session_id, j, threshold, participants, d),
        )
        self._rid = b""
        self._own_share = 0
        self.send(1, None, self._commits.own_commitment().encode())
        self._advance()  # a 1-of-1 generation has nobody to wait for

    def __repr__(self) -> str:
        return f"KeyGeneration(me={self.me}, t={self.t}, n={self.n}, round={self.round})"

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

    # -- round handlers --------------------------------------------------------------
    def _round1_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 6, round 2: after every ``V_j``, broadcast the echo and the opening."""
        self._commits.commitments_received(messages)
        self.send(2, None, MsgRound2(self._commits.echo_vector(), self._mine).encode())

    def _round2_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 6, round 3: check the echoes and openings, derive ``rid`` and send each
        party its share with the Π_sch response."""
        decoded: dict[int, MsgRound2] = {}

        def decode(sender: int) -> None:
            decoded[sender] = MsgRound2.decode(
                messages[sender].payload, sender=sender, parties=self.n, threshold=self.t
            )

        stage(messages, decode)
        openings = {j: m.decommitment for j, m in decoded.items()}
        self._commits.check_openings(
            {j: m.echo for j, m in decoded.items()},
            openings,
            "party {sender}'s decommitment does not match its round-1 commitment",
        )
        self._commits.accept(openings)
        opened = self._commits.openings
        self._rid = xor_all((opened[j].rid for j in sorted(opened)), RID_SIZE)
        z = self._schnorr_response(proof_session_id(self.session_id, self._rid))
        q = _G.order
        for j in sorted(self._all - {self.me}):
            share = evaluate_polynomial(self._coefficients, j, q)
            self.send(3, j, MsgRound3(share, z).encode(), secret=True)
        self._own_share = evaluate_polynomial(self._coefficients, self.me, q)
        self._coefficients = []  # erased: only f_i(me) is still needed

    def _schnorr_response(self, fs_sid: bytes) -> sch.SchResponse:
        """Π_sch response for ``a_i0`` (consumes the round-1 nonce)."""
        nonce, self._nonce = self._nonce, None
        if nonce is None:  # pragma: no cover - rounds run once
            raise ProtocolError("Π_sch nonce already used", check="keygen-internal")
        return sch.respond(nonce, self._coefficients[0], session_id=fs_sid, prover_id=self.me)

    def _round3_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 6, output: check every share against its Feldman commitments and every
        Π_sch, then sum the shares."""
        received: dict[int, MsgRound3] = {}

        def decode(sender: int) -> None:
            received[sender] = MsgRound3.decode(messages[sender].payload, sender=sender)

        stage(messages, decode)
        opened = self._commits.openings

        def check_feldman(sender: int) -> None:
            expected = derive_public_share(_G, opened[sender].feldman, self.me)
            if _G.mul_base(received[sender].sigma) != expected:
                raise ProtocolError(
                    f"party {sender}'s share for us does not match its Feldman commitments",
                    blame=(sender,),
                    check="keygen-feldman",
                )

        fs_sid = proof_session_id(self.session_id, self._rid)

        def check_sch(sender: int) -> None:
            d = opened[sender]
            with proof_errors(sender, "Π_sch for its constant term", sch.PROOF_NAME):
                sch.verify_response(
                    d.feldman[0],
                    sch.SchCommitment(d.sch_commitment),
                    received[sender].psi,
                    session_id=fs_sid,
                    prover_id=sender,
                )

        stage(received, check_feldman)
        stage(received, check_sch)
        shares = {j: m.sigma for j, m in received.items()}
        shares[self.me] = self._own_share
        self._own_share = 0
        self._finish(sum(shares.values()) % _G.order)

    def _finish(self, secret: int) -> None:
        opened = self._commits.openings
        parties = sorted(opened)
        summed = [_G.sum(opened[i].feldman[k] for i in parties) for k in range(self.t)]
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
