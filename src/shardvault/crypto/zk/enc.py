"""Π_enc: Paillier encryption in range (CGGMP, ePrint 2021/060, Fig. 14 in the 2021
numbering; the Renc relation), against the VERIFIER's ring-Pedersen parameters
``(N̂, s, t)``.

Statement ``(N0, K)``; witness ``(k, rho)`` with ``K = enc_N0(k; rho)`` and
``|k| <= 2^ell``. Soundness: ``K`` encrypts some ``k`` with ``|k| <= 2^(ell+eps)``
(the slack ``eps``). Parameters (``level``, by default): ``ell = 256``,
``eps = 512``, challenge ``e`` uniform in ``+-q`` (q = secp256k1 order).

(The 2024 revision's presigning replaces Π_enc by Π_enc-elg, which adds an
El-Gamal commitment to ``k``; this module is the plain Paillier range proof, which
Π_log* extends with a group element.)

* prover samples ``alpha <- +-2^(ell+eps)``, ``mu <- +-2^ell N̂``, ``r <- Z_N0^*``,
  ``gamma <- +-2^(ell+eps) N̂`` and sends ``S = s^k t^mu mod N̂``,
  ``A = (1 + N0)^alpha r^N0 mod N0^2``, ``C = s^alpha t^gamma mod N̂``;
* challenge ``e`` (Fiat-Shamir, see below);
* prover: ``z1 = alpha + e k``, ``z2 = r rho^e mod N0``, ``z3 = gamma + e mu``;
* verifier: ``(1 + N0)^z1 z2^N0 = A K^e mod N0^2``, ``s^z1 t^z3 = C S^e mod N̂``
  and ``z1 in +-2^(ell+eps)`` (inclusive, exactly the paper's range check).

Verification order, cheapest first: parameter, statement and element checks, the
``z3`` size, the paper's ``z1`` range check, then the ring-Pedersen equation and
last the ``N0^2`` equation.

Extra verifier checks (never violated by an honest prover): ``N̂, s, t`` pass
:meth:`RingPedersenParams.validate`; ``N0 > 2^(ell+eps+1)`` (otherwise
``+-2^(ell+eps)`` covers all of ``Z_N0`` and the range proves nothing); ``K, A``
in ``Z_{N0^2}^*``; ``S, C`` in ``Z_N̂^*``; ``z2`` in ``Z_N0^*``;
``|z3| <= 2^(ell+eps) N̂ + q 2^ell N̂`` (the honest maximum: bounds the verifier's
work and makes the fixed-width encoding possible).

Fiat-Shamir transcript (domain ``shardvault/cggmp24/pi-enc/v1``): session-id,
prover-id, ell, eps, q, N̂, s, t, N0, K, S, A, C; ``e`` is drawn uniformly from
``[-q, q]`` by rejection sampling.

Encoding: ``S || C`` on ``width(N̂)`` bytes each, ``A`` on ``width(N0^2)``,
``z2`` on ``width(N0)`` (unsigned, range-checked), then ``z1``, ``z3`` as
two's-complement big-endian integers on the widths of their bounds (exact total
length).
"""

from __future__ import annotations

from dataclasses import dataclass

import gmpy2

from shardvault.crypto.paillier import (
    PaillierPublicKey,
    PaillierSecretKey,
    powmod_sec,
    sample_unit,
)
from shardvault.crypto.ring_pedersen import RingPedersenParams
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk.checks import is_unit, sample_pm
from shardvault.crypto.zk.codec import (
    Reader,
    encode_signed,
    encode_unsigned,
    signed_width,
    unsigned_width,
)
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.crypto.zk.params import DEFAULT_LEVEL, SecurityLevel
from shardvault.crypto.zk.transcript import ChallengeStream, proof_transcript
from shardvault.errors import InvalidParameters

__all__ = [
    "MIN_N0",
    "PROOF_NAME",
    "Bounds",
    "EncProof",
    "derive_challenge",
    "min_n0",
    "paillier_encrypt",
    "prove",
    "verify",
]

PROOF_NAME = "pi-enc"


def min_n0(level: SecurityLevel = DEFAULT_LEVEL) -> int:
    """Smallest statement modulus N0 accepted (exclusive): 2^(ell+eps+1). Below it the
    range +-2^(ell+eps) wraps around Z_N0 and the proof is meaningless."""
    return 1 << (level.ell + level.epsilon + 1)


#: :func:`min_n0` at the default level.
MIN_N0 = min_n0()


@dataclass(frozen=True, slots=True)
class Bounds:
    """The ranges of Π_enc and Π_log* for a verifier modulus ``n_hat``."""

    z1: int  # 2^(ell+eps): alpha and the paper's z1 range check
    mu: int  # 2^ell N̂
    gamma: int  # 2^(ell+eps) N̂
    z3: int  # honest max |z3| = gamma + q mu

    @classmethod
    def of(cls, n_hat: int, level: SecurityLevel = DEFAULT_LEVEL) -> Bounds:
        le = level.ell + level.epsilon
        mu = n_hat << level.ell
        gamma = n_hat << le
        return cls(z1=1 << le, mu=mu, gamma=gamma, z3=gamma + level.q * mu)


