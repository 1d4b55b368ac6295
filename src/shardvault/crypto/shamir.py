"""Shamir secret sharing over a prime-order group's scalar field, with Feldman
commitments and Lagrange interpolation: RFC 9591 Appendix C (``secret_share_shard``,
``vss_commit``, ``vss_verify``, ``polynomial_evaluate``,
``polynomial_interpolate_constant``) and section 4.2 (``derive_interpolating_value``).

Participant indices are the x-coordinates 1..255 (0 is the secret). A threshold
``t`` means any ``t`` shares reconstruct the secret (polynomial degree t - 1),
matching FROST's MIN_PARTICIPANTS and the API's ``minSigners``. The polynomial's
random coefficients come from the ``rng`` the caller passes (default the OS CSPRNG).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shardvault.crypto.groups import Group, Point
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.scalars import scalar_field
from shardvault.errors import InvalidParameters, InvalidScalar

__all__ = [
    "MAX_PARTICIPANTS",
    "SecretShare",
    "check_indices",
    "check_threshold",
    "derive_public_share",
    "evaluate_polynomial",
    "feldman_commit",
    "interpolate_secret",
    "lagrange_coefficient",
    "predict_public_share",
    "public_shares_consistent",
    "split_secret",
    "verify_share",
]

MAX_PARTICIPANTS = 255


@dataclass(frozen=True, slots=True)
class SecretShare:
    """One participant's share f(index). ``repr`` hides the value."""

    index: int
    value: int

    def __repr__(self) -> str:
        return f"SecretShare(index={self.index}, value=<redacted>)"


def check_threshold(t: int, n: int) -> None:
    if not (1 <= t <= n <= MAX_PARTICIPANTS):
        raise InvalidParameters(
            f"need 1 <= threshold <= participants <= {MAX_PARTICIPANTS}, got t={t}, n={n}"
        )


def check_indices(indices: Sequence[int], n: int | None = None) -> None:
    """Indices must be distinct integers in 1..255 (and <= n when n is given)."""
    upper = MAX_PARTICIPANTS if n is None else n
    for i in indices:
        if isinstance(i, bool) or not isinstance(i, int) or not (1 <= i <= upper):
            raise InvalidParameters(f"participant index {i!r} out of range 1..{upper}")
    if len(set(indices)) != len(indices):
        raise InvalidParameters("participant indices must be distinct")


def evaluate_polynomial(coefficients: Sequence[int], x: int, order: int) -> int:
    """Horner evaluation of sum(a_k x^k) mod order (RFC 9591 Appendix C.1.1
    ``polynomial_evaluate``). The coefficients are secret: for secp256k1's and
    Ed25519's orders the products and sums are the C library's constant-time ones
    (:mod:`shardvault.crypto.scalars`); the point ``x`` is public."""
    field = scalar_field(order)
    if field is None:
        acc = 0
        for a in reversed(coefficients):
            acc = (acc * x + a) % order
        return acc
    x %= order
    acc = 0
    for a in reversed(coefficients):
        acc = field.mul_add(acc, x, a)
    return acc


def feldman_commit(group: Group, coefficients: Sequence[int]) -> list[Point]:
    """C_k = a_k * G for every coefficient (RFC 9591 Appendix C.2 ``vss_commit``)."""
    return [group.mul_base(a) for a in coefficients]


def split_secret(
    group: Group,
    secret: int,
    threshold: int,
    participants: int,
    coefficients: Sequence[int] | None = None,
    *,
    rng: Rng = OS_RNG,
) -> tuple[list[SecretShare], list[Point]]:
    """Split ``secret`` into ``participants`` shares, any ``threshold`` of which recover it
    (RFC 9591 Appendix C.1 ``secret_share_shard``, with the Feldman commitments of
    Appendix C.2 ``vss_commit``).

    The coefficients a_1..a_{t-1} are ``t - 1`` random nonzero scalars drawn from
    ``rng``, unless ``coefficients`` gives them (published test vectors). Returns the
    shares for indices 1..n and the Feldman commitments [a_0 G, ..., a_{t-1} G].
    """
    check_threshold(threshold, participants)
    if not (0 < secret < group.order):
        raise InvalidScalar("secret must be a nonzero scalar below the group order")
    if coefficients is None:
        coefficients = [group.random_scalar(rng) for _ in range(threshold - 1)]
    elif len(coefficients) != threshold - 1:
        raise InvalidParameters("need exactly threshold - 1 polynomial coefficients")
    coeffs = [secret, *coefficients]
    shares = [
        SecretShare(i, evaluate_polynomial(coeffs, i, group.order))
        for i in range(1, participants + 1)
    ]
    return shares, feldman_commit(group, coeffs)


