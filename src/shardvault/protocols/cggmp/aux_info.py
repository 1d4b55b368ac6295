"""CGGMP24 auxiliary-info generation (the aux-info part of the paper's "Auxiliary
Info & Key Refresh" figure; Lockness ``cggmp21`` ``key_refresh/aux_only.rs``), as a
sans-I/O state machine with echo broadcast and identifiable abort.

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

Every failed check aborts with ``ProtocolError(blame=..., check=...)``; checks are
done in a fixed order (stage by stage, senders in ascending order) so every
honest party names the same party for the same fault. Proof failures carry the
proof's own check name (``"pi-mod: ..."``, ``"pi-fac: ..."``, ``"pi-prm: ..."``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shardvault.crypto.hashing import Transcript
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
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.crypto.zk.params import DEFAULT_LEVEL, SecurityLevel
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError
from shardvault.protocols.cggmp.common import (
    HASH,
    check_echo_vectors,
    echo_entry_hash,
    stage,
)
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine

__all__ = [
    "MAX_MODULUS_BITS",
    "PROTOCOL",
    "AuxInfo",
    "AuxInfoGen",
    "AuxInfoPublic",
    "commitment",
    "proof_session_id",
]

PROTOCOL = "cggmp24/aux-info"
#: Largest modulus accepted from a peer (bounds the verifier's work).
MAX_MODULUS_BITS = 8192
_RHO = 32  # 2 kappa bits of shared randomness (kappa = 128 for the hash)
_U = 32  # commitment blinding
_PUBLIC_VERSION = 1


def _u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def commitment(
    session_id: bytes,
    party: int,
    params: RingPedersenParams,
    prm_proof: bytes,
    rho: bytes,
    u: bytes,
) -> bytes:
    """``V_i = H(sid, i, N_i, s_i, t_i, Π_prm, rho_i, u_i)`` (injective transcript)."""
    tr = Transcript("shardvault/cggmp24/aux-info/commit/v1")
    tr.append("session-id", session_id)
    tr.append_int("party", party)
    tr.append_int("N", params.n)
    tr.append_int("s", params.s)
    tr.append_int("t", params.t)
    tr.append("pi-prm", prm_proof)
    tr.append("rho", rho)
    tr.append("u", u)
    return hashlib.sha256(tr.encode()).digest()


def proof_session_id(session_id: bytes, rho: bytes) -> bytes:
    """The Fiat-Shamir session id of Π_mod and Π_fac: ``sid || rho``."""
    return session_id + rho


def _entry_hash(session_id: bytes, round_: int, sender: int, payload: bytes) -> bytes:
    return echo_entry_hash(
        "shardvault/cggmp24/aux-info/echo/v1", session_id, round_, sender, payload
    )


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
        count, pos = data[1], 2
        if count == 0:
            raise InvalidEncoding("aux info: no parties")
        parties: dict[int, RingPedersenParams] = {}
        last = 0
        for _ in range(count):
            if len(data) < pos + 5:
                raise InvalidEncoding("aux info: truncated")
            j = data[pos]
            size = int.from_bytes(data[pos + 1 : pos + 5], "big")
            pos += 5
            if not last < j <= MAX_PARTICIPANTS:
                raise InvalidEncoding("aux info: party indices must be ascending in 1..255")
            if size > 3 * (MAX_MODULUS_BITS // 8) or len(data) < pos + size:
                raise InvalidEncoding("aux info: truncated or oversized parameters")
            params = RingPedersenParams.from_bytes(data[pos : pos + size], min_bits=min_bits)
            pos += size
            if params.n.bit_length() > MAX_MODULUS_BITS:
                raise InvalidEncoding("aux info: modulus too large")
            if any(p.n == params.n for p in parties.values()):
                raise InvalidEncoding("aux info: two parties share a modulus")
            parties[j] = params
            last = j
        if pos != len(data):
            raise InvalidEncoding("aux info: trailing bytes")
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


@dataclass(frozen=True, slots=True)
class _Reveal:
    params: RingPedersenParams
    prm_bytes: bytes
    rho: bytes
    u: bytes


class AuxInfoGen(StateMachine[AuxInfo]):
    """One party of a CGGMP24 aux-info generation among parties ``1..n``.

    ``primes``: this party's two distinct safe primes ``(p, q)``; when None, two
    fresh 1536-bit safe primes are generated (slow: seconds to a minute).
    ``min_bits``: TEST ONLY. The smallest modulus accepted (own and peers');
    protocol use keeps the default 3072 (SECURITY.md item 11).
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
        min_bits: int = PROTOCOL_MIN_BITS,
        level: SecurityLevel = DEFAULT_LEVEL,
        rng: Rng = OS_RNG,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_PARTICIPANTS:
            raise InvalidParameters(f"aux info needs 2..{MAX_PARTICIPANTS} parties")
        check_indices([me], n)
        if isinstance(min_bits, bool) or not isinstance(min_bits, int) or min_bits < 64:
            raise InvalidParameters("min_bits must be an integer >= 64")
        # Claim the session id before the (possibly slow) key material is made.
        super().__init__(session_id, me, registry)
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
        self.min_bits = min_bits
        self._all = set(range(1, n + 1))
        self._sk = sk
        self._rp = rp
        prm_proof = prm.prove(
            rp, session_id=session_id, prover_id=me, level=level, rng=rng
        ).to_bytes(sk.n, level=level)
        self._reveal = _Reveal(rp.params, prm_proof, rng.token_bytes(_RHO), rng.token_bytes(_U))
        self._reveals: dict[int, _Reveal] = {me: self._reveal}
        self._payloads: dict[int, dict[int, bytes]] = {1: {}, 2: {}}
        self._rho = b""
        v = commitment(session_id, me, rp.params, prm_proof, self._reveal.rho, self._reveal.u)
        self._payloads[1][me] = v
        self.send(1, None, v)

    def __repr__(self) -> str:
        return f"AuxInfoGen(me={self.me}, n={self.n}, round={self.round})"

    def expected_senders(self, round_: int) -> set[int]:
        return self._all - {self.me}

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        if round_ == 1:
            self._round1(messages)
        elif round_ == 2:
            self._round2(messages)
        else:
            self._round3(messages)

    # -- echo ----------------------------------------------------------------------
    def _echo_vector(self, round_: int) -> bytes:
        box = self._payloads[round_]
        return b"".join(_entry_hash(self.session_id, round_, j, box[j]) for j in sorted(self._all))

    def _check_echoes(self, round_: int, claims: dict[int, bytes]) -> None:
        """See :func:`common.check_echo_vectors`."""
        check_echo_vectors(
            me=self.me,
            order=sorted(self._all),
            mine=self._echo_vector(round_),
            claims=claims,
            round_=round_,
            check="aux-echo-broadcast",
        )

    # -- round handlers --------------------------------------------------------------
    def _round1(self, messages: dict[int, ProtocolMessage]) -> None:
        def check(sender: int) -> None:
            if len(messages[sender].payload) != HASH:
                raise ProtocolError(
                    f"round-1 commitment of party {sender} has the wrong size",
                    blame=(sender,),
                    check="aux-round1-decode",
                )

        stage(messages, check)
        for sender, msg in messages.items():
            self._payloads[1][sender] = msg.payload
        r = self._reveal
        params = r.params.to_bytes()
        payload = b"".join(
            (self._echo_vector(1), _u32(len(params)), params, r.prm_bytes, r.rho, r.u)
        )
        self._payloads[2][self.me] = payload
        self.send(2, None, payload)

    def _decode_round2(self, sender: int, data: bytes) -> tuple[bytes, _Reveal]:
        def fail(why: str) -> ProtocolError:
            return ProtocolError(
                f"round-2 payload of party {sender} is malformed: {why}",
                blame=(sender,),
                check="aux-round2-decode",
            )

        echo_len = self.n * HASH
        if len(data) < echo_len + 4:
            raise fail("too short")
        echo = data[:echo_len]
        size = int.from_bytes(data[echo_len : echo_len + 4], "big")
        pos = echo_len + 4
        if size > 3 * (MAX_MODULUS_BITS // 8) or len(data) < pos + size:
            raise fail("parameters truncated or oversized")
        try:
            params = RingPedersenParams.from_bytes(data[pos : pos + size])
        except InvalidEncoding as exc:
            raise fail(exc.message) from None
        pos += size
        prm_len = prm.PrmProof.encoded_length(params.n, level=self.level)
        if len(data) != pos + prm_len + _RHO + _U:
            raise fail("wrong length")
        prm_bytes = data[pos : pos + prm_len]
        pos += prm_len
        rho, u = data[pos : pos + _RHO], data[pos + _RHO :]
        return echo, _Reveal(params, prm_bytes, rho, u)

    def _round2(self, messages: dict[int, ProtocolMessage]) -> None:
        decoded: dict[int, _Reveal] = {}
        echoes: dict[int, bytes] = {}

        def decode(sender: int) -> None:
            echoes[sender], decoded[sender] = self._decode_round2(sender, messages[sender].payload)

        stage(messages, decode)
        for sender, msg in messages.items():
            self._payloads[2][sender] = msg.payload
        self._check_echoes(1, echoes)

        def check_commitment(sender: int) -> None:
            r = decoded[sender]
            expected = self._payloads[1][sender]
            if commitment(self.session_id, sender, r.params, r.prm_bytes, r.rho, r.u) != expected:
                raise ProtocolError(
                    f"party {sender}'s reveal does not match its round-1 commitment",
                    blame=(sender,),
                    check="aux-commitment",
                )

        def check_size(sender: int) -> None:
            n_j = decoded[sender].params.n
            try:
                check_modulus_size(n_j, self.min_bits)
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
            r = decoded[sender]
            with _proof_errors(sender, "Π_prm", "pi-prm"):
                proof = prm.PrmProof.from_bytes(r.prm_bytes, r.params.n, level=self.level)
                prm.verify(
                    r.params,
                    proof,
                    session_id=self.session_id,
                    prover_id=sender,
                    level=self.level,
                )

        stage(decoded, check_commitment)
        stage(decoded, check_size)
        self._reveals.update(decoded)
        self._check_distinct_moduli()
        stage(decoded, check_prm)
        rho = bytearray(_RHO)
        for j in sorted(self._reveals):
            for k, b in enumerate(self._reveals[j].rho):
                rho[k] ^= b
        self._rho = bytes(rho)
        fs_sid = proof_session_id(self.session_id, self._rho)
        level, rng = self.level, self._rng
        mod_proof = mod.prove(self._sk, session_id=fs_sid, prover_id=self.me, level=level, rng=rng)
        mod_bytes = mod_proof.to_bytes(self._sk.n, level=level)
        echo2 = self._echo_vector(2)
        for j in sorted(self._all - {self.me}):
            verifier = self._reveals[j].params
            fac_proof = fac.prove(
                self._sk, verifier, session_id=fs_sid, prover_id=self.me, level=level, rng=rng
            )
            fac_bytes = fac_proof.to_bytes(self._sk.n, verifier.n, level=level)
            self.send(3, j, echo2 + mod_bytes + fac_bytes)

    def _check_distinct_moduli(self) -> None:
        """Refuse a modulus held by two parties. The blame is deterministic: a party
        that copied OUR modulus is blamed by us; otherwise every holder but the
        lowest-indexed one is blamed (the same answer at every honest party)."""
        holders: dict[int, list[int]] = {}
        for j in sorted(self._reveals):
            holders.setdefault(self._reveals[j].params.n, []).append(j)
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
        n_me = self._sk.n
        echo_len = self.n * HASH
        echoes: dict[int, bytes] = {}
        proofs: dict[int, tuple[bytes, bytes]] = {}

        def decode(sender: int) -> None:
            n_j = self._reveals[sender].params.n
            mod_len = mod.ModProof.encoded_length(n_j, level=self.level)
            fac_len = fac.FacProof.encoded_length(n_j, n_me, level=self.level)
            data = messages[sender].payload
            if len(data) != echo_len + mod_len + fac_len:
                raise ProtocolError(
                    f"round-3 payload of party {sender} has the wrong size",
                    blame=(sender,),
                    check="aux-round3-decode",
                )
            echoes[sender] = data[:echo_len]
            proofs[sender] = (data[echo_len : echo_len + mod_len], data[echo_len + mod_len :])

        stage(messages, decode)
        self._check_echoes(2, echoes)
        fs_sid = proof_session_id(self.session_id, self._rho)
        mine = self._rp.params

        def check_mod(sender: int) -> None:
            n_j = self._reveals[sender].params.n
            with _proof_errors(sender, "Π_mod", "pi-mod"):
                proof = mod.ModProof.from_bytes(proofs[sender][0], n_j, level=self.level)
                mod.verify(n_j, proof, session_id=fs_sid, prover_id=sender, level=self.level)

        def check_fac(sender: int) -> None:
            n_j = self._reveals[sender].params.n
            with _proof_errors(sender, "Π_fac", "pi-fac"):
                proof = fac.FacProof.from_bytes(proofs[sender][1], n_j, n_me, level=self.level)
                fac.verify(n_j, mine, proof, session_id=fs_sid, prover_id=sender, level=self.level)

        stage(proofs, check_mod)
        stage(proofs, check_fac)
        public = AuxInfoPublic({j: self._reveals[j].params for j in sorted(self._reveals)})
        self.finish(AuxInfo(self.me, self._sk, self._rp, public))


@contextmanager
def _proof_errors(sender: int, name: str, prefix: str) -> Iterator[None]:
    """Turn a failed or malformed proof of ``sender`` into a ProtocolError blaming it,
    with the proof's own check name (``"pi-mod: z_i^N = y_i"``, ``"pi-fac: encoding"``)."""
    try:
        yield
    except InvalidProof as exc:
        raise ProtocolError(
            f"party {sender}'s {name} does not verify: {exc.message}",
            blame=(sender,),
            check=exc.check,
        ) from None
    except InvalidEncoding as exc:
        raise ProtocolError(
            f"party {sender}'s {name} is malformed: {exc.message}",
            blame=(sender,),
            check=f"{prefix}: encoding",
        ) from None
