"""Private-key formats for import/export (shardvault.crypto.keyformats), against PyNaCl
(libsodium) and coincurve (libsecp256k1); every malformed input is a typed error."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import coincurve
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto.groups import ED25519, SECP256K1
from shardvault.crypto.keyformats import (
    ed25519_scalar_from_bytes,
    ed25519_scalar_from_seed,
    ed25519_scalar_from_solana_keypair,
    public_key_from_scalar,
    scalar_from_private_key_bytes,
    scalar_to_private_key_bytes,
    secp256k1_scalar_from_bytes,
)
from shardvault.errors import InvalidEncoding, InvalidParameters, InvalidScalar

L = ED25519.order
N = SECP256K1.order

RFC8032: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "rfc8032-ed25519.json").read_text()
)["vectors"]


def _nacl_public_key(seed: bytes) -> bytes:
    return bytes(nacl.signing.SigningKey(seed).verify_key)


def _schnorr_sign_ed25519(a: int, message: bytes) -> bytes:
    """A plain RFC 8032 verification-compatible signature made from the scalar alone."""
    public = ED25519.mul_base(a).encode()
    r = secrets.randbelow(L - 1) + 1
    big_r = ED25519.mul_base(r).encode()
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % L
    return big_r + ((r + k * a) % L).to_bytes(32, "little")


# --- Ed25519 seed ----------------------------------------------------------------------


@pytest.mark.parametrize("vector", RFC8032, ids=[v["name"] for v in RFC8032])
def test_seed_scalar_gives_the_rfc8032_public_key(vector: dict[str, Any]) -> None:
    seed = bytes.fromhex(vector["secret_key"])
    a = ed25519_scalar_from_seed(seed)
    assert 0 < a < L
    assert ED25519.mul_base(a).encode() == bytes.fromhex(vector["public_key"])
    assert ED25519.mul_base(a).encode() == _nacl_public_key(seed)


@settings(max_examples=40)
@given(seed=st.binary(min_size=32, max_size=32))
def test_seed_scalar_matches_pynacl_and_signs(seed: bytes) -> None:
    a = ed25519_scalar_from_seed(seed)
    assert 0 < a < L
    # The reduction mod L keeps the public key: A = a·B = s·B.
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] = (h[31] & 127) | 64
    s = int.from_bytes(h, "little")
    assert s >= L and a == s % L
    public = _nacl_public_key(seed)
    assert public_key_from_scalar("ed25519", a) == public
    # A signature made from the scalar alone verifies under libsodium.
    message = b"shardvault export check"
    nacl.signing.VerifyKey(public).verify(message, _schnorr_sign_ed25519(a, message))


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, b"\x00" * 64])
def test_seed_wrong_length(bad: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        ed25519_scalar_from_seed(bad)


@pytest.mark.parametrize("bad", ["00" * 32, None, 7, [0] * 32])
def test_seed_wrong_type(bad: object) -> None:
    with pytest.raises(InvalidEncoding):
        ed25519_scalar_from_seed(bad)  # type: ignore[arg-type]


def test_seed_accepts_bytearray_and_memoryview() -> None:
    seed = bytes(range(32))
    a = ed25519_scalar_from_seed(seed)
    assert ed25519_scalar_from_seed(bytearray(seed)) == a
    assert ed25519_scalar_from_seed(memoryview(seed)) == a


# --- Solana keypair --------------------------------------------------------------------


def test_solana_keypair() -> None:
    seed = bytes.fromhex(RFC8032[0]["secret_key"])
    keypair = seed + _nacl_public_key(seed)
    assert ed25519_scalar_from_solana_keypair(keypair) == ed25519_scalar_from_seed(seed)


def test_solana_keypair_public_key_must_match_seed() -> None:
    seed = bytes(range(32))
    other = _nacl_public_key(bytes(32))
    with pytest.raises(InvalidEncoding, match="does not match"):
        ed25519_scalar_from_solana_keypair(seed + other)
    public = bytearray(_nacl_public_key(seed))
    public[31] ^= 0x80  # same y, other sign bit
    with pytest.raises(InvalidEncoding):
        ed25519_scalar_from_solana_keypair(seed + bytes(public))


@pytest.mark.parametrize("size", [0, 32, 63, 65, 96])
def test_solana_keypair_wrong_length(size: int) -> None:
    with pytest.raises(InvalidEncoding):
        ed25519_scalar_from_solana_keypair(bytes(size))


# --- raw scalars -----------------------------------------------------------------------


@settings(max_examples=30)
@given(k=st.integers(min_value=1, max_value=L - 1))
def test_ed25519_raw_scalar_round_trip(k: int) -> None:
    raw = scalar_to_private_key_bytes("ed25519", k)
    assert raw == k.to_bytes(32, "little")
    assert ed25519_scalar_from_bytes(raw) == k
    assert scalar_from_private_key_bytes("ed25519", raw) == k


@settings(max_examples=30)
@given(k=st.integers(min_value=1, max_value=N - 1))
def test_secp256k1_round_trip_against_coincurve(k: int) -> None:
    raw = scalar_to_private_key_bytes("secp256k1", k)
    assert raw == k.to_bytes(32, "big")
    assert secp256k1_scalar_from_bytes(raw) == k
    assert scalar_from_private_key_bytes("secp256k1", raw) == k
    expected = coincurve.PrivateKey(raw).public_key.format(compressed=True)
    assert public_key_from_scalar("secp256k1", k) == expected


@pytest.mark.parametrize("value", [0, L, L + 1, 2**256 - 1])
def test_ed25519_raw_scalar_out_of_range(value: int) -> None:
    with pytest.raises(InvalidScalar):
        ed25519_scalar_from_bytes(value.to_bytes(32, "little"))


@pytest.mark.parametrize("value", [0, N, N + 1, 2**256 - 1])
def test_secp256k1_scalar_out_of_range(value: int) -> None:
    with pytest.raises(InvalidScalar):
        secp256k1_scalar_from_bytes(value.to_bytes(32, "big"))


@pytest.mark.parametrize(
    "fn", [ed25519_scalar_from_bytes, secp256k1_scalar_from_bytes], ids=["ed25519", "secp256k1"]
)
@pytest.mark.parametrize("bad", [b"", b"\x01" * 31, b"\x01" * 33, "01" * 32, None, 1])
def test_raw_scalar_malformed(fn: Any, bad: object) -> None:
    with pytest.raises(InvalidEncoding):
        fn(bad)


@settings(max_examples=60)
@given(data=st.binary(max_size=70))
def test_decoders_never_fail_untyped(data: bytes) -> None:
    decoders = [
        ed25519_scalar_from_seed,
        ed25519_scalar_from_solana_keypair,
        ed25519_scalar_from_bytes,
        secp256k1_scalar_from_bytes,
    ]
    for fn in decoders:
        try:
            k = fn(data)
        except InvalidEncoding:
            continue
        assert 0 < k < max(L, N)


def test_secp256k1_endianness_differs_from_ed25519() -> None:
    raw = bytes(31) + b"\x05"
    assert secp256k1_scalar_from_bytes(raw) == 5
    assert ed25519_scalar_from_bytes(raw) == 5 << 248


# --- encoding --------------------------------------------------------------------------


@pytest.mark.parametrize("curve", ["ed448", "", "SECP256K1", "p256"])
def test_unknown_curve(curve: str) -> None:
    with pytest.raises(InvalidParameters):
        scalar_to_private_key_bytes(curve, 1)
    with pytest.raises(InvalidParameters):
        scalar_from_private_key_bytes(curve, bytes(31) + b"\x01")
    with pytest.raises(InvalidParameters):
        public_key_from_scalar(curve, 1)


@pytest.mark.parametrize(("curve", "order"), [("ed25519", L), ("secp256k1", N)])
@pytest.mark.parametrize("offset", ["zero", "order", "negative", "bool", "float"])
def test_encode_out_of_range(curve: str, order: int, offset: str) -> None:
    value: object = {"zero": 0, "order": order, "negative": -1, "bool": True, "float": 1.0}[offset]
    with pytest.raises(InvalidScalar):
        scalar_to_private_key_bytes(curve, value)  # type: ignore[arg-type]


def test_export_of_a_seed_key_is_the_scalar_not_the_seed() -> None:
    """An imported RFC 8032 key comes back as its 32-byte little-endian scalar."""
    seed = bytes.fromhex(RFC8032[1]["secret_key"])
    a = ed25519_scalar_from_seed(seed)
    exported = scalar_to_private_key_bytes("ed25519", a)
    assert exported != seed
    assert ed25519_scalar_from_bytes(exported) == a
    assert public_key_from_scalar("ed25519", a) == bytes.fromhex(RFC8032[1]["public_key"])
