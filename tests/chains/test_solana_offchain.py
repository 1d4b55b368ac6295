"""Solana off-chain messages (the ``Message`` kind), against the test vectors of
anza-xyz/solana-sdk ``offchain-message/src/lib.rs`` (solana-offchain-message v3.0.0, the
crate behind agave's ``solana sign-offchain-message``), read from
``tests/vectors/solana-offchain-message-v3.0.0.json``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import base58
import nacl.signing
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shared_vectors import LOCAL_VECTORS
from solders.keypair import Keypair
from solders.signature import Signature

from shardvault.chains import solana, solana_offchain
from shardvault.chains.solana_offchain import OffchainFormat
from shardvault.errors import InvalidEncoding, InvalidParameters, ShardvaultError

DOMAIN = b"\xffsolana offchain"

# anza-xyz/solana-sdk offchain-message tests (tag offchain-message@v3.0.0), by test name.
AGAVE: dict[str, dict[str, Any]] = {
    v["test"]: v
    for v in json.loads((LOCAL_VECTORS / "solana-offchain-message-v3.0.0.json").read_text())[
        "vectors"
    ]
}
_ASCII = AGAVE["test_offchain_message_ascii"]
ASCII_TEXT: str = _ASCII["message"]
ASCII_SERIALIZED = bytes.fromhex(_ASCII["serialized"])
ASCII_HASH: str = _ASCII["hash_base58"]

_UTF8 = AGAVE["test_offchain_message_utf8"]
UTF8_TEXT: str = _UTF8["message"]
UTF8_SERIALIZED = bytes.fromhex(_UTF8["serialized"])
UTF8_HASH: str = _UTF8["hash_base58"]

FORMATS = {
    "RestrictedAscii": OffchainFormat.RESTRICTED_ASCII,
    "LimitedUtf8": OffchainFormat.LIMITED_UTF8,
    "ExtendedUtf8": OffchainFormat.EXTENDED_UTF8,
}


def sha256_b58(data: bytes) -> str:
    return base58.b58encode(hashlib.sha256(data).digest()).decode()


def test_agave_ascii_vector() -> None:
    out = solana_offchain.offchain_message(ASCII_TEXT)
    assert out == ASCII_SERIALIZED
    assert out == solana_offchain.offchain_message(ASCII_TEXT.encode())
    assert sha256_b58(out) == ASCII_HASH
    parsed = solana_offchain.parse_offchain_message(out)
    fmt = FORMATS[_ASCII["format"]]
    assert fmt is OffchainFormat.RESTRICTED_ASCII
    assert parsed == solana_offchain.OffchainMessage(_ASCII["version"], fmt, ASCII_TEXT.encode())


def test_agave_utf8_vector() -> None:
    out = solana_offchain.offchain_message(UTF8_TEXT)
    assert out == UTF8_SERIALIZED
    assert sha256_b58(out) == UTF8_HASH
    parsed = solana_offchain.parse_offchain_message(out)
    assert parsed.format is FORMATS[_UTF8["format"]] is OffchainFormat.LIMITED_UTF8
    assert parsed.version == _UTF8["version"]
    assert parsed.message.decode() == UTF8_TEXT


def test_layout() -> None:
    out = solana_offchain.offchain_message("hi")
    assert out == DOMAIN + b"\x00" + b"\x00" + b"\x02\x00" + b"hi"
    assert len(solana_offchain.OFFCHAIN_SIGNING_DOMAIN) == 16
    assert solana_offchain.OFFCHAIN_MAX_LEN_LEDGER == 1212
    assert solana_offchain.OFFCHAIN_MAX_LEN == 65515


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ("a", OffchainFormat.RESTRICTED_ASCII),
        (" ~" * 10, OffchainFormat.RESTRICTED_ASCII),
        ("x" * 1212, OffchainFormat.RESTRICTED_ASCII),
        ("x" * 1213, OffchainFormat.EXTENDED_UTF8),
        ("line\nbreak", OffchainFormat.LIMITED_UTF8),  # \n is not restricted ASCII in v0
        ("tab\there", OffchainFormat.LIMITED_UTF8),
        ("\x7f", OffchainFormat.LIMITED_UTF8),
        ("é" * 606, OffchainFormat.LIMITED_UTF8),  # 1212 bytes
        ("é" * 607, OffchainFormat.EXTENDED_UTF8),
        ("x" * 65515, OffchainFormat.EXTENDED_UTF8),
    ],
)
def test_format_selection(text: str, fmt: OffchainFormat) -> None:
    out = solana_offchain.offchain_message(text)
    body = text.encode()
    assert out[17] == fmt
    assert int.from_bytes(out[18:20], "little") == len(body)
    assert out[20:] == body
    assert solana_offchain.parse_offchain_message(out).format is fmt


@pytest.mark.parametrize("bad", [b"", "", b"\xff\xfe", b"\xc3", "x" * 65516, b"\x80" * 2000])
def test_offchain_rejects(bad: bytes | str) -> None:
    with pytest.raises(InvalidParameters) as exc:
        solana_offchain.offchain_message(bad)
    assert exc.value.code == "InvalidMessage"


def test_offchain_only_version_0() -> None:
    with pytest.raises(InvalidParameters):
        solana_offchain.offchain_message("hi", version=1)


def _with(data: bytes, pos: int, value: int) -> bytes:
    return data[:pos] + bytes([value]) + data[pos + 1 :]


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        DOMAIN,
        DOMAIN + b"\x00\x00\x00\x00",  # empty body
        ASCII_SERIALIZED[:-1],  # length mismatch
        ASCII_SERIALIZED + b"!",  # trailing byte
        _with(ASCII_SERIALIZED, 0, 0xFE),  # wrong domain
        _with(ASCII_SERIALIZED, 16, 1),  # version 1
        _with(ASCII_SERIALIZED, 17, 3),  # unknown format
        _with(UTF8_SERIALIZED, 17, 0),  # UTF-8 tagged restricted ASCII
        _with(ASCII_SERIALIZED, 20, 0x0A),  # newline in restricted ASCII
        _with(_with(ASCII_SERIALIZED, 17, 1), 20, 0xFF),  # not UTF-8
        DOMAIN + b"\x00\x00" + (1213).to_bytes(2, "little") + b"x" * 1213,  # too long for 0
        DOMAIN + b"\x00\x01" + (1213).to_bytes(2, "little") + b"x" * 1213,  # too long for 1
    ],
)
def test_parse_offchain_rejects(bad: bytes) -> None:
    with pytest.raises(InvalidEncoding) as exc:
        solana_offchain.parse_offchain_message(bad)
    assert exc.value.code == "InvalidMessage"


def test_parse_accepts_wider_format_like_agave() -> None:
    wider = _with(ASCII_SERIALIZED, 17, 2)
    assert solana_offchain.parse_offchain_message(wider).format is OffchainFormat.EXTENDED_UTF8


def test_sign_and_verify_with_solders() -> None:
    kp = Keypair.from_seed(bytes(range(32)))
    data = solana_offchain.offchain_message("Sign in to shardvault")
    sig = kp.sign_message(data)
    assert solana_offchain.verify_offchain_message(data, bytes(kp.pubkey()), bytes(sig))
    # The same through a PyNaCl signer (what the vault callback would produce).
    nacl_sig = nacl.signing.SigningKey(bytes(range(32))).sign(data).signature
    assert nacl_sig == bytes(sig)
    assert Signature(nacl_sig).verify(kp.pubkey(), data)
    other = Keypair.from_seed(bytes([1] * 32))
    assert not solana_offchain.verify_offchain_message(data, bytes(other.pubkey()), bytes(sig))
    assert not solana_offchain.verify_offchain_message(data, bytes(kp.pubkey()), bytes(64))
    # An off-chain message is never a transaction message.
    with pytest.raises(InvalidEncoding) as exc:
        solana.prepare(data)
    assert exc.value.code == "InvalidTransaction"


@given(st.text(min_size=1, max_size=300))
def test_round_trip(text: str) -> None:
    out = solana_offchain.offchain_message(text)
    parsed = solana_offchain.parse_offchain_message(out)
    assert parsed.message.decode() == text
    expected = (
        OffchainFormat.RESTRICTED_ASCII
        if all(0x20 <= ord(c) <= 0x7E for c in text)
        else OffchainFormat.LIMITED_UTF8
        if len(text.encode()) <= 1212
        else OffchainFormat.EXTENDED_UTF8
    )
    assert parsed.format is expected


@given(st.binary(max_size=200))
def test_parse_random_bytes_only_raises_our_errors(data: bytes) -> None:
    for candidate in (data, DOMAIN + data):
        try:
            solana_offchain.parse_offchain_message(candidate)
        except ShardvaultError as exc:
            assert exc.code == "InvalidMessage"
