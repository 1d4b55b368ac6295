"""CGGMP24 presigning (ePrint 2021/060 as revised in 2024, the "Presigning" figure;
cross-checked with entropyxyz/synedrion ``protocols/interactive_signing.rs`` and
Lockness ``cggmp21/src/signing.rs``), as a sans-I/O state machine over a signer
set ``S`` with identifiable abort.

Party indices are key-share indices; aux info must cover every signer. Each signer
``i`` works on its additive share ``w_i = lambda_i x_i`` (``sum w_i = x``), with
``W_j = lambda_j X_j``. ``N_i`` is i's Paillier modulus and ring-Pedersen modulus.
``sid`` is the session id; proof session ids are ``sid || "/" || tag``.

1. (direct, to each j; the first part identical for all, echoed in round 2)
   ``k_i, gamma_i, y_i, a_i, b_i <- F_q``; ``K_i = enc_i(k_i; rho_i)``,
   ``G_i = enc_i(gamma_i; nu_i)``, El-Gamal key ``Y_i = y_i G``, commitments
   ``A_i = (a_i G, a_i Y_i + k_i G)``, ``B_i = (b_i G, b_i Y_i + gamma_i G)``;
   payload ``K_i || G_i || Y_i || A_i1 || A_i2 || B_i1 || B_i2 || psi0 || psi1`` with
   ``psi0 = Π_enc-elg(K_i; Y_i, A_i1, A_i2)``, ``psi1 = Π_enc-elg(G_i; Y_i, B_i1,
   B_i2)`` against j's ring-Pedersen parameters.
2. (direct, to each j) echo of the round-1 broadcast parts, ``Gamma_i = gamma_i G``,
   ``Π_elog(B_i1, B_i2, Y_i, Gamma_i; h = G)`` (identical for all, echoed in round 3),
   then ``D_{j,i} = gamma_i K_j + enc_j(-beta_{i,j})``, ``F_{j,i} = enc_i(-beta_{i,j})``,
   ``D^_{j,i} = w_i K_j + enc_j(-beta^_{i,j})``, ``F^_{j,i} = enc_i(-beta^_{i,j})``
   (``beta, beta^ <- +-2^ell'``), and Π_aff-g for ``(D, F, Gamma_i)`` and for
   ``(D^, F^, W_i)`` against j's ring-Pedersen parameters (``y = -beta`` as in the
   Lockness specification: see docs/cggmp.md).
3. (broadcast) echo of the round-2 broadcast parts, ``delta_i``,
   ``Delta_i = k_i Gamma``, ``S_i = chi_i Gamma`` and ``Π_elog(A_i1, A_i2, Y_i,
   Delta_i; h = Gamma)``, where ``Gamma = sum Gamma_j``,
   ``delta_i = gamma_i k_i + sum_j (alpha_{i,j} + beta_{i,j})``,
   ``chi_i = w_i k_i + sum_j (alpha^_{i,j} + beta^_{i,j})`` (``alpha`` decrypted from
   ``D_{i,j}``).

Output: ``delta = sum delta_j`` with the checks ``delta G = sum Delta_j`` (never
skipped; SECURITY.md item 16) and ``sum S_j = delta X``; ``R = delta^-1 Gamma``.

4. (broadcast, ONLY when an output check fails: identification) echo of round 3, the
   MtA ciphertexts sent to and received from each peer, Π_aff-g* per peer (they
   carry ``gamma_i`` / ``w_i`` and the beta in ``F``) and Π_dec (``delta_i`` /
   ``chi_i`` is the plaintext mod q of ``K_i^x * prod_j D_{i,j} F_{j,i}^-1``); every
   party checks all of them and aborts with the failed output check's name and the
   cheaters as blame. See docs/cggmp.md, "Identification round".

Every failed check aborts with ``ProtocolError(blame=..., check=...)``; checks run
stage by stage, senders ascending; proof failures carry the proof's own check
(``"pi-enc-elg: ..."``, ``"pi-aff-g: ..."``, ``"pi-elog: ..."``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import gmpy2

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.paillier import PaillierPublicKey, powmod_sec
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk import affg, affgstar, dec, elog, encelg
from shardvault.crypto.zk.checks import sample_pm as _sample_pm
from shardvault.crypto.zk.codec import Reader, encode_unsigned, unsigned_width
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.crypto.zk.params import DEFAULT_LEVEL, SecurityLevel
from shardvault.errors import InvalidEncoding, InvalidParameters, NonceReused, ProtocolError
from shardvault.protocols.cggmp.aux_info import AuxInfo
from shardvault.protocols.cggmp.common import (
    HASH,
    check_echo_vectors,
    echo_entry_hash,
    stage,
)
from shardvault.protocols.cggmp.keyshare import KeyShare, additive_shares
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine

__all__ = [
    "PROTOCOL",
    "Presign",
    "Presignature",
    "PresignaturePublic",
    "layout_round1",
    "layout_round2",
    "layout_round3",
    "layout_round4",
]

PROTOCOL = "cggmp24/presign"
_G = SECP256K1
_Q = SECP256K1.order
_PT = SECP256K1.element_size  # 33
_SC = SECP256K1.scalar_size  # 32
_ELOG = elog.ElogProof.encoded_length()

# Proof session-id tags (one per proof in the figure).
TAG_PSI0 = b"/psi0"  # Π_enc-elg for K_i
TAG_PSI1 = b"/psi1"  # Π_enc-elg for G_i
TAG_PSI = b"/psi"  # Π_aff-g for (gamma_i, K_j)
TAG_PSI_HAT = b"/psi-hat"  # Π_aff-g for (w_i, K_j)
TAG_ELOG_GAMMA = b"/psi-elog-gamma"  # Π_elog for Gamma_i (round 2)
TAG_ELOG_DELTA = b"/psi-elog-delta"  # Π_elog for Delta_i (round 3)
# Identification round (round 4, only after a failed output check).
TAG_ID_AFF = {1: b"/id-delta-aff-g-star", 2: b"/id-chi-aff-g-star"}  # Π_aff-g* per peer
TAG_ID_DEC = {1: b"/id-delta-dec", 2: b"/id-chi-dec"}  # Π_dec for delta_i / chi_i

#: Round-4 modes: which output check failed.
MODE_DELTA = 1
MODE_CHI = 2
CHECK_DELTA = "presign: delta G = Delta"
CHECK_CHI = "presign: sum S_j = delta X"


# -- results -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PresignaturePublic:
    """The public part of a presignature, identical at every signer: what the
    combiner needs to check each partial signature (``sigma_j Gamma = m Delta_j +
    r S_j``) and the final signature."""

    session_id: bytes
    signers: tuple[int, ...]
    public_key: Point
    R: Point
    Gamma: Point
    Delta: dict[int, Point]
    S: dict[int, Point]

    @property
    def r(self) -> int:
        """``r = x(R) mod q``."""
        return int.from_bytes(self.R.data[1:], "big") % _Q


class Presignature:
    """Signer ``me``'s presignature ``(R, k_i, chi_i)`` plus the public part. Used at
    most once: ``consume()`` (called by ``sign.sign_share``) marks it spent in memory;
    a persistent pool must also mark it durably BEFORE a partial signature leaves
    (SECURITY.md item 15). ``repr`` hides ``k_i`` and ``chi_i``."""

    __slots__ = ("_chi", "_consumed", "_k", "me", "public")

    def __init__(self, me: int, k_i: int, chi_i: int, public: PresignaturePublic) -> None:
        if not (0 < k_i < _Q and 0 <= chi_i < _Q):
            raise InvalidParameters("presignature scalars out of range")
        self.me = me
        self._k = k_i
        self._chi = chi_i
        self.public = public
        self._consumed = False

    @property
    def R(self) -> Point:
        return self.public.R

    @property
    def r(self) -> int:
        return self.public.r

    @property
    def k_i(self) -> int:
        return self._k

    @property
    def chi_i(self) -> int:
        return self._chi

    @property
    def consumed(self) -> bool:
        return self._consumed

    def consume(self) -> tuple[int, int]:
        """``(k_i, chi_i)``, once; a second call raises ``NonceReused``."""
        if self._consumed:
            raise NonceReused("presignature already used", check="presignature-reuse")
        self._consumed = True
        k, chi = self._k, self._chi
        self._k = self._chi = 0
        return k, chi

    def __repr__(self) -> str:
        state = "consumed" if self._consumed else "fresh"
        return (
            f"Presignature(me={self.me}, signers={list(self.public.signers)}, "
            f"R={self.public.R.encode().hex()}, {state}, secrets hidden)"
        )


# -- encoding helpers ------------------------------------------------------------------


def _ct_width(n: int) -> int:
    return unsigned_width(n * n)


def layout_round1(
    n_sender: int, n_receiver: int, level: SecurityLevel = DEFAULT_LEVEL
) -> list[tuple[str, int]]:
    """Field names and byte lengths of a round-1 payload from a sender with modulus
    ``n_sender`` to a receiver with modulus ``n_receiver`` (tests use it too)."""
    cw = _ct_width(n_sender)
    pl = encelg.EncElgProof.encoded_length(n_sender, n_receiver, level=level)
    return [
        ("K", cw),
        ("G", cw),
        ("Y", _PT),
        ("A1", _PT),
        ("A2", _PT),
        ("B1", _PT),
        ("B2", _PT),
        ("psi0", pl),
        ("psi1", pl),
    ]


def layout_round2(
    count: int, n_sender: int, n_receiver: int, level: SecurityLevel = DEFAULT_LEVEL
) -> list[tuple[str, int]]:
    """Round-2 payload fields; ``count`` is the number of signers (echo length)."""
    aff = affg.AffgProof.encoded_length(n_receiver, n_sender, n_receiver, level=level)
    return [
        ("echo", count * HASH),
        ("Gamma", _PT),
        ("elog", _ELOG),
        ("D", _ct_width(n_receiver)),
        ("F", _ct_width(n_sender)),
        ("D_hat", _ct_width(n_receiver)),
        ("F_hat", _ct_width(n_sender)),
        ("psi", aff),
        ("psi_hat", aff),
    ]


def layout_round3(count: int) -> list[tuple[str, int]]:
    return [
        ("echo", count * HASH),
        ("delta", _SC),
        ("Delta", _PT),
        ("S", _PT),
        ("elog", _ELOG),
    ]


def layout_round4(
    signers: Sequence[int],
    sender: int,
    moduli: dict[int, int],
    level: SecurityLevel = DEFAULT_LEVEL,
) -> list[tuple[str, int]]:
    """Round-4 (identification) payload of ``sender``; ``moduli[j]`` is ``N_j``. Per
    peer ``j`` (ascending): the sender's MtA ciphertexts to ``j`` (``D_out``
    under ``N_j``, ``F_out`` under ``N_sender``), the one it received from ``j``
    (``D_in`` under ``N_sender``) and its Π_aff-g* for ``j``; then its Π_dec."""
    n_i = moduli[sender]
    out = [("mode", 1), ("echo", len(signers) * HASH)]
    for j in signers:
        if j == sender:
            continue
        n_j = moduli[j]
        out += [
            (f"D_out_{j}", _ct_width(n_j)),
            (f"F_out_{j}", _ct_width(n_i)),
            (f"D_in_{j}", _ct_width(n_i)),
            (f"aff_{j}", affgstar.AffgStarProof.encoded_length(n_j, n_i, level=level)),
        ]
    out.append(("dec", dec.DecProof.encoded_length(n_i, len(signers), level=level)))
    return out


def _split(data: bytes, layout: list[tuple[str, int]]) -> dict[str, bytes]:
    total = sum(n for _, n in layout)
    if len(data) != total:
        raise InvalidEncoding(f"expected {total} bytes, got {len(data)}")
    out, pos = {}, 0
    for name, n in layout:
        out[name] = data[pos : pos + n]
        pos += n
    return out


def _ct(data: bytes, key: PaillierPublicKey, what: str) -> int:
    c = int.from_bytes(data, "big")
    if not key.is_valid_ciphertext(c):
        raise InvalidEncoding(f"{what} is not in Z_(N^2)^*")
    return c


def _scalar(data: bytes) -> int:
    r = Reader(data, _SC, "scalar")
    return r.unsigned(_SC, _Q, "scalar")


def _entry_hash(session_id: bytes, round_: int, sender: int, payload: bytes) -> bytes:
    return echo_entry_hash(
        "shardvault/cggmp24/presign/echo/v1", session_id, round_, sender, payload
    )


# -- state machine ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class _MtaOut:
    """What this party sent to one peer ``j`` in round 2 and the secrets behind it,
    kept only for the identification round (until the presign ends)."""

    D: int  # D_{j,i} = K_j^gamma_i enc_j(-beta; s)
    F: int  # F_{j,i} = enc_i(-beta; r)
    beta: int
    s: int
    r: int
    D_hat: int
    F_hat: int
    beta_hat: int
    s_hat: int
    r_hat: int

    def __repr__(self) -> str:
        return "_MtaOut(hidden)"


@dataclass(frozen=True, slots=True)
class _Round4:
    mode: int
    echo: bytes
    d_out: dict[int, int]
    f_out: dict[int, int]
    d_in: dict[int, int]
    aff: dict[int, affgstar.AffgStarProof]
    dec_proof: dec.DecProof


@dataclass(frozen=True, slots=True)
class _Round1:
    K: int
    G: int
    Y: Point
    A1: Point
    A2: Point
    B1: Point
    B2: Point


class Presign(StateMachine[Presignature]):
    """One signer of a CGGMP24 presigning among ``signers`` (key-share indices)."""

    protocol = PROTOCOL
    #: Round 4 (identification, broadcast) runs only after a failed output check; an
    #: honest presign ends in round 3.
    last_round = 4
    broadcast_rounds = frozenset({3, 4})

    def __init__(
        self,
        session_id: bytes,
        me: int,
        signers: Sequence[int],
        key_share: KeyShare,
        aux: AuxInfo,
        registry: SessionRegistry,
        *,
        level: SecurityLevel = DEFAULT_LEVEL,
        rng: Rng = OS_RNG,
    ) -> None:
        ids = sorted(set(signers))
        if len(ids) != len(signers) or len(ids) < 2:
            raise InvalidParameters("signers must be at least two distinct parties")
        if key_share.index != me or aux.me != me:
            raise InvalidParameters("key share and aux info must belong to this party")
        if any(j not in aux.public.parties for j in ids):
            raise InvalidParameters("aux info does not cover every signer")
        if aux.paillier_key.n != aux.public.params(me).n:
            raise InvalidParameters("aux info: own modulus does not match the public table")
        w_i, big_w = additive_shares(key_share, ids)  # checks me in ids, threshold
        super().__init__(session_id, me, registry)
        self.level = level
        self._rng = rng
        self.signers = tuple(ids)
        self._peers = [j for j in ids if j != me]
        self._sk = aux.paillier_key
        self._aux = aux.public
        self._params_me = aux.public.params(me)
        self._public_key = key_share.public_key
        self._w = w_i
        self._W = big_w
        self._payloads: dict[int, dict[int, bytes]] = {1: {}, 2: {}, 3: {}}
        self._r1: dict[int, _Round1] = {}
        self._gammas: dict[int, Point] = {}
        self._beta: dict[int, int] = {}
        self._beta_hat: dict[int, int] = {}
        # Kept for the identification round only; dropped when the presign ends.
        self._mta_out: dict[int, _MtaOut] = {}
        self._mta_in: dict[int, tuple[int, int, int, int]] = {}  # D, F, D_hat, F_hat
        self._id_mode = 0

        # Round 1.
        self._k = _G.random_scalar(rng)
        self._gamma = _G.random_scalar(rng)
        y = _G.random_scalar(rng)
        self._a = _G.random_scalar(rng)
        self._b = _G.random_scalar(rng)
        big_k, rho = self._sk.encrypt_with_nonce(self._k, rng=rng)
        big_g, nu = self._sk.encrypt_with_nonce(self._gamma, rng=rng)
        big_y = _G.mul_base(y)
        mine = _Round1(
            big_k,
            big_g,
            big_y,
            _G.mul_base(self._a),
            big_y * self._a + _G.mul_base(self._k),
            _G.mul_base(self._b),
            big_y * self._b + _G.mul_base(self._gamma),
        )
        self._r1[me] = mine
        cw = _ct_width(self._sk.n)
        bcast = b"".join(
            (
                encode_unsigned(big_k, cw),
                encode_unsigned(big_g, cw),
                *(p.encode() for p in (mine.Y, mine.A1, mine.A2, mine.B1, mine.B2)),
            )
        )
        self._payloads[1][me] = bcast
        n_i = self._sk.n
        for j in self._peers:
            rp_j = self._aux.params(j)
            psi0 = encelg.prove(
                self._sk,
                rp_j,
                big_k,
                mine.Y,
                mine.A1,
                mine.A2,
                self._k,
                rho,
                self._a,
                session_id=session_id + TAG_PSI0,
                prover_id=me,
                level=level,
                rng=rng,
            )
            psi1 = encelg.prove(
                self._sk,
                rp_j,
                big_g,
                mine.Y,
                mine.B1,
                mine.B2,
                self._gamma,
                nu,
                self._b,
                session_id=session_id + TAG_PSI1,
                prover_id=me,
                level=level,
                rng=rng,
            )
            self.send(
                1,
                j,
                bcast
                + psi0.to_bytes(n_i, rp_j.n, level=level)
                + psi1.to_bytes(n_i, rp_j.n, level=level),
                secret=False,
            )

    def __repr__(self) -> str:
        return f"Presign(me={self.me}, signers={list(self.signers)}, round={self.round})"

    def expected_senders(self, round_: int) -> set[int]:
        return set(self._peers)

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        try:
            if round_ == 1:
                self._round1(messages)
            elif round_ == 2:
                self._round2(messages)
            elif round_ == 3:
                self._round3(messages)
            else:
                self._round4(messages)
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        """Drop every secret (and the identification state)."""
        self._k = self._chi = self._gamma = self._w = self._a = self._b = 0
        self._delta = 0
        self._beta.clear()
        self._beta_hat.clear()
        self._mta_out.clear()
        self._mta_in.clear()

    # -- echo ---------------------------------------------------------------------
    def _echo_vector(self, round_: int) -> bytes:
        box = self._payloads[round_]
        return b"".join(_entry_hash(self.session_id, round_, j, box[j]) for j in self.signers)

    def _check_echoes(self, round_: int, claims: dict[int, bytes]) -> None:
        """See :func:`common.check_echo_vectors`."""
        check_echo_vectors(
            me=self.me,
            order=list(self.signers),
            mine=self._echo_vector(round_),
            claims=claims,
            round_=round_,
            check="presign-echo-broadcast",
        )

    # -- round 1 -> 2 ------------------------------------------------------------------
    def _round1(self, messages: dict[int, ProtocolMessage]) -> None:
        n_i = self._sk.n
        proofs: dict[int, tuple[encelg.EncElgProof, encelg.EncElgProof]] = {}
        decoded: dict[int, _Round1] = {}

        def decode(j: int) -> None:
            pk_j = self._aux.paillier(j)
            with _decode_errors(j, 1):
                f = _split(messages[j].payload, layout_round1(pk_j.n, n_i, self.level))
                pts = [_G.decode_point(f[name]) for name in ("Y", "A1", "A2", "B1", "B2")]
                decoded[j] = _Round1(_ct(f["K"], pk_j, "K"), _ct(f["G"], pk_j, "G"), *pts)
            with _proof_errors(j, "Π_enc-elg", encelg.PROOF_NAME):
                proofs[j] = (
                    encelg.EncElgProof.from_bytes(f["psi0"], pk_j.n, n_i, level=self.level),
                    encelg.EncElgProof.from_bytes(f["psi1"], pk_j.n, n_i, level=self.level),
                )
            cw = _ct_width(pk_j.n)
            self._payloads[1][j] = messages[j].payload[: 2 * cw + 5 * _PT]

        def verify(j: int) -> None:
            r, (psi0, psi1) = decoded[j], proofs[j]
            pk_j = self._aux.paillier(j)
            with _proof_errors(j, "Π_enc-elg (psi0, K)", encelg.PROOF_NAME):
                encelg.verify(
                    pk_j,
                    self._params_me,
                    r.K,
                    r.Y,
                    r.A1,
                    r.A2,
                    psi0,
                    session_id=self.session_id + TAG_PSI0,
                    prover_id=j,
                    level=self.level,
                )
            with _proof_errors(j, "Π_enc-elg (psi1, G)", encelg.PROOF_NAME):
                encelg.verify(
                    pk_j,
                    self._params_me,
                    r.G,
                    r.Y,
                    r.B1,
                    r.B2,
                    psi1,
                    session_id=self.session_id + TAG_PSI1,
                    prover_id=j,
                    level=self.level,
                )

        stage(messages, decode)
        stage(decoded, verify)
        self._r1.update(decoded)

        me = self._r1[self.me]
        gamma_i = _G.mul_base(self._gamma)
        self._gammas[self.me] = gamma_i
        psi_elog = elog.prove(
            me.B1,
            me.B2,
            me.Y,
            gamma_i,
            self._gamma,
            self._b,
            h=_G.generator,
            session_id=self.session_id + TAG_ELOG_GAMMA,
            prover_id=self.me,
            rng=self._rng,
        )
        bcast2 = gamma_i.encode() + psi_elog.to_bytes()
        self._payloads[2][self.me] = bcast2
        echo1 = self._echo_vector(1)
        sk = self._sk
        n_i = sk.n
        big_w_i = self._W[self.me]
        for j in self._peers:
            pk_j = self._aux.paillier(j)
            rp_j = self._aux.params(j)
            n_j, n2_j = pk_j.n, pk_j.n_squared
            k_j = self._r1[j].K
            rng = self._rng
            beta = _sample_pm(1 << self.level.ell_prime, rng)
            beta_hat = _sample_pm(1 << self.level.ell_prime, rng)
            self._beta[j], self._beta_hat[j] = beta, beta_hat
            s, s_hat = pk_j.sample_nonce(rng), pk_j.sample_nonce(rng)
            r, r_hat = sk.public_key.sample_nonce(rng), sk.public_key.sample_nonce(rng)
            big_d = powmod_sec(k_j, self._gamma, n2_j) * pk_j.encrypt(-beta, s) % n2_j
            big_f = sk.encrypt(-beta, r)
            big_dh = powmod_sec(k_j, self._w, n2_j) * pk_j.encrypt(-beta_hat, s_hat) % n2_j
            big_fh = sk.encrypt(-beta_hat, r_hat)
            psi = affg.prove(
                affg.Statement(n_j, n_i, k_j, big_d, big_f, gamma_i),
                affg.Witness(self._gamma, -beta, s, r),
                rp_j,
                session_id=self.session_id + TAG_PSI,
                prover_id=self.me,
                prover_key=sk,
                level=self.level,
                rng=rng,
            )
            psi_hat = affg.prove(
                affg.Statement(n_j, n_i, k_j, big_dh, big_fh, big_w_i),
                affg.Witness(self._w, -beta_hat, s_hat, r_hat),
                rp_j,
                session_id=self.session_id + TAG_PSI_HAT,
                prover_id=self.me,
                prover_key=sk,
                level=self.level,
                rng=rng,
            )
            self._mta_out[j] = _MtaOut(
                big_d, big_f, beta, s, r, big_dh, big_fh, beta_hat, s_hat, r_hat
            )
            cw_j, cw_i = _ct_width(n_j), _ct_width(n_i)
            payload = b"".join(
                (
                    echo1,
                    bcast2,
                    encode_unsigned(big_d, cw_j),
                    encode_unsigned(big_f, cw_i),
                    encode_unsigned(big_dh, cw_j),
                    encode_unsigned(big_fh, cw_i),
                    psi.to_bytes(n_j, n_i, n_j, level=self.level),
                    psi_hat.to_bytes(n_j, n_i, n_j, level=self.level),
                )
            )
            self.send(2, j, payload, secret=True)

    # -- round 2 -> 3 ------------------------------------------------------------------
    def _round2(self, messages: dict[int, ProtocolMessage]) -> None:
        sk = self._sk
        n_i = sk.n
        pk_i = sk.public_key
        count = len(self.signers)
        echoes: dict[int, bytes] = {}
        fields: dict[int, tuple[Point, elog.ElogProof, int, int, int, int]] = {}
        affs: dict[int, tuple[affg.AffgProof, affg.AffgProof]] = {}

        def decode(j: int) -> None:
            pk_j = self._aux.paillier(j)
            with _decode_errors(j, 2):
                f = _split(messages[j].payload, layout_round2(count, pk_j.n, n_i, self.level))
                echoes[j] = f["echo"]
                big_gamma = _G.decode_point(f["Gamma"])
                d, dh = _ct(f["D"], pk_i, "D"), _ct(f["D_hat"], pk_i, "D_hat")
                ff, fh = _ct(f["F"], pk_j, "F"), _ct(f["F_hat"], pk_j, "F_hat")
            with _proof_errors(j, "Π_elog", elog.PROOF_NAME):
                proof = elog.ElogProof.from_bytes(f["elog"])
            with _proof_errors(j, "Π_aff-g", affg.PROOF_NAME):
                affs[j] = (
                    affg.AffgProof.from_bytes(f["psi"], n_i, pk_j.n, n_i, level=self.level),
                    affg.AffgProof.from_bytes(f["psi_hat"], n_i, pk_j.n, n_i, level=self.level),
                )
            fields[j] = (big_gamma, proof, d, ff, dh, fh)
            self._mta_in[j] = (d, ff, dh, fh)
            self._payloads[2][j] = f["Gamma"] + f["elog"]

        stage(messages, decode)
        self._check_echoes(1, echoes)

        def check_elog(j: int) -> None:
            r1 = self._r1[j]
            big_gamma, proof = fields[j][0], fields[j][1]
            with _proof_errors(j, "Π_elog (Gamma)", elog.PROOF_NAME):
                elog.verify(
                    r1.B1,
                    r1.B2,
                    r1.Y,
                    big_gamma,
                    proof,
                    h=_G.generator,
                    session_id=self.session_id + TAG_ELOG_GAMMA,
                    prover_id=j,
                )

        def check_affg(j: int) -> None:
            big_gamma, _, d, ff, dh, fh = fields[j]
            n_j = self._aux.paillier(j).n
            k_i = self._r1[self.me].K
            psi, psi_hat = affs[j]
            with _proof_errors(j, "Π_aff-g (psi, gamma)", affg.PROOF_NAME):
                affg.verify(
                    affg.Statement(n_i, n_j, k_i, d, ff, big_gamma),
                    self._params_me,
                    psi,
                    session_id=self.session_id + TAG_PSI,
                    prover_id=j,
                    verifier_key=sk,
                    level=self.level,
                )
            with _proof_errors(j, "Π_aff-g (psi-hat, x)", affg.PROOF_NAME):
                affg.verify(
                    affg.Statement(n_i, n_j, k_i, dh, fh, self._W[j]),
                    self._params_me,
                    psi_hat,
                    session_id=self.session_id + TAG_PSI_HAT,
                    prover_id=j,
                    verifier_key=sk,
                    level=self.level,
                )

        stage(fields, check_elog)
        stage(fields, check_affg)
        for j in self._peers:
            self._gammas[j] = fields[j][0]
        big_gamma = _G.sum(self._gammas[j] for j in self.signers)
        if big_gamma.is_identity():
            raise ProtocolError("Gamma is the identity", check="presign-gamma")
        k = self._k
        delta = self._gamma * k
        chi = self._w * k
        for j in self._peers:
            _, _, d, _, dh, _ = fields[j]
            delta += sk.decrypt_signed(d) + self._beta[j]
            chi += sk.decrypt_signed(dh) + self._beta_hat[j]
        delta %= _Q
        chi %= _Q
        self._chi = chi
        self._delta = delta
        self._big_gamma = big_gamma
        big_delta = big_gamma * k
        big_s = big_gamma * chi
        me = self._r1[self.me]
        proof = elog.prove(
            me.A1,
            me.A2,
            me.Y,
            big_delta,
            k,
            self._a,
            h=big_gamma,
            session_id=self.session_id + TAG_ELOG_DELTA,
            prover_id=self.me,
            rng=self._rng,
        )
        self._deltas: dict[int, int] = {self.me: delta}
        self._big_deltas: dict[int, Point] = {self.me: big_delta}
        self._big_ss: dict[int, Point] = {self.me: big_s}
        payload = b"".join(
            (
                self._echo_vector(2),
                delta.to_bytes(_SC, "big"),
                big_delta.encode(),
                big_s.encode(),
                proof.to_bytes(),
            )
        )
        self._payloads[3][self.me] = payload
        self.send(3, None, payload)

    # -- round 3 -> output ---------------------------------------------------------------
    def _round3(self, messages: dict[int, ProtocolMessage]) -> None:
        count = len(self.signers)
        echoes: dict[int, bytes] = {}
        proofs: dict[int, elog.ElogProof] = {}

        def decode(j: int) -> None:
            with _decode_errors(j, 3):
                f = _split(messages[j].payload, layout_round3(count))
                echoes[j] = f["echo"]
                self._payloads[3][j] = messages[j].payload
                self._deltas[j] = _scalar(f["delta"])
                self._big_deltas[j] = _G.decode_point(f["Delta"])
                self._big_ss[j] = _G.decode_point(f["S"])
            with _proof_errors(j, "Π_elog", elog.PROOF_NAME):
                proofs[j] = elog.ElogProof.from_bytes(f["elog"])

        stage(messages, decode)
        self._check_echoes(2, echoes)

        def check_elog(j: int) -> None:
            r1 = self._r1[j]
            with _proof_errors(j, "Π_elog (Delta)", elog.PROOF_NAME):
                elog.verify(
                    r1.A1,
                    r1.A2,
                    r1.Y,
                    self._big_deltas[j],
                    proofs[j],
                    h=self._big_gamma,
                    session_id=self.session_id + TAG_ELOG_DELTA,
                    prover_id=j,
                )

        stage(proofs, check_elog)
        delta = sum(self._deltas.values()) % _Q
        big_delta = _G.sum(self._big_deltas[j] for j in self.signers)
        # SECURITY.md item 16: never skipped. A failure starts the identification
        # round (round 4) instead of aborting at once.
        if delta == 0 or _G.mul_base(delta) != big_delta:
            self._start_identification(MODE_DELTA)
            return
        big_s = _G.sum(self._big_ss[j] for j in self.signers)
        if big_s != self._public_key * delta:
            self._start_identification(MODE_CHI)
            return
        big_r = self._big_gamma * pow(delta, -1, _Q)
        public = PresignaturePublic(
            session_id=self.session_id,
            signers=self.signers,
            public_key=self._public_key,
            R=big_r,
            Gamma=self._big_gamma,
            Delta=dict(self._big_deltas),
            S=dict(self._big_ss),
        )
        k, chi = self._k, self._chi
        self._forget()
        self.finish(Presignature(self.me, k, chi, public))

    # -- identification (round 4, only after a failed output check) -----------------
    def _id_values(self, mode: int, j: int) -> tuple[int, int, int, int, int, int]:
        """``(D_out, F_out, D_in, beta, s, r)`` of the MtA with peer ``j`` for ``mode``
        (gamma-MtA for the delta check, w-MtA for the chi check)."""
        o, (d_in, _, dh_in, _) = self._mta_out[j], self._mta_in[j]
        if mode == MODE_DELTA:
            return o.D, o.F, d_in, o.beta, o.s, o.r
        return o.D_hat, o.F_hat, dh_in, o.beta_hat, o.s_hat, o.r_hat

    def _id_public(self, mode: int, i: int) -> tuple[Point, Point, Point]:
        """``(X_i, S_i, h)`` of party i's Π_dec: ``(Gamma_i, delta_i G, G)`` or
        ``(W_i, S_i, Gamma)``."""
        if mode == MODE_DELTA:
            return self._gammas[i], _G.mul_base(self._deltas[i]), _G.generator
        return self._W[i], self._big_ss[i], self._big_gamma

    def _start_identification(self, mode: int) -> None:
        """Broadcast the round-4 message: the echo of round 3, our MtA ciphertexts
        (sent and received) with a Π_aff-g* per peer, and Π_dec for our delta_i /
        chi_i."""
        self._id_mode = mode
        sk = self._sk
        n_i = sk.n
        n2 = sk.public_key.n_squared
        count = len(self.signers)
        x = self._gamma if mode == MODE_DELTA else self._w
        big_x, big_s, h = self._id_public(mode, self.me)
        parts = [bytes([mode]), self._echo_vector(3)]
        acc = 1  # D_i = prod_j D_{i,j} F_{j,i}^-1: encrypts sum_j (alpha_{i,j} + beta_{i,j})
        for j in self._peers:
            pk_j = self._aux.paillier(j)
            d_out, f_out, d_in, beta, s, r = self._id_values(mode, j)
            proof = affgstar.prove(
                affg.Statement(pk_j.n, n_i, self._r1[j].K, d_out, f_out, big_x),
                affg.Witness(x, -beta, s, r),
                session_id=self.session_id + TAG_ID_AFF[mode],
                prover_id=self.me,
                prover_key=sk,
                level=self.level,
                rng=self._rng,
            )
            parts += [
                encode_unsigned(d_out, _ct_width(pk_j.n)),
                encode_unsigned(f_out, _ct_width(n_i)),
                encode_unsigned(d_in, _ct_width(n_i)),
                proof.to_bytes(pk_j.n, n_i, level=self.level),
            ]
            acc = acc * d_in % n2 * int(gmpy2.invert(f_out, n2)) % n2
        big_k = self._r1[self.me].K
        full = powmod_sec(big_k, x, n2) * acc % n2  # encrypts delta_i (chi_i) over Z
        y = sk.decrypt_signed(full)
        rho = sk.pow_mod_n(full % n_i, int(gmpy2.invert(n_i, sk.phi)))
        proof_dec = dec.prove(
            sk,
            dec.Statement(n_i, big_k, acc, big_x, big_s, h, count),
            dec.Witness(x, y, rho),
            session_id=self.session_id + TAG_ID_DEC[mode],
            prover_id=self.me,
            level=self.level,
            rng=self._rng,
        )
        parts.append(proof_dec.to_bytes(n_i, count, level=self.level))
        self.send(4, None, b"".join(parts))

    def _round4(self, messages: dict[int, ProtocolMessage]) -> None:
        mode = self._id_mode
        check = CHECK_DELTA if mode == MODE_DELTA else CHECK_CHI
        count = len(self.signers)
        moduli = {j: self._aux.paillier(j).n for j in self.signers}
        got: dict[int, _Round4] = {}

        def decode(i: int) -> None:
            n_i = moduli[i]
            with _decode_errors(i, 4):
                f = _split(messages[i].payload, layout_round4(self.signers, i, moduli, self.level))
                peers = [j for j in self.signers if j != i]
                pk_i = self._aux.paillier(i)
                d_out = {j: _ct(f[f"D_out_{j}"], self._aux.paillier(j), "D_out") for j in peers}
                f_out = {j: _ct(f[f"F_out_{j}"], pk_i, "F_out") for j in peers}
                d_in = {j: _ct(f[f"D_in_{j}"], pk_i, "D_in") for j in peers}
            with _proof_errors(i, "Π_aff-g*", affgstar.PROOF_NAME):
                aff = {
                    j: affgstar.AffgStarProof.from_bytes(
                        f[f"aff_{j}"], moduli[j], n_i, level=self.level
                    )
                    for j in peers
                }
            with _proof_errors(i, "Π_dec", dec.PROOF_NAME):
                proof_dec = dec.DecProof.from_bytes(f["dec"], n_i, count, level=self.level)
            got[i] = _Round4(f["mode"][0], f["echo"], d_out, f_out, d_in, aff, proof_dec)

        stage(messages, decode)
        self._check_echoes(3, {i: r.echo for i, r in got.items()})

        def check_mode(i: int) -> None:
            # Same round-3 view (echo) => same failed check: a different mode is a lie.
            if got[i].mode != mode:
                raise ProtocolError(
                    f"party {i} claims another failed output check",
                    blame=(i,),
                    check="presign-round4-mode",
                )

        stage(got, check_mode)

        # The MtA ciphertexts: claim of the sender vs claim of the receiver.
        mine_out = {j: self._id_values(mode, j) for j in self._peers}

        def out_claim(recv: int, sender: int) -> tuple[int, int]:
            if sender == self.me:
                return mine_out[recv][0], mine_out[recv][1]
            return got[sender].d_out[recv], got[sender].f_out[recv]

        def in_claim(recv: int, sender: int) -> int:
            return mine_out[sender][2] if recv == self.me else got[recv].d_in[sender]

        culprits: set[int] = set()
        reasons: list[str] = []
        for recv in self.signers:
            for sender in self.signers:
                if recv == sender:
                    continue
                d_sent, f_sent = out_claim(recv, sender)
                if recv == self.me:
                    # We know what we received: compare D and F.
                    d_real, f_real = (
                        (self._mta_in[sender][0], self._mta_in[sender][1])
                        if mode == MODE_DELTA
                        else (self._mta_in[sender][2], self._mta_in[sender][3])
                    )
                    if (d_sent, f_sent) != (d_real, f_real):
                        culprits.add(sender)
                        reasons.append(f"party {sender} misreports the MtA ciphertexts it sent us")
                    continue
                if d_sent == in_claim(recv, sender):
                    continue
                if sender == self.me:
                    culprits.add(recv)
                    reasons.append(f"party {recv} misreports the MtA ciphertext we sent it")
                else:
                    culprits.update((recv, sender))
                    reasons.append(
                        f"parties {sender} and {recv} disagree on D_({recv},{sender}): one "
                        "of them equivocated or misreports"
                    )
        if culprits:
            raise ProtocolError(
                "identification: " + "; ".join(reasons), blame=tuple(sorted(culprits)), check=check
            )

        def verify_party(i: int) -> None:
            r4 = got[i]
            n_i = moduli[i]
            n2 = n_i * n_i
            big_x, big_s, h = self._id_public(mode, i)
            acc = 1
            for j in self.signers:
                if j == i:
                    continue
                d_sent, f_sent = out_claim(j, i)
                key = self._sk if j == self.me else None
                with _proof_errors(i, f"Π_aff-g* (for {j})", affgstar.PROOF_NAME):
                    affgstar.verify(
                        affg.Statement(moduli[j], n_i, self._r1[j].K, d_sent, f_sent, big_x),
                        r4.aff[j],
                        session_id=self.session_id + TAG_ID_AFF[mode],
                        prover_id=i,
                        verifier_key=key,
                        level=self.level,
                    )
                acc = acc * in_claim(i, j) % n2 * int(gmpy2.invert(f_sent, n2)) % n2
            with _proof_errors(i, "Π_dec", dec.PROOF_NAME):
                dec.verify(
                    dec.Statement(n_i, self._r1[i].K, acc, big_x, big_s, h, count),
                    r4.dec_proof,
                    session_id=self.session_id + TAG_ID_DEC[mode],
                    prover_id=i,
                    level=self.level,
                )

        try:
            stage(got, verify_party)
        except ProtocolError as exc:
            raise ProtocolError(
                f"identification ({exc.check}): {exc.message}", blame=exc.blame, check=check
            ) from None
        raise ProtocolError(
            "identification found no culprit: every Π_aff-g* and Π_dec verifies",
            check=check,
        )


@contextmanager
def _decode_errors(sender: int, round_: int) -> Iterator[None]:
    try:
        yield
    except InvalidEncoding as exc:
        raise ProtocolError(
            f"round-{round_} payload of party {sender} is malformed: {exc.message}",
            blame=(sender,),
            check=f"presign-round{round_}-decode",
        ) from None


@contextmanager
def _proof_errors(sender: int, name: str, prefix: str) -> Iterator[None]:
    """A failed or malformed proof of ``sender`` -> ProtocolError blaming it with the
    proof's own check (``"pi-aff-g: z1 range"``) or ``"<prefix>: encoding"``."""
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
