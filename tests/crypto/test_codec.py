"""The shared byte codecs (shardvault.crypto.codec): the bounds-checked ByteReader and
strict unpadded base64url."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto.codec import (
    B64URL_MALFORMED,
    B64URL_NON_CANONICAL,
    ByteReader,
    b64url_decode,
    b64url_encode,
)
from shardvault.errors import InvalidEncoding, InvalidParameters

# ---------------------------------------------------------------------------------------
# base64url
# ---------------------------------------------------------------------------------------


@settings(max_examples=50)
@given(data=st.binary(max_size=80))
def test_b64url_round_trip(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("bad", ["AA==", "A", "AAAAA", "a+b/", "AB", "AAB", "ab c", "é", b"AA"])
def test_b64url_rejects(bad: Any) -> None:
    with pytest.raises(InvalidEncoding):
        b64url_decode(bad)


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ("AA==", B64URL_MALFORMED),
        ("A", B64URL_MALFORMED),
        ("a+b/", B64URL_MALFORMED),
        ("ab c", B64URL_MALFORMED),
        ("é", B64URL_MALFORMED),
        ("\u0661\u0662", B64URL_MALFORMED),  # non-ASCII digits are not in the alphabet
        (b"AA", B64URL_MALFORMED),
        ("AB", B64URL_NON_CANONICAL),  # 0x00 is "AA"; "AB" sets an unused bit
        ("AAB", B64URL_NON_CANONICAL),
    ],
)
def test_b64url_rejection_codes(bad: Any, code: str) -> None:
    with pytest.raises(InvalidEncoding) as info:
        b64url_decode(bad)
    assert info.value.code == code


def test_b64url_empty() -> None:
    assert b64url_encode(b"") == ""
    assert b64url_decode("") == b""


# ---------------------------------------------------------------------------------------
# ByteReader
# ---------------------------------------------------------------------------------------


def test_reader_reads_in_order() -> None:
    r = ByteReader(b"\x01\x02abcdef")
    assert r.peek() == 1
    assert r.byte() == 1
    assert r.byte() == 2
    assert r.take(3) == b"abc"
    assert r.remaining == 3 and not r.at_end()
    assert r.rest() == b"def"
    assert r.at_end() and r.remaining == 0
    assert r.rest() == b""
    r.finish()


@pytest.mark.parametrize("n", [-1, 4, 100])
def test_reader_short_read_raises_and_keeps_the_position(n: int) -> None:
    r = ByteReader(b"abc")
    with pytest.raises(InvalidEncoding, match=r"^truncated signature$"):
        r.take(n, "signature")
    assert r.pos == 0
    assert r.take(3) == b"abc"
    with pytest.raises(InvalidEncoding, match=r"^truncated data$"):
        r.byte()
    with pytest.raises(InvalidEncoding, match=r"^truncated flag$"):
        r.peek("flag")


def test_reader_trailing_bytes() -> None:
    r = ByteReader(b"ab")
    r.take(1)
    with pytest.raises(InvalidEncoding, match=r"^trailing bytes$"):
        r.finish()


def test_reader_uses_the_callers_error_and_wording() -> None:
    def error(message: str) -> InvalidParameters:
        return InvalidParameters(message, code="InvalidThing")

    r = ByteReader(
        b"\x00",
        error=error,
        truncated="thing is truncated ({what})",
        trailing="thing has trailing bytes",
    )
    with pytest.raises(InvalidParameters, match=r"^thing is truncated \(header\)$") as info:
        r.take(2, "header")
    assert info.value.code == "InvalidThing"
    with pytest.raises(InvalidParameters, match=r"^thing has trailing bytes$"):
        r.finish()
    made = r.error("own check failed")
    assert isinstance(made, InvalidParameters) and made.code == "InvalidThing"
    r.byte()
    with pytest.raises(InvalidParameters, match=r"^thing is truncated \(data\)$"):
        r.peek()


def test_reader_what_with_braces_is_not_a_format_string() -> None:
    r = ByteReader(b"", truncated="{what}: truncated")
    with pytest.raises(InvalidEncoding, match=r"^pi-\{x\} proof: truncated$"):
        r.take(1, "pi-{x} proof")
