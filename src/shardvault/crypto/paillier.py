"""Paillier encryption with g = N + 1 and CRT decryption (gmpy2).

``Enc_N(m; r) = (1 + m*N) * r^N mod N^2`` for ``m`` in ``Z_N`` and ``r`` in
``Z_N^*``. The secret key holds the primes ``p, q`` and decrypts with the
Chinese remainder theorem (two half-size exponentiations mod ``p^2`` and
``q^2``); it can also encrypt with CRT. Exponentiations whose exponent depends
on the secret primes go through ``gmpy2.powmod_sec`` (docs/security.md item 21);
``r^N`` has the public exponent ``N`` and uses ``gmpy2.powmod``. Nonces and keys
are drawn from an ``rng`` argument (default: the OS CSPRNG, :data:`OS_RNG`).

Sizes: any distinct odd primes make a working key (tests use small ones);
protocol use requires ``check_modulus_size(n)`` (>= 3072 bits, docs/security.md item
11), and Π_mod needs Blum primes (``p = q = 3 mod 4``), which safe primes are.
"""

from __future__ import annotations

from collections.abc import Callable

import gmpy2

from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.safeprimes import generate_safe_primes
from shardvault.errors import InvalidEncoding, InvalidParameters

__all__ = [
    "PROTOCOL_MIN_BITS",
    "PaillierPublicKey",
    "PaillierSecretKey",
    "check_modulus_size",
    "crt_combine",
    "crt_powmod_sec",
    "generate_keypair",
    "keypair_from_primes",
    "powmod_sec",
    "sample_unit",
]

#: Smallest Paillier / ring-Pedersen modulus accepted for protocol use (8*kappa, kappa = 384).
PROTOCOL_MIN_BITS = 3072


def check_modulus_size(n: int, min_bits: int = PROTOCOL_MIN_BITS) -> None:
    """Raise ``InvalidParameters`` unless ``n`` is an odd integer of at least ``min_bits`` bits."""
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0 or n % 2 == 0:
        raise InvalidParameters("modulus must be a positive odd integer")
    if n.bit_length() < min_bits:
        raise InvalidParameters(f"modulus has {n.bit_length()} bits; at least {min_bits} required")


def powmod_sec(base: int, exp: int, mod: int) -> int:
    """``base^exp mod mod`` for a secret exponent (``gmpy2.powmod_sec``; ``mod`` odd).

    Negative exponents invert the base first. The sign of the exponent is not
    hidden (Python integer arithmetic around the call is not constant-time
    either); the exponent's bits are.
    """
    if exp == 0:
        return 1 % mod
    b = gmpy2.mpz(base) % mod
    if exp < 0:
        b = gmpy2.invert(b, mod)
        exp = -exp
    return int(gmpy2.powmod_sec(b, exp, mod))


def sample_unit(n: int, rng: Rng = OS_RNG) -> int:
    """A uniform element of ``Z_n^*``, drawn from ``rng``."""
    while True:
        r = rng.randbelow(n)
        if r > 0 and gmpy2.gcd(r, n) == 1:
            return r


def crt_combine(r1: int, m1: int, r2: int, m2: int, m1_inv_mod_m2: int) -> int:
    """The ``x`` in ``[0, m1*m2)`` with ``x = r1 mod m1`` and ``x = r2 mod m2`` (Garner)."""
    return int(r1 + ((r2 - r1) * m1_inv_mod_m2 % m2) * m1)


def _check_int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidParameters(f"{what} must be an integer")
    return value


