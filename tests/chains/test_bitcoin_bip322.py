"""BIP 322 simple signatures: the published vectors (bitcoin/bips bip-0322/basic-test-vectors.json,
copied verbatim to tests/vectors/bip322-basic-test-vectors.json) for P2WPKH and P2TR (the P2WSH
multisig entries must be refused as unsupported), plus sign/verify round trips."""

from __future__ import annotations

import json
from typing import Any

import base58
import coincurve
import pytest
from shared_vectors import LOCAL_VECTORS

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

# bitcoin/bips bip-0322/basic-test-vectors.json, verbatim.
BIP322: dict[str, Any] = json.loads((LOCAL_VECTORS / "bip322-basic-test-vectors.json").read_text())
_BY_TYPE: dict[str, dict[str, Any]] = {}
for _entry in BIP322["simple"]:
    _BY_TYPE.setdefault(_entry["type"], _entry)
P2WPKH_ADDR: str = _BY_TYPE["p2wpkh"]["address"]
(P2WPKH_WIF,) = _BY_TYPE["p2wpkh"]["private_keys"]
P2TR_ADDR: str = _BY_TYPE["p2tr"]["address"]
(P2TR_WIF,) = _BY_TYPE["p2tr"]["private_keys"]
P2WSH_ADDR: str = _BY_TYPE["p2wsh-multisig-3of3"]["address"]  # not supported here
GENERATOR = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")

# "tx_hashes": message, address, message_hash, to_spend txid, to_sign txid (display order).
TX_HASHES = [
    (v["message"], v["address"], v["message_hash"], v["to_spend_tx_hash"], v["to_sign_tx_hash"])
    for v in BIP322["tx_hashes"]
]
# "simple": (message, address, type, signature), one row per published signature.
SIMPLE = [
    (v["message"], v["address"], v["type"], sig)
    for v in BIP322["simple"]
    for sig in v["bip322_signatures"]
]
# The published P2WPKH signatures by message; the second of each pair is RFC 6979's.
P2WPKH_SIGS: dict[str, list[str]] = {
    v["message"]: v["bip322_signatures"] for v in BIP322["simple"] if v["type"] == "p2wpkh"
}
# "error": (description, message, address, signature).
ERRORS = [(e["description"], e["message"], e["address"], e["signature"]) for e in BIP322["error"]]


def _wif_secret(wif: str) -> bytes:
    raw = base58.b58decode_check(wif)
    assert raw[0] == 0x80 and len(raw) == 34 and raw[33] == 1
    return bytes(raw[1:33])


@pytest.mark.parametrize(("message", "address", "msg_hash", "to_spend", "to_sign"), TX_HASHES)
def test_bip322_transaction_hashes(
    message: str, address: str, msg_hash: str, to_spend: str, to_sign: str
) -> None:
    assert bip322_message_hash(message).hex() == msg_hash
    challenge = bip322_to_sign(message, address)
    assert challenge.to_spend.txid_hex() == to_spend
    assert challenge.to_sign.txid_hex() == to_sign
    assert challenge.sighash_type == 0x01


@pytest.mark.parametrize(("message", "address", "kind", "signature"), SIMPLE)
def test_bip322_published_signatures_verify(
    message: str, address: str, kind: str, signature: str
) -> None:
    if kind.startswith("p2wsh"):  # only single-key P2WPKH and P2TR are supported
        with pytest.raises(InvalidParameters) as excinfo:
            bip322_verify_simple(message, address, signature)
        assert excinfo.value.code == "UnsupportedAddressType"
        return
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
    ("description", "message", "address", "signature"), ERRORS, ids=[e[0] for e in ERRORS]
)
def test_bip322_published_error_cases(
    description: str, message: str, address: str, signature: str
) -> None:
    if address == P2WSH_ADDR:  # refused before the signature is looked at
        with pytest.raises(InvalidParameters) as excinfo:
            bip322_verify_simple(message, address, signature)
        assert excinfo.value.code == "UnsupportedAddressType", description
        return
    assert not bip322_verify_simple(message, address, signature), description


def test_bip322_unsupported_address_type() -> None:
    with pytest.raises(InvalidParameters) as excinfo:
        bip322_verify_simple("", P2WSH_ADDR, P2WPKH_SIGS[""][0])
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
    if message in P2WPKH_SIGS:
        assert sig == P2WPKH_SIGS[message][1]


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
    assert encoded == P2WPKH_SIGS["Hello World"][1]  # RFC 6979: the published signature
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
