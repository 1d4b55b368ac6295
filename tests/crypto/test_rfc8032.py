"""RFC 8032 section 7.1 Ed25519 known answers against our Ed25519 group and the
FROST(Ed25519, SHA-512) ciphersuite's verifier (RFC 9591 signatures are RFC 8032
signatures).

Data: ``tests/vectors/rfc8032-ed25519.json`` (TEST 1, 2, 3, 1024 and SHA(abc)).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from shardvault.crypto.groups import ED25519
from shardvault.protocols.frost.ciphersuites import FROST_ED25519, Ciphersuite

VECTORS_FILE = Path(__file__).resolve().parent.parent / "vectors" / "rfc8032-ed25519.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]
IDS = [v["name"] for v in VECTORS]


def _b(vector: dict[str, Any], field: str) -> bytes:
    return bytes.fromhex(vector[field])


def _flip(data: bytes, index: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


def _secret_scalar(seed: bytes) -> int:
    """RFC 8032 section 5.1.5: clamp the first half of SHA-512(seed)."""
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


def test_vector_file_contents() -> None:
    assert IDS == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"]
    lengths = [len(_b(v, "message")) for v in VECTORS]
    assert lengths == [0, 1, 2, 1023, 64]
    # TEST SHA(abc) signs SHA-512("abc").
    assert _b(VECTORS[4], "message") == hashlib.sha512(b"abc").digest()
    for v in VECTORS:
        assert len(_b(v, "secret_key")) == 32
        assert len(_b(v, "public_key")) == 32
        assert len(_b(v, "signature")) == 64


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_pynacl_reproduces_vector(vector: dict[str, Any]) -> None:
    """Checks the vector file itself with an independent implementation (libsodium)."""
    key = nacl.signing.SigningKey(_b(vector, "secret_key"))
    assert key.verify_key.encode() == _b(vector, "public_key")
    assert key.sign(_b(vector, "message")).signature == _b(vector, "signature")


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_public_key_from_clamped_scalar(vector: dict[str, Any]) -> None:
    s = _secret_scalar(_b(vector, "secret_key"))
    pk = ED25519.mul_base(s % ED25519.order)
    assert pk.encode() == _b(vector, "public_key")
    assert ED25519.mul(ED25519.generator, s) == pk
    assert ED25519.decode_point(_b(vector, "public_key")) == pk


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_signature_equation(vector: dict[str, Any]) -> None:
    """[S]B == R + [k]A with k = SHA-512(R || A || M) mod L (RFC 8032 section 5.1.7)."""
    sig, pk_bytes, msg = _b(vector, "signature"), _b(vector, "public_key"), _b(vector, "message")
    r = ED25519.decode_point(sig[:32])
    s = ED25519.decode_scalar(sig[32:])
    a = ED25519.decode_point(pk_bytes)
    k = int.from_bytes(hashlib.sha512(sig[:32] + pk_bytes + msg).digest(), "little")
    assert ED25519.mul_base(s) == r + a * k
    assert FROST_ED25519.challenge(r, a, msg) == k % ED25519.order


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_frost_ed25519_verify(vector: dict[str, Any]) -> None:
    pk = ED25519.decode_point(_b(vector, "public_key"))
    msg, sig = _b(vector, "message"), _b(vector, "signature")
    assert FROST_ED25519.verify(pk, msg, sig) is True
    # The generic RFC 9591 verifier (base class, our group arithmetic) agrees.
    assert Ciphersuite.verify(FROST_ED25519, pk, msg, sig) is True
    assert Ciphersuite.verify(FROST_ED25519, pk, _flip(msg + b"x", 0), sig) is False

    for index in (0, 31, 32, 63):  # R and S, first and last byte
        for bit in (0, 7):
            assert FROST_ED25519.verify(pk, msg, _flip(sig, index, bit)) is False
    if msg:
        assert FROST_ED25519.verify(pk, _flip(msg, 0), sig) is False
        assert FROST_ED25519.verify(pk, _flip(msg, len(msg) - 1, 7), sig) is False
        assert FROST_ED25519.verify(pk, msg[:-1], sig) is False
    assert FROST_ED25519.verify(pk, msg + b"\x00", sig) is False
    assert FROST_ED25519.verify(pk, msg, sig[:63]) is False
    assert FROST_ED25519.verify(pk, msg, sig + b"\x00") is False
    # A different public key from the same file.
    other = next(v for v in VECTORS if v is not vector)
    assert FROST_ED25519.verify(ED25519.decode_point(_b(other, "public_key")), msg, sig) is False


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_frost_ed25519_rejects_non_canonical_s(vector: dict[str, Any]) -> None:
    """S + L encodes the same residue; RFC 8032 (and RFC 9591) require S < L."""
    msg, sig = _b(vector, "message"), _b(vector, "signature")
    pk = ED25519.decode_point(_b(vector, "public_key"))
    s = int.from_bytes(sig[32:], "little")
    if s + ED25519.order < 2**256:
        malleated = sig[:32] + (s + ED25519.order).to_bytes(32, "little")
        assert FROST_ED25519.verify(pk, msg, malleated) is False
