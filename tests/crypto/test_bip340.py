"""BIP 340 single-key reference against the published vectors, and BIP 341 tweaks
against the wallet test vectors; libsecp256k1 (coincurve) as the independent check."""

from __future__ import annotations

import csv
import os

import coincurve
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shared_vectors import load_json_vector, shared_vector_path

from shardvault.crypto import bip340
from shardvault.crypto.groups import SECP256K1
from shardvault.errors import InvalidEncoding, InvalidParameters, InvalidScalar

ROWS = list(csv.DictReader(shared_vector_path("bip340-test-vectors.csv").open()))


def test_vector_file_is_the_current_one() -> None:
    assert len(ROWS) == 19
    assert {r["verification result"] for r in ROWS} == {"TRUE", "FALSE"}


@pytest.mark.parametrize("row", [r for r in ROWS if r["secret key"]], ids=lambda r: r["index"])
def test_sign_reproduces_vector(row: dict[str, str]) -> None:
    sk = bytes.fromhex(row["secret key"])
    msg = bytes.fromhex(row["message"])
    sig = bip340.sign(sk, msg, bytes.fromhex(row["aux_rand"]))
    assert sig.hex().upper() == row["signature"]
    assert bip340.public_key(sk).hex().upper() == row["public key"]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["index"])
def test_verify_matches_expected_result(row: dict[str, str]) -> None:
    pk = bytes.fromhex(row["public key"])
    msg = bytes.fromhex(row["message"])
    sig = bytes.fromhex(row["signature"])
    expected = row["verification result"] == "TRUE"
    assert bip340.verify(pk, msg, sig) is expected


@given(
    st.binary(min_size=32, max_size=32),
    st.binary(max_size=100),
    st.binary(min_size=32, max_size=32),
)
def test_sign_agrees_with_libsecp256k1(seed: bytes, msg: bytes, aux: bytes) -> None:
    k = int.from_bytes(seed, "big") % (SECP256K1.order - 1) + 1
    sk = k.to_bytes(32, "big")
    sig = bip340.sign(sk, msg, aux)
    xonly = coincurve.PrivateKey(sk).public_key_xonly
    assert xonly.format() == bip340.public_key(sk)
    # libsecp256k1 verifies ours, and ours verifies libsecp256k1's (32-byte messages).
    assert xonly.verify(sig, msg)
    digest = bytes(32) if not msg else (msg * 32)[:32]
    theirs = coincurve.PrivateKey(sk).sign_schnorr(digest, aux)
    assert bip340.verify(xonly.format(), digest, theirs)


def test_rejects_bad_inputs() -> None:
    with pytest.raises(InvalidScalar):
        bip340.sign(bytes(32), b"m", bytes(32))
    with pytest.raises(InvalidScalar):
        bip340.sign(b"\xff" * 32, b"m", bytes(32))
    with pytest.raises(InvalidParameters):
        bip340.sign(b"\x01".rjust(32, b"\x00"), b"m", bytes(31))
    assert not bip340.verify(bytes(31), b"m", bytes(64))
    assert not bip340.verify(bytes(32), b"m", bytes(63))
    with pytest.raises(InvalidEncoding):
        bip340.taproot_tweak(bytes(31), b"")
    with pytest.raises(InvalidEncoding):
        bip340.taproot_tweak(bytes(32), bytes(31))


def test_bip341_tweaks_match_wallet_vectors() -> None:
    vectors = load_json_vector("bip341-wallet-test-vectors.json")
    checked = 0
    for case in vectors["scriptPubKey"]:
        given_ = case["given"]
        inter = case["intermediary"]
        internal = bytes.fromhex(given_["internalPubkey"])
        root = bytes.fromhex(inter["merkleRoot"]) if inter["merkleRoot"] else b""
        q, t = bip340.tweak_public_key(internal, root)
        assert t.to_bytes(32, "big").hex() == inter["tweak"]
        assert q.data[1:].hex() == inter["tweakedPubkey"]
        checked += 1
    assert checked == len(vectors["scriptPubKey"]) >= 7


def test_bip341_key_path_signatures_match_wallet_vectors() -> None:
    """Tweaked private keys from the key-path vectors verify with libsecp256k1."""
    vectors = load_json_vector("bip341-wallet-test-vectors.json")
    for case in vectors["keyPathSpending"]:
        for inp in case["inputSpending"]:
            internal_sk = bytes.fromhex(inp["given"]["internalPrivkey"])
            root_hex = inp["given"]["merkleRoot"]
            root = bytes.fromhex(root_hex) if root_hex else b""
            internal = bip340.public_key(internal_sk)
            q, t = bip340.tweak_public_key(internal, root)
            assert t.to_bytes(32, "big").hex() == inp["intermediary"]["tweak"]
            d = int.from_bytes(internal_sk, "big")
            if coincurve.PrivateKey(internal_sk).public_key.format()[0] == 3:
                d = SECP256K1.order - d
            tweaked = ((d + t) % SECP256K1.order).to_bytes(32, "big")
            assert tweaked.hex() == inp["intermediary"]["tweakedPrivkey"]
            assert bip340.public_key(tweaked) == q.data[1:]
            sighash = bytes.fromhex(inp["intermediary"]["sigHash"])
            sig = bip340.sign(tweaked, sighash, os.urandom(32))
            assert coincurve.PublicKeyXOnly(q.data[1:]).verify(sig, sighash)
