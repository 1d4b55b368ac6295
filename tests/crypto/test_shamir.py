"""Tests for shardvault.crypto.shamir: Shamir splitting, Feldman verification, Lagrange
interpolation and parameter checks (docs/security.md items 6, 9, 21), on both groups.

Expected share values are recomputed here from the polynomial definition (own Horner
evaluation), never taken from the module under test.
"""

from __future__ import annotations

import itertools
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rnghelpers import ReplayRng

from shardvault.crypto.groups import ED25519, SECP256K1, Group
from shardvault.crypto.shamir import (
    MAX_PARTICIPANTS,
    SecretShare,
    check_indices,
    check_threshold,
    derive_public_share,
    interpolate_secret,
    lagrange_coefficient,
    split_secret,
    verify_share,
)
from shardvault.errors import InvalidParameters, InvalidScalar

GROUPS = [SECP256K1, ED25519]
GROUP_IDS = [g.name for g in GROUPS]
SMALL_TN = [(t, n) for n in range(1, 8) for t in range(1, n + 1)]

_rng = secrets.SystemRandom()


def _poly(coefficients: list[int], x: int, q: int) -> int:
    """sum a_k x^k mod q, written out directly."""
    return sum(a * pow(x, k, q) for k, a in enumerate(coefficients)) % q


def _nonzero(group: Group) -> int:
    return 1 + secrets.randbelow(group.order - 1)


def test_max_participants() -> None:
    assert MAX_PARTICIPANTS == 255


# ---------------------------------------------------------------------------
# Split / interpolate / verify, exhaustively for small (t, n)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@pytest.mark.parametrize(("t", "n"), SMALL_TN, ids=[f"t{t}n{n}" for t, n in SMALL_TN])
def test_split_small(group: Group, t: int, n: int) -> None:
    q = group.order
    secret = _nonzero(group)
    shares, commitments = split_secret(group, secret, t, n)

    assert [s.index for s in shares] == list(range(1, n + 1))
    assert all(0 < s.value < q for s in shares)
    assert len(commitments) == t
    assert commitments[0] == group.mul_base(secret)

    # Every t-subset reconstructs; every (t-1)-subset gives something else.
    for subset in itertools.combinations(shares, t):
        assert interpolate_secret(group, list(subset)) == secret
        assert interpolate_secret(group, {s.index: s.value for s in subset}) == secret
    if t > 1:
        for subset in itertools.combinations(shares, t - 1):
            assert interpolate_secret(group, list(subset)) != secret
    # More than t shares also reconstruct.
    assert interpolate_secret(group, shares) == secret

    other_shares, other_commitments = split_secret(group, (secret + 1) % q or 1, t, n)
    for share in shares:
        assert verify_share(group, share, commitments)
        assert derive_public_share(group, commitments, share.index) == group.mul_base(share.value)
        bumped = SecretShare(share.index, (share.value + 1) % q)
        assert not verify_share(group, bumped, commitments)
        assert not verify_share(group, share, other_commitments)
        # A genuine share presented under another participant's index fails too
        # (for t = 1 every share equals the secret, so moving it changes nothing).
        if t > 1:
            moved = SecretShare(share.index % n + 1, share.value)
            assert not verify_share(group, moved, commitments)
    for share in other_shares:
        assert verify_share(group, share, other_commitments)
        assert not verify_share(group, share, commitments)


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_split_large(group: Group) -> None:
    t, n = 100, 255
    secret = _nonzero(group)
    shares, commitments = split_secret(group, secret, t, n)
    assert len(shares) == n and len(commitments) == t
    for _ in range(3):
        subset = _rng.sample(shares, t)
        assert interpolate_secret(group, subset) == secret
        assert interpolate_secret(group, subset[:-1]) != secret
    assert interpolate_secret(group, shares) == secret
    # Feldman checks cost t scalar multiplications each: check the ends and a sample.
    for share in [shares[0], shares[-1], *_rng.sample(shares[1:-1], 6)]:
        assert verify_share(group, share, commitments)
    assert not verify_share(
        group, SecretShare(255, (shares[-1].value + 1) % group.order), commitments
    )


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@pytest.mark.parametrize(("t", "n"), [(1, 1), (1, 4), (2, 3), (3, 5), (5, 5)])
def test_split_with_given_coefficients(group: Group, t: int, n: int) -> None:
    """Shares are exactly f(1..n) for f = secret + a_1 x + ... (recomputed independently)."""
    q = group.order
    secret = _nonzero(group)
    coefficients = [_nonzero(group) for _ in range(t - 1)]
    shares, commitments = split_secret(group, secret, t, n, coefficients=coefficients)
    poly = [secret, *coefficients]
    assert [s.value for s in shares] == [_poly(poly, i, q) for i in range(1, n + 1)]
    assert commitments == [group.mul_base(a) for a in poly]


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@pytest.mark.parametrize(("t", "n"), [(1, 1), (2, 3), (4, 5)])
def test_split_draws_its_coefficients_from_the_rng(group: Group, t: int, n: int) -> None:
    secret = _nonzero(group)
    coefficients = [_nonzero(group) for _ in range(t - 1)]
    rng = ReplayRng(scalars=coefficients)
    assert split_secret(group, secret, t, n, rng=rng) == split_secret(
        group, secret, t, n, coefficients=coefficients
    )
    assert rng.exhausted


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_split_rejects_bad_inputs(group: Group) -> None:
    q = group.order
    for secret in (0, q, q + 1, -1):
        with pytest.raises(InvalidScalar):
            split_secret(group, secret, 2, 3)
    for t, n in ((0, 3), (4, 3), (1, 256), (2, 0)):
        with pytest.raises(InvalidParameters):
            split_secret(group, 5, t, n)
    for coefficients in ([], [1, 2], [1, 2, 3]):
        with pytest.raises(InvalidParameters):
            split_secret(group, 5, 2, 3, coefficients=coefficients)


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_verify_share_rejects_out_of_range_values(group: Group) -> None:
    secret = _nonzero(group)
    shares, commitments = split_secret(group, secret, 2, 3)
    share = shares[0]
    q = group.order
    # Same residue, non-canonical representation: must not verify.
    assert not verify_share(group, SecretShare(share.index, share.value + q), commitments)
    assert not verify_share(group, SecretShare(share.index, share.value - q), commitments)
    assert not verify_share(group, SecretShare(share.index, 0), commitments)
    assert not verify_share(group, SecretShare(share.index, q), commitments)


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_verify_share_rejects_out_of_range_index(group: Group) -> None:
    q = group.order
    secret = _nonzero(group)
    a1 = _nonzero(group)
    shares, commitments = split_secret(group, secret, 2, 3, coefficients=[a1])
    forged = [
        SecretShare(0, secret),  # f(0) is the secret, not a share
        SecretShare(q + 1, shares[0].value),  # same residue as index 1
        SecretShare(-1, (secret - a1) % q),  # f(-1)
        SecretShare(256, _poly([secret, a1], 256, q)),  # beyond MAX_PARTICIPANTS
    ]
    for share in forged:
        assert not verify_share(group, share, commitments), share.index


