"""RLP: the Ethereum consensus test suite's RLP tests (ethereum/tests RLPTests, verbatim in
tests/vectors/ethereum-tests-*.json), our own extra examples, round trips against the `rlp`
package, canonical-form rejections and a decoding fuzz."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rlp as pyrlp
from hypothesis import given
from hypothesis import strategies as st
from shared_vectors import LOCAL_VECTORS

from shardvault.chains import rlp
from shardvault.errors import InvalidEncoding, InvalidParameters


def _load(name: str) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((LOCAL_VECTORS / name).read_text())
    return data


# ethereum/tests RLPTests/rlptest.json, invalidRLPTest.json, RandomRLPTests/example.json.
ETH_VALID = _load("ethereum-tests-rlptest.json")
ETH_INVALID = _load("ethereum-tests-invalidRLPTest.json")
ETH_RANDOM = _load("ethereum-tests-RandomRLPTests-example.json")


def _out(case: dict[str, Any]) -> bytes:
    """The files write "out" as hex with or without ``0x``, in either case."""
    out: str = case["out"]
    return bytes.fromhex(out[2:] if out[:2].lower() == "0x" else out)


def _item(value: Any) -> Any:
    """An ethereum/tests "in" value as our encoder takes it: a list stays a list, a string
    is its UTF-8 bytes, except ``"#<decimal>"`` which is a (big) integer; integers become
    their minimal big-endian bytes (``rlp.encode_uint``, so ``0 -> b""``)."""
    if isinstance(value, list):
        return [_item(child) for child in value]
    if isinstance(value, str) and value.startswith("#"):
        return rlp.encode_uint(int(value[1:]))
    if isinstance(value, str):
        return value.encode()
    assert isinstance(value, int) and not isinstance(value, bool)
    return rlp.encode_uint(value)


def _integer(value: Any) -> int | None:
    if isinstance(value, str) and value.startswith("#"):
        return int(value[1:])
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def test_ethereum_vector_counts() -> None:
    assert len(ETH_VALID) == 28
    assert len(ETH_INVALID) == 26
    assert all(case["in"] == "INVALID" for case in ETH_INVALID.values())
    assert [case["in"] for case in ETH_RANDOM.values()] == ["VALID"]


@pytest.mark.parametrize("name", list(ETH_VALID))
def test_ethereum_valid(name: str) -> None:
    case = ETH_VALID[name]
    item, encoded = _item(case["in"]), _out(case)
    assert rlp.encode(item) == encoded
    assert rlp.decode(encoded) == item
    assert pyrlp.encode(item) == encoded
    value = _integer(case["in"])
    if value is not None:  # integers also decode back through decode_uint
        decoded = rlp.decode(encoded)
        assert isinstance(decoded, bytes)
        assert rlp.decode_uint(decoded, max_bits=max(256, value.bit_length())) == value
        if value.bit_length() > 256:  # "bigint" (2**256): over the default 256-bit limit
            with pytest.raises(InvalidEncoding):
                rlp.decode_uint(decoded)


@pytest.mark.parametrize("name", list(ETH_RANDOM))
def test_ethereum_random_valid(name: str) -> None:
    encoded = _out(ETH_RANDOM[name])
    assert rlp.encode(rlp.decode(encoded)) == encoded


@pytest.mark.parametrize("name", list(ETH_INVALID))
def test_ethereum_invalid(name: str) -> None:
    with pytest.raises(InvalidEncoding) as info:
        rlp.decode(_out(ETH_INVALID[name]))
    assert info.value.code == rlp.RLP_ERROR_CODE


# Ours (item, encoding): examples not in ethereum/tests (the Yellow Paper / wiki examples
# that are there, e.g. "dog", [], b"\x00", 128, listsoflists2, the 56-byte Lorem, are
# tested above from the file).
VECTORS: list[tuple[Any, bytes]] = [
    ([b"cat", b"dog"], b"\xc8\x83cat\x83dog"),
    (b"\x0f", b"\x0f"),
    (b"\x04\x00", b"\x82\x04\x00"),
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


# Ours; the empty input and 0x8100 / 0x817f are ethereum/tests' emptyEncoding and
# bytesShouldBeSingleByte00/7F, tested above from the file.
@pytest.mark.parametrize(
    ("name", "data"),
    [
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
