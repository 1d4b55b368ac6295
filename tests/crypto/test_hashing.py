"""Tests for shardvault.crypto.hashing: RFC 9380 expand_message_xmd known answers,
hash_to_field, BIP 340 tagged hashes and the injective Fiat-Shamir transcript
(docs/security.md item 14).

References: ``tests/vectors/rfc9380-expand-message-xmd-sha256.json`` (RFC 9380 Appendix
K.1) and, for random inputs, a direct transcription of RFC 9380 section 5.3.1 below.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shardvault.crypto.groups import ED25519, SECP256K1
from shardvault.crypto.hashing import (
    Transcript,
    expand_message_xmd_sha256,
    hash_to_field_sha256,
    tagged_hash,
)

VECTORS_FILE = (
    Path(__file__).resolve().parent.parent / "vectors" / "rfc9380-expand-message-xmd-sha256.json"
)
SUITES: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["suites"]
SHORT_DST = "QUUX-V01-CS02-with-expander-SHA256-128"


def _cases(long_dst: bool) -> list[tuple[str, dict[str, Any]]]:
    return [
        (suite["DST"], test)
        for suite in SUITES
        for test in suite["tests"]
        if (len(suite["DST"]) > 255) == long_dst
    ]


def _case_id(case: tuple[str, dict[str, Any]]) -> str:
    _, test = case
    return f"{test['msg'][:8] or 'empty'}-{int(test['len_in_bytes'], 16)}"


SHORT_CASES = _cases(long_dst=False)
LONG_CASES = _cases(long_dst=True)


def _reference_expand(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1, H = SHA-256 (b_in_bytes = 32, s_in_bytes = 64)."""
    ell = (length + 31) // 32
    assert ell <= 255 and length <= 65535 and len(dst) <= 255
    dst_prime = dst + len(dst).to_bytes(1, "big")
    msg_prime = b"\x00" * 64 + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime
    b = [hashlib.sha256(msg_prime).digest()]
    b.append(hashlib.sha256(b[0] + b"\x01" + dst_prime).digest())
    for i in range(2, ell + 1):
        strxor = bytes(x ^ y for x, y in zip(b[0], b[i - 1], strict=True))
        b.append(hashlib.sha256(strxor + i.to_bytes(1, "big") + dst_prime).digest())
    return b"".join(b[1:])[:length]


# ---------------------------------------------------------------------------
# RFC 9380 Appendix K.1
# ---------------------------------------------------------------------------


def test_vector_file_covers_appendix_k1() -> None:
    expected_msgs = ["", "abc", "abcdef0123456789", "q128_" + "q" * 128, "a512_" + "a" * 512]
    for cases in (SHORT_CASES, LONG_CASES):
        assert len(cases) == 10
        for length in (0x20, 0x80):
            msgs = [t["msg"] for _, t in cases if int(t["len_in_bytes"], 16) == length]
            assert msgs == expected_msgs
    assert {dst for dst, _ in SHORT_CASES} == {SHORT_DST}


@pytest.mark.parametrize(("dst", "test"), SHORT_CASES, ids=[_case_id(c) for c in SHORT_CASES])
def test_expand_message_xmd_rfc9380(dst: str, test: dict[str, Any]) -> None:
    msg, length = test["msg"].encode(), int(test["len_in_bytes"], 16)
    expected = bytes.fromhex(test["uniform_bytes"])
    assert len(expected) == length
    # The vector's intermediate values agree with the RFC's definitions.
    dst_prime = dst.encode() + bytes([len(dst)])
    assert bytes.fromhex(test["DST_prime"]) == dst_prime
    msg_prime = bytes(64) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime
    assert bytes.fromhex(test["msg_prime"]) == msg_prime
    assert expand_message_xmd_sha256(msg, dst.encode(), length) == expected


@pytest.mark.parametrize(("dst", "test"), LONG_CASES, ids=[_case_id(c) for c in LONG_CASES])
def test_expand_message_xmd_rfc9380_long_dst(dst: str, test: dict[str, Any]) -> None:
    """Oversize DSTs are hashed first (RFC 9380 section 5.3.3); the expander rejects them."""
    msg, length = test["msg"].encode(), int(test["len_in_bytes"], 16)
    short_dst = hashlib.sha256(b"H2C-OVERSIZE-DST-" + dst.encode()).digest()
    assert bytes.fromhex(test["DST_prime"]) == short_dst + bytes([len(short_dst)])
    expected = bytes.fromhex(test["uniform_bytes"])
    assert expand_message_xmd_sha256(msg, short_dst, length) == expected
    with pytest.raises(ValueError):
        expand_message_xmd_sha256(msg, dst.encode(), length)