class PaillierPublicKey:
    """A Paillier public key ``N``. ``n_squared`` is cached."""

    __slots__ = ("_n", "_n2")

    def __init__(self, n: int) -> None:
        n = _check_int(n, "Paillier modulus")
        if n < 15 or n % 2 == 0:
            raise InvalidParameters("Paillier modulus must be an odd composite")
        self._n = n
        self._n2 = n * n

    @property
    def n(self) -> int:
        return self._n

    @property
    def n_squared(self) -> int:
        return self._n2

    @property
    def bits(self) -> int:
        return self._n.bit_length()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PaillierPublicKey) and other._n == self._n

    def __hash__(self) -> int:
        return hash(("PaillierPublicKey", self._n))

    def __repr__(self) -> str:
        return f"PaillierPublicKey({self.bits}-bit N=0x{self._n:x})"

    # -- encoding -------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """``N`` big-endian, minimal length (its top byte is nonzero)."""
        return self._n.to_bytes((self._n.bit_length() + 7) // 8, "big")

    @classmethod
    def from_bytes(cls, data: bytes, *, min_bits: int = PROTOCOL_MIN_BITS) -> PaillierPublicKey:
        if not isinstance(data, bytes) or not data or data[0] == 0:
            raise InvalidEncoding("Paillier modulus: empty or non-minimal encoding")
        n = int.from_bytes(data, "big")
        try:
            check_modulus_size(n, min_bits)
            return cls(n)
        except InvalidParameters as exc:
            raise InvalidEncoding(f"Paillier modulus: {exc.message}") from None

    # -- values ---------------------------------------------------------------

    def _plaintext(self, m: int) -> int:
        m = _check_int(m, "plaintext")
        if not -self._n < m < self._n:
            raise InvalidParameters("plaintext must satisfy -N < m < N")
        return m % self._n

    def _nonce(self, r: int) -> int:
        r = _check_int(r, "nonce")
        if not 0 < r < self._n or gmpy2.gcd(r, self._n) != 1:
            raise InvalidParameters("nonce must be in Z_N^*")
        return r

    def is_valid_ciphertext(self, c: object) -> bool:
        """``0 < c < N^2`` and ``gcd(c, N) = 1``."""
        return (
            isinstance(c, int)
            and not isinstance(c, bool)
            and 0 < c < self._n2
            and gmpy2.gcd(c, self._n) == 1
        )

    def validate_ciphertext(self, c: int) -> None:
        """Raise ``InvalidEncoding`` unless ``c`` is in ``Z_{N^2}^*``."""
        if not self.is_valid_ciphertext(c):
            raise InvalidEncoding("Paillier ciphertext must be in Z_{N^2}^*")

    def sample_nonce(self, rng: Rng = OS_RNG) -> int:
        return sample_unit(self._n, rng)

    def encrypt(self, m: int, r: int | None = None, *, rng: Rng = OS_RNG) -> int:
        """``Enc(m; r)``; a fresh nonce from ``rng`` when ``r`` is None.

        ``m`` may be negative (``-N < m < N``); it is encrypted as ``m mod N``.
        """
        if r is None:
            return self.encrypt_with_nonce(m, rng=rng)[0]
        mm = self._plaintext(m)
        rr = self._nonce(r)
        return int((1 + mm * self._n) * gmpy2.powmod(rr, self._n, self._n2) % self._n2)

    def encrypt_with_nonce(self, m: int, *, rng: Rng = OS_RNG) -> tuple[int, int]:
        """``(Enc(m; r), r)`` with a fresh nonce ``r`` from ``rng``."""
        mm = self._plaintext(m)
        r = self.sample_nonce(rng)
        c = (1 + mm * self._n) * gmpy2.powmod(r, self._n, self._n2) % self._n2
        return int(c), r

    # -- homomorphisms ----------------------------------------------------------

    def add(self, c1: int, c2: int) -> int:
        """``Enc(m1 + m2)`` from ``Enc(m1)`` and ``Enc(m2)``."""
        self.validate_ciphertext(c1)
        self.validate_ciphertext(c2)
        return c1 * c2 % self._n2

    def add_plain(self, c: int, m: int) -> int:
        """``Enc(m1 + m)`` from ``Enc(m1)`` (same nonce)."""
        self.validate_ciphertext(c)
        mm = self._plaintext(m)
        return c * (1 + mm * self._n) % self._n2

    def mul(self, c: int, k: int) -> int:
        """``Enc(k * m)`` from ``Enc(m)``; ``k`` any integer (negative inverts ``c``)."""
        self.validate_ciphertext(c)
        k = _check_int(k, "scalar")
        return int(gmpy2.powmod(c, k, self._n2))

    def neg(self, c: int) -> int:
        """``Enc(-m)`` from ``Enc(m)``."""
        return self.mul(c, -1)

    def rerandomize(self, c: int, *, rng: Rng = OS_RNG) -> int:
        """Same plaintext, fresh nonce from ``rng``."""
        self.validate_ciphertext(c)
        r = self.sample_nonce(rng)
        return int(c * gmpy2.powmod(r, self._n, self._n2) % self._n2)


class PaillierSecretKey:
    """A Paillier secret key: distinct odd primes ``p, q`` (``repr`` hides them).

    Construction checks that ``p`` and ``q`` are distinct primes (GMP's BPSW +
    Miller-Rabin when ``check_primes``) and that ``gcd(N, phi(N)) = 1``.
    """

    __slots__ = (
        "_hp",
        "_hq",
        "_p",
        "_p2",
        "_p2_inv_q2",
        "_p_inv_q",
        "_phi",
        "_pk",
        "_q",
        "_q2",
    )

    def __init__(self, p: int, q: int, *, check_primes: bool = True) -> None:
        p = _check_int(p, "prime p")
        q = _check_int(q, "prime q")
        if p == q:
            raise InvalidParameters("Paillier primes must be distinct")
        if p < 3 or q < 3 or p % 2 == 0 or q % 2 == 0:
            raise InvalidParameters("Paillier primes must be odd primes")
        if check_primes and not (gmpy2.is_prime(p, 30) and gmpy2.is_prime(q, 30)):
            raise InvalidParameters("Paillier factors must be prime")
        n = p * q
        phi = (p - 1) * (q - 1)
        if gmpy2.gcd(n, phi) != 1:
            raise InvalidParameters("gcd(N, phi(N)) must be 1")
        self._p, self._q = p, q
        self._pk = PaillierPublicKey(n)
        self._phi = phi
        self._p2, self._q2 = p * p, q * q
        self._p_inv_q = int(gmpy2.invert(p, q))
        self._p2_inv_q2 = int(gmpy2.invert(self._p2, self._q2))
        # L_p(c^(p-1) mod p^2) = m * (p-1) * q mod p, so h_p = ((p-1) q)^-1 mod p.
        self._hp = int(gmpy2.invert((p - 1) * q % p, p))
        self._hq = int(gmpy2.invert((q - 1) * p % q, q))

    def __repr__(self) -> str:
        return f"PaillierSecretKey({self._pk.bits}-bit N, primes hidden)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PaillierSecretKey) and {other._p, other._q} == {
            self._p,
            self._q,
        }

    def __hash__(self) -> int:
        return hash(("PaillierSecretKey", self._pk.n))

    @property
    def public_key(self) -> PaillierPublicKey:
        return self._pk

    @property
    def n(self) -> int:
        return self._pk.n

    @property
    def p(self) -> int:
        return self._p

    @property
    def q(self) -> int:
        return self._q

    @property
    def phi(self) -> int:
        return self._phi

    @property
    def is_blum(self) -> bool:
        """``p = q = 3 mod 4`` (needed by Π_mod)."""
        return self._p % 4 == 3 and self._q % 4 == 3

    def decrypt(self, c: int) -> int:
        """The plaintext in ``[0, N)``.

        ``InvalidEncoding`` for a ciphertext outside ``Z_{N^2}^*``."""
        self._pk.validate_ciphertext(c)
        p, q = self._p, self._q
        xp = powmod_sec(c % self._p2, p - 1, self._p2)
        xq = powmod_sec(c % self._q2, q - 1, self._q2)
        mp = (xp - 1) // p * self._hp % p
        mq = (xq - 1) // q * self._hq % q
        return crt_combine(mp, p, mq, q, self._p_inv_q)

    def decrypt_signed(self, c: int) -> int:
        """The plaintext as the representative in ``(-N/2, N/2]``."""
        m = self.decrypt(c)
        return m - self.n if m > self.n // 2 else m

    def encrypt(self, m: int, r: int | None = None, *, rng: Rng = OS_RNG) -> int:
        """Same result as the public key's ``encrypt``, computed with CRT."""
        if r is None:
            return self.encrypt_with_nonce(m, rng=rng)[0]
        pk = self._pk
        return self._encrypt(pk._plaintext(m), pk._nonce(r))

    def encrypt_with_nonce(self, m: int, *, rng: Rng = OS_RNG) -> tuple[int, int]:
        pk = self._pk
        mm = pk._plaintext(m)
        r = pk.sample_nonce(rng)
        return self._encrypt(mm, r), r

    def _encrypt(self, m: int, r: int) -> int:
        # The exponent N is public: plain powmod mod p^2 and q^2 (half-size moduli).
        n = self.n
        rp = int(gmpy2.powmod(r % self._p2, n, self._p2))
        rq = int(gmpy2.powmod(r % self._q2, n, self._q2))
        rn = crt_combine(rp, self._p2, rq, self._q2, self._p2_inv_q2)
        n2 = self._pk.n_squared
        return (1 + m * self.n) * rn % n2

    def pow_mod_n(self, base: int, exp: int) -> int:
        """``base^exp mod N`` with CRT (exponent treated as secret); ``base`` in ``Z_N^*``."""
        return crt_powmod_sec(base, exp, self._p, self._q, self._p_inv_q)