def derive_public_share(group: Group, commitments: Sequence[Point], index: int) -> Point:
    """sum_k C_k * index^k: the public image f(index) * G of a share (the verifying
    share of RFC 9591 Appendix C.2 ``derive_group_info``)."""
    powers = []
    x = 1
    for _ in commitments:
        powers.append(x)
        x = (x * index) % group.order
    return group.lincomb(powers, list(commitments))


def verify_share(group: Group, share: SecretShare, commitments: Sequence[Point]) -> bool:
    """Feldman check: f(i) * G == sum_k C_k i^k, for an index in 1..255 (RFC 9591
    Appendix C.2 ``vss_verify``)."""
    try:
        check_indices([share.index])
    except InvalidParameters:
        return False
    if not (0 < share.value < group.order):
        return False
    return group.mul_base(share.value) == derive_public_share(group, commitments, share.index)


def lagrange_coefficient(index: int, indices: Sequence[int], order: int, at: int = 0) -> int:
    """lambda_index for interpolating at ``at`` (0 by default) over ``indices`` (RFC 9591
    section 4.2 ``derive_interpolating_value`` when ``at`` is 0)."""
    if index not in indices:
        raise InvalidParameters(f"index {index} is not among the interpolation set")
    if len(set(indices)) != len(indices):
        raise InvalidParameters("interpolation indices must be distinct")
    num, den = 1, 1
    for j in indices:
        if j == index:
            continue
        num = num * (at - j) % order
        den = den * (index - j) % order
    if den == 0:
        raise InvalidParameters("interpolation indices must be distinct")
    return num * pow(den, -1, order) % order


def interpolate_secret(group: Group, shares: Mapping[int, int] | Sequence[SecretShare]) -> int:
    """Recover f(0) from any subset of shares (the caller supplies at least t of them;
    RFC 9591 Appendix C.1.1 ``polynomial_interpolate_constant``)."""
    pairs = (
        [(s.index, s.value) for s in shares]
        if not isinstance(shares, Mapping)
        else list(shares.items())
    )
    indices = [i for i, _ in pairs]
    check_indices(indices)
    if not pairs:
        raise InvalidParameters("need at least one share")
    f = group.scalars  # the shares and the secret: constant-time products and sums
    acc = 0
    for i, v in pairs:
        acc = f.mul_add(v, lagrange_coefficient(i, indices, group.order), acc)
    return acc


def predict_public_share(
    group: Group, group_public_key: Point, base: Mapping[int, Point], at: int
) -> Point:
    """Interpolate, in the exponent, through ``(0, group_public_key)`` and the public
    shares ``base``; evaluate at ``at``."""
    xs = [0, *base]
    points = [group_public_key, *base.values()]
    return group.lincomb([lagrange_coefficient(x, xs, group.order, at=at) for x in xs], points)


def public_shares_consistent(
    group: Group, group_public_key: Point, shares: Mapping[int, Point], t: int
) -> bool:
    """Whether the public shares ``shares[i] = f(i)·G`` lie on one polynomial ``f`` of
    degree ``t - 1`` with ``f(0)·G = group_public_key``."""
    idx = sorted(shares)
    base = {i: shares[i] for i in idx[: t - 1]}
    return all(
        predict_public_share(group, group_public_key, base, j) == shares[j] for j in idx[t - 1 :]
    )
