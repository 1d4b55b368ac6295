"""FROST two-round signing: the functions of RFC 9591 sections 4 and 5, exactly.

Round one (``commit``, section 5.1) makes a pair of single-use nonces and their
commitments; round two (``sign``, section 5.2) makes a signature share; the
coordinator checks every share (``verify_signature_share``, section 5.4) in
``aggregate`` (section 5.3). For the BIP 340 suite the caller passes key packages
already normalised with ``keys.normalize_*`` and the nonces are negated when the
group commitment has odd y.

Nonces are hedged: ``nonce_generate`` (section 4.1) hashes 32 random bytes from the
``rng`` the caller passes (default the OS CSPRNG) with the secret share and, when
given, extra context such as the session id and message (docs/security.md item 17); a
``SigningNonces`` object yields its scalars once, erases them and then refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shardvault.crypto.groups import Point
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.shamir import lagrange_coefficient
from shardvault.errors import InvalidEncoding, InvalidParameters, NonceReused, ProtocolError
from shardvault.protocols.frost.ciphersuites import Ciphersuite
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage

__all__ = [
    "SigningCommitment",
    "SigningNonces",
    "aggregate",
    "commit",
    "compute_binding_factors",
    "compute_group_commitment",
    "encode_group_commitment_list",
    "nonce_generate",
    "sign",
    "verify_signature_share",
]


@dataclass(frozen=True, slots=True)
class SigningCommitment:
    """A participant's public round-one output (identifier, D_i, E_i)."""

    identifier: int
    hiding: Point
    binding: Point

    def encode(self) -> bytes:
        return self.hiding.encode() + self.binding.encode()

    @classmethod
    def decode(cls, suite: Ciphersuite, identifier: int, data: bytes) -> SigningCommitment:
        n = suite.group.element_size
        if len(data) != 2 * n:
            raise InvalidEncoding(f"signing commitment must be {2 * n} bytes, got {len(data)}")
        return cls(
            identifier, suite.group.decode_point(data[:n]), suite.group.decode_point(data[n:])
        )


class SigningNonces:
    """A participant's secret round-one nonces. Usable exactly once."""

    __slots__ = ("_binding", "_hiding", "commitment")

    def __init__(self, hiding: int, binding: int, commitment: SigningCommitment) -> None:
        self._hiding: int | None = hiding
        self._binding: int | None = binding
        self.commitment = commitment

    @property
    def used(self) -> bool:
        return self._hiding is None

    def take(self) -> tuple[int, int]:
        """Return (hiding, binding) and erase them; a second call raises NonceReused."""
        if self._hiding is None or self._binding is None:
            raise NonceReused("signing nonces were already used", check="nonce-single-use")
        out = (self._hiding, self._binding)
        self._hiding = None
        self._binding = None
        return out

    def __repr__(self) -> str:
        state = "used" if self.used else "fresh"
        return f"SigningNonces(id={self.commitment.identifier}, {state}, <redacted>)"


def nonce_generate(
    suite: Ciphersuite,
    secret: int,
    *,
    rng: Rng = OS_RNG,
    extra: bytes = b"",
) -> int:
    """RFC 9591 section 4.1 ``nonce_generate(secret)``:
    ``H3(random_bytes(32) || SerializeScalar(secret) [|| extra])``, the 32 random bytes
    drawn from ``rng``.

    Hashing in the secret share (and ``extra``, the signing request) keeps the nonce
    unpredictable even when ``rng`` is weak.
    """
    random_bytes = rng.token_bytes(32)
    if len(random_bytes) != 32:
        raise InvalidParameters("nonce randomness must be 32 bytes")
    return suite.h3(random_bytes + suite.group.encode_scalar(secret) + extra)


def commit(
    key_package: KeyPackage,
    *,
    rng: Rng = OS_RNG,
    extra: bytes = b"",
) -> tuple[SigningNonces, SigningCommitment]:
    """Round one, RFC 9591 section 5.1 ``commit(sk_i)``: the hiding nonce, then the
    binding nonce, each from :func:`nonce_generate` with ``rng`` and ``extra``, and
    their commitments ``(D_i, E_i)``."""
    suite = key_package.ciphersuite
    g = suite.group
    hiding = nonce_generate(suite, key_package.signing_share, rng=rng, extra=extra)
    binding = nonce_generate(suite, key_package.signing_share, rng=rng, extra=extra)
    if hiding == 0 or binding == 0:  # pragma: no cover - probability 2^-250
        raise ProtocolError("nonce generation produced zero; retry")
    commitment = SigningCommitment(key_package.identifier, g.mul_base(hiding), g.mul_base(binding))
    return SigningNonces(hiding, binding, commitment), commitment