def crt_powmod_sec(base: int, exp: int, p: int, q: int, p_inv_q: int) -> int:
    """``base^exp mod p*q`` for ``base`` coprime to ``p*q``, via CRT with ``powmod_sec``.

    The exponent is reduced mod ``p - 1`` and ``q - 1`` (Fermat), so both
    exponentiations are half size; negative exponents invert the base first.
    """
    if exp < 0:
        base = int(gmpy2.invert(base, p * q))
        exp = -exp
    xp = powmod_sec(base % p, exp % (p - 1), p)
    xq = powmod_sec(base % q, exp % (q - 1), q)
    return crt_combine(xp, p, xq, q, p_inv_q)


def keypair_from_primes(
    p: int, q: int, *, check_primes: bool = True
) -> tuple[PaillierPublicKey, PaillierSecretKey]:
    sk = PaillierSecretKey(p, q, check_primes=check_primes)
    return sk.public_key, sk


def generate_keypair(
    bits: int = PROTOCOL_MIN_BITS,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    rng: Rng = OS_RNG,
) -> tuple[PaillierPublicKey, PaillierSecretKey]:
    """A key whose ``N`` (exactly ``bits`` bits) is the product of two distinct safe primes.

    ``workers``, ``progress`` and ``rng`` are passed to
    :func:`shardvault.crypto.safeprimes.generate_safe_primes`.
    """
    if not isinstance(bits, int) or bits % 2 or bits < 64:
        raise InvalidParameters("Paillier modulus size must be an even number of bits >= 64")
    p, q = generate_safe_primes(2, bits // 2, workers=workers, progress=progress, rng=rng)
    # The safe-prime generator already proved both primes; skip the re-check.
    return keypair_from_primes(p, q, check_primes=False)