def test_expand_message_xmd_limits() -> None:
    dst = SHORT_DST.encode()
    assert len(expand_message_xmd_sha256(b"m", dst, 255 * 32)) == 255 * 32
    with pytest.raises(ValueError):
        expand_message_xmd_sha256(b"m", dst, 255 * 32 + 1)
    with pytest.raises(ValueError):
        expand_message_xmd_sha256(b"m", dst, 65536)
    assert len(expand_message_xmd_sha256(b"m", b"d" * 255, 32)) == 32
    with pytest.raises(ValueError):
        expand_message_xmd_sha256(b"m", b"d" * 256, 32)


@settings(max_examples=150, deadline=None)
@given(
    msg=st.binary(max_size=300),
    dst=st.binary(min_size=1, max_size=255),
    length=st.integers(min_value=1, max_value=255 * 32),
)
def test_expand_message_xmd_matches_reference(msg: bytes, dst: bytes, length: int) -> None:
    out = expand_message_xmd_sha256(msg, dst, length)
    assert len(out) == length
    assert out == _reference_expand(msg, dst, length)


@settings(max_examples=50, deadline=None)
@given(
    msg=st.binary(max_size=64), dst=st.binary(min_size=1, max_size=64), length=st.integers(1, 200)
)
def test_expand_message_xmd_output_depends_on_length(msg: bytes, dst: bytes, length: int) -> None:
    # len_in_bytes is hashed into b_0, so a shorter output is not a prefix of a longer one.
    assert (
        expand_message_xmd_sha256(msg, dst, length)
        != expand_message_xmd_sha256(msg, dst, length + 1)[:length]
    )


# ---------------------------------------------------------------------------
# hash_to_field
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modulus", "expected_len"),
    [
        (SECP256K1.order, 48),  # ceil((256 + 128) / 8)
        (SECP256K1.field_prime, 48),
        (ED25519.order, 48),  # ceil((253 + 128) / 8)
        (2**255 - 19, 48),  # ceil((255 + 128) / 8)
        (2**127 - 1, 32),  # ceil((127 + 128) / 8)
        (101, 17),  # ceil((7 + 128) / 8)
    ],
)
def test_hash_to_field_length_and_reduction(modulus: int, expected_len: int) -> None:
    for msg in (b"", b"abc", b"x" * 200):
        dst = b"QUUX-V01-CS02-with-test"
        ref = int.from_bytes(_reference_expand(msg, dst, expected_len), "big") % modulus
        assert hash_to_field_sha256(msg, dst, modulus) == ref


@settings(max_examples=60, deadline=None)
@given(msg=st.binary(max_size=100), dst=st.binary(min_size=1, max_size=80))
def test_hash_to_field_matches_reference(msg: bytes, dst: bytes) -> None:
    q = SECP256K1.order
    value = hash_to_field_sha256(msg, dst, q)
    assert 0 <= value < q
    assert value == int.from_bytes(_reference_expand(msg, dst, 48), "big") % q
    k24 = int.from_bytes(_reference_expand(msg, dst, 56), "big") % q  # security_bytes = 24
    assert hash_to_field_sha256(msg, dst, q, security_bytes=24) == k24


# ---------------------------------------------------------------------------
# BIP 340 tagged hash
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag", ["BIP0340/challenge", "BIP0340/aux", "BIP0340/nonce", "TapTweak", "", "ü-tag"]
)
def test_tagged_hash_bip340_definition(tag: str) -> None:
    for data in (b"", b"\x00" * 32, bytes(range(256))):
        t = hashlib.sha256(tag.encode("utf-8")).digest()
        assert tagged_hash(tag, data) == hashlib.sha256(t + t + data).digest()


@settings(max_examples=100, deadline=None)
@given(tag=st.text(max_size=40), data=st.binary(max_size=200))
def test_tagged_hash_matches_definition(tag: str, data: bytes) -> None:
    t = hashlib.sha256(tag.encode("utf-8")).digest()
    out = tagged_hash(tag, data)
    assert out == hashlib.sha256(t + t + data).digest()
    assert out != hashlib.sha256(data).digest()


def test_tagged_hash_separates_tags() -> None:
    data = b"\x01" * 32
    assert tagged_hash("BIP0340/challenge", data) != tagged_hash("BIP0340/aux", data)
    assert tagged_hash("a", b"b") != tagged_hash("ab", b"")


# ---------------------------------------------------------------------------
# Transcript
# ---------------------------------------------------------------------------

Pairs = list[tuple[str, bytes]]

labels = st.text(max_size=6)
values = st.binary(max_size=6)
pair_lists = st.lists(st.tuples(labels, values), max_size=5)


def _transcript(domain: str, pairs: Pairs) -> Transcript:
    t = Transcript(domain)
    for label, value in pairs:
        t.append(label, value)
    return t


