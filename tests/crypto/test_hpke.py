"""Tests for shardvault.crypto.hpke: RFC 9180 known answers, failure modes, round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rnghelpers import ReplayRng

from shardvault.crypto.hpke import (
    ENC_SIZE,
    PUBLIC_KEY_SIZE,
    SUITE_ID,
    HpkeKeyPair,
    open_sealed,
    seal,
    seal_with_ephemeral,
    validate_public_key,
)
from shardvault.errors import DecryptionError, InvalidEncoding

VECTORS_FILE = (
    Path(__file__).resolve().parent.parent
    / "vectors"
    / "hpke-rfc9180-base-x25519-sha256-chacha20poly1305.json"
)
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())

TAG_SIZE = 16
INFO = b"shardvault test info"
AAD = b"shardvault test aad"

P = 2**255 - 19
# u-coordinates of the small-order points of Curve25519 and its twist (RFC 7748 / libsodium
# blocklist), as 32-byte little-endian strings.
SMALL_ORDER_POINTS = [
    bytes(32),  # u = 0, order 2 (and 4 on the twist)
    (1).to_bytes(32, "little"),  # u = 1, order 4
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),  # order 8
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),  # order 8
    (P - 1).to_bytes(32, "little"),  # u = -1, order 4 on the twist
]


def _h(value: str) -> bytes:
    return bytes.fromhex(value)


def _flip(data: bytes, index: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


@pytest.fixture(scope="module")
def recipient() -> HpkeKeyPair:
    return HpkeKeyPair.generate()


@pytest.fixture(scope="module")
def sealed_box(recipient: HpkeKeyPair) -> bytes:
    return seal(recipient.public_key, b"attack at dawn", info=INFO, aad=AAD)


# --- RFC 9180 known answers -------------------------------------------------------------


def test_vector_file_holds_only_the_wrapped_suite() -> None:
    assert VECTORS, "no vectors loaded"
    for v in VECTORS:
        assert (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"]) == (0, 0x20, 0x01, 0x03)


def test_suite_id_matches_rfc9180_encoding() -> None:
    assert SUITE_ID == b"HPKE\x00\x20\x00\x01\x00\x03"
    assert PUBLIC_KEY_SIZE == ENC_SIZE == 32


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: f"pkRm={v['pkRm'][:16]}")
def test_rfc9180_vector_keys(v: dict[str, Any]) -> None:
    recipient = HpkeKeyPair.from_private_bytes(_h(v["skRm"]))
    assert recipient.public_key == _h(v["pkRm"])
    assert recipient.private_bytes() == _h(v["skRm"])
    ephemeral = HpkeKeyPair.from_private_bytes(_h(v["skEm"]))
    assert ephemeral.public_key == _h(v["pkEm"])
    assert _h(v["enc"]) == _h(v["pkEm"])
    assert validate_public_key(_h(v["pkRm"])) == _h(v["pkRm"])


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: f"pkRm={v['pkRm'][:16]}")
def test_generate_is_derive_key_pair_on_32_bytes_from_the_rng(v: dict[str, Any]) -> None:
    """RFC 9180 DeriveKeyPair(ikm): the vector's ikmR and ikmE, drawn from the rng."""
    rng = ReplayRng(byte_strings=[_h(v["ikmR"]), _h(v["ikmE"])])
    recipient, ephemeral = HpkeKeyPair.generate(rng), HpkeKeyPair.generate(rng)
    assert rng.exhausted
    assert recipient.private_bytes() == _h(v["skRm"])
    assert recipient.public_key == _h(v["pkRm"])
    assert ephemeral.public_key == _h(v["pkEm"])


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: f"pkRm={v['pkRm'][:16]}")
def test_rfc9180_vector_seal_is_byte_exact(v: dict[str, Any]) -> None:
    # Single-shot seal uses sequence number 0 only, so only the first encryption applies.
    first = v["encryptions"][0]
    assert first["nonce"] == v["base_nonce"]  # sequence 0: nonce = base_nonce XOR 0
    sealed = seal_with_ephemeral(
        _h(v["pkRm"]),
        _h(first["pt"]),
        info=_h(v["info"]),
        aad=_h(first["aad"]),
        ephemeral=HpkeKeyPair.from_private_bytes(_h(v["skEm"])),
    )
    assert sealed == _h(v["enc"]) + _h(first["ct"])


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: f"pkRm={v['pkRm'][:16]}")
def test_rfc9180_vector_open(v: dict[str, Any]) -> None:
    first = v["encryptions"][0]
    recipient = HpkeKeyPair.from_private_bytes(_h(v["skRm"]))
    sealed = _h(v["enc"]) + _h(first["ct"])
    assert open_sealed(recipient, sealed, info=_h(v["info"]), aad=_h(first["aad"])) == _h(
        first["pt"]
    )
    # A later encryption of the same context uses a different nonce: single-shot open
    # (sequence 0) must refuse it rather than return garbage.
    later = v["encryptions"][1]
    with pytest.raises(DecryptionError):
        open_sealed(
            recipient, _h(v["enc"]) + _h(later["ct"]), info=_h(v["info"]), aad=_h(later["aad"])
        )


