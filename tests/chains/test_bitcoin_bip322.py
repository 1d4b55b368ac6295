"""BIP 322 simple signatures: the published vectors (bitcoin/bips bip-0322/basic-test-vectors.json)
for P2WPKH bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l and P2TR, plus sign/verify round trips."""

from __future__ import annotations

import base58
import coincurve
import pytest

from shardvault.chains.bitcoin import (
    bip322_complete_simple,
    bip322_decode_simple,
    bip322_encode_simple,
    bip322_message_hash,
    bip322_sign_simple,
    bip322_to_sign,
    bip322_verify_simple,
    p2tr_address,
    p2wpkh_address,
)
from shardvault.crypto import bip340
from shardvault.crypto.groups import SECP256K1
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError

P2WPKH_ADDR = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"
P2WPKH_WIF = "L3VFeEujGtevx9w18HD1fhRbCH67Az2dpCymeRE1SoPK6XQtaN2k"
P2TR_ADDR = "bc1pss0zhytly75awhm6x2hhvd5lnzv3vssgrf9axfheq8ldyzn88ges79fler"
P2TR_WIF = "KyrSGCFPhqZMjCe5fNTYddiLMp4tMj4gLKuJ26TsB2rvr1VJGPbt"
GENERATOR = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
P2WSH_ADDR = "bc1qp0ahvfh83088w49k405szqgg4f3pptr7p2g06tdxfjcd40z4lh4q95lsz9"

# "tx_hashes": message, message_hash, to_spend txid, to_sign txid (display order).
TX_HASHES = [
    (
        "",
        "c90c269c4f8fcbe6880f72a721ddfbf1914268a794cbb21cfafee13770ae19f1",
        "c5680aa69bb8d860bf82d4e9cd3504b55dde018de765a91bb566283c545a99a7",
        "1e9654e951a5ba44c8604c4de6c67fd78a27e81dcadcfe1edf638ba3aaebaed6",
    ),
    (
        "Hello World",
        "f0eb03b1a75ac6d9847f55c624a99169b5dccba2a31f5b23bea77ba270de0a7a",
        "b79d196740ad5217771c1098fc4a4b51e0535c32236c71f1ea4d61a2d603352b",
        "88737ae86f2077145f93cc4b153ae9a1cb8d56afa511988c149c5c8c9d93bddf",
    ),
    (
        "UTF-8 support: \u00f6\u00e4\u00fc\u00e9\u00e0\u00e8 \u6d4b\u8bd5\u6587\u672c \U0001f604",
        "43936b237ea38c7794eb5d755e0d220b6db92ebfc5c8f482759d22b1286376d7",
        "c8f4f525fe8afb1bc09b44175bd2096f079c98425e8a1be676b712add1fb62f0",
        "8f488e06b89eafd019ec528109eafaf7f1d1811fd617aa1eeb9658f1c1be6586",
    ),
]

_PUB = "ASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI="
SIMPLE = [
    (
        "",
        P2WPKH_ADDR,
        "smpAkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40"
        + _PUB,
    ),
    (
        "",
        P2WPKH_ADDR,
        "smpAkgwRQIhAPkJ1Q4oYS0htvyuSFHLxRQpFAY56b70UvE7Dxazen0ZAiAtZfFz1S6T6I23MWI2lK/pcNTWncuyL8UL+oMd"
        "ydVgzAEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy",
    ),
    (
        "Hello World",
        P2WPKH_ADDR,
        "smpAkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx"
        "9a/s" + _PUB,
    ),
    (
        "Hello World",
        P2WPKH_ADDR,
        "smpAkgwRQIhAOzyynlqt93lOKJr+wmmxIens//zPzl9tqIOua93wO6MAiBi5n5EyAcPScOjf1lAqIUIQtr3zKNeavYabHyR"
        "8eGhowEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy",
    ),
    (
        "No prefix fallback",
        P2TR_ADDR,
        "AUCJYOwOjxYAvatTAGYaVlNXBVyFuc4MwNQkOuK2tl8xhfKDONd0NjfYyNSYcRqeCp8hsAnCEPHAVEkO9h6vbQ/R",
    ),
]


