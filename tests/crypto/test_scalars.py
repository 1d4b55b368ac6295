"""Constant-time scalar arithmetic (docs/security.md item 21): the C libraries'
operations give exactly what Python's integer arithmetic gives, for every operand
(zero, one and order - 1 included), and they really are the C libraries' functions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scalarhelpers import Recorder

from shardvault.crypto.groups import ED25519, SECP256K1
from shardvault.crypto.hashing import expand_message_xmd_sha256, hash_to_field_sha256
from shardvault.crypto.scalars import (
    ED25519_SCALARS,
    SECP256K1_SCALARS,
    ScalarField,
    scalar_field,
)
from shardvault.crypto.shamir import evaluate_polynomial, interpolate_secret, split_secret
from shardvault.errors import InvalidScalar

FIELDS = [SECP256K1_SCALARS, ED25519_SCALARS]
fields = pytest.mark.parametrize("f", FIELDS, ids=repr)


def _scalar(f: ScalarField) -> st.SearchStrategy[int]:
    q = f.order
    return st.one_of(
        st.sampled_from([0, 1, 2, q - 2, q - 1, q // 2, (q + 1) // 2]),
        st.integers(min_value=0, max_value=q - 1),
    )


@fields
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_operations_equal_integer_arithmetic(f: ScalarField, data: st.DataObject) -> None:
    q = f.order
    a, b, c = (data.draw(_scalar(f)) for _ in range(3))
    assert f.add(a, b) == (a + b) % q
    assert f.sub(a, b) == (a - b) % q
    assert f.mul(a, b) == a * b % q
    assert f.neg(a) == -a % q
    assert f.mul_add(a, b, c) == (a * b + c) % q
    assert f.sum([a, b, c]) == (a + b + c) % q


@settings(max_examples=150, deadline=None)
@given(data=st.binary(min_size=48, max_size=48))
def test_secp256k1_wide_reduction_is_rfc9380_hash_to_field(data: bytes) -> None:
    q = SECP256K1_SCALARS.order
    assert SECP256K1_SCALARS.reduce_wide(data) == int.from_bytes(data, "big") % q


def test_secp256k1_wide_reduction_edges() -> None:
    q = SECP256K1_SCALARS.order
    for value in (0, 1, q - 1, q, q + 1, 2**256 - 1, 2**384 - 1, q * 2**128 - 1):
        data = value.to_bytes(48, "big")
        assert SECP256K1_SCALARS.reduce_wide(data) == value % q
    # hash_to_field as the FROST secp256k1 suites compute it
    wide = expand_message_xmd_sha256(b"m", b"dst", 48)
    assert SECP256K1_SCALARS.reduce_wide(wide) == hash_to_field_sha256(b"m", b"dst", q)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(min_size=64, max_size=64))
def test_ed25519_wide_reduction(data: bytes) -> None:
    assert ED25519_SCALARS.reduce_wide(data) == int.from_bytes(data, "little") % ED25519.order


@fields
def test_unreduced_operands_and_wrong_lengths_are_refused(f: ScalarField) -> None:
    for bad in (-1, f.order, f.order + 5):
        with pytest.raises(InvalidScalar):
            f.add(bad, 1)
        with pytest.raises(InvalidScalar):
            f.mul(1, bad)
        with pytest.raises(InvalidScalar):
            f.neg(bad)
    with pytest.raises(InvalidScalar):
        f.reduce_wide(b"\x00" * 47)


def test_groups_and_orders_map_to_their_fields() -> None:
    assert SECP256K1.scalars is SECP256K1_SCALARS
    assert ED25519.scalars is ED25519_SCALARS
    assert scalar_field(SECP256K1.order) is SECP256K1_SCALARS
    assert scalar_field(ED25519.order) is ED25519_SCALARS
    assert scalar_field(101) is None


@pytest.mark.parametrize("group", [SECP256K1, ED25519], ids=lambda g: g.name)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_shamir_on_the_c_path_equals_horner_and_lagrange_on_ints(group: Any, data: Any) -> None:
    q = group.order
    t = data.draw(st.integers(min_value=1, max_value=5))
    coefficients = [data.draw(st.integers(min_value=0, max_value=q - 1)) for _ in range(t)]
    x = data.draw(st.integers(min_value=1, max_value=255))
    expected = 0
    for a in reversed(coefficients):
        expected = (expected * x + a) % q
    assert evaluate_polynomial(coefficients, x, q) == expected
    secret = data.draw(st.integers(min_value=1, max_value=q - 1))
    shares, _ = split_secret(group, secret, t, t + 1)
    assert interpolate_secret(group, shares[1:]) == secret


def test_other_orders_keep_python_arithmetic() -> None:
    assert evaluate_polynomial([3, 5, 7], 2, 101) == (3 + 5 * 2 + 7 * 4) % 101


def test_operations_call_the_c_libraries(c_calls: dict[str, Recorder]) -> None:
    for f, lib, names in (
        (
            SECP256K1_SCALARS,
            "secp256k1",
            [
                "secp256k1_ec_seckey_tweak_add",
                "secp256k1_ec_seckey_tweak_mul",
                "secp256k1_ec_seckey_negate",
            ],
        ),
        (
            ED25519_SCALARS,
            "ed25519",
            [
                "crypto_core_ed25519_scalar_add",
                "crypto_core_ed25519_scalar_mul",
                "crypto_core_ed25519_scalar_negate",
            ],
        ),
    ):
        a, b = 12345678901234567890, 98765432109876543210
        assert (f.add(a, b), f.mul(a, b), f.neg(a)) == ((a + b), a * b % f.order, f.order - a)
        assert c_calls[lib].calls == names
    ED25519_SCALARS.reduce_wide(bytes(64))
    assert c_calls["ed25519"].calls[-1] == "crypto_core_ed25519_scalar_reduce"
