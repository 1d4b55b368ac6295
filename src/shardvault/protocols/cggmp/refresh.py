"""CGGMP24 proactive key-share refresh on secp256k1: new shares of the SAME key,
as a sans-I/O state machine with echo broadcast, a confirmation round and
identifiable abort (SECURITY.md items 2-4 and 10).

This is the share-refresh part of the paper's "Auxiliary Info & Key Refresh"
figure (ePrint 2021/060 rev. 2024; cf. Lockness ``cggmp21``
``key_refresh/non_threshold.rs``), carried over to Shamir (threshold) shares the
way :mod:`shardvault.protocols.cggmp.keygen` carries over key generation. The
Paillier / ring-Pedersen half of that figure is :mod:`.aux_info`.

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
from dataclasses import dataclass

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

__all__ = [
    "PROTOCOL",
    "CggmpRefresh",
    "RefreshDecommitment",
    "commitment",
    "confirmation_hash",
    "dealt_image",
    "key_digest",
    "proof_session_id",
]

PROTOCOL = "cggmp24/refresh"
_G = SECP256K1
_RID = 32
_U = 32
_POINT = _G.element_size  # 33
_SCALAR = _G.scalar_size  # 32
_OK = 0
_COMPLAIN = 1


@dataclass(frozen=True, slots=True)
class RefreshDecommitment:
    """The round-2 opening of ``V_i``: ``(rid_i, u_i, C_i1..C_i(t-1), B_i1..B_in)``.

    ``feldman`` omits ``C_i0`` (the identity: the polynomial has no constant term);
    ``sch_commitments[k]`` is the Π_sch nonce commitment for the share dealt to the
    ``k``-th party in ascending index order. All public.
    """

    rid: bytes
    u: bytes
    feldman: tuple[Point, ...]
    sch_commitments: tuple[Point, ...]

    def to_bytes(self) -> bytes:
        return (
            self.rid
            + self.u
            + b"".join(c.encode() for c in self.feldman)
            + b"".join(b.encode() for b in self.sch_commitments)
        )

    @staticmethod
    def encoded_length(threshold: int, participants: int) -> int:
        return _RID + _U + (threshold - 1 + participants) * _POINT

    @classmethod
    def from_bytes(cls, data: bytes, threshold: int, participants: int) -> RefreshDecommitment:
        """Exact length; every point on the curve and not the identity."""
        if len(data) != cls.encoded_length(threshold, participants):
            raise InvalidEncoding("refresh decommitment: wrong length")
        rid, u = data[:_RID], data[_RID : _RID + _U]
        pos = _RID + _U
        points = [
            _G.decode_point(data[pos + k * _POINT : pos + (k + 1) * _POINT])
            for k in range(threshold - 1 + participants)
        ]
        return cls(rid, u, tuple(points[: threshold - 1]), tuple(points[threshold - 1 :]))


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


def commitment(session_id: bytes, party: int, key: bytes, d: RefreshDecommitment) -> bytes:
    """``V_i = H(sid, i, key, rid_i, C_i, B_i, u_i)`` (injective transcript)."""
    tr = Transcript("shardvault/cggmp24/refresh/commit/v1")
    tr.append("session-id", session_id)
    tr.append_int("party", party)
    tr.append("key", key)
    tr.append("rid", d.rid)
    tr.extend("C", (c.encode() for c in d.feldman))
    tr.extend("B", (b.encode() for b in d.sch_commitments))
    tr.append("u", d.u)
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


def _entry_hash(session_id: bytes, round_: int, sender: int, payload: bytes) -> bytes:
    return echo_entry_hash(
        "shardvault/cggmp24/refresh/echo/v1", session_id, round_, sender, payload
    )


class CggmpRefresh(StateMachine[KeyShare]):
    """Party ``key_share.index`` of a refresh of ``key_share``'s key among ALL its
    parties. Result: a new :class:`KeyShare` (same index, threshold, public key and
    party set). ``repr`` hides every secret; secrets are dropped on abort."""

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
        self._coefficients: list[int] = [0] + [_G.random_scalar(rng) for _ in range(self.t - 1)]
        self._nonces: list[sch.SchNonce] = [sch.commit(rng=rng) for _ in self._order]
        self._mine = RefreshDecommitment(
            rng.token_bytes(_RID),
            rng.token_bytes(_U),
            tuple(feldman_commit(_G, self._coefficients[1:])),
            tuple(nonce.commitment.A for nonce in self._nonces),
        )
        self._decommitments: dict[int, RefreshDecommitment] = {self.me: self._mine}
        #: ``_images[i][k] = F_i(k)``, the public image of the share ``i`` deals ``k``.
        self._images: dict[int, dict[int, Point]] = {}
        self._round1: dict[int, bytes] = {}
        self._rid = b""
        self._own_share = 0
        self._new: KeyShare | None = None
        self._confirm = b""
        self._pending: ProtocolError | None = None
        v_i = commitment(session_id, self.me, self._key, self._mine)
        self._round1[self.me] = v_i
        self.send(1, None, v_i)

    def __repr__(self) -> str:
        return f"CggmpRefresh(me={self.me}, t={self.t}, n={self.n}, round={self.round})"

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

    # -- echo ----------------------------------------------------------------------
    def _echo_vector(self) -> bytes:
        return b"".join(_entry_hash(self.session_id, 1, j, self._round1[j]) for j in self._order)

    def _check_echoes(self, claims: dict[int, bytes]) -> None:
        """See :func:`common.check_echo_vectors`."""
        check_echo_vectors(
            me=self.me,
            order=self._order,
            mine=self._echo_vector(),
            claims=claims,
            round_=1,
            check="refresh-echo-broadcast",
        )

    # -- round handlers --------------------------------------------------------------
    def _round1_received(self, messages: dict[int, ProtocolMessage]) -> None:
        def check(sender: int) -> None:
            if len(messages[sender].payload) != HASH:
                raise ProtocolError(
                    f"round-1 commitment of party {sender} has the wrong size",
                    blame=(sender,),
                    check="refresh-round1-decode",
                )

        stage(messages, check)
        for sender, msg in messages.items():
            self._round1[sender] = msg.payload
        self.send(2, None, self._echo_vector() + self._mine.to_bytes())

    def _round2_received(self, messages: dict[int, ProtocolMessage]) -> None:
        echo_len = self.n * HASH
        echoes: dict[int, bytes] = {}
        decoded: dict[int, RefreshDecommitment] = {}

        def decode(sender: int) -> None:
            data = messages[sender].payload
            if len(data) != echo_len + RefreshDecommitment.encoded_length(self.t, self.n):
                raise ProtocolError(
                    f"round-2 payload of party {sender} has the wrong size",
                    blame=(sender,),
                    check="refresh-round2-decode",
                )
            try:
                decoded[sender] = RefreshDecommitment.from_bytes(data[echo_len:], self.t, self.n)
            except InvalidEncoding as exc:
                raise ProtocolError(
                    f"round-2 payload of party {sender} is malformed: {exc.message}",
                    blame=(sender,),
                    check="refresh-round2-decode",
                ) from None
            echoes[sender] = data[:echo_len]

        stage(messages, decode)
        self._check_echoes(echoes)

        def check_commitment(sender: int) -> None:
            if (
                commitment(self.session_id, sender, self._key, decoded[sender])
                != self._round1[sender]
            ):
                raise ProtocolError(
                    f"party {sender}'s decommitment does not match its round-1 commitment "
                    "(or it refreshes another key)",
                    blame=(sender,),
                    check="refresh-commitment",
                )

        def check_images(sender: int) -> None:
            images = {k: dealt_image(decoded[sender].feldman, k) for k in self._order}
            self._images[sender] = images
            if any(p.is_identity() for p in images.values()):
                raise ProtocolError(
                    f"party {sender} deals a zero share",
                    blame=(sender,),
                    check="refresh-zero-share",
                )

        stage(decoded, check_commitment)
        stage(decoded, check_images)
        self._decommitments.update(decoded)
        self._images[self.me] = {k: dealt_image(self._mine.feldman, k) for k in self._order}
        rid = bytearray(_RID)
        for j in sorted(self._decommitments):
            for k, b in enumerate(self._decommitments[j].rid):
                rid[k] ^= b
        self._rid = bytes(rid)
        proofs = b"".join(z.to_bytes() for z in self._schnorr_responses())
        q = _G.order
        for j in self._order:
            if j != self.me:
                share = evaluate_polynomial(self._coefficients, j, q)
                self.send(3, j, _G.encode_scalar(share) + proofs, secret=True)
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
        """Failed checks do not abort here: they become a round-4 complaint, so every
        party learns of the fault and nobody finishes."""
        shares: dict[int, int] = {}
        responses: dict[int, list[sch.SchResponse]] = {}
        expected_len = _SCALAR + self.n * _SCALAR

        def decode(sender: int) -> None:
            data = messages[sender].payload
            try:
                if len(data) != expected_len:
                    raise InvalidEncoding("wrong length")
                shares[sender] = _G.decode_scalar(data[:_SCALAR])
                responses[sender] = [
                    sch.SchResponse.from_bytes(data[_SCALAR * (k + 1) : _SCALAR * (k + 2)])
                    for k in range(self.n)
                ]
            except InvalidEncoding as exc:
                raise ProtocolError(
                    f"round-3 payload of party {sender} is malformed: {exc.message}",
                    blame=(sender,),
                    check="refresh-round3-decode",
                ) from None

        def check_feldman(sender: int) -> None:
            expected = self._images[sender][self.me]
            if _G.mul_base(shares[sender]) != expected:
                raise ProtocolError(
                    f"party {sender}'s share for us does not match its Feldman commitments",
                    blame=(sender,),
                    check="refresh-feldman",
                )

        def check_sch(sender: int) -> None:
            d = self._decommitments[sender]
            for pos, k in enumerate(self._order):
                try:
                    sch.verify_response(
                        self._images[sender][k],
                        sch.SchCommitment(d.sch_commitments[pos]),
                        responses[sender][pos],
                        session_id=proof_session_id(self.session_id, self._rid, k),
                        prover_id=sender,
                    )
                except InvalidProof as exc:
                    raise ProtocolError(
                        f"party {sender}'s Π_sch for its share of party {k} does not verify: "
                        f"{exc.message}",
                        blame=(sender,),
                        check=exc.check,
                    ) from None

        try:
            stage(messages, decode)
            stage(shares, check_feldman)
            stage(responses, check_sch)
        except ProtocolError as exc:
            self._pending = exc
            self._erase()
            self.send(4, None, bytes([_COMPLAIN]) + bytes(sorted(exc.blame)))
            return
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
        self.send(4, None, bytes([_OK]) + self._confirm)

    def _refreshed(self, shares: dict[int, int]) -> KeyShare:
        q = _G.order
        old = self._old
        dealers = sorted(self._decommitments)
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
        confirmations: dict[int, bytes] = {}
        complaints: dict[int, tuple[int, ...]] = {}

        def decode(sender: int) -> None:
            p = messages[sender].payload
            if len(p) == 1 + HASH and p[0] == _OK:
                confirmations[sender] = p[1:]
                return
            accused = tuple(p[1:])
            if (
                len(p) >= 2
                and p[0] == _COMPLAIN
                and list(accused) == sorted(set(accused))
                and set(accused) <= self._all - {sender}
            ):
                complaints[sender] = accused
                return
            raise ProtocolError(
                f"round-4 payload of party {sender} is malformed",
                blame=(sender,),
                check="refresh-round4-decode",
            )

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
