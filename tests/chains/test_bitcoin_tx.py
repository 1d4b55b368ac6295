"""Bitcoin transactions and signature hashes: BIP 143 examples
(``tests/vectors/bip143-examples.json``), BIP 341 wallet vectors (a shared vector)."""

from __future__ import annotations

import json
from typing import Any

import coincurve
import pytest
from shared_vectors import LOCAL_VECTORS, load_json_vector

from shardvault.chains.btc_tx import (
    Transaction,
    TxOut,
    p2wpkh_script_code,
    sighash_segwit_v0,
    sighash_taproot,
    taproot_sig_message,
)
from shardvault.crypto import bip340
from shardvault.errors import InvalidEncoding, InvalidParameters

# BIP 143 "Example" section: the "Native P2WPKH" and "P2SH-P2WSH" examples.
_BIP143 = {
    ex["name"]: ex
    for ex in json.loads((LOCAL_VECTORS / "bip143-examples.json").read_text())["examples"]
}
_P2WPKH = _BIP143["Native P2WPKH"]
BIP143_P2WPKH_UNSIGNED: str = _P2WPKH["unsigned_tx"]
BIP143_P2WPKH_SIGNED: str = _P2WPKH["signed_tx"]
(_P2WPKH_SIGNATURE,) = _P2WPKH["signatures"]
BIP143_P2WPKH_PUB: str = _P2WPKH_SIGNATURE["public_key"]
BIP143_P2WPKH_SIGHASH: str = _P2WPKH_SIGNATURE["sighash"]
BIP143_P2WPKH_SIG: str = _P2WPKH_SIGNATURE["signature"]

# One input signed with the six sighash types.
_MULTI = _BIP143["P2SH-P2WSH"]
BIP143_MULTI_UNSIGNED: str = _MULTI["unsigned_tx"]
BIP143_MULTI_SIGNATURES: list[dict[str, Any]] = _MULTI["signatures"]


def _bip341() -> dict[str, Any]:
    vectors: dict[str, Any] = load_json_vector("bip341-wallet-test-vectors.json")
    return vectors


def test_bip143_native_p2wpkh_sighash_and_signature() -> None:
    tx = Transaction.parse(bytes.fromhex(BIP143_P2WPKH_UNSIGNED))
    assert tx.serialize().hex() == BIP143_P2WPKH_UNSIGNED
    pub = bytes.fromhex(BIP143_P2WPKH_PUB)
    from shardvault.chains.btc_address import hash160

    script_code = p2wpkh_script_code(hash160(pub))
    printed = bytes.fromhex(_P2WPKH_SIGNATURE["script_code"])  # with its length prefix
    assert printed[0] == len(printed) - 1 and script_code == printed[1:]
    assert _P2WPKH_SIGNATURE["hash_type"] == 0x01
    digest = sighash_segwit_v0(
        tx, _P2WPKH_SIGNATURE["input_index"], script_code, _P2WPKH_SIGNATURE["amount"], 0x01
    )
    assert digest.hex() == BIP143_P2WPKH_SIGHASH
    sig = bytes.fromhex(BIP143_P2WPKH_SIG)
    assert coincurve.PublicKey(pub).verify(sig[:-1], digest, hasher=None)


def test_bip143_signed_tx_round_trip_and_txid() -> None:
    signed = Transaction.parse(bytes.fromhex(BIP143_P2WPKH_SIGNED))
    assert signed.serialize().hex() == BIP143_P2WPKH_SIGNED
    assert signed.has_witness
    assert signed.inputs[0].witness == ()
    assert signed.inputs[1].witness[1].hex() == BIP143_P2WPKH_PUB
    assert signed.inputs[1].witness[0].hex() == BIP143_P2WPKH_SIG
    unsigned = Transaction.parse(bytes.fromhex(BIP143_P2WPKH_UNSIGNED))
    # The legacy serialization of the signed tx differs only by the first scriptSig.
    assert signed.serialize(include_witness=False) != unsigned.serialize()
    assert signed.txid() != signed.wtxid()
    assert len(signed.txid_hex()) == 64


@pytest.mark.parametrize(
    "vector", BIP143_MULTI_SIGNATURES, ids=[hex(v["hash_type"]) for v in BIP143_MULTI_SIGNATURES]
)
def test_bip143_all_sighash_types(vector: dict[str, Any]) -> None:
    tx = Transaction.parse(bytes.fromhex(BIP143_MULTI_UNSIGNED))
    code = bytes.fromhex(vector["script_code"])  # printed with its length prefix
    assert code[0] == len(code) - 1
    hash_type = vector["hash_type"]
    digest = sighash_segwit_v0(tx, vector["input_index"], code[1:], vector["amount"], hash_type)
    assert digest.hex() == vector["sighash"]
    # The published DER signature (sighash byte appended) verifies under the published key.
    sig = bytes.fromhex(vector["signature"])
    assert sig[-1] == hash_type
    assert coincurve.PublicKey(bytes.fromhex(vector["public_key"])).verify(
        sig[:-1], digest, hasher=None
    )


def test_bip143_all_sighash_types_cover_six_types() -> None:
    types = [v["hash_type"] for v in BIP143_MULTI_SIGNATURES]
    assert types == [0x01, 0x02, 0x03, 0x81, 0x82, 0x83]