def _wif_secret(wif: str) -> bytes:
    raw = base58.b58decode_check(wif)
    assert raw[0] == 0x80 and len(raw) == 34 and raw[33] == 1
    return bytes(raw[1:33])


@pytest.mark.parametrize(("message", "msg_hash", "to_spend", "to_sign"), TX_HASHES)
def test_bip322_transaction_hashes(
    message: str, msg_hash: str, to_spend: str, to_sign: str
) -> None:
    assert bip322_message_hash(message).hex() == msg_hash
    challenge = bip322_to_sign(message, P2WPKH_ADDR)
    assert challenge.to_spend.txid_hex() == to_spend
    assert challenge.to_sign.txid_hex() == to_sign
    assert challenge.sighash_type == 0x01


@pytest.mark.parametrize(("message", "address", "signature"), SIMPLE)
def test_bip322_published_signatures_verify(message: str, address: str, signature: str) -> None:
    assert bip322_verify_simple(message, address, signature)
    assert not bip322_verify_simple(message + "!", address, signature)
    # The older unprefixed form decodes to the same witness.
    unprefixed = signature.removeprefix("smp")
    assert bip322_verify_simple(message, address, unprefixed)


def test_published_keys_match_addresses() -> None:
    pub = coincurve.PrivateKey(_wif_secret(P2WPKH_WIF)).public_key.format()
    assert p2wpkh_address(pub, "bc") == P2WPKH_ADDR
    xonly = bip340.public_key(_wif_secret(P2TR_WIF))
    assert p2tr_address(xonly, "bc") == P2TR_ADDR


@pytest.mark.parametrize(
    ("message", "signature"),
    [
        ("", "not-valid-base64!!!"),
        ("", ""),
        ("", "smpAA=="),
        ("", "fooAA=="),
        (
            "Wrong message that was not signed",
            "smpAkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOix"
            "pX8z46TSDtS40" + _PUB,
        ),
    ],
)
def test_bip322_published_error_cases(message: str, signature: str) -> None:
    assert not bip322_verify_simple(message, P2WPKH_ADDR, signature)


def test_bip322_unsupported_address_type() -> None:
    with pytest.raises(InvalidParameters) as excinfo:
        bip322_verify_simple("", P2WSH_ADDR, SIMPLE[0][2])
    assert excinfo.value.code == "UnsupportedAddressType"
    with pytest.raises(InvalidEncoding):
        bip322_to_sign("", "bc1qnotanaddress")


def test_bip322_decode_rejects_full_variant() -> None:
    with pytest.raises(InvalidEncoding) as excinfo:
        bip322_decode_simple("fulAUDZwFXUp")
    assert excinfo.value.code == "InvalidSignature"
    assert bip322_decode_simple(bip322_encode_simple([b"\x01", b""])) == (b"\x01", b"")
    assert bip322_encode_simple([], prefix=False) == "AA=="


@pytest.mark.parametrize("message", ["", "Hello World", b"\x00\xffbytes"])
def test_bip322_sign_ecdsa_round_trip(message: str | bytes) -> None:
    key = coincurve.PrivateKey(_wif_secret(P2WPKH_WIF))
    pub = key.public_key.format()

    def sign_ecdsa(digest: bytes) -> tuple[int, int, int]:
        sig = key.sign_recoverable(digest, hasher=None)
        return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]

    sig = bip322_sign_simple(
        message, P2WPKH_ADDR, public_key=pub, scheme="ECDSA", sign_ecdsa=sign_ecdsa
    )
    assert sig.startswith("smp")
    assert bip322_verify_simple(message, P2WPKH_ADDR, sig)
    witness = bip322_decode_simple(sig)
    assert witness[1] == pub and witness[0][-1] == 0x01
    # coincurve's ECDSA is deterministic (RFC 6979): it reproduces the second published signature.
    if message == "":
        assert sig == SIMPLE[1][2]
    if message == "Hello World":
        assert sig == SIMPLE[3][2]


