"""CGGMP24 auxiliary-info generation (the aux-info part of the paper's "Auxiliary
Info. & Key Refresh in Three Rounds", ePrint 2021/060, 2024-10-21 revision, Fig. 7;
Lockness ``cggmp21`` ``key_refresh/aux_only.rs``), as a sans-I/O state machine with
echo broadcast and identifiable abort.

As in the 2024 paper and Lockness, each party has ONE modulus ``N_i = p_i q_i``
(two 1536-bit safe primes) that serves both as its Paillier modulus and as its
ring-Pedersen modulus ``N̂_i``; ``(s_i, t_i)`` are ring-Pedersen bases over it.

Rounds (parties 1..n, ``sid`` the session id):

1. broadcast: ``V_i = H(sid, i, N_i, s_i, t_i, Π_prm, rho_i, u_i)``, a hash
   commitment; Π_prm (``s_i`` in ``<t_i>``) is bound to ``(sid, i)``.
2. broadcast: the echo vector of round 1 (one hash per party of the round-1
   broadcast received from it) and the opening ``(N_i, s_i, t_i, Π_prm, rho_i,
   u_i)``. Receivers check the echo, the commitment, ``N_j >= 3072`` bits, that no
   two parties share a modulus, and Π_prm. Then ``rho = rho_1 xor ... xor rho_n``.
3. point-to-point to each ``j``: the echo vector of round 2, Π_mod for ``N_i`` and
   Π_fac for ``N_i`` against ``j``'s ring-Pedersen parameters, both bound to
   ``(sid || rho, i)``. Receivers check the echo and both proofs, then finish.

Rounds 1-2 are :mod:`.commit_reveal`'s; the messages are :mod:`.aux_info_messages`.
The proofs' repetitions and the smallest modulus accepted come from ``level``.

Every failed check aborts with ``ProtocolError(blame=..., check=...)``; checks are
done in a fixed order (stage by stage, senders in ascending order) so every
honest party names the same party for the same fault. Proof failures carry the
proof's own check name (``"pi-mod: ..."``, ``"pi-fac: ..."``, ``"pi-prm: ..."``).
"""

from __future__ import annotations

from dataclasses import dataclass

from shardvault.crypto.paillier import (
    PROTOCOL_MIN_BITS,
    PaillierPublicKey,
    PaillierSecretKey,
    check_modulus_size,
    generate_keypair,
    keypair_from_primes,
)
from shardvault.crypto.ring_pedersen import (
    RingPedersenParams,
    RingPedersenSecret,
    generate_ring_pedersen,
)
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.shamir import MAX_PARTICIPANTS, check_indices
from shardvault.crypto.zk import fac, mod, prm
from shardvault.crypto.zk.codec import Reader
from shardvault.crypto.zk.params import DEFAULT_LEVEL, SecurityLevel
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError
from shardvault.protocols.cggmp.aux_info_messages import (
    MAX_MODULUS_BITS,
    RHO_SIZE,
    U_SIZE,
    AuxInfoDecommitment,
    MsgRound2,
    MsgRound3,
    commitment,
)
from shardvault.protocols.commit_reveal import CommitReveal
from shardvault.protocols.common import proof_errors, stage, xor_all
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine

__all__ = [
    "PROTOCOL",
    "AuxInfo",
    "AuxInfoGeneration",
    "AuxInfoPublic",
    "proof_session_id",
]

PROTOCOL = "cggmp24/aux-info"
_PUBLIC_VERSION = 1


def _u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def proof_session_id(session_id: bytes, rho: bytes) -> bytes:
    """The Fiat-Shamir session id of Π_mod and Π_fac: ``sid || rho``."""
    return session_id + rho