def check_commitment_list(
    suite: Ciphersuite, commitments: Sequence[SigningCommitment], min_signers: int
) -> None:
    """The input checks of RFC 9591 sections 5.2 and 5.3 on a commitment list: sorted by
    identifier, distinct, valid indices, at least min_signers entries, no identity."""
    ids = [c.identifier for c in commitments]
    if len(ids) < min_signers:
        raise InvalidParameters(f"need at least {min_signers} commitments, got {len(ids)}")
    for i in ids:
        if not (1 <= i <= 255):
            raise InvalidParameters(f"identifier {i} out of range")
    if ids != sorted(set(ids)):
        raise InvalidParameters("commitment list must be sorted by identifier without duplicates")
    g = suite.group
    for c in commitments:
        if c.hiding.group is not g or c.binding.group is not g:
            raise InvalidParameters("commitment from another group")
        if c.hiding.is_identity() or c.binding.is_identity():
            raise InvalidParameters(f"commitment of participant {c.identifier} is the identity")


def encode_group_commitment_list(
    suite: Ciphersuite, commitments: Sequence[SigningCommitment]
) -> bytes:
    """RFC 9591 section 4.3 ``encode_group_commitment_list``."""
    g = suite.group
    return b"".join(
        g.encode_scalar(c.identifier) + c.hiding.encode() + c.binding.encode() for c in commitments
    )


def compute_binding_factors(
    suite: Ciphersuite,
    group_public_key: Point,
    commitments: Sequence[SigningCommitment],
    msg: bytes,
) -> dict[int, int]:
    """RFC 9591 section 4.4 ``compute_binding_factors``, as {identifier: rho_i}."""
    prefix = (
        group_public_key.encode()
        + suite.h4(msg)
        + suite.h5(encode_group_commitment_list(suite, commitments))
    )
    g = suite.group
    return {c.identifier: suite.h1(prefix + g.encode_scalar(c.identifier)) for c in commitments}


def _commitment_shares(
    commitments: Sequence[SigningCommitment], binding_factors: Mapping[int, int]
) -> dict[int, Point]:
    """Each participant's D_i + rho_i * E_i."""
    return {c.identifier: c.hiding + c.binding * binding_factors[c.identifier] for c in commitments}


def compute_group_commitment(
    suite: Ciphersuite,
    commitments: Sequence[SigningCommitment],
    binding_factors: Mapping[int, int],
) -> Point:
    """RFC 9591 section 4.5 ``compute_group_commitment``."""
    return suite.group.sum(_commitment_shares(commitments, binding_factors).values())


@dataclass(frozen=True, slots=True)
class _SigningContext:
    binding_factors: dict[int, int]
    #: D_i + rho_i * E_i per participant (before any BIP 340 negation).
    commitment_shares: dict[int, Point]
    group_commitment: Point
    challenge: int
    #: 1, or q - 1 when the BIP 340 group commitment has odd y (nonces are negated).
    nonce_sign: int
    participants: list[int]


def _context(
    suite: Ciphersuite,
    group_public_key: Point,
    commitments: Sequence[SigningCommitment],
    msg: bytes,
) -> _SigningContext:
    factors = compute_binding_factors(suite, group_public_key, commitments, msg)
    shares = _commitment_shares(commitments, factors)
    r = suite.group.sum(shares.values())
    if r.is_identity():
        raise ProtocolError("group commitment is the identity", check="group-commitment")
    nonce_sign = 1
    if suite.bip340 and r.data[0] == 3:  # odd y: BIP 340 uses -R, so every nonce is negated
        nonce_sign = suite.group.order - 1
        r = -r
    challenge = suite.challenge(r, group_public_key, msg)
    ids = [c.identifier for c in commitments]
    return _SigningContext(factors, shares, r, challenge, nonce_sign, ids)


