"""CGGMP24 proactive key-share refresh on secp256k1: new shares of the SAME key,
as a sans-I/O state machine with echo broadcast, a confirmation round and
identifiable abort (docs/security.md items 2-4 and 10).

This is the share-refresh part of the paper's "Auxiliary Info. & Key Refresh in
Three Rounds" (ePrint 2021/060, 2024-10-21 revision, Fig. 7; cf. Lockness
``cggmp21`` ``key_refresh/non_threshold.rs``), carried over to Shamir (threshold)
shares the way :mod:`shardvault.protocols.cggmp.keygen` carries over key
generation. The Paillier / ring-Pedersen half of that figure is :mod:`.aux_info`.
Rounds 1-2 are :mod:`.commit_reveal`'s; the messages are :mod:`.refresh_messages`.

Every party ``i`` of the key (all ``n`` of them; threshold ``t >= 2``, ``sid`` the
session id) samples ``f_i(x) = a_i1 x + ... + a_i(t-1) x^(t-1)``: a random
polynomial of degree ``t - 1`` with ZERO constant term. Its Feldman commitments
are ``C_i = (C_i1, ..., C_i(t-1))`` with ``C_ik = a_ik G``; ``C_i0`` is the
identity and is never sent (the identity has no encoding), so the public image
of a dealt share is ``F_i(j) = sum_{k>=1} j^k C_ik``. As in the paper (one Π_sch
``psi_i^j`` per dealt ``X_i^j``), party ``i`` proves knowledge of every dealt
share ``f_i(j)``, ``j = 1..n``, with a Π_sch whose nonce commitment ``B_ij`` is
hash-committed in round 1.

1. broadcast: ``V_i = H(sid, i, key, rid_i, C_i, B_i, u_i)`` (injective
   transcript; ``key`` is a digest of ``(t, X, X_1..X_n)``, so everybody
   refreshes the same key).
2. broadcast: the echo vector of round 1 and the opening ``(rid_i, u_i, C_i, B_i)``.
   Receivers check the echo (an equivocator is named), the opening against
   ``V_j``, and that no dealt image ``F_j(k)`` is the identity. Then
   ``rid = rid_1 xor ... xor rid_n``.
3. point-to-point to each ``j`` (``secret=True``): ``f_i(j)`` and the ``n`` Π_sch
   responses (challenge binds ``(sid, rid, k)`` and the prover ``i``). Receivers
   check Feldman (``f_i(j) G = F_i(j)``) and all ``n`` proofs. Then
   ``x_j' = x_j + sum_i f_i(j)``, ``X_k' = X_k + sum_i F_i(k)``; the new public
   shares must interpolate to the unchanged ``X`` and ``x_j' G = X_j'``.
4. broadcast: ``OK || H(sid, rid, t, X, X_1'..X_n')`` or, if a round-3 check
   failed, a complaint naming the senders at fault. A party finishes only when
   every other party confirmed the same hash. Otherwise everyone aborts: the
   complainer blames the party whose message failed (with that check's name),
   an accused party blames the complainer, third parties name both
   (``refresh-complaint``: one of them lied, the transport's signed messages
   tell which); a mismatched hash blames its sender (``refresh-confirmation``).

The caller may erase the old share only once every party has finished (each
party's success means all others confirmed the same new public shares, but a
party that equivocates in round 4 can still make some parties abort while others
finish; the orchestration layer collects every party's result first).

Check names: ``refresh-round1-decode``, ``refresh-round2-decode``,
``refresh-echo-broadcast``, ``refresh-commitment``, ``refresh-zero-share``,
``refresh-round3-decode``, ``refresh-feldman``, the proof's own ``pi-sch: ...``,
``refresh-round4-decode``, ``refresh-complaint``, ``refresh-confirmation``, and
(no blame; negligible probability) ``refresh-result``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.hashing import Transcript
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.shamir import (
    derive_public_share,
    evaluate_polynomial,
    feldman_commit,
    lagrange_coefficient,
)
from shardvault.crypto.zk import sch
from shardvault.errors import InvalidParameters, ProtocolError
from shardvault.protocols.cggmp.commit_reveal import CommitReveal
from shardvault.protocols.cggmp.common import proof_errors, stage, xor_all
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.cggmp.refresh_messages import (
    RID_SIZE,
    U_SIZE,
    MsgComplaint,
    MsgConfirm,
    MsgRound2,
    MsgRound3,
    RefreshDecommitment,
    commitment,
    decode_round4,
)
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine

__all__ = [
    "PROTOCOL",
    "KeyRefresh",
    "confirmation_hash",
    "dealt_image",
    "key_digest",
    "proof_session_id",
]

PROTOCOL = "cggmp24/refresh"
_G = SECP256K1


def key_digest(share: KeyShare) -> bytes:
    """Digest of the public data of the key being refreshed: ``(t, X, X_1..X_n)``."""
    tr = Transcript("shardvault/cggmp24/refresh/key/v1")
    tr.append("curve", _G.name.encode())
    tr.append_int("threshold", share.threshold)
    tr.append("X", share.public_key.encode())
    ids = sorted(share.public_shares)
    tr.extend("ids", (i.to_bytes(1, "big") for i in ids))
    tr.extend("X_j", (share.public_shares[i].encode() for i in ids))
    return hashlib.sha256(tr.encode()).digest()


def proof_session_id(session_id: bytes, rid: bytes, recipient: int) -> bytes:
    """Π_sch Fiat-Shamir session id for the share dealt to ``recipient``: an
    injective encoding of ``(sid, rid, recipient)`` (Π_sch binds the prover)."""
    tr = Transcript("shardvault/cggmp24/refresh/pi-sch-sid/v1")
    tr.append("session-id", session_id)
    tr.append("rid", rid)
    tr.append_int("recipient", recipient)
    return tr.encode()


def dealt_image(feldman: Sequence[Point], index: int) -> Point:
    """``F(index) = sum_{k>=1} index^k C_k`` for commitments ``C_1..C_(t-1)``
    (``C_0`` = identity), i.e. ``index * sum_{k>=0} index^k C_(k+1)``."""
    return derive_public_share(_G, feldman, index) * index


def confirmation_hash(
    session_id: bytes, rid: bytes, threshold: int, public_key: Point, shares: Mapping[int, Point]
) -> bytes:
    """``H(sid, rid, t, X, X_1'..X_n')``: what every party confirms in round 4."""
    tr = Transcript("shardvault/cggmp24/refresh/confirm/v1")
    tr.append("session-id", session_id)
    tr.append("rid", rid)
    tr.append_int("threshold", threshold)
    tr.append("X", public_key.encode())
    ids = sorted(shares)
    tr.extend("ids", (i.to_bytes(1, "big") for i in ids))
    tr.extend("X_j'", (shares[i].encode() for i in ids))
    return hashlib.sha256(tr.encode()).digest()


class KeyRefresh(StateMachine[KeyShare]):
    """Party ``key_share.index`` of a refresh of ``key_share``'s key among ALL its
    parties; its randomness comes from ``rng``. Result: a new :class:`KeyShare` (same
    index, threshold, public key and party set). ``repr`` hides every secret; secrets
    are dropped on abort."""

    protocol = PROTOCOL
    last_round = 4
    broadcast_rounds = frozenset({1, 2, 4})

    def __init__(
        self,
        session_id: bytes,
        key_share: KeyShare,
        registry: SessionRegistry,
        *,
        rng: Rng = OS_RNG,
    ) -> None:
        if not isinstance(key_share, KeyShare):
            raise InvalidParameters("key_share must be a KeyShare")
        if key_share.threshold < 2:
            raise InvalidParameters("a 1-of-n key cannot be refreshed: every share is the key")
        key_share.check_consistent()
        super().__init__(session_id, key_share.index, registry)
        self.t = key_share.threshold
        self.n = len(key_share.public_shares)
        self._old = key_share
        self._order = sorted(key_share.public_shares)
        self._all = set(self._order)
        self._key = key_digest(key_share)
        # Fig. 7, round 1: f_i with f_i(0) = 0, one Π_sch nonce per dealt share, rid_i, u_i.
        self._coefficients: list[int] = [0] + [_G.random_scalar(rng) for _ in range(self.t - 1)]
        self._nonces: list[sch.SchNonce] = [sch.commit(rng=rng) for _ in self._order]
        self._mine = RefreshDecommitment(
            rng.token_bytes(RID_SIZE),
            rng.token_bytes(U_SIZE),
            tuple(feldman_commit(_G, self._coefficients[1:])),
            tuple(nonce.commitment.A for nonce in self._nonces),
        )
        key = self._key
        self._commits = CommitReveal(
            protocol="refresh",
            echo_domain="shardvault/cggmp24/refresh/echo/v1",
            session_id=session_id,
            me=self.me,
            order=self._order,
            opening=self._mine,
            commit=lambda j, d: commitment(session_id, j, key, d),
        )
        #: ``_images[i][k] = F_i(k)``, the public image of the share ``i`` deals ``k``.
        self._images: dict[int, dict[int, Point]] = {}
        self._rid = b""
        self._own_share = 0
        self._new: KeyShare | None = None
        self._confirm = b""
        self._pending: ProtocolError | None = None
        self.send(1, None, self._commits.own_commitment().encode())

    def __repr__(self) -> str:
        return f"KeyRefresh(me={self.me}, t={self.t}, n={self.n}, round={self.round})"

    def expected_senders(self, round_: int) -> set[int]:
        return self._all - {self.me}

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        try:
            if round_ == 1:
                self._round1_received(messages)
            elif round_ == 2:
                self._round2_received(messages)
            elif round_ == 3:
                self._round3_received(messages)
            else:
                self._round4_received(messages)
        except ProtocolError:
            self._erase()
            raise

    def _erase(self) -> None:
        """An aborted run is never resumed: drop every secret it still holds."""
        self._coefficients, self._nonces, self._own_share, self._new = [], [], 0, None

    # -- round handlers --------------------------------------------------------------
    def _round1_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 7, round 2: after every ``V_j``, broadcast the echo and the opening."""
        self._commits.commitments_received(messages)
        self.send(2, None, MsgRound2(self._commits.echo_vector(), self._mine).encode())

    def _round2_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 7, round 3: check the echoes, the openings and that nobody deals a zero
        share; derive ``rid``; send each party its share and every Π_sch response."""
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
            "party {sender}'s decommitment does not match its round-1 commitment "
            "(or it refreshes another key)",
        )

        def check_images(sender: int) -> None:
            images = {k: dealt_image(openings[sender].feldman, k) for k in self._order}
            self._images[sender] = images
            if any(p.is_identity() for p in images.values()):
                raise ProtocolError(
                    f"party {sender} deals a zero share",
                    blame=(sender,),
                    check="refresh-zero-share",
                )

        stage(openings, check_images)
        self._commits.accept(openings)
        self._images[self.me] = {k: dealt_image(self._mine.feldman, k) for k in self._order}
        opened = self._commits.openings
        self._rid = xor_all((opened[j].rid for j in sorted(opened)), RID_SIZE)
        proofs = tuple(self._schnorr_responses())
        q = _G.order
        for j in self._order:
            if j != self.me:
                share = evaluate_polynomial(self._coefficients, j, q)
                self.send(3, j, MsgRound3(share, proofs).encode(), secret=True)
        self._own_share = evaluate_polynomial(self._coefficients, self.me, q)
        self._coefficients = []  # erased: only f_i(me) is still needed

    def _schnorr_responses(self) -> list[sch.SchResponse]:
        """Π_sch for every dealt share ``f_i(k)`` (consumes the round-1 nonces)."""
        nonces, self._nonces = self._nonces, []
        q = _G.order
        out = []
        for k, nonce in zip(self._order, nonces, strict=True):
            value = evaluate_polynomial(self._coefficients, k, q)
            if value == 0:  # pragma: no cover - excluded by the zero-share check
                raise ProtocolError("dealt a zero share", check="refresh-result")
            fs_sid = proof_session_id(self.session_id, self._rid, k)
            out.append(sch.respond(nonce, value, session_id=fs_sid, prover_id=self.me))
        return out

    def _round3_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 7, output (our confirmation round): check the shares dealt to us and
        every Π_sch. Failed checks do not abort here: they become a round-4 complaint,
        so every party learns of the fault and nobody finishes."""
        received: dict[int, MsgRound3] = {}
        opened = self._commits.openings

        def decode(sender: int) -> None:
            received[sender] = MsgRound3.decode(
                messages[sender].payload, sender=sender, parties=self.n
            )

        def check_feldman(sender: int) -> None:
            expected = self._images[sender][self.me]
            if _G.mul_base(received[sender].share) != expected:
                raise ProtocolError(
                    f"party {sender}'s share for us does not match its Feldman commitments",
                    blame=(sender,),
                    check="refresh-feldman",
                )

        def check_sch(sender: int) -> None:
            d = opened[sender]
            for pos, k in enumerate(self._order):
                with proof_errors(sender, f"Π_sch for its share of party {k}", sch.PROOF_NAME):
                    sch.verify_response(
                        self._images[sender][k],
                        sch.SchCommitment(d.sch_commitments[pos]),
                        received[sender].psi[pos],
                        session_id=proof_session_id(self.session_id, self._rid, k),
                        prover_id=sender,
                    )

        try:
            stage(messages, decode)
            stage(received, check_feldman)
            stage(received, check_sch)
        except ProtocolError as exc:
            self._pending = exc
            self._erase()
            self.send(4, None, MsgComplaint(tuple(sorted(exc.blame))).encode())
            return
        shares = {j: m.share for j, m in received.items()}
        shares[self.me] = self._own_share
        self._own_share = 0
        self._new = self._refreshed(shares)
        self._confirm = confirmation_hash(
            self.session_id,
            self._rid,
            self.t,
            self._new.public_key,
            self._new.public_shares,
        )
        self.send(4, None, MsgConfirm(self._confirm).encode())

    def _refreshed(self, shares: dict[int, int]) -> KeyShare:
        """``x_i' = x_i + sum_j f_j(i)``, ``X_k' = X_k + sum_j F_j(k)``, checked."""
        q = _G.order
        old = self._old
        dealers = sorted(self._commits.openings)
        secret = (old.secret + sum(shares.values())) % q
        public = {
            k: _G.sum(
                [
                    old.public_shares[k],
                    *(self._images[i][k] for i in dealers),
                ]
            )
            for k in self._order
        }
        fail = ProtocolError(
            "refresh produced a zero or inconsistent share", check="refresh-result"
        )
        if secret == 0 or any(p.is_identity() for p in public.values()):
            raise fail
        # The public key is unchanged: the first and the last t new public shares
        # (and so, the polynomials being of degree t - 1, any t) interpolate to X.
        for ids in (self._order[: self.t], self._order[-self.t :]):
            got = _G.lincomb(
                [lagrange_coefficient(i, ids, q) for i in ids], [public[i] for i in ids]
            )
            if got != old.public_key:
                raise fail
        try:
            return KeyShare(self.me, secret, old.public_key, public, self.t)
        except InvalidParameters:  # pragma: no cover - x' G = X_me' by the Feldman checks
            raise fail from None

    def _round4_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Our confirmation round (not in Fig. 7): finish only if every party confirmed
        the same new public shares; otherwise name the complainers, the accused or the
        mismatched confirmations."""
        confirmations: dict[int, bytes] = {}
        complaints: dict[int, tuple[int, ...]] = {}

        def decode(sender: int) -> None:
            msg = decode_round4(messages[sender].payload, sender=sender, parties=self._all)
            if isinstance(msg, MsgConfirm):
                confirmations[sender] = msg.confirmation
            else:
                complaints[sender] = msg.accused

        stage(messages, decode)
        if self._pending is not None:
            raise self._pending
        if complaints:
            blamed: set[int] = set()
            for complainer, accused in sorted(complaints.items()):
                if self.me in accused:
                    blamed.add(complainer)  # we know our own messages were good
                else:
                    blamed.update((complainer, *accused))
            raise ProtocolError(
                "; ".join(
                    f"party {c} complains about party/parties {list(a)}"
                    for c, a in sorted(complaints.items())
                ),
                blame=tuple(sorted(blamed)),
                check="refresh-complaint",
            )
        mismatched = tuple(s for s in sorted(confirmations) if confirmations[s] != self._confirm)
        if mismatched:
            raise ProtocolError(
                f"parties {list(mismatched)} confirmed different new public shares",
                blame=mismatched,
                check="refresh-confirmation",
            )
        new, self._new = self._new, None
        if new is None:  # pragma: no cover - set in round 3 whenever no complaint
            raise ProtocolError("no refreshed share", check="refresh-result")
        self.finish(new)