def _reference_encoding(domain: str, pairs: Pairs) -> bytes:
    out = b""
    for label, value in [("domain", domain.encode()), *pairs]:
        lab = label.encode()
        out += len(lab).to_bytes(4, "big") + lab + len(value).to_bytes(4, "big") + value
    return out


@settings(max_examples=200, deadline=None)
@given(d1=labels, p1=pair_lists, d2=labels, p2=pair_lists)
def test_transcript_is_injective(d1: str, p1: Pairs, d2: str, p2: Pairs) -> None:
    e1, e2 = _transcript(d1, p1).encode(), _transcript(d2, p2).encode()
    if (d1, p1) == (d2, p2):
        assert e1 == e2
    else:
        assert e1 != e2
        assert _transcript(d1, p1).digest() != _transcript(d2, p2).digest()


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.binary(max_size=6), min_size=2, max_size=6),
    data=st.data(),
)
def test_transcript_resplitting_changes_encoding(parts: list[bytes], data: st.DataObject) -> None:
    """Moving bytes between neighbouring values (same concatenation) changes the encoding."""
    joined = b"".join(parts)
    cuts = sorted(
        data.draw(
            st.lists(st.integers(0, len(joined)), min_size=len(parts) - 1, max_size=len(parts) - 1),
            label="cuts",
        )
    )
    bounds = [0, *cuts, len(joined)]
    other = [joined[a:b] for a, b in itertools.pairwise(bounds)]
    assume(other != parts)
    assert b"".join(other) == joined
    t1 = _transcript("d", [("v", v) for v in parts]).encode()
    t2 = _transcript("d", [("v", v) for v in other]).encode()
    assert t1 != t2


@settings(max_examples=100, deadline=None)
@given(domain=labels, pairs=pair_lists)
def test_transcript_encoding_format(domain: str, pairs: Pairs) -> None:
    t = _transcript(domain, pairs)
    assert t.encode() == _reference_encoding(domain, pairs)
    assert t.digest() == hashlib.sha512(_reference_encoding(domain, pairs)).digest()


def test_transcript_boundary_collisions() -> None:
    def enc(domain: str, pairs: Pairs) -> bytes:
        return _transcript(domain, pairs).encode()

    assert enc("d", [("ab", b"c")]) != enc("d", [("a", b"bc")])
    assert enc("d", [("a", b"b"), ("c", b"")]) != enc("d", [("a", b"bc")])
    assert enc("d", [("", b"")]) != enc("d", [])
    assert enc("d", [("", b""), ("", b"")]) != enc("d", [("", b"")])
    assert enc("ab", []) != enc("a", [("b", b"")])
    assert enc("d", [("x", b"\x00\x00\x00\x01y")]) != enc("d", [("x", b""), ("y", b"")])
    # The domain is bound even when it collides with a label's spelling.
    assert enc("domain", []) != enc("", [("domain", b"domain")])


def test_transcript_append_int() -> None:
    def with_int(value: int) -> bytes:
        return Transcript("d").append_int("n", value).encode()

    for value, be in [
        (0, b"\x00"),
        (1, b"\x01"),
        (255, b"\xff"),
        (256, b"\x01\x00"),
        (2**64, None),
    ]:
        expected_bytes = be if be is not None else value.to_bytes(9, "big")
        assert with_int(value) == Transcript("d").append("n", expected_bytes).encode()
    with pytest.raises(ValueError):
        Transcript("d").append_int("n", -1)


@settings(max_examples=100, deadline=None)
@given(a=st.integers(min_value=0, max_value=2**300), b=st.integers(min_value=0, max_value=2**300))
def test_transcript_append_int_is_injective(a: int, b: int) -> None:
    ea = Transcript("d").append_int("n", a).encode()
    eb = Transcript("d").append_int("n", b).encode()
    assert (ea == eb) == (a == b)


def test_transcript_extend_binds_count() -> None:
    a, b = b"\x01", b"\x02"
    t1 = Transcript("d").extend("xs", [a, b]).encode()
    t2 = Transcript("d").extend("xs", [a]).append("xs", b).encode()
    assert t1 != t2
    expected = Transcript("d").append_int("xs.count", 2).append("xs", a).append("xs", b).encode()
    assert t1 == expected
    assert Transcript("d").extend("xs", []).encode() != Transcript("d").encode()


@settings(max_examples=100, deadline=None)
@given(
    domain=labels,
    pairs=pair_lists,
    modulus=st.sampled_from([2, 3, 101, SECP256K1.order, ED25519.order, 2**521 - 1]),
)
def test_transcript_challenge(domain: str, pairs: Pairs, modulus: int) -> None:
    t = _transcript(domain, pairs)
    c = t.challenge(modulus)
    assert 0 <= c < modulus
    digest = hashlib.sha512(_reference_encoding(domain, pairs)).digest()
    assert c == int.from_bytes(digest, "big") % modulus