# ---------------------------------------------------------------------------
# Hypothesis: random (t, n) and subsets
# ---------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(group=st.sampled_from(GROUPS), data=st.data())
def test_split_random_parameters(group: Group, data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=1, max_value=40), label="n")
    t = data.draw(st.integers(min_value=1, max_value=n), label="t")
    secret = data.draw(st.integers(min_value=1, max_value=group.order - 1), label="secret")
    shares, commitments = split_secret(group, secret, t, n)
    size = data.draw(st.integers(min_value=t, max_value=n), label="size")
    subset = data.draw(st.permutations(shares), label="order")[:size]
    assert interpolate_secret(group, subset) == secret
    if t > 1:
        assert interpolate_secret(group, subset[: t - 1]) != secret
    share = data.draw(st.sampled_from(shares), label="share")
    assert verify_share(group, share, commitments)
    delta = data.draw(st.integers(min_value=1, max_value=group.order - 1), label="delta")
    tampered = SecretShare(share.index, (share.value + delta) % group.order)
    assert not verify_share(group, tampered, commitments)


# ---------------------------------------------------------------------------
# Lagrange coefficients
# ---------------------------------------------------------------------------


index_sets = st.lists(
    st.integers(min_value=1, max_value=MAX_PARTICIPANTS), min_size=1, max_size=30, unique=True
)


@settings(max_examples=100, deadline=None)
@given(group=st.sampled_from(GROUPS), indices=index_sets)
def test_lagrange_coefficients_sum_to_one(group: Group, indices: list[int]) -> None:
    q = group.order
    lambdas = [lagrange_coefficient(i, indices, q) for i in indices]
    assert sum(lambdas) % q == 1
    assert all(0 <= lam < q for lam in lambdas)
    # Interpolating x (degree 1) at 0 gives 0 when there are at least two points.
    if len(indices) > 1:
        assert sum(lam * i for lam, i in zip(lambdas, indices, strict=True)) % q == 0