def test_bip322_sign_schnorr_round_trip() -> None:
    secret = _wif_secret(P2TR_WIF)
    xonly = bip340.public_key(secret)
    tweak = bip340.taproot_tweak(xonly, b"")
    d = int.from_bytes(secret, "big")
    order = SECP256K1.order
    if not SECP256K1.has_even_y(SECP256K1.mul_base(d)):
        d = order - d
    tweaked = ((d + tweak) % order).to_bytes(32, "big")

    def sign_schnorr(digest: bytes) -> bytes:
        return bip340.sign(tweaked, digest, bytes(32))

    sig = bip322_sign_simple(
        "No prefix fallback",
        P2TR_ADDR,
        public_key=xonly,
        scheme="Schnorr",
        sign_schnorr=sign_schnorr,
    )
    assert bip322_verify_simple("No prefix fallback", P2TR_ADDR, sig)
    assert len(bip322_decode_simple(sig)[0]) == 64
    with pytest.raises(InvalidParameters) as excinfo:
        bip322_sign_simple(
            "x", P2TR_ADDR, public_key=GENERATOR, scheme="Schnorr", sign_schnorr=sign_schnorr
        )
    assert excinfo.value.code == "KeyDoesNotMatchAddress"


def test_bip322_garbage_witnesses_do_not_verify() -> None:
    pub = coincurve.PrivateKey(_wif_secret(P2WPKH_WIF)).public_key.format()
    for witness in ([bytes(9) + b"\x01", pub], [b"\x30" * 71 + b"\x01", pub], [b"\x01", pub]):
        assert not bip322_verify_simple("", P2WPKH_ADDR, bip322_encode_simple(witness))
    for witness in ([bytes(64)], [bytes(64) + b"\x04"], [bytes(64), b"\x50"], [bytes(63)]):
        assert not bip322_verify_simple("", P2TR_ADDR, bip322_encode_simple(witness))


def test_bip322_complete_simple_checks_the_signature() -> None:
    """The two-step form the API uses: the challenge first, then one signature, which is
    checked against the challenge's sighash before anything is encoded."""
    key = coincurve.PrivateKey(_wif_secret(P2WPKH_WIF))
    pub = key.public_key.format()
    challenge = bip322_to_sign("Hello World", P2WPKH_ADDR)
    compact = key.sign_recoverable(challenge.sighash, hasher=None)[:64]
    encoded = bip322_complete_simple(challenge, public_key=pub, scheme="ECDSA", signature=compact)
    assert encoded == SIMPLE[3][2]  # RFC 6979: the published signature
    other = key.sign_recoverable(bip322_to_sign("", P2WPKH_ADDR).sighash, hasher=None)[:64]
    with pytest.raises(ProtocolError) as excinfo:
        bip322_complete_simple(challenge, public_key=pub, scheme="ECDSA", signature=other)
    assert excinfo.value.code == "SignatureVerificationFailed"
    with pytest.raises(InvalidParameters):
        bip322_complete_simple(challenge, public_key=pub, scheme="ECDSA", signature=compact[:63])
    with pytest.raises(InvalidParameters):
        bip322_complete_simple(challenge, public_key=pub, scheme="Schnorr", signature=bytes(64))

    secret = _wif_secret(P2TR_WIF)
    xonly = bip340.public_key(secret)
    tr = bip322_to_sign("x", P2TR_ADDR)
    untweaked = bip340.sign(secret, tr.sighash, bytes(32))  # the internal key, not BIP 86's
    with pytest.raises(ProtocolError):
        bip322_complete_simple(tr, public_key=xonly, scheme="Schnorr", signature=untweaked)
    with pytest.raises(InvalidParameters) as mismatch:
        bip322_complete_simple(tr, public_key=GENERATOR, scheme="Schnorr", signature=untweaked)
    assert mismatch.value.code == "KeyDoesNotMatchAddress"