# --- round trips --------------------------------------------------------------------------


def test_round_trip_fresh_keys(recipient: HpkeKeyPair, sealed_box: bytes) -> None:
    assert len(sealed_box) == ENC_SIZE + len(b"attack at dawn") + TAG_SIZE
    assert open_sealed(recipient, sealed_box, info=INFO, aad=AAD) == b"attack at dawn"


def test_round_trip_empty_everything(recipient: HpkeKeyPair) -> None:
    sealed = seal(recipient.public_key, b"", info=b"", aad=b"")
    assert len(sealed) == ENC_SIZE + TAG_SIZE
    assert open_sealed(recipient, sealed, info=b"", aad=b"") == b""


def test_seal_is_randomised(recipient: HpkeKeyPair) -> None:
    a = seal(recipient.public_key, b"same", info=INFO, aad=AAD)
    b = seal(recipient.public_key, b"same", info=INFO, aad=AAD)
    assert a[:ENC_SIZE] != b[:ENC_SIZE]
    assert a != b


def test_private_key_round_trips_through_bytes() -> None:
    kp = HpkeKeyPair.generate()
    again = HpkeKeyPair.from_private_bytes(kp.private_bytes())
    assert again.public_key == kp.public_key
    assert len(kp.public_key) == PUBLIC_KEY_SIZE
    assert len(kp.private_bytes()) == 32
    assert HpkeKeyPair.generate().public_key != kp.public_key


_KEY_PAIR = HpkeKeyPair.generate()


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=2048), aad=st.binary(max_size=256), info=st.binary(max_size=64))
def test_round_trip_property(plaintext: bytes, aad: bytes, info: bytes) -> None:
    sealed = seal(_KEY_PAIR.public_key, plaintext, info=info, aad=aad)
    assert len(sealed) == ENC_SIZE + len(plaintext) + TAG_SIZE
    assert open_sealed(_KEY_PAIR, sealed, info=info, aad=aad) == plaintext


# --- open failures: always DecryptionError ------------------------------------------------


