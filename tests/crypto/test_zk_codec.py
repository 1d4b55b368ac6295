"""The byte codec of the CGGMP24 proofs and messages: fixed-width integers and the
one bounds-checked reader."""

from __future__ import annotations

import pytest

from shardvault.crypto.zk.codec import (
    Reader,
    encode_signed,
    encode_unsigned,
    signed_width,
    unsigned_width,
)
from shardvault.errors import InvalidEncoding


def test_fixed_width_codec() -> None:
    assert unsigned_width(256) == 1 and unsigned_width(257) == 2
    assert signed_width(127) == 1 and signed_width(128) == 2
    assert encode_unsigned(5, 2) == b"\x00\x05"
    assert encode_signed(-1, 2) == b"\xff\xff"
    for bad in ((-1, 2), (65536, 2)):
        with pytest.raises(InvalidEncoding):
            encode_unsigned(*bad)
    with pytest.raises(InvalidEncoding):
        encode_signed(2**15, 2)
    r = Reader(b"\x00\x05\xff\xfe\x07", 5, "t")
    assert r.unsigned(2, 6, "a") == 5
    assert r.signed(2) == -2
    with pytest.raises(InvalidEncoding):
        r.finish()
    assert r.byte() == 7
    r.finish()
    with pytest.raises(InvalidEncoding):
        r.take(1)
    with pytest.raises(InvalidEncoding):
        Reader(b"\x00", 2, "t")
    with pytest.raises(InvalidEncoding):
        Reader(b"\x00\x09", 2, "t").unsigned(2, 9, "a")


def test_reader_of_variable_length() -> None:
    r = Reader(b"\x00\x00\x00\x02ab\x07", None, "t")
    assert r.remaining == 7
    assert r.take(r.u32()) == b"ab"
    with pytest.raises(InvalidEncoding, match="t: trailing bytes"):
        r.finish()
    assert r.byte() == 7 and r.remaining == 0
    r.finish()
    with pytest.raises(InvalidEncoding, match="t: truncated"):
        r.take(1)
    with pytest.raises(InvalidEncoding, match="t: truncated"):
        r.take(-1)
    with pytest.raises(InvalidEncoding, match="t: truncated"):
        Reader(b"\x00\x01", None, "t").u32()
    with pytest.raises(InvalidEncoding, match="expected bytes"):
        Reader(bytearray(2), None, "t")  # type: ignore[arg-type]
