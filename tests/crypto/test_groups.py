"""Tests for shardvault.crypto.groups: group laws, cross-checks against independent
implementations, and rejection of every malformed encoding (docs/security.md items 5, 6, 7).

Independent references used here (never the code under test):

* secp256k1: coincurve (libsecp256k1) and a small pure-Python affine implementation of
  SEC 2's curve, for a few fixed scalars;
* Ed25519: PyNaCl's RFC 8032 key derivation (``SigningKey(seed).verify_key``) and a small
  pure-Python Edwards implementation written from RFC 8032 section 5.1, which also serves
  as the validity oracle for fuzzed 32-byte strings.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import coincurve
import nacl.signing
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from nacl import bindings as sodium
from rnghelpers import ReplayRng, SeededRng

from shardvault.crypto.groups import ED25519, SECP256K1, Group, group_by_name
from shardvault.errors import InvalidEncoding, InvalidParameters, InvalidPoint, InvalidScalar

GROUPS = [SECP256K1, ED25519]
GROUP_IDS = [g.name for g in GROUPS]

# ---------------------------------------------------------------------------
# Published curve constants (SEC 2 v2 section 2.4.1; RFC 8032 section 5.1)
# ---------------------------------------------------------------------------

SECP_P = 2**256 - 2**32 - 977
SECP_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP_GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798
SECP_GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8

ED_P = 2**255 - 19
ED_L = 2**252 + 27742317777372353535851937790883648493
ED_D = -121665 * pow(121666, -1, ED_P) % ED_P
ED_SQRT_M1 = pow(2, (ED_P - 1) // 4, ED_P)


def _h(value: str) -> bytes:
    return bytes.fromhex(value)


# ---------------------------------------------------------------------------
# Pure-Python secp256k1 (affine, short Weierstrass y^2 = x^3 + 7)
# ---------------------------------------------------------------------------

_Affine = tuple[int, int] | None


def _secp_add(a: _Affine, b: _Affine) -> _Affine:
    if a is None:
        return b
    if b is None:
        return a
    (x1, y1), (x2, y2) = a, b
    if x1 == x2 and (y1 + y2) % SECP_P == 0:
        return None
    if a == b:
        lam = 3 * x1 * x1 * pow(2 * y1, -1, SECP_P) % SECP_P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, SECP_P) % SECP_P
    x3 = (lam * lam - x1 - x2) % SECP_P
    return x3, (lam * (x1 - x3) - y1) % SECP_P


def _secp_mul(k: int, pt: _Affine) -> _Affine:
    acc: _Affine = None
    while k:
        if k & 1:
            acc = _secp_add(acc, pt)
        pt = _secp_add(pt, pt)
        k >>= 1
    return acc


def _secp_compress(pt: _Affine) -> bytes:
    assert pt is not None
    x, y = pt
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


def _secp_is_square(v: int) -> bool:
    return v % SECP_P == 0 or pow(v, (SECP_P - 1) // 2, SECP_P) == 1


# ---------------------------------------------------------------------------
# Pure-Python Ed25519 (extended coordinates, RFC 8032 section 5.1)
# ---------------------------------------------------------------------------

_Ext = tuple[int, int, int, int]
_ED_IDENTITY_EXT: _Ext = (0, 1, 1, 0)


def _ed_add(a: _Ext, b: _Ext) -> _Ext:
    p = ED_P
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % p
    bb = (y1 + x1) * (y2 + x2) % p
    cc = 2 * t1 * t2 * ED_D % p
    dd = 2 * z1 * z2 % p
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return e * f % p, g * h % p, f * g % p, e * h % p


def _ed_mul(k: int, pt: _Ext) -> _Ext:
    acc = _ED_IDENTITY_EXT
    while k:
        if k & 1:
            acc = _ed_add(acc, pt)
        pt = _ed_add(pt, pt)
        k >>= 1
    return acc


def _ed_is_identity(pt: _Ext) -> bool:
    x, y, z, _ = pt
    return x % ED_P == 0 and (y - z) % ED_P == 0


def _ed_recover_x(y: int, sign: int) -> int | None:
    if y >= ED_P:
        return None
    x2 = (y * y - 1) * pow(ED_D * y * y + 1, -1, ED_P) % ED_P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (ED_P + 3) // 8, ED_P)
    if (x * x - x2) % ED_P:
        x = x * ED_SQRT_M1 % ED_P
    if (x * x - x2) % ED_P:
        return None
    if x & 1 != sign:
        x = ED_P - x
    return x


def _ed_decompress(data: bytes) -> _Ext | None:
    """RFC 8032 section 5.1.3 decoding (rejects y >= p and negative zero)."""
    if len(data) != 32:
        return None
    enc = int.from_bytes(data, "little")
    y, sign = enc & ((1 << 255) - 1), enc >> 255
    x = _ed_recover_x(y, sign)
    if x is None:
        return None
    return x, y, 1, x * y % ED_P


def _ed_compress(pt: _Ext) -> bytes:
    x, y, z, _ = pt
    zi = pow(z, -1, ED_P)
    x, y = x * zi % ED_P, y * zi % ED_P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _ed_reference_valid(data: bytes) -> bool:
    """A canonical encoding of a non-identity element of the prime-order subgroup."""
    pt = _ed_decompress(data)
    return pt is not None and not _ed_is_identity(pt) and _ed_is_identity(_ed_mul(ED_L, pt))


_ED_BASE_Y = 4 * pow(5, -1, ED_P) % ED_P
_ED_BASE = _ed_decompress(_ED_BASE_Y.to_bytes(32, "little"))
assert _ED_BASE is not None
_ED_BASE_EXT: _Ext = _ED_BASE


def _rfc8032_clamped_scalar(seed: bytes) -> int:
    """RFC 8032 section 5.1.5 steps 1-3: the secret scalar s of a 32-byte seed."""
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


# ---------------------------------------------------------------------------
# Malformed encodings
# ---------------------------------------------------------------------------

ED_SMALL_ORDER_CANONICAL = [
    # The eight points of order dividing 8, as listed in libsodium's has_small_order
    # blocklist and in "Taming the many EdDSAs" (Chalkias et al., 2020), Table 6.
    _h("0100000000000000000000000000000000000000000000000000000000000000"),  # identity
    _h("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # order 2
    _h("0000000000000000000000000000000000000000000000000000000000000000"),  # order 4
    _h("0000000000000000000000000000000000000000000000000000000000000080"),  # order 4
    _h("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  # order 8
    _h("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),  # order 8
    _h("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  # order 8
    _h("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),  # order 8
]

ED_SMALL_ORDER_NONCANONICAL = [
    _h("0100000000000000000000000000000000000000000000000000000000000080"),  # y=1, "-0"
    _h("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),  # y=p-1, "-0"
    _h("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # y=p (=0)
    _h("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),  # y=p (=0), sign
    _h("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # y=p+1 (=1)
    _h("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),  # y=p+1, sign
]


def _ed_y_encoding(y: int, sign: int) -> bytes:
    return (y | (sign << 255)).to_bytes(32, "little")


ED_NONCANONICAL_Y = [
    _ed_y_encoding(y, sign)
    for y in (ED_P, ED_P + 1, ED_P + 3, 2**255 - 1)  # p+3 = 3 and 2^255-1 = 18 are on the curve
    for sign in (0, 1)
]


def _secp_x_encoding(prefix: int, x: int) -> bytes:
    return bytes([prefix]) + x.to_bytes(32, "big")


def _first_secp_x(on_curve: bool, start: int = 0) -> int:
    x = start
    while _secp_is_square(x**3 + 7) != on_curve:
        x += 1
    return x


SECP_G = _secp_x_encoding(2, SECP_GX)  # SEC 2 generator, compressed (y is even)
SECP_G_UNCOMPRESSED = b"\x04" + SECP_GX.to_bytes(32, "big") + SECP_GY.to_bytes(32, "big")


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------


def _mutate(data: bytes, index: int, xor: int) -> bytes:
    """``data`` with byte ``index`` XORed with ``xor`` (0 leaves it unchanged)."""
    out = bytearray(data)
    out[index] ^= xor
    return bytes(out)


any_scalar = st.one_of(
    st.sampled_from([0, 1, 2, SECP_N - 1, SECP_N, SECP_N + 1, ED_L - 1, ED_L, ED_L + 1]),
    st.integers(min_value=0, max_value=2**256 - 1),
)
nonzero_scalar = st.integers(min_value=1, max_value=2**256 - 1)

LAW_SETTINGS = settings(max_examples=40, deadline=None)


def _byteorder(group: Group) -> Literal["big", "little"]:
    """Scalar byte order: SEC 1 (big-endian) for secp256k1, RFC 8032 (little) for Ed25519."""
    return "big" if group is SECP256K1 else "little"


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------


def test_published_constants() -> None:
    assert SECP256K1.order == SECP_N
    assert SECP256K1.field_prime == SECP_P
    assert ED25519.order == ED_L
    # The compressed SEC 2 generator; cross-checked with libsecp256k1 (1 * G).
    assert SECP256K1.generator.encode() == SECP_G
    assert coincurve.PrivateKey((1).to_bytes(32, "big")).public_key.format() == SECP_G
    # RFC 8032 section 5.1: B = (x, 4/5) with x "positive" (even).
    assert ED25519.generator.encode() == _ed_compress(_ED_BASE_EXT)
    assert ED25519.generator.encode() == _ed_y_encoding(_ED_BASE_Y, 0)
    for g in GROUPS:
        assert g.mul_base(1) == g.generator
        assert g.element_size == len(g.generator.encode())
        assert g.scalar_size == 32


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_group_order_annihilates_generator(group: Group) -> None:
    assert group.mul(group.generator, group.order).is_identity()
    assert group.mul(group.generator, group.order + 1) == group.generator
    assert group.mul_base(group.order - 1) == -group.generator


def test_group_by_name() -> None:
    assert group_by_name("secp256k1") is SECP256K1
    assert group_by_name("ed25519") is ED25519
    for bad in ("", "Ed25519", "secp256r1", "p256", "curve25519"):
        with pytest.raises(InvalidParameters):
            group_by_name(bad)


# ---------------------------------------------------------------------------
# Group laws
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@LAW_SETTINGS
@given(a=any_scalar, b=any_scalar)
def test_mul_base_is_additive(group: Group, a: int, b: int) -> None:
    assert group.mul_base(a + b) == group.mul_base(a) + group.mul_base(b)
    assert group.mul_base(a - b) == group.mul_base(a) - group.mul_base(b)


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@LAW_SETTINGS
@given(a=any_scalar, b=any_scalar)
def test_mul_is_compatible(group: Group, a: int, b: int) -> None:
    expected = group.mul_base(a * b)
    assert group.mul(group.mul_base(b), a) == expected
    assert a * group.mul_base(b) == expected
    assert group.mul_base(b) * a == expected


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@LAW_SETTINGS
@given(a=nonzero_scalar, b=nonzero_scalar, c=nonzero_scalar)
def test_addition_is_associative_and_commutative(group: Group, a: int, b: int, c: int) -> None:
    pa, pb, pc = group.mul_base(a), group.mul_base(b), group.mul_base(c)
    assert pa + pb == pb + pa
    assert (pa + pb) + pc == pa + (pb + pc)
    assert group.sum([pa, pb, pc]) == group.mul_base(a + b + c)
    assert group.lincomb([a, b], [pb, pc]) == group.mul_base(a * b + b * c)


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@LAW_SETTINGS
@given(k=any_scalar)
def test_negation_and_identity(group: Group, k: int) -> None:
    p = group.mul_base(k)
    assert (p - p).is_identity()
    assert (p + (-p)).is_identity()
    assert -p == group.mul(p, group.order - 1)
    assert -p == group.mul_base(-k)
    neg = -p
    assert -neg == p
    assert p + group.identity == p
    assert group.identity + p == p
    assert (k % group.order == 0) == p.is_identity()


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@LAW_SETTINGS
@given(k=nonzero_scalar)
def test_doubling_matches_addition(group: Group, k: int) -> None:
    p = group.mul_base(k)
    if p.is_identity():
        return
    assert p + p == group.mul(p, 2) == group.mul_base(2 * k)


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@LAW_SETTINGS
@given(k=nonzero_scalar)
def test_encode_decode_round_trip(group: Group, k: int) -> None:
    p = group.mul_base(k)
    if p.is_identity():
        with pytest.raises(InvalidPoint):
            p.encode()
        return
    enc = p.encode()
    assert len(enc) == group.element_size
    q = group.decode_point(enc)
    assert q == p
    assert hash(q) == hash(p)
    assert q.encode() == enc


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_identity_behaviour(group: Group) -> None:
    ident = group.identity
    assert ident.is_identity()
    assert group.is_identity(ident)
    assert not group.generator.is_identity()
    with pytest.raises(InvalidPoint):
        ident.encode()
    with pytest.raises(InvalidPoint):
        group.encode_point(ident)
    assert -ident == ident
    assert ident + ident == ident
    assert group.sum([]) == ident
    assert group.lincomb([], []) == ident
    for k in (0, group.order, 2 * group.order, -group.order):
        assert group.mul_base(k).is_identity()
        assert group.mul(group.generator, k).is_identity()
    for k in (1, 5, group.order - 1):
        assert group.mul(ident, k).is_identity()
    assert "identity" in repr(ident)


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_lincomb_length_mismatch(group: Group) -> None:
    with pytest.raises(ValueError):
        group.lincomb([1, 2], [group.generator])


def test_points_of_different_groups_differ() -> None:
    assert SECP256K1.generator != ED25519.generator
    assert SECP256K1.identity != ED25519.identity
    assert SECP256K1.generator != SECP256K1.generator.encode()


# ---------------------------------------------------------------------------
# Scalars
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@settings(max_examples=100, deadline=None)
@given(k=any_scalar)
def test_scalar_round_trip(group: Group, k: int) -> None:
    enc = group.encode_scalar(k)
    assert len(enc) == 32
    order = _byteorder(group)  # SEC 1 / RFC 8032 conventions
    assert enc == (k % group.order).to_bytes(32, order)
    assert group.decode_scalar(enc) == k % group.order
    if k % group.order:
        assert group.decode_nonzero_scalar(enc) == k % group.order


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_scalar_rejects_non_canonical_and_bad_lengths(group: Group) -> None:
    order = _byteorder(group)
    q = group.order
    bad_values = [q, q + 1, 2**256 - 1]
    if group is ED25519:
        bad_values += [2 * q - 1, 2**253 - 1, 2**255]
    for v in bad_values:
        with pytest.raises(InvalidScalar):
            group.decode_scalar(v.to_bytes(32, order))
        with pytest.raises(InvalidScalar):
            group.decode_nonzero_scalar(v.to_bytes(32, order))
    assert group.decode_scalar((q - 1).to_bytes(32, order)) == q - 1
    for length in (0, 1, 31, 33, 64):
        with pytest.raises(InvalidScalar):
            group.decode_scalar(b"\x01" * length)
        with pytest.raises(InvalidScalar):
            group.decode_nonzero_scalar(b"\x01" * length)
    # A valid 32-byte scalar with a stray byte either side is not accepted either.
    one = (1).to_bytes(32, order)
    for data in (one + b"\x00", b"\x00" + one):
        with pytest.raises(InvalidScalar):
            group.decode_scalar(data)


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_decode_nonzero_scalar_rejects_zero(group: Group) -> None:
    assert group.decode_scalar(bytes(32)) == 0
    with pytest.raises(InvalidScalar):
        group.decode_nonzero_scalar(bytes(32))
    order = _byteorder(group)
    assert group.decode_nonzero_scalar((1).to_bytes(32, order)) == 1


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_random_scalar_in_range(group: Group) -> None:
    seen = {group.random_scalar() for _ in range(64)}
    assert all(0 < k < group.order for k in seen)
    assert len(seen) == 64


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
def test_random_scalar_draws_from_the_given_rng_and_rejects_zero(group: Group) -> None:
    rng = ReplayRng(scalars=[0, 0, 7, group.order - 1])
    assert group.random_scalar(rng) == 7
    assert group.random_scalar(rng) == group.order - 1
    assert rng.exhausted
    a = [group.random_scalar(SeededRng(1)) for _ in range(2)]
    b = [group.random_scalar(SeededRng(2)) for _ in range(2)]
    assert a[0] == a[1] and a[0] != b[0]


# ---------------------------------------------------------------------------
# secp256k1: independent cross-checks and BIP 340 helpers
# ---------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(k=st.integers(min_value=1, max_value=SECP_N - 1))
@example(k=1)
@example(k=SECP_N - 1)
def test_secp256k1_mul_base_matches_coincurve(k: int) -> None:
    kb = k.to_bytes(32, "big")
    expected = coincurve.PrivateKey(kb).public_key.format(compressed=True)
    assert SECP256K1.mul_base(k).encode() == expected


@settings(max_examples=40, deadline=None)
@given(a=st.integers(min_value=1, max_value=SECP_N - 1), b=st.integers(2, SECP_N - 1))
def test_secp256k1_mul_and_add_match_coincurve(a: int, b: int) -> None:
    pa = coincurve.PrivateKey(a.to_bytes(32, "big")).public_key
    pb = coincurve.PrivateKey(b.to_bytes(32, "big")).public_key
    ours_a, ours_b = SECP256K1.decode_point(pa.format()), SECP256K1.decode_point(pb.format())
    assert (ours_a * b).encode() == pa.multiply(b.to_bytes(32, "big")).format()
    if a != b and a + b != SECP_N:
        combined = coincurve.PublicKey.combine_keys([pa, pb]).format()
        assert (ours_a + ours_b).encode() == combined


@pytest.mark.parametrize("k", [1, 2, 3, 7, 2**128 + 1, SECP_N // 3, SECP_N - 2])
def test_secp256k1_mul_base_matches_pure_python(k: int) -> None:
    expected = _secp_compress(_secp_mul(k, (SECP_GX, SECP_GY)))
    assert SECP256K1.mul_base(k).encode() == expected
    assert (SECP256K1.generator * k).encode() == expected


@settings(max_examples=60, deadline=None)
@given(k=st.integers(min_value=1, max_value=SECP_N - 1))
def test_secp256k1_bip340_helpers(k: int) -> None:
    p = SECP256K1.mul_base(k)
    uncompressed = coincurve.PrivateKey(k.to_bytes(32, "big")).public_key.format(compressed=False)
    x, y = uncompressed[1:33], int.from_bytes(uncompressed[33:], "big")
    assert SECP256K1.xonly(p) == x
    assert SECP256K1.has_even_y(p) == (y % 2 == 0)
    assert SECP256K1.has_even_y(-p) != SECP256K1.has_even_y(p)
    lifted = SECP256K1.lift_x(x)
    assert SECP256K1.has_even_y(lifted)
    assert lifted == (p if y % 2 == 0 else -p)


def test_secp256k1_bip340_helpers_reject_bad_input() -> None:
    with pytest.raises(InvalidPoint):
        SECP256K1.has_even_y(SECP256K1.identity)
    with pytest.raises(InvalidPoint):
        SECP256K1.xonly(SECP256K1.identity)
    x_good = SECP_GX.to_bytes(32, "big")
    for bad in (b"", x_good[:31], x_good + b"\x00", b"\x02" + x_good):
        with pytest.raises(InvalidPoint):
            SECP256K1.lift_x(bad)
    for x in (SECP_P, 2**256 - 1, _first_secp_x(on_curve=False)):
        with pytest.raises(InvalidPoint):
            SECP256K1.lift_x(x.to_bytes(32, "big"))


# ---------------------------------------------------------------------------
# secp256k1: malformed encodings
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        SECP_G[:31],
        SECP_G[:32],
        SECP_G[1:],  # 32 bytes: x without prefix
        SECP_G + b"\x00",  # 34 bytes
        b"\x02" + SECP_G,  # 34 bytes
        SECP_G_UNCOMPRESSED,  # 65 bytes, SEC 1 uncompressed
        SECP_G_UNCOMPRESSED[:64],
        b"\x06" + SECP_G_UNCOMPRESSED[1:],  # hybrid, even y
        b"\x07" + SECP_G_UNCOMPRESSED[1:],  # hybrid, odd y (inconsistent)
        bytes(65),
    ],
    ids=lambda d: f"len{len(d)}",
)
def test_secp256k1_rejects_bad_lengths(data: bytes) -> None:
    with pytest.raises(InvalidPoint):
        SECP256K1.decode_point(data)


@pytest.mark.parametrize("prefix", [0x00, 0x01, 0x04, 0x05, 0x06, 0x07, 0x08, 0x12, 0x80, 0xFF])
def test_secp256k1_rejects_bad_prefix(prefix: int) -> None:
    data = bytes([prefix]) + SECP_G[1:]
    with pytest.raises(InvalidPoint):
        SECP256K1.decode_point(data)


def test_secp256k1_accepts_both_parities_of_generator_x() -> None:
    g = SECP256K1.decode_point(SECP_G)
    neg_g = SECP256K1.decode_point(b"\x03" + SECP_G[1:])
    assert neg_g == -g
    assert (g + neg_g).is_identity()


def test_secp256k1_rejects_x_not_below_p() -> None:
    # x values >= p, including x + p for an x that is on the curve (which would alias it).
    x_on = _first_secp_x(on_curve=True, start=1)
    assert x_on + SECP_P < 2**256
    assert SECP256K1.decode_point(_secp_x_encoding(2, x_on)).encode() == _secp_x_encoding(2, x_on)
    for x in (SECP_P, SECP_P + 1, SECP_P + x_on, 2**256 - 1):
        for prefix in (2, 3):
            with pytest.raises(InvalidPoint):
                SECP256K1.decode_point(_secp_x_encoding(prefix, x))


def test_secp256k1_rejects_x_not_on_curve() -> None:
    off = [x for x in range(0, 64) if not _secp_is_square(x**3 + 7)]
    assert 0 in off  # x = 0 has no point on secp256k1 (7 is not a square mod p)
    assert len(off) >= 10
    for x in off:
        for prefix in (2, 3):
            data = _secp_x_encoding(prefix, x)
            with pytest.raises(ValueError):  # libsecp256k1 agrees that there is no such point
                coincurve.PublicKey(data)
            with pytest.raises(InvalidPoint):
                SECP256K1.decode_point(data)


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(min_size=0, max_size=70),
        st.builds(
            lambda p, x: bytes([p]) + x,
            st.sampled_from([2, 3]),
            st.binary(min_size=32, max_size=32),
        ),
        st.builds(
            lambda p, x: bytes([p]) + x.to_bytes(32, "big"),
            st.sampled_from([2, 3]),
            st.integers(min_value=SECP_P - 2**20, max_value=2**256 - 1),
        ),
        # Valid points (from libsecp256k1), possibly with one byte changed.
        st.builds(
            _mutate,
            st.builds(
                lambda k: coincurve.PrivateKey(k.to_bytes(32, "big")).public_key.format(),
                st.integers(min_value=1, max_value=SECP_N - 1),
            ),
            st.integers(min_value=0, max_value=32),
            st.integers(min_value=0, max_value=255),
        ),
    )
)
def test_secp256k1_decode_point_fuzz(data: bytes) -> None:
    try:
        ref = coincurve.PublicKey(data).format() if len(data) == 33 else None
    except ValueError:
        ref = None
    if data[:1] not in (b"\x02", b"\x03"):
        ref = None
    try:
        p = SECP256K1.decode_point(data)
    except InvalidEncoding as exc:
        assert isinstance(exc, InvalidPoint)
        assert ref is None
        event("rejected")
        return
    event("accepted")
    assert ref == data
    assert p.encode() == data


# ---------------------------------------------------------------------------
# Ed25519: independent cross-checks
# ---------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32))
def test_ed25519_mul_base_matches_rfc8032_key_derivation(seed: bytes) -> None:
    s = _rfc8032_clamped_scalar(seed)
    expected = nacl.signing.SigningKey(seed).verify_key.encode()
    assert ED25519.mul_base(s % ED_L).encode() == expected
    assert ED25519.mul_base(s).encode() == expected


@pytest.mark.parametrize("k", [1, 2, 3, 8, 2**200 + 5, ED_L // 7, ED_L - 1])
def test_ed25519_mul_matches_pure_python(k: int) -> None:
    expected = _ed_compress(_ed_mul(k, _ED_BASE_EXT))
    assert ED25519.mul_base(k).encode() == expected
    two_b = ED25519.mul_base(2)
    assert (two_b * k).encode() == _ed_compress(_ed_mul(2 * k, _ED_BASE_EXT))


def test_ed25519_small_order_list_is_correct() -> None:
    """The constants really are the 8 points of order dividing 8 (checked in pure Python)."""
    points = [_ed_decompress(enc) for enc in ED_SMALL_ORDER_CANONICAL]
    assert all(p is not None for p in points)
    assert len({_ed_compress(p) for p in points if p is not None}) == 8
    for p in points:
        assert p is not None
        assert _ed_is_identity(_ed_mul(8, p))
    orders = []
    for p in points:
        assert p is not None
        orders.append(next(n for n in (1, 2, 4, 8) if _ed_is_identity(_ed_mul(n, p))))
    assert sorted(orders) == [1, 2, 4, 4, 8, 8, 8, 8]
    for enc in ED_SMALL_ORDER_NONCANONICAL:
        assert _ed_decompress(enc) is None  # RFC 8032 decoding rejects them outright


# ---------------------------------------------------------------------------
# Ed25519: malformed encodings
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", ED25519.generator.data[:31], ED25519.generator.data + b"\x00", bytes(64), b"\x01"],
    ids=lambda d: f"len{len(d)}",
)
def test_ed25519_rejects_bad_lengths(data: bytes) -> None:
    with pytest.raises(InvalidPoint):
        ED25519.decode_point(data)


@pytest.mark.parametrize(
    "data",
    ED_SMALL_ORDER_CANONICAL + ED_SMALL_ORDER_NONCANONICAL,
    ids=lambda d: d.hex()[:8] + ".." + d.hex()[-4:],
)
def test_ed25519_rejects_small_order(data: bytes) -> None:
    with pytest.raises(InvalidPoint):
        ED25519.decode_point(data)


def test_ed25519_rejects_identity() -> None:
    with pytest.raises(InvalidPoint):
        ED25519.decode_point(b"\x01" + bytes(31))


@pytest.mark.parametrize("data", ED_NONCANONICAL_Y, ids=lambda d: d.hex()[:4] + ".." + d.hex()[-2:])
def test_ed25519_rejects_non_canonical_y(data: bytes) -> None:
    assert _ed_decompress(data) is None
    with pytest.raises(InvalidPoint):
        ED25519.decode_point(data)


@pytest.mark.parametrize("small", ED_SMALL_ORDER_CANONICAL[1:], ids=lambda d: d.hex()[:8])
def test_ed25519_rejects_mixed_order(small: bytes) -> None:
    good = ED25519.mul_base(0xC0FFEE).encode()
    mixed = sodium.crypto_core_ed25519_add(good, small)
    pt = _ed_decompress(mixed)
    assert pt is not None  # on the curve, canonical ...
    assert not _ed_is_identity(_ed_mul(ED_L, pt))  # ... but not in the prime-order subgroup
    assert mixed != good
    with pytest.raises(InvalidPoint):
        ED25519.decode_point(mixed)


def test_ed25519_rejects_y_without_x() -> None:
    off = [y for y in range(2, 200) if _ed_recover_x(y, 0) is None]
    assert len(off) >= 20
    for y in off:
        for sign in (0, 1):
            with pytest.raises(InvalidPoint):
                ED25519.decode_point(_ed_y_encoding(y, sign))


def test_ed25519_small_y_on_curve_matches_reference() -> None:
    # Small y values that are on the curve: accepted exactly when the pure-Python reference
    # finds the point in the prime-order subgroup (most are not; some are).
    on_curve = [y for y in range(2, 400) if _ed_recover_x(y, 0) is not None]
    assert len(on_curve) >= 40
    outcomes = set()
    for y in on_curve:
        for sign in (0, 1):
            enc = _ed_y_encoding(y, sign)
            ref = _ed_reference_valid(enc)
            outcomes.add(ref)
            if ref:
                assert ED25519.decode_point(enc).encode() == enc
            else:
                with pytest.raises(InvalidPoint):
                    ED25519.decode_point(enc)
    assert outcomes == {True, False}


@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.binary(min_size=0, max_size=70),
        st.binary(min_size=32, max_size=32),
        st.builds(
            lambda y, s: _ed_y_encoding(y, s),
            st.integers(min_value=ED_P - 64, max_value=2**255 - 1),
            st.integers(0, 1),
        ),
        # Valid points (RFC 8032 public keys from PyNaCl), possibly with one byte changed.
        st.builds(
            _mutate,
            st.builds(
                lambda seed: nacl.signing.SigningKey(seed).verify_key.encode(),
                st.binary(min_size=32, max_size=32),
            ),
            st.integers(min_value=0, max_value=31),
            st.integers(min_value=0, max_value=255),
        ),
    )
)
def test_ed25519_decode_point_fuzz(data: bytes) -> None:
    ref = len(data) == 32 and _ed_reference_valid(data)
    try:
        p = ED25519.decode_point(data)
    except InvalidEncoding as exc:
        assert isinstance(exc, InvalidPoint)
        assert not ref
        event("rejected")
        return
    event("accepted")
    assert ref
    assert p.encode() == data


@settings(max_examples=50, deadline=None)
@given(k=st.integers(min_value=1, max_value=ED_L - 1))
def test_ed25519_valid_points_pass_reference_check(k: int) -> None:
    enc = ED25519.mul_base(k).encode()
    assert _ed_reference_valid(enc)
    # Flipping the sign bit gives -P, which is valid as well.
    flipped = enc[:31] + bytes([enc[31] ^ 0x80])
    assert ED25519.decode_point(flipped) == -ED25519.decode_point(enc)


# ---------------------------------------------------------------------------
# Scalar fuzzing (both groups)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.binary(min_size=0, max_size=70),
        st.binary(min_size=32, max_size=32),
    )
)
def test_decode_scalar_fuzz(group: Group, data: bytes) -> None:
    order = _byteorder(group)
    ref = int.from_bytes(data, order) if len(data) == 32 else None
    valid = ref is not None and ref < group.order
    try:
        k = group.decode_scalar(data)
    except InvalidEncoding as exc:
        assert isinstance(exc, InvalidScalar)
        assert not valid
    else:
        assert valid
        assert k == ref
        assert group.encode_scalar(k) == data
    try:
        k = group.decode_nonzero_scalar(data)
    except InvalidEncoding as exc:
        assert isinstance(exc, InvalidScalar)
        assert not valid or ref == 0
    else:
        assert valid and ref != 0
        assert group.encode_scalar(k) == data


@pytest.mark.parametrize("group", GROUPS, ids=GROUP_IDS)
@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=0, max_size=70))
def test_decode_point_fuzz_only_typed_errors(group: Group, data: bytes) -> None:
    try:
        p = group.decode_point(data)
    except InvalidEncoding as exc:
        assert isinstance(exc, InvalidPoint)
        assert exc.code == "InvalidPoint"
        return
    assert p.encode() == data
    assert not p.is_identity()