# -- result ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuxInfoPublic:
    """Every party's public aux info ``(N_j, s_j, t_j)``; ``N_j`` is both its Paillier
    and its ring-Pedersen modulus."""

    parties: dict[int, RingPedersenParams]

    def params(self, j: int) -> RingPedersenParams:
        """Party ``j``'s ring-Pedersen parameters ``(N̂_j, s_j, t_j)``."""
        return self.parties[j]

    def paillier(self, j: int) -> PaillierPublicKey:
        """Party ``j``'s Paillier public key ``N_j``."""
        return PaillierPublicKey(self.parties[j].n)

    def to_bytes(self) -> bytes:
        """``version (1) || count (1) || (index (1) || u32 len || N || s || t)*``,
        indices ascending; ``N, s, t`` as in ``RingPedersenParams.to_bytes``."""
        out = [bytes([_PUBLIC_VERSION, len(self.parties)])]
        for j in sorted(self.parties):
            body = self.parties[j].to_bytes()
            out.append(bytes([j]) + _u32(len(body)) + body)
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes, *, min_bits: int = PROTOCOL_MIN_BITS) -> AuxInfoPublic:
        """Inverse of ``to_bytes``; ``InvalidEncoding`` on anything malformed: wrong
        version, indices not strictly ascending in 1..255, a modulus under
        ``min_bits`` or over ``MAX_MODULUS_BITS`` bits, invalid ``s``/``t``, two
        parties with the same modulus, truncated or trailing bytes."""
        if not isinstance(data, bytes) or len(data) < 2:
            raise InvalidEncoding("aux info: too short")
        if data[0] != _PUBLIC_VERSION:
            raise InvalidEncoding("aux info: unknown version")
        r = Reader(data[2:], None, "aux info")
        count = data[1]
        if count == 0:
            raise InvalidEncoding("aux info: no parties")
        parties: dict[int, RingPedersenParams] = {}
        last = 0
        for _ in range(count):
            if r.remaining < 5:
                raise InvalidEncoding("aux info: truncated")
            j = r.byte()
            size = r.u32()
            if not last < j <= MAX_PARTICIPANTS:
                raise InvalidEncoding("aux info: party indices must be ascending in 1..255")
            if size > 3 * (MAX_MODULUS_BITS // 8) or r.remaining < size:
                raise InvalidEncoding("aux info: truncated or oversized parameters")
            params = RingPedersenParams.from_bytes(r.take(size), min_bits=min_bits)
            if params.n.bit_length() > MAX_MODULUS_BITS:
                raise InvalidEncoding("aux info: modulus too large")
            if any(p.n == params.n for p in parties.values()):
                raise InvalidEncoding("aux info: two parties share a modulus")
            parties[j] = params
            last = j
        r.finish()
        return cls(parties)


@dataclass(frozen=True, slots=True, repr=False)
class AuxInfo:
    """One party's aux info: its Paillier secret key and ring-Pedersen trapdoor (same
    modulus) and every party's public ``(N_j, s_j, t_j)``. ``repr`` hides secrets."""

    me: int
    paillier_key: PaillierSecretKey
    ring_pedersen: RingPedersenSecret
    public: AuxInfoPublic

    def __repr__(self) -> str:
        return (
            f"AuxInfo(me={self.me}, parties={sorted(self.public.parties)}, "
            f"{self.paillier_key.public_key.bits}-bit N, secrets hidden)"
        )


# -- state machine ----------------------------------------------------------------


class AuxInfoGeneration(StateMachine[AuxInfo]):
    """One party of a CGGMP24 aux-info generation among parties ``1..n``.

    ``primes``: this party's two distinct safe primes ``(p, q)``; when None, two
    fresh 1536-bit safe primes are generated (slow: seconds to a minute).
    ``level``: the proofs' parameters and ``level.min_modulus_bits``, the smallest
    modulus accepted (own and peers'; protocol use keeps the default 3072,
    docs/security.md item 11; tests lower it). Randomness comes from ``rng``.
    """

    protocol = PROTOCOL
    last_round = 3
    broadcast_rounds = frozenset({1, 2})

    def __init__(
        self,
        session_id: bytes,
        me: int,
        n: int,
        registry: SessionRegistry,
        *,
        primes: tuple[int, int] | None = None,
        level: SecurityLevel = DEFAULT_LEVEL,
        rng: Rng = OS_RNG,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_PARTICIPANTS:
            raise InvalidParameters(f"aux info needs 2..{MAX_PARTICIPANTS} parties")
        check_indices([me], n)
        if not isinstance(level, SecurityLevel):
            raise InvalidParameters("level must be a SecurityLevel")
        min_bits = level.min_modulus_bits
        # Claim the session id before the (possibly slow) key material is made.
        super().__init__(session_id, me, registry)
        # Fig. 7, round 1: N_i from two safe primes, (s_i, t_i) over it, Π_prm, rho_i, u_i.
        if primes is None:
            _, sk = generate_keypair(max(PROTOCOL_MIN_BITS, min_bits), rng=rng)
        else:
            if len(primes) != 2:
                raise InvalidParameters("primes must be a pair (p, q) of safe primes")
            _, sk = keypair_from_primes(primes[0], primes[1], check_primes=False)
        check_modulus_size(sk.n, min_bits)
        if sk.n.bit_length() > MAX_MODULUS_BITS:
            raise InvalidParameters(f"modulus over {MAX_MODULUS_BITS} bits")
        # Checks that p and q are safe primes (hence Blum), as Π_mod and Π_fac need.
        rp = generate_ring_pedersen(sk.p, sk.q, check_safe=True, rng=rng)
        self.level = level
        self._rng = rng
        self.n = n
        self._all = set(range(1, n + 1))
        self._sk = sk
        self._rp = rp
        prm_proof = prm.prove(
            rp, session_id=session_id, prover_id=me, level=level, rng=rng
        ).to_bytes(sk.n, level=level)
        self._mine = AuxInfoDecommitment(
            rp.params, prm_proof, rng.token_bytes(RHO_SIZE), rng.token_bytes(U_SIZE)
        )
        self._commits = CommitReveal(
            protocol="aux",
            echo_domain="shardvault/cggmp24/aux-info/echo/v1",
            session_id=session_id,
            me=me,
            order=sorted(self._all),
            opening=self._mine,
            commit=lambda j, d: commitment(session_id, j, d.params, d.prm_bytes, d.rho, d.u),
        )
        self._rho = b""
        self.send(1, None, self._commits.own_commitment().encode())

    def __repr__(self) -> str:
        return f"AuxInfoGeneration(me={self.me}, n={self.n}, round={self.round})"

    def expected_senders(self, round_: int) -> set[int]:
        return self._all - {self.me}

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        if round_ == 1:
            self._round1(messages)
        elif round_ == 2:
            self._round2(messages)
        else:
            self._round3(messages)

    # -- round handlers --------------------------------------------------------------
    def _round1(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 7, round 2: after every ``V_j``, broadcast the echo and the opening."""
        self._commits.commitments_received(messages)
        payload = MsgRound2(self._commits.echo_vector(), self._mine).encode()
        self._commits.echo.record(2, self.me, payload)
        self.send(2, None, payload)

    def _round2(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 7, round 3: check the echoes, the openings, the moduli and Π_prm;
        derive ``rho``; send each party Π_mod and Π_fac against its parameters."""
        decoded: dict[int, MsgRound2] = {}

        def decode(sender: int) -> None:
            decoded[sender] = MsgRound2.decode(
                messages[sender].payload, sender=sender, parties=self.n, level=self.level
            )

        stage(messages, decode)
        for sender, msg in messages.items():
            self._commits.echo.record(2, sender, msg.payload)
        openings = {j: m.decommitment for j, m in decoded.items()}
        self._commits.check_openings(
            {j: m.echo for j, m in decoded.items()},
            openings,
            "party {sender}'s reveal does not match its round-1 commitment",
        )

        def check_size(sender: int) -> None:
            n_j = openings[sender].params.n
            try:
                check_modulus_size(n_j, self.level.min_modulus_bits)
            except InvalidParameters as exc:
                raise ProtocolError(
                    f"party {sender}'s modulus is too small: {exc.message}",
                    blame=(sender,),
                    check="aux-modulus-size",
                ) from None
            if n_j.bit_length() > MAX_MODULUS_BITS:
                raise ProtocolError(
                    f"party {sender}'s modulus has {n_j.bit_length()} bits "
                    f"(over {MAX_MODULUS_BITS})",
                    blame=(sender,),
                    check="aux-modulus-size",
                )

        def check_prm(sender: int) -> None:
            d = openings[sender]
            with proof_errors(sender, "Π_prm", prm.PROOF_NAME):
                proof = prm.PrmProof.from_bytes(d.prm_bytes, d.params.n, level=self.level)
                prm.verify(
                    d.params,
                    proof,
                    session_id=self.session_id,
                    prover_id=sender,
                    level=self.level,
                )

        stage(openings, check_size)
        self._commits.accept(openings)
        self._check_distinct_moduli()
        stage(openings, check_prm)
        opened = self._commits.openings
        self._rho = xor_all((opened[j].rho for j in sorted(opened)), RHO_SIZE)
        fs_sid = proof_session_id(self.session_id, self._rho)
        level, rng = self.level, self._rng
        mod_proof = mod.prove(self._sk, session_id=fs_sid, prover_id=self.me, level=level, rng=rng)
        mod_bytes = mod_proof.to_bytes(self._sk.n, level=level)
        echo2 = self._commits.echo.vector(2)
        for j in sorted(self._all - {self.me}):
            verifier = opened[j].params
            fac_proof = fac.prove(
                self._sk, verifier, session_id=fs_sid, prover_id=self.me, level=level, rng=rng
            )
            fac_bytes = fac_proof.to_bytes(self._sk.n, verifier.n, level=level)
            self.send(3, j, MsgRound3(echo2, mod_bytes, fac_bytes).encode())

    def _check_distinct_moduli(self) -> None:
        """Refuse a modulus held by two parties. The blame is deterministic: a party
        that copied OUR modulus is blamed by us; otherwise every holder but the
        lowest-indexed one is blamed (the same answer at every honest party)."""
        opened = self._commits.openings
        holders: dict[int, list[int]] = {}
        for j in sorted(opened):
            holders.setdefault(opened[j].params.n, []).append(j)
        blamed: set[int] = set()
        groups = []
        for group in holders.values():
            if len(group) > 1:
                groups.append(group)
                blamed.update([j for j in group if j != self.me] if self.me in group else group[1:])
        if groups:
            raise ProtocolError(
                f"parties {groups} use the same modulus (reused modulus refused)",
                blame=tuple(sorted(blamed)),
                check="aux-modulus-reused",
            )

    def _round3(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 7, output: check the echoes of round 2, then every Π_mod and Π_fac
        (against our own ring-Pedersen parameters)."""
        n_me = self._sk.n
        opened = self._commits.openings
        decoded: dict[int, MsgRound3] = {}

        def decode(sender: int) -> None:
            decoded[sender] = MsgRound3.decode(
                messages[sender].payload,
                sender=sender,
                parties=self.n,
                n_sender=opened[sender].params.n,
                n_receiver=n_me,
                level=self.level,
            )

        stage(messages, decode)
        self._commits.echo.check(2, {j: m.echo for j, m in decoded.items()})
        fs_sid = proof_session_id(self.session_id, self._rho)
        mine = self._rp.params

        def check_mod(sender: int) -> None:
            n_j = opened[sender].params.n
            with proof_errors(sender, "Π_mod", mod.PROOF_NAME):
                proof = mod.ModProof.from_bytes(decoded[sender].mod_proof, n_j, level=self.level)
                mod.verify(n_j, proof, session_id=fs_sid, prover_id=sender, level=self.level)

        def check_fac(sender: int) -> None:
            n_j = opened[sender].params.n
            with proof_errors(sender, "Π_fac", fac.PROOF_NAME):
                proof = fac.FacProof.from_bytes(
                    decoded[sender].fac_proof, n_j, n_me, level=self.level
                )
                fac.verify(n_j, mine, proof, session_id=fs_sid, prover_id=sender, level=self.level)

        stage(decoded, check_mod)
        stage(decoded, check_fac)
        public = AuxInfoPublic({j: opened[j].params for j in sorted(opened)})
        self.finish(AuxInfo(self.me, self._sk, self._rp, public))