def sign(
    key_package: KeyPackage,
    nonces: SigningNonces,
    msg: bytes,
    commitments: Sequence[SigningCommitment],
) -> int:
    """Round two, RFC 9591 section 5.2 ``sign``: this participant's signature share z_i.

    Consumes ``nonces`` (they are erased and cannot sign again)."""
    suite = key_package.ciphersuite
    check_commitment_list(suite, commitments, key_package.min_signers)
    mine = [c for c in commitments if c.identifier == key_package.identifier]
    if not mine:
        raise InvalidParameters("own identifier is not in the commitment list")
    if mine[0] != nonces.commitment:
        raise InvalidParameters("commitment list carries a different commitment for this signer")
    ctx = _context(suite, key_package.group_public_key, commitments, msg)
    hiding, binding = nonces.take()
    q = suite.group.order
    f = suite.group.scalars
    lam = lagrange_coefficient(key_package.identifier, ctx.participants, q)
    rho = ctx.binding_factors[key_package.identifier]
    # z_i = ±(d_i + e_i rho_i) + (lambda_i c) s_i: the public factors are combined
    # with Python ints, every operation on a secret by the C library.
    nonce = f.mul_add(binding, rho, hiding)
    if ctx.nonce_sign != 1:  # the parity of R is public
        nonce = f.neg(nonce)
    return f.mul_add(key_package.signing_share, lam * ctx.challenge % q, nonce)


def _share_ok(
    suite: Ciphersuite,
    ctx: _SigningContext,
    commitment: SigningCommitment,
    verifying_share: Point,
    sig_share: int,
) -> bool:
    g = suite.group
    if not (0 <= sig_share < g.order):
        return False
    lam = lagrange_coefficient(commitment.identifier, ctx.participants, g.order)
    comm_share = ctx.commitment_shares[commitment.identifier]
    if ctx.nonce_sign != 1:
        comm_share = -comm_share
    return g.mul_base(sig_share) == comm_share + verifying_share * (ctx.challenge * lam % g.order)


def verify_signature_share(
    suite: Ciphersuite,
    identifier: int,
    verifying_share: Point,
    sig_share: int,
    commitments: Sequence[SigningCommitment],
    group_public_key: Point,
    msg: bytes,
) -> bool:
    """RFC 9591 section 5.4 ``verify_signature_share``."""
    ctx = _context(suite, group_public_key, commitments, msg)
    mine = [c for c in commitments if c.identifier == identifier]
    if not mine:
        return False
    return _share_ok(suite, ctx, mine[0], verifying_share, sig_share)


def aggregate(
    public_package: PublicKeyPackage,
    msg: bytes,
    commitments: Sequence[SigningCommitment],
    sig_shares: Mapping[int, int],
    *,
    verify_shares: bool = True,
) -> bytes:
    """RFC 9591 section 5.3 ``aggregate``, checking every share first as section 5.4
    describes (naming each bad signer), then summing them and encoding the signature.

    The finished signature is verified against the group key before it is returned.
    """
    suite = public_package.ciphersuite
    check_commitment_list(suite, commitments, public_package.min_signers)
    ids = [c.identifier for c in commitments]
    if sorted(sig_shares) != ids:
        missing = sorted(set(ids) - set(sig_shares))
        extra = sorted(set(sig_shares) - set(ids))
        raise ProtocolError(
            f"signature shares do not match the commitment list (missing {missing}, extra {extra})",
            blame=tuple(missing),
            check="share-set",
        )
    ctx = _context(suite, public_package.group_public_key, commitments, msg)
    if verify_shares:
        bad = []
        for c in commitments:
            y = public_package.verifying_shares.get(c.identifier)
            if y is None or not _share_ok(suite, ctx, c, y, sig_shares[c.identifier]):
                bad.append(c.identifier)
        if bad:
            raise ProtocolError(
                f"invalid signature share from participant(s) {bad}",
                blame=tuple(bad),
                check="signature-share",
            )
    z = sum(sig_shares.values()) % suite.group.order
    signature = suite.encode_signature(ctx.group_commitment, z)
    if not suite.verify(public_package.group_public_key, msg, signature):
        raise ProtocolError("aggregate signature does not verify", check="signature")
    return signature
