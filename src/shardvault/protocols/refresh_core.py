"""A zero-constant re-deal of Shamir shares (proactive refresh) over any prime-order
group, as a sans-I/O state machine with echo broadcast, round-3 dealings sealed to
per-session ephemeral keys, a confirmation round and identifiable abort.

CGGMP24 key refresh (:mod:`.cggmp.refresh`, secp256k1, Π_sch) and FROST refresh
(:mod:`.frost.refresh`, Ed25519 or secp256k1, a Schnorr proof over the ciphersuite)
are this machine with their own group, proof of knowledge, domains and output type.
It is the share half of CGGMP24's "Auxiliary Info. & Key Refresh in Three Rounds"
(ePrint 2021/060, 2024-10-21 revision, Fig. 7) carried over to Shamir shares, and
what ZF frost's ``refresh`` module does for FROST keys (a dealt polynomial with zero
constant term added to every share, ``frost-core/src/keys/refresh.rs``), with the
commit-reveal, proofs and confirmation of Fig. 7 instead of a trusted dealer.
Rounds 1-2 are :mod:`.cggmp.commit_reveal`'s; the messages :mod:`.refresh_messages`.

Every party ``i`` (all ``n``; threshold ``t >= 2``; ``sid`` the session id) samples
``f_i(x) = a_i1 x + ... + a_i(t-1) x^(t-1)`` with ZERO constant term, Feldman
commitments ``C_ik = a_ik G`` (``C_i0``, the identity, is never sent), so the public
image of a dealt share is ``F_i(j) = sum_{k>=1} j^k C_ik``; one proof-of-knowledge
nonce ``B_ij`` per dealt share (Fig. 7: one Π_sch ``psi_i^j`` per dealt ``X_i^j``);
and a fresh X25519 key pair ``(e_i, E_i)`` for this session only.

1. broadcast: ``V_i = H(sid, i, key, rid_i, E_i, C_i, B_i, u_i)``.
2. broadcast: the echo vector of round 1 and the opening ``(rid_i, u_i, E_i, C_i,
   B_i)``. Receivers check the echo, the opening against ``V_j`` and that no dealt
   image ``F_j(k)`` is the identity; ``rid = xor rid_j``.
3. point-to-point to each ``j``: ``f_i(j)`` and the ``n`` proof responses
   (challenges bind ``(sid, rid, k)`` and the prover), HPKE-sealed (RFC 9180 base
   mode, :mod:`shardvault.crypto.hpke`) to ``E_j`` with AAD ``(protocol, sid, i, j)``.
   This is Fig. 7's encryption of the dealt shares under the recipient's NEW key
   (there its new Paillier key): a thief of the recipient's long-term keys who
   recorded the broker's traffic cannot open it, because ``e_j`` is dropped as soon as
   round 3 is processed. Receivers open (a box that does not open blames its sender,
   ``<prefix>-dealing-decrypt``), check Feldman (``f_i(j) G = F_i(j)``) and every
   proof. Then ``x_j' = x_j + sum_i f_i(j)``, ``X_k' = X_k + sum_i F_i(k)``; the new
   public shares must interpolate to the unchanged ``X``.
4. broadcast: ``OK || H(sid, rid, t, X, X_1'..X_n')`` or a complaint naming the
   senders at fault. A party finishes only when every other party confirmed the same
   hash; otherwise the complainer blames the accused (with the failed check's name),
   an accused party blames the complainer, third parties name both
   (``<prefix>-complaint``); a mismatched hash blames its sender
   (``<prefix>-confirmation``).

The caller may erase the old share only once every party has finished (a party that
equivocates in round 4 can make some parties abort while others finish).

Check names (``<prefix>`` is ``refresh`` for CGGMP24, ``frost-refresh`` for FROST):
``-round1-decode``, ``-round2-decode``, ``-echo-broadcast``, ``-commitment``,
``-zero-share``, ``-dealing-decrypt``, ``-round3-decode``, ``-feldman``, the proof's
own check, ``-round4-decode``, ``-complaint``, ``-confirmation`` and (no blame;
negligible probability) ``-result``.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from shardvault.crypto import hpke
from shardvault.crypto.groups import Group, Point
from shardvault.crypto.hashing import Transcript
from shardvault.crypto.rng import Rng
from shardvault.crypto.shamir import (
    derive_public_share,
    evaluate_polynomial,
    feldman_commit,
    lagrange_coefficient,
)
from shardvault.errors import DecryptionError, ProtocolError
from shardvault.protocols.commit_reveal import CommitReveal
from shardvault.protocols.common import proof_errors, stage, xor_all
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine
from shardvault.protocols.refresh_messages import (
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

__all__ = [
    "ProofOfKnowledge",
    "RefreshSpec",
    "ZeroShareRefresh",
    "confirmation_hash",
    "dealing_aad",
    "dealt_image",
    "open_dealing",
    "proof_session_id",
    "seal_dealing",
]

T = TypeVar("T")


class ProofOfKnowledge(Protocol):
    """A Schnorr-style proof of knowledge of ``x`` with ``X = x G``, committed first
    (``A`` in round 1) and answered later (``z`` in round 3, once ``rid`` is known)."""

    #: Prefix of the check name of a malformed proof (``"<name>: encoding"``).
    name: str

    def commit(self, rng: Rng) -> tuple[object, Point]:
        """A single-use nonce and its commitment ``A``."""

    def respond(self, nonce: object, x: int, *, session_id: bytes, prover: int) -> int:
        """The response ``z`` (consumes ``nonce``)."""

    def verify(self, X: Point, A: Point, z: int, *, session_id: bytes, prover: int) -> None:
        """Raise ``InvalidProof`` (with the proof's own check name) unless valid."""


@dataclass(frozen=True, slots=True)
class RefreshSpec:
    """What distinguishes one refresh protocol from another: its group, proof of
    knowledge, check-name prefix and transcript domain (versioned, e.g.
    ``shardvault/cggmp24/refresh/v2``; every hash and the sealing bind it)."""

    group: Group
    pok: ProofOfKnowledge
    prefix: str
    domain: str

    def check(self, name: str) -> str:
        return f"{self.prefix}-{name}"


def proof_session_id(spec: RefreshSpec, session_id: bytes, rid: bytes, recipient: int) -> bytes:
    """Proof-of-knowledge session id for the share dealt to ``recipient``: an injective
    encoding of ``(sid, rid, recipient)`` (the proof binds the prover)."""
    tr = Transcript(f"{spec.domain}/pok-sid")
    tr.append("session-id", session_id)
    tr.append("rid", rid)
    tr.append_int("recipient", recipient)
    return tr.encode()


def dealt_image(group: Group, feldman: Sequence[Point], index: int) -> Point:
    """``F(index) = sum_{k>=1} index^k C_k`` for commitments ``C_1..C_(t-1)``
    (``C_0`` = identity), i.e. ``index * sum_{k>=0} index^k C_(k+1)``."""
    return derive_public_share(group, feldman, index) * index


def confirmation_hash(
    spec: RefreshSpec,
    session_id: bytes,
    rid: bytes,
    threshold: int,
    public_key: Point,
    shares: Mapping[int, Point],
) -> bytes:
    """``H(sid, rid, t, X, X_1'..X_n')``: what every party confirms in round 4."""
    tr = Transcript(f"{spec.domain}/confirm")
    tr.append("session-id", session_id)
    tr.append("rid", rid)
    tr.append_int("threshold", threshold)
    tr.append("X", public_key.encode())
    ids = sorted(shares)
    tr.extend("ids", (i.to_bytes(1, "big") for i in ids))
    tr.extend("X_j'", (shares[i].encode() for i in ids))
    return hashlib.sha256(tr.encode()).digest()


def dealing_aad(protocol: str, session_id: bytes, sender: int, recipient: int) -> bytes:
    """The AAD of a sealed round-3 dealing: ``(protocol, sid, sender, recipient)``, so a
    box cannot be moved to another protocol, session or pair of parties."""
    tr = Transcript("shardvault/refresh/dealing-aad/v1")
    tr.append("protocol", protocol.encode())
    tr.append("session-id", session_id)
    tr.append_int("sender", sender)
    tr.append_int("recipient", recipient)
    return tr.encode()


def seal_dealing(
    spec: RefreshSpec,
    recipient_key: bytes,
    plaintext: bytes,
    *,
    protocol: str,
    session_id: bytes,
    sender: int,
    recipient: int,
    rng: Rng,
) -> bytes:
    """HPKE-seal a round-3 dealing to the recipient's ephemeral key ``E_j``. The
    sender's HPKE ephemeral key is fresh from ``rng`` for this one box."""
    return hpke.seal_with_ephemeral(
        recipient_key,
        plaintext,
        info=f"{spec.domain}/dealing".encode(),
        aad=dealing_aad(protocol, session_id, sender, recipient),
        ephemeral=hpke.HpkeKeyPair.generate(rng),
    )


def open_dealing(
    spec: RefreshSpec, key_pair: hpke.HpkeKeyPair, sealed: bytes, msg: ProtocolMessage
) -> bytes:
    """Open the dealing ``msg`` carries (``DecryptionError`` if it does not open with
    ``key_pair`` under ``msg``'s protocol, session, sender and recipient)."""
    if msg.recipient is None:
        raise DecryptionError("a dealing has one recipient")
    return hpke.open_sealed(
        key_pair,
        sealed,
        info=f"{spec.domain}/dealing".encode(),
        aad=dealing_aad(msg.protocol, msg.session_id, msg.sender, msg.recipient),
    )


class ZeroShareRefresh(StateMachine[T]):
    """Party ``me`` of a zero-constant re-deal of a ``threshold``-of-``n`` sharing of
    the key ``public_key`` (``public_shares`` holds every party's ``X_j``; ``secret`` is
    ``x_me``). ``key`` digests the key's public data (bound into every commitment, so
    everybody refreshes the same key). A subclass builds its result from the new
    share and public shares (:meth:`_output`). Secrets are dropped on abort and the
    ephemeral key as soon as round 3 is processed."""

    last_round = 4
    broadcast_rounds = frozenset({1, 2, 4})

    def __init__(
        self,
        session_id: bytes,
        me: int,
        registry: SessionRegistry,
        *,
        spec: RefreshSpec,
        threshold: int,
        public_key: Point,
        public_shares: Mapping[int, Point],
        secret: int,
        key: bytes,
        rng: Rng,
    ) -> None:
        super().__init__(session_id, me, registry)
        self._spec = spec
        g = spec.group
        self.t = threshold
        self.n = len(public_shares)
        self._public_key = public_key
        self._old_public = dict(public_shares)
        self._old_secret = secret
        self._order = sorted(public_shares)
        self._all = set(self._order)
        self._key = key
        self._rng = rng
        # Fig. 7, round 1: f_i with f_i(0) = 0, one proof nonce per dealt share, rid_i,
        # u_i, and this session's ephemeral decryption key.
        self._coefficients: list[int] = [0] + [g.random_scalar(rng) for _ in range(self.t - 1)]
        nonces = [spec.pok.commit(rng) for _ in self._order]
        self._nonces: list[object] = [n for n, _ in nonces]
        rid, u = rng.token_bytes(RID_SIZE), rng.token_bytes(U_SIZE)
        self._ephemeral: hpke.HpkeKeyPair | None = hpke.HpkeKeyPair.generate(rng)
        self._mine = RefreshDecommitment(
            rid,
            u,
            self._ephemeral.public_key,
            tuple(feldman_commit(g, self._coefficients[1:])),
            tuple(a for _, a in nonces),
        )
        domain = f"{spec.domain}/commit"
        self._commits = CommitReveal(
            protocol=spec.prefix,
            echo_domain=f"{spec.domain}/echo",
            session_id=session_id,
            me=self.me,
            order=self._order,
            opening=self._mine,
            commit=lambda j, d: commitment(domain, session_id, j, key, d),
        )
        #: ``_images[i][k] = F_i(k)``, the public image of the share ``i`` deals ``k``.
        self._images: dict[int, dict[int, Point]] = {}
        self._rid = b""
        self._own_share = 0
        self._new: T | None = None
        self._confirm = b""
        self._pending: ProtocolError | None = None
        self.send(1, None, self._commits.own_commitment().encode())

    @abstractmethod
    def _output(self, secret: int, public_shares: dict[int, Point]) -> T:
        """The result: this party's new share and every party's new public share."""

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
        self._ephemeral, self._old_secret = None, 0

    def _fail(self, message: str) -> ProtocolError:
        return ProtocolError(message, check=self._spec.check("result"))

    # -- round handlers --------------------------------------------------------------
    def _round1_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 7, round 2: after every ``V_j``, broadcast the echo and the opening."""
        self._commits.commitments_received(messages)
        self.send(2, None, MsgRound2(self._commits.echo_vector(), self._mine).encode())

    def _round2_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 7, round 3: check the echoes, the openings and that nobody deals a zero
        share; derive ``rid``; seal each party its share and every proof response."""
        spec, g = self._spec, self._spec.group
        decoded: dict[int, MsgRound2] = {}

        def decode(sender: int) -> None:
            decoded[sender] = MsgRound2.decode(
                messages[sender].payload,
                sender=sender,
                parties=self.n,
                threshold=self.t,
                group=g,
                check=spec.check("round2-decode"),
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
            images = {k: dealt_image(g, openings[sender].feldman, k) for k in self._order}
            self._images[sender] = images
            if any(p.is_identity() for p in images.values()):
                raise ProtocolError(
                    f"party {sender} deals a zero share",
                    blame=(sender,),
                    check=spec.check("zero-share"),
                )

        stage(openings, check_images)
        self._commits.accept(openings)
        self._images[self.me] = {k: dealt_image(g, self._mine.feldman, k) for k in self._order}
        opened = self._commits.openings
        self._rid = xor_all((opened[j].rid for j in sorted(opened)), RID_SIZE)
        proofs = tuple(self._schnorr_responses())
        for j in self._order:
            if j != self.me:
                share = evaluate_polynomial(self._coefficients, j, g.order)
                sealed = seal_dealing(
                    spec,
                    opened[j].ephemeral_key,
                    MsgRound3(share, proofs).encode(g),
                    protocol=self.protocol,
                    session_id=self.session_id,
                    sender=self.me,
                    recipient=j,
                    rng=self._rng,
                )
                self.send(3, j, sealed, secret=True)
        self._own_share = evaluate_polynomial(self._coefficients, self.me, g.order)
        self._coefficients = []  # erased: only f_i(me) is still needed

    def _schnorr_responses(self) -> list[int]:
        """A proof response for every dealt share ``f_i(k)`` (consumes the nonces)."""
        nonces, self._nonces = self._nonces, []
        q = self._spec.group.order
        out = []
        for k, nonce in zip(self._order, nonces, strict=True):
            value = evaluate_polynomial(self._coefficients, k, q)
            if value == 0:  # pragma: no cover - excluded by the zero-share check
                raise self._fail("dealt a zero share")
            fs_sid = proof_session_id(self._spec, self.session_id, self._rid, k)
            out.append(self._spec.pok.respond(nonce, value, session_id=fs_sid, prover=self.me))
        return out

    def _round3_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 7, output (our confirmation round): open the dealings with the
        ephemeral key (then drop it), check the shares and every proof. Failed checks
        do not abort here: they become a round-4 complaint, so every party learns of
        the fault and nobody finishes."""
        spec, g = self._spec, self._spec.group
        received: dict[int, MsgRound3] = {}
        plaintexts: dict[int, bytes] = {}
        opened = self._commits.openings
        ephemeral, self._ephemeral = self._ephemeral, None  # erased after this round

        def unseal(sender: int) -> None:
            try:
                if ephemeral is None:
                    raise DecryptionError("no ephemeral key")
                plaintexts[sender] = open_dealing(
                    spec, ephemeral, messages[sender].payload, messages[sender]
                )
            except DecryptionError:
                raise ProtocolError(
                    f"party {sender}'s sealed dealing for us does not open",
                    blame=(sender,),
                    check=spec.check("dealing-decrypt"),
                ) from None

        def decode(sender: int) -> None:
            received[sender] = MsgRound3.decode(
                plaintexts[sender],
                sender=sender,
                parties=self.n,
                group=g,
                check=spec.check("round3-decode"),
            )

        def check_feldman(sender: int) -> None:
            if g.mul_base(received[sender].share) != self._images[sender][self.me]:
                raise ProtocolError(
                    f"party {sender}'s share for us does not match its Feldman commitments",
                    blame=(sender,),
                    check=spec.check("feldman"),
                )

        def check_proofs(sender: int) -> None:
            d = opened[sender]
            for pos, k in enumerate(self._order):
                with proof_errors(sender, f"proof for its share of party {k}", spec.pok.name):
                    spec.pok.verify(
                        self._images[sender][k],
                        d.sch_commitments[pos],
                        received[sender].psi[pos],
                        session_id=proof_session_id(spec, self.session_id, self._rid, k),
                        prover=sender,
                    )

        try:
            stage(messages, unseal)
            stage(plaintexts, decode)
            stage(received, check_feldman)
            stage(received, check_proofs)
        except ProtocolError as exc:
            self._pending = exc
            self._erase()
            self.send(4, None, MsgComplaint(tuple(sorted(exc.blame))).encode())
            return
        shares = {j: m.share for j, m in received.items()}
        shares[self.me] = self._own_share
        self._own_share = 0
        secret, public = self._refreshed(shares)
        self._old_secret = 0  # the caller keeps the old share until every party finished
        self._new = self._output(secret, public)
        self._confirm = confirmation_hash(
            spec, self.session_id, self._rid, self.t, self._public_key, public
        )
        self.send(4, None, MsgConfirm(self._confirm).encode())

    def _refreshed(self, shares: dict[int, int]) -> tuple[int, dict[int, Point]]:
        """``x_i' = x_i + sum_j f_j(i)``, ``X_k' = X_k + sum_j F_j(k)``, checked."""
        g = self._spec.group
        q = g.order
        dealers = sorted(self._commits.openings)
        # Constant time (the C library's scalar field; docs/security.md item 21).
        secret = g.scalars.sum([self._old_secret, *shares.values()])
        public = {
            k: g.sum([self._old_public[k], *(self._images[i][k] for i in dealers)])
            for k in self._order
        }
        fail = self._fail("refresh produced a zero or inconsistent share")
        if secret == 0 or any(p.is_identity() for p in public.values()):
            raise fail
        if g.mul_base(secret) != public[self.me]:  # pragma: no cover - Feldman checks
            raise fail
        # The public key is unchanged: the first and the last t new public shares
        # (and so, the polynomials being of degree t - 1, any t) interpolate to X.
        for ids in (self._order[: self.t], self._order[-self.t :]):
            got = g.lincomb(
                [lagrange_coefficient(i, ids, q) for i in ids], [public[i] for i in ids]
            )
            if got != self._public_key:
                raise fail
        return secret, public

    def _round4_received(self, messages: dict[int, ProtocolMessage]) -> None:
        """Our confirmation round (not in Fig. 7): finish only if every party confirmed
        the same new public shares; otherwise name the complainers, the accused or the
        mismatched confirmations."""
        spec = self._spec
        confirmations: dict[int, bytes] = {}
        complaints: dict[int, tuple[int, ...]] = {}

        def decode(sender: int) -> None:
            msg = decode_round4(
                messages[sender].payload,
                sender=sender,
                parties=self._all,
                check=spec.check("round4-decode"),
            )
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
                check=spec.check("complaint"),
            )
        mismatched = tuple(s for s in sorted(confirmations) if confirmations[s] != self._confirm)
        if mismatched:
            raise ProtocolError(
                f"parties {list(mismatched)} confirmed different new public shares",
                blame=mismatched,
                check=spec.check("confirmation"),
            )
        new, self._new = self._new, None
        if new is None:  # pragma: no cover - set in round 3 whenever no complaint
            raise self._fail("no refreshed share")
        self.finish(new)