def _widths(n0: int, n_hat: int, level: SecurityLevel) -> tuple[int, int, int, int, int]:
    """Bytes of (S/C, A, z2, z1, z3)."""
    b = Bounds.of(n_hat, level)
    return (
        unsigned_width(n_hat),
        unsigned_width(n0 * n0),
        unsigned_width(n0),
        signed_width(b.z1),
        signed_width(b.z3),
    )


@dataclass(frozen=True, slots=True)
class EncProof:
    """``((S, A, C), (z1, z2, z3))``."""

    S: int
    A: int
    C: int
    z1: int
    z2: int
    z3: int

    @staticmethod
    def encoded_length(n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> int:
        rw, aw, zw, z1w, z3w = _widths(n0, n_hat, level)
        return 2 * rw + aw + zw + z1w + z3w

    def to_bytes(self, n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> bytes:
        """Fixed-width encoding for statement modulus ``n0`` and verifier modulus ``n_hat``."""
        rw, aw, zw, z1w, z3w = _widths(n0, n_hat, level)
        return b"".join(
            (
                encode_unsigned(self.S, rw),
                encode_unsigned(self.C, rw),
                encode_unsigned(self.A, aw),
                encode_unsigned(self.z2, zw),
                encode_signed(self.z1, z1w),
                encode_signed(self.z3, z3w),
            )
        )

    @classmethod
    def from_bytes(
        cls, data: bytes, n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL
    ) -> EncProof:
        rw, aw, zw, z1w, z3w = _widths(n0, n_hat, level)
        r = Reader(data, cls.encoded_length(n0, n_hat, level=level), "pi-enc proof")
        big_s = r.unsigned(rw, n_hat, "S")
        big_c = r.unsigned(rw, n_hat, "C")
        big_a = r.unsigned(aw, n0 * n0, "A")
        z2 = r.unsigned(zw, n0, "z2")
        z1 = r.signed(z1w)
        z3 = r.signed(z3w)
        r.finish()
        return cls(S=big_s, A=big_a, C=big_c, z1=z1, z2=z2, z3=z3)


def derive_challenge(
    n0: int,
    verifier: RingPedersenParams,
    ciphertext: int,
    commitment: tuple[int, int, int],
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> int:
    """The challenge ``e`` in ``[-q, q]`` for statement ``(n0, ciphertext)`` and
    ``commitment = (S, A, C)`` (Fig. 14, Fiat-Shamir)."""
    tr = proof_transcript(PROOF_NAME, session_id, prover_id)
    tr.append_int("ell", level.ell)
    tr.append_int("epsilon", level.epsilon)
    tr.append_int("q", level.q)
    tr.append_int("N-hat", verifier.n)
    tr.append_int("s", verifier.s)
    tr.append_int("t", verifier.t)
    tr.append_int("N0", n0)
    tr.append_int("K", ciphertext)
    for label, value in zip("SAC", commitment, strict=True):
        tr.append_int(label, value)
    return ChallengeStream(tr).signed(level.q)


# -- helpers shared with Π_log* ---------------------------------------------------------------


def paillier_encrypt(key: PaillierPublicKey | PaillierSecretKey, m: int, r: int) -> int:
    """``(1 + N)^m r^N mod N^2`` for any integer ``m`` (reduced mod ``N``); CRT when
    ``key`` is a secret key. ``r`` must be in ``Z_N^*``."""
    return key.encrypt(m % key.n, r)


def check_statement_key(n0: int, level: SecurityLevel = DEFAULT_LEVEL) -> str | None:
    """Why ``n0`` is not an acceptable statement modulus, or None."""
    if not isinstance(n0, int) or isinstance(n0, bool) or n0 % 2 == 0:
        return "N0 must be an odd integer"
    if n0 <= min_n0(level):
        return "N0 must exceed 2^(ell+eps+1)"
    return None


def check_witness(
    key: PaillierPublicKey | PaillierSecretKey,
    verifier: RingPedersenParams,
    ciphertext: int,
    plaintext: int,
    nonce: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> None:
    """Prover-side input checks (``InvalidParameters``; messages never name secrets)."""
    try:
        verifier.validate()
    except InvalidParameters as exc:
        raise InvalidParameters(f"verifier ring-Pedersen parameters: {exc.message}") from None
    problem = check_statement_key(key.n, level)
    if problem is not None:
        raise InvalidParameters(problem)
    if not as_public_key(key).is_valid_ciphertext(ciphertext):
        raise InvalidParameters("ciphertext must be in Z_{N0^2}^*")
    if not isinstance(plaintext, int) or isinstance(plaintext, bool):
        raise InvalidParameters("plaintext must be an integer")
    if abs(plaintext) > 1 << level.ell:
        raise InvalidParameters("plaintext is outside +-2^ell")
    if not is_unit(nonce, key.n):
        raise InvalidParameters("nonce must be in Z_N0^*")


def response_nonce(r: int, rho: int, e: int, n0: int) -> int:
    """``z2 = r rho^e mod N0`` (``rho`` secret: ``powmod_sec``)."""
    return r * powmod_sec(rho, e, n0) % n0


def as_public_key(key: PaillierPublicKey | PaillierSecretKey) -> PaillierPublicKey:
    return key.public_key if isinstance(key, PaillierSecretKey) else key


# -- prover, verifier ---------------------------------------------------------------------------


def prove(
    key: PaillierPublicKey | PaillierSecretKey,
    verifier: RingPedersenParams,
    ciphertext: int,
    plaintext: int,
    nonce: int,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
    rng: Rng = OS_RNG,
) -> EncProof:
    """Prove that ``ciphertext = enc(plaintext; nonce)`` under ``key`` with
    ``|plaintext| <= 2^ell``, for a verifier whose ring-Pedersen parameters are
    ``verifier`` (2021 revision, Fig. 14, the prover). A secret key makes the prover
    use CRT encryption; the samples are drawn from ``rng``.

    Raises ``InvalidParameters`` for unusable inputs (the plaintext outside
    ``+-2^ell`` included). The ciphertext is not re-derived from the witness (that
    would cost an encryption): a mismatched witness gives a proof that fails
    verification.
    """
    check_witness(key, verifier, ciphertext, plaintext, nonce, level)
    n0 = key.n
    n_hat = verifier.n
    b = Bounds.of(n_hat, level)
    alpha = sample_pm(b.z1, rng)
    mu = sample_pm(b.mu, rng)
    r = sample_unit(n0, rng)
    gamma = sample_pm(b.gamma, rng)
    big_s = verifier.commit_secret(plaintext, mu)
    big_a = paillier_encrypt(key, alpha, r)
    big_c = verifier.commit_secret(alpha, gamma)
    e = derive_challenge(
        n0,
        verifier,
        ciphertext,
        (big_s, big_a, big_c),
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    return EncProof(
        S=big_s,
        A=big_a,
        C=big_c,
        z1=alpha + e * plaintext,
        z2=response_nonce(r, nonce, e, n0),
        z3=gamma + e * mu,
    )


def _fail(check: str, message: str) -> InvalidProof:
    return InvalidProof(f"Π_enc rejected: {message}", check=f"pi-enc: {check}")


def verify(
    key: PaillierPublicKey,
    verifier: RingPedersenParams,
    ciphertext: int,
    proof: EncProof,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> None:
    """Raise :class:`InvalidProof` (``check="pi-enc: ..."``) unless ``proof`` shows that
    ``ciphertext`` encrypts, under ``key``, a plaintext in ``+-2^(ell+eps)`` (2021
    revision, Fig. 14, the verifier).
    ``verifier`` are the verifying party's OWN ring-Pedersen parameters."""
    try:
        verifier.validate()
    except InvalidParameters as exc:
        raise _fail("parameters", exc.message) from None
    if not isinstance(key, PaillierPublicKey):
        raise _fail("N0", "N0 must be a Paillier public key")
    problem = check_statement_key(key.n, level)
    if problem is not None:
        raise _fail("N0", problem)
    n0, n0_sq = key.n, key.n_squared
    n_hat = verifier.n
    if not key.is_valid_ciphertext(ciphertext):
        raise _fail("K", "K is not in Z_{N0^2}^*")
    if not is_unit(proof.S, n_hat):
        raise _fail("S range", "S is not in Z_N̂^*")
    if not is_unit(proof.A, n0_sq):
        raise _fail("A range", "A is not in Z_{N0^2}^*")
    if not is_unit(proof.C, n_hat):
        raise _fail("C range", "C is not in Z_N̂^*")
    if not is_unit(proof.z2, n0):
        raise _fail("z2 range", "z2 is not in Z_N0^*")
    b = Bounds.of(n_hat, level)
    if not isinstance(proof.z3, int) or abs(proof.z3) > b.z3:
        raise _fail("z3 size", "|z3| exceeds its honest bound")
    # The paper's range check: z1 in +-2^(ell+eps).
    if not isinstance(proof.z1, int) or abs(proof.z1) > b.z1:
        raise _fail("z1 range", "z1 is outside +-2^(ell+eps)")
    e = derive_challenge(
        n0,
        verifier,
        ciphertext,
        (proof.S, proof.A, proof.C),
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    # Cheaper equation first (mod N̂, ~15 ms at 3072 bits; the N0^2 one is ~30 ms).
    lhs2 = verifier.commit(proof.z1, proof.z3)
    if lhs2 != proof.C * gmpy2.powmod(proof.S, e, n_hat) % n_hat:
        raise _fail("s^z1 t^z3 = C S^e", "ring-Pedersen equation does not hold")
    lhs1 = paillier_encrypt(key, proof.z1, proof.z2)
    if lhs1 != proof.A * gmpy2.powmod(ciphertext, e, n0_sq) % n0_sq:
        raise _fail("enc(z1; z2) = A K^e", "Paillier equation does not hold")
