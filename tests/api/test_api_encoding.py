"""The API's strict decoders, fuzzed: every input either round-trips canonically or
is refused with a 400 ``InvalidEncoding`` naming the field -- never another error."""

from __future__ import annotations

import base64
import string
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from shardvault.api.encoding import (
    b64url_decode,
    b64url_encode,
    hex0x,
    iso_utc,
    parse_hex0x,
)
from shardvault.api.errors import ApiError

B64_CHARS = string.ascii_letters + string.digits + "-_+/= \n"
HEX_CHARS = "0123456789abcdefABCDEFxXg "


@given(st.binary(max_size=80))
def test_b64url_round_trip(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert b64url_decode(text, "f") == data


@given(st.one_of(st.text(alphabet=B64_CHARS, max_size=60), st.text(max_size=20)))
def test_b64url_decode_is_strict(text: str) -> None:
    try:
        data = b64url_decode(text, "someField")
    except ApiError as exc:
        assert (exc.status, exc.code, exc.details) == (
            400,
            "InvalidEncoding",
            {"field": "someField"},
        )
    else:
        assert b64url_encode(data) == text  # only the canonical spelling is accepted


@given(st.binary(max_size=64))
def test_hex0x_round_trip(data: bytes) -> None:
    assert parse_hex0x(hex0x(data), "h") == data
    assert parse_hex0x(hex0x(data).upper().replace("0X", "0x"), "h") == data


@given(st.text(alphabet=HEX_CHARS, max_size=70), st.none() | st.integers(0, 33))
def test_parse_hex0x_is_strict(text: str, size: int | None) -> None:
    try:
        data = parse_hex0x(text, "hash", size=size)
    except ApiError as exc:
        assert (exc.status, exc.code, exc.details) == (400, "InvalidEncoding", {"field": "hash"})
    else:
        assert text.startswith("0x") and hex0x(data) == text.lower()
        assert size is None or len(data) == size


@given(st.datetimes(timezones=st.just(timezone(timedelta(hours=-7)))))
def test_iso_utc_format(value: datetime) -> None:
    text = iso_utc(value)
    assert len(text) == 24 and text.endswith("Z") and text[19] == "."
    parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(parsed - value) < timedelta(milliseconds=1)