@settings(max_examples=60, deadline=None)
@given(
    group=st.sampled_from(GROUPS),
    indices=index_sets,
    at=st.integers(min_value=0, max_value=300),
    data=st.data(),
)
def test_lagrange_interpolates_at_any_point(
    group: Group, indices: list[int], at: int, data: st.DataObject
) -> None:
    q = group.order
    degree = data.draw(st.integers(min_value=0, max_value=len(indices) - 1), label="degree")
    coeffs = data.draw(
        st.lists(st.integers(0, q - 1), min_size=degree + 1, max_size=degree + 1), label="f"
    )
    total = sum(lagrange_coefficient(i, indices, q, at=at) * _poly(coeffs, i, q) for i in indices)
    assert total % q == _poly(coeffs, at, q)


def test_lagrange_known_small_values() -> None:
    q = 101  # hand-checkable: lambda_1 over {1, 2} at 0 is 2/(2-1) = 2, lambda_2 is -1
    assert lagrange_coefficient(1, [1, 2], q) == 2
    assert lagrange_coefficient(2, [1, 2], q) == q - 1
    assert lagrange_coefficient(7, [7], q) == 1


def test_lagrange_rejects_bad_sets() -> None:
    q = SECP256K1.order
    with pytest.raises(InvalidParameters):
        lagrange_coefficient(3, [1, 2], q)
    with pytest.raises(InvalidParameters):
        lagrange_coefficient(1, [1, 1 + q], q)  # distinct ints, same field element


def test_lagrange_rejects_duplicate_index() -> None:
    q = SECP256K1.order
    with pytest.raises(InvalidParameters):
        lagrange_coefficient(1, [1, 1, 2], q)


# ---------------------------------------------------------------------------
# Parameter checks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("t", "n"), [(1, 1), (1, 255), (255, 255), (2, 3), (3, 3)])
def test_check_threshold_accepts(t: int, n: int) -> None:
    check_threshold(t, n)


@pytest.mark.parametrize(
    ("t", "n"), [(0, 1), (0, 0), (1, 0), (2, 1), (4, 3), (1, 256), (256, 256), (-1, 3), (2, -1)]
)
def test_check_threshold_rejects(t: int, n: int) -> None:
    with pytest.raises(InvalidParameters):
        check_threshold(t, n)


@pytest.mark.parametrize("indices", [[1], [1, 2, 3], [255], [1, 255], list(range(1, 256))])
def test_check_indices_accepts(indices: list[int]) -> None:
    check_indices(indices)


@pytest.mark.parametrize(
    "indices",
    [
        [0],
        [256],
        [-1],
        [1, 1],
        [3, 2, 3],
        [True],
        [False],
        [1, True],
        [1.0],
        ["1"],
        [None],
        [2**64],
    ],
    ids=repr,
)
def test_check_indices_rejects(indices: list[object]) -> None:
    with pytest.raises(InvalidParameters):
        check_indices(indices)  # type: ignore[arg-type]


def test_check_indices_upper_bound() -> None:
    check_indices([1, 2, 3], 3)
    with pytest.raises(InvalidParameters):
        check_indices([1, 4], 3)
    with pytest.raises(InvalidParameters):
        check_indices([1], 0)


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_interpolate_rejects_bad_share_sets(group: Group) -> None:
    with pytest.raises(InvalidParameters):
        interpolate_secret(group, [])
    with pytest.raises(InvalidParameters):
        interpolate_secret(group, {})
    with pytest.raises(InvalidParameters):
        interpolate_secret(group, [SecretShare(1, 5), SecretShare(1, 5)])
    with pytest.raises(InvalidParameters):
        interpolate_secret(group, [SecretShare(0, 5), SecretShare(1, 5)])
    with pytest.raises(InvalidParameters):
        interpolate_secret(group, {256: 5})


# ---------------------------------------------------------------------------
# Secrets stay out of reprs (docs/security.md item 21)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_secret_share_repr_is_redacted(group: Group) -> None:
    shares, _ = split_secret(group, _nonzero(group), 2, 3)
    for share in shares:
        value = share.value
        forms = {
            str(value),
            hex(value),
            f"{value:x}",
            f"{value:X}",
            value.to_bytes(32, "big").hex(),
            value.to_bytes(32, "little").hex(),
        }
        for text in (repr(share), str(share), repr([share]), f"{share}", f"{share!r}"):
            assert str(share.index) in text
            for form in forms:
                assert form not in text
                assert form.lower() not in text.lower()
    small = SecretShare(7, 123456789)
    assert "123456789" not in repr(small)
    assert hex(123456789)[2:] not in repr(small)