def test_open_with_wrong_key(sealed_box: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_sealed(HpkeKeyPair.generate(), sealed_box, info=INFO, aad=AAD)


def test_open_with_wrong_aad(recipient: HpkeKeyPair, sealed_box: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_sealed(recipient, sealed_box, info=INFO, aad=AAD + b"!")
    with pytest.raises(DecryptionError):
        open_sealed(recipient, sealed_box, info=INFO, aad=b"")


def test_open_with_wrong_info(recipient: HpkeKeyPair, sealed_box: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_sealed(recipient, sealed_box, info=INFO + b"!", aad=AAD)
    with pytest.raises(DecryptionError):
        open_sealed(recipient, sealed_box, info=b"", aad=AAD)


@pytest.mark.parametrize(("index", "bit"), [(0, 0), (15, 3), (31, 6), (31, 7)])
def test_open_with_flipped_bit_in_enc(
    recipient: HpkeKeyPair, sealed_box: bytes, index: int, bit: int
) -> None:
    # (31, 7) flips the bit X25519 ignores: the DH output is unchanged, but the encoded
    # enc is bound into the KEM context, so the box must still fail to open.
    with pytest.raises(DecryptionError):
        open_sealed(recipient, _flip(sealed_box, index, bit), info=INFO, aad=AAD)


@pytest.mark.parametrize("offset", [0, 5, -TAG_SIZE - 1, -TAG_SIZE, -1])
def test_open_with_flipped_bit_in_ciphertext(
    recipient: HpkeKeyPair, sealed_box: bytes, offset: int
) -> None:
    index = ENC_SIZE + offset if offset >= 0 else len(sealed_box) + offset
    with pytest.raises(DecryptionError):
        open_sealed(recipient, _flip(sealed_box, index), info=INFO, aad=AAD)


@pytest.mark.parametrize(
    "length", [0, 1, ENC_SIZE - 1, ENC_SIZE, ENC_SIZE + TAG_SIZE - 1, ENC_SIZE + TAG_SIZE]
)
def test_open_truncated(recipient: HpkeKeyPair, sealed_box: bytes, length: int) -> None:
    with pytest.raises(DecryptionError):
        open_sealed(recipient, sealed_box[:length], info=INFO, aad=AAD)


def test_open_truncated_by_one_byte(recipient: HpkeKeyPair, sealed_box: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_sealed(recipient, sealed_box[:-1], info=INFO, aad=AAD)
    with pytest.raises(DecryptionError):
        open_sealed(recipient, sealed_box + b"\x00", info=INFO, aad=AAD)


@pytest.mark.parametrize("point", SMALL_ORDER_POINTS, ids=lambda p: p.hex()[:8])
def test_open_with_small_order_enc(recipient: HpkeKeyPair, sealed_box: bytes, point: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_sealed(recipient, point + sealed_box[ENC_SIZE:], info=INFO, aad=AAD)


# --- key validation -----------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
def test_wrong_length_public_key(recipient: HpkeKeyPair, length: int) -> None:
    bad = (recipient.public_key * 3)[:length]
    with pytest.raises(InvalidEncoding):
        validate_public_key(bad)
    with pytest.raises(InvalidEncoding):
        seal(bad, b"pt", info=INFO, aad=AAD)


@pytest.mark.parametrize("point", SMALL_ORDER_POINTS, ids=lambda p: p.hex()[:8])
def test_small_order_public_key_rejected(point: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        validate_public_key(point)
    with pytest.raises(InvalidEncoding):
        seal(point, b"pt", info=INFO, aad=AAD)
    # The same points with bit 255 set are non-canonical, hence rejected too.
    with pytest.raises(InvalidEncoding):
        validate_public_key(_flip(point, 31, 7))


@pytest.mark.parametrize("u", [P, P + 1, 2**255 - 1])
def test_non_canonical_public_key_rejected(u: int) -> None:
    with pytest.raises(InvalidEncoding):
        validate_public_key(u.to_bytes(32, "little"))


def test_high_bit_set_on_valid_key_rejected(recipient: HpkeKeyPair) -> None:
    with pytest.raises(InvalidEncoding):
        validate_public_key(_flip(recipient.public_key, 31, 7))


def test_valid_public_key_returned_unchanged(recipient: HpkeKeyPair) -> None:
    out = validate_public_key(recipient.public_key)
    assert type(out) is bytes
    assert out == recipient.public_key


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_wrong_length_private_key(length: int) -> None:
    with pytest.raises(InvalidEncoding):
        HpkeKeyPair.from_private_bytes(bytes(length))


# --- key pair hygiene ---------------------------------------------------------------------


def test_repr_hides_private_key() -> None:
    kp = HpkeKeyPair.generate()
    text = repr(kp)
    secret = kp.private_bytes()
    assert secret.hex() not in text
    assert secret.hex().upper() not in text
    assert repr(secret) not in text
    assert kp.public_key.hex() in text
    assert str(kp) == text


def test_key_pair_has_slots() -> None:
    kp = HpkeKeyPair.generate()
    assert not hasattr(kp, "__dict__")
    with pytest.raises(AttributeError):
        kp.extra = 1  # type: ignore[attr-defined]
