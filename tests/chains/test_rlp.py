"""RLP: Yellow Paper examples, round trips against the `rlp` package, canonical-form
rejections and a decoding fuzz."""

from __future__ import annotations

from typing import Any

import pytest
import rlp as pyrlp
from hypothesis import given
from hypothesis import strategies as st

from shardvault.chains import rlp
from shardvault.errors import InvalidEncoding, InvalidParameters

# (item, encoding) from the Ethereum wiki / Yellow Paper appendix B.
VECTORS: list[tuple[Any, bytes]] = [
    (b"dog", b"\x83dog"),
    ([b"cat", b"dog"], b"\xc8\x83cat\x83dog"),
    (b"", b"\x80"),
    ([], b"\xc0"),
    (b"\x00", b"\x00"),
    (b"\x0f", b"\x0f"),
    (b"\x7f", b"\x7f"),
    (b"\x80", b"\x81\x80"),
    (b"\x04\x00", b"\x82\x04\x00"),
    ([[], [[]], [[], [[]]]], bytes.fromhex("c7c0c1c0c3c0c1c0")),
    (
        b"Lorem ipsum dolor sit amet, consectetur adipisicing elit",
        b"\xb8\x38Lorem ipsum dolor sit amet, consectetur adipisicing elit",
    ),
    (b"a" * 55, b"\xb7" + b"a" * 55),
    (b"a" * 256, b"\xb9\x01\x00" + b"a" * 256),
    ([b"a" * 60], b"\xf8\x3e\xb8\x3c" + b"a" * 60),
]


@pytest.mark.parametrize(("item", "encoded"), VECTORS)
def test_vectors(item: Any, encoded: bytes) -> None:
    assert rlp.encode(item) == encoded
    assert rlp.decode(encoded) == item
    assert pyrlp.encode(item) == encoded


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b""),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80"),
        (1024, b"\x04\x00"),
        (2**256 - 1, b"\xff" * 32),
    ],
)
def test_uints(value: int, encoded: bytes) -> None:
    assert rlp.encode_uint(value) == encoded
    assert rlp.decode_uint(encoded) == value
    assert rlp.encode(rlp.encode_uint(value)) == pyrlp.encode(value)


def test_tuples_and_bytearrays_encode_like_lists_and_bytes() -> None:
    assert rlp.encode((bytearray(b"ab"), memoryview(b"c"))) == rlp.encode([b"ab", b"c"])


@pytest.mark.parametrize("bad", [-1, True, "1", 1.0])
def test_encode_uint_rejects(bad: Any) -> None:
    with pytest.raises(InvalidParameters):
        rlp.encode_uint(bad)


@pytest.mark.parametrize("bad", [1, "abc", None, [b"a", 2], {b"a": b"b"}])
def test_encode_rejects_non_items(bad: Any) -> None:
    with pytest.raises(InvalidParameters):
        rlp.encode(bad)


@pytest.mark.parametrize("data", [b"\x00\x01", b"\x00", b"\x00" * 32])
def test_decode_uint_rejects_leading_zeros(data: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        rlp.decode_uint(data)


def test_decode_uint_limits() -> None:
    with pytest.raises(InvalidEncoding):
        rlp.decode_uint(b"\x00")
    with pytest.raises(InvalidEncoding):
        rlp.decode_uint(b"\x01" + bytes(8), max_bits=64)
    assert rlp.decode_uint(b"\xff" * 8, max_bits=64) == 2**64 - 1
    with pytest.raises(InvalidEncoding):
        rlp.decode_uint([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty", b""),
        ("single byte wrapped", b"\x81\x00"),
        ("single byte 0x7f wrapped", b"\x81\x7f"),
        ("long string form for short", b"\xb8\x05hello"),
        ("long string length leading zero", b"\xb9\x00\x38" + b"a" * 56),
        ("long list form for short", b"\xf8\x02\x80\x80"),
        ("long list length leading zero", b"\xf9\x00\x38" + b"\x80" * 56),
        ("trailing bytes", b"\x83dog\x00"),
        ("two items", b"\x80\x80"),
        ("truncated string", b"\x83do"),
        ("truncated list", b"\xc3\x80\x80"),
        ("truncated length", b"\xb9\x01"),
        ("list child overruns list", b"\xc2\x83dog"),
        ("huge length", b"\xbf" + b"\xff" * 8),
        ("huge list length", b"\xff" + b"\xff" * 8),
    ],
)
def test_non_canonical_rejected(name: str, data: bytes) -> None:
    with pytest.raises(InvalidEncoding) as info:
        rlp.decode(data)
    assert info.value.code == rlp.RLP_ERROR_CODE


def test_depth_limit() -> None:
    nested: Any = []
    for _ in range(rlp.MAX_DEPTH - 1):
        nested = [nested]
    encoded = pyrlp.encode(nested)
    assert rlp.decode(encoded) == nested
    with pytest.raises(InvalidEncoding):
        rlp.decode(pyrlp.encode([nested]))
    with pytest.raises(InvalidParameters):
        rlp.encode([nested])


def test_decode_requires_bytes() -> None:
    with pytest.raises(InvalidParameters):
        rlp.decode("c0")  # type: ignore[arg-type]


items = st.recursive(
    st.binary(max_size=80),
    lambda children: st.lists(children, max_size=6),
    max_leaves=25,
)


@given(items)
def test_round_trip_against_reference(item: Any) -> None:
    encoded = rlp.encode(item)
    assert encoded == pyrlp.encode(item)
    assert rlp.decode(encoded) == item


@given(st.binary(max_size=300))
def test_decode_random_bytes_only_raises_typed_errors(data: bytes) -> None:
    try:
        item = rlp.decode(data)
    except (InvalidEncoding, InvalidParameters):
        return
    # Whatever decodes is canonical: it re-encodes to the very same bytes.
    assert rlp.encode(item) == data


@given(items, st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=255))
def test_mutated_encodings_decode_canonically_or_fail_typed(item: Any, pos: int, byte: int) -> None:
    encoded = bytearray(rlp.encode(item))
    encoded[pos % len(encoded)] = byte
    try:
        decoded = rlp.decode(bytes(encoded))
    except (InvalidEncoding, InvalidParameters):
        return
    assert rlp.encode(decoded) == bytes(encoded)