def test_bip143_rejects_bad_sighash_and_index() -> None:
    tx = Transaction.parse(bytes.fromhex(BIP143_MULTI_UNSIGNED))
    with pytest.raises(InvalidParameters) as excinfo:
        sighash_segwit_v0(tx, 0, b"", 1, 0x00)
    assert excinfo.value.code == "InvalidSighashType"
    with pytest.raises(InvalidParameters):
        sighash_segwit_v0(tx, 1, b"", 1, 0x01)


def _keypath_case() -> tuple[Transaction, list[TxOut], list[dict[str, Any]], dict[str, Any]]:
    case = _bip341()["keyPathSpending"][0]
    tx = Transaction.parse(bytes.fromhex(case["given"]["rawUnsignedTx"]))
    prevouts = [
        TxOut(u["amountSats"], bytes.fromhex(u["scriptPubKey"]))
        for u in case["given"]["utxosSpent"]
    ]
    return tx, prevouts, case["inputSpending"], case["auxiliary"]


def test_bip341_keypath_sighashes_and_signatures() -> None:
    tx, prevouts, inputs, _ = _keypath_case()
    assert len(inputs) == 7
    seen_types = set()
    for spend in inputs:
        given, inter, expected = spend["given"], spend["intermediary"], spend["expected"]
        i, hash_type = given["txinIndex"], given["hashType"]
        seen_types.add(hash_type)
        msg = taproot_sig_message(tx, i, prevouts, hash_type)
        assert msg.hex() == inter["sigMsg"]
        digest = sighash_taproot(tx, i, prevouts, hash_type)
        assert digest.hex() == inter["sigHash"]
        # Tweak via the repo's BIP 341 helper, and sign with coincurve (aux_rand = 0^32).
        internal_priv = bytes.fromhex(given["internalPrivkey"])
        internal_pub = bip340.public_key(internal_priv)
        assert internal_pub.hex() == inter["internalPubkey"]
        merkle = b"" if given["merkleRoot"] is None else bytes.fromhex(given["merkleRoot"])
        assert (
            bip340.taproot_tweak(internal_pub, merkle).to_bytes(32, "big").hex() == (inter["tweak"])
        )
        tweaked = coincurve.PrivateKey(bytes.fromhex(inter["tweakedPrivkey"]))
        sig = tweaked.sign_schnorr(digest, bytes(32))
        witness_sig = sig if hash_type == 0 else sig + bytes([hash_type])
        assert [witness_sig.hex()] == expected["witness"]
        output_key = prevouts[i].script_pubkey[2:]
        assert coincurve.PublicKeyXOnly(output_key).verify(sig, digest)
        assert bip340.verify(output_key, digest, sig)
    assert {0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83} == seen_types


def test_bip341_intermediary_hashes() -> None:
    case = _bip341()["keyPathSpending"][0]
    inter = case["intermediary"]
    tx, prevouts, _, _ = _keypath_case()
    msg = taproot_sig_message(tx, 0, prevouts, 0x01)
    # SigMsg layout: epoch, type, version, locktime, then the five precomputed hashes.
    body = msg[10:]
    assert body[:32].hex() == inter["hashPrevouts"]
    assert body[32:64].hex() == inter["hashAmounts"]
    assert body[64:96].hex() == inter["hashScriptPubkeys"]
    assert body[96:128].hex() == inter["hashSequences"]
    assert body[128:160].hex() == inter["hashOutputs"]


def test_bip341_fully_signed_tx_round_trip() -> None:
    tx, _, inputs, aux = _keypath_case()
    full = Transaction.parse(bytes.fromhex(aux["fullySignedTx"]))
    assert full.serialize().hex() == aux["fullySignedTx"]
    assert full.outputs == tx.outputs
    assert [i.outpoint() for i in full.inputs] == [i.outpoint() for i in tx.inputs]
    for spend in inputs:
        i = spend["given"]["txinIndex"]
        assert [w.hex() for w in full.inputs[i].witness] == spend["expected"]["witness"]


def test_bip341_rejects_bad_arguments() -> None:
    tx, prevouts, _, _ = _keypath_case()
    with pytest.raises(InvalidParameters):
        sighash_taproot(tx, 0, prevouts[:-1], 0)
    with pytest.raises(InvalidParameters) as excinfo:
        sighash_taproot(tx, 0, prevouts, 0x04)
    assert excinfo.value.code == "InvalidSighashType"
    # SIGHASH_SINGLE for an input without a matching output.
    with pytest.raises(InvalidParameters):
        sighash_taproot(tx, 5, prevouts, 0x03)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "01000000",
        BIP143_P2WPKH_UNSIGNED + "00",  # trailing byte
        BIP143_P2WPKH_UNSIGNED[:-2],  # truncated
        "0100000000020000000000",  # segwit marker with an unknown flag
        "01000000fd010000",  # non-canonical compact size
    ],
)
def test_transaction_parse_is_strict(bad: str) -> None:
    with pytest.raises(InvalidEncoding) as excinfo:
        Transaction.parse(bytes.fromhex(bad))
    assert excinfo.value.code == "InvalidTransaction"


def test_legacy_only_parse_refuses_segwit() -> None:
    with pytest.raises(InvalidEncoding):
        Transaction.parse(bytes.fromhex(BIP143_P2WPKH_SIGNED), allow_witness=False)
