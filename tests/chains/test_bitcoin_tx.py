"""Bitcoin transactions and signature hashes: BIP 143 examples, BIP 341 wallet vectors."""

from __future__ import annotations

from typing import Any

import coincurve
import pytest
from shared_vectors import load_json_vector

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

# BIP 143, "Native P2WPKH" example.
BIP143_P2WPKH_UNSIGNED = (
    "0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeffffffe"
    "f51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb20600"
    "0000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7"
    "e4dbe6a21b2d50ce2f0167faa815988ac11000000"
)
BIP143_P2WPKH_SIGNED = (
    "01000000000102fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f000000004948304"
    "50221008b9d1dc26ba6a9cb62127b02742fa9d754cd3bebf337f7a55d114c8e5cdd30be022040529b194ba3f9281a"
    "99f2b1c0a19c0489bc22ede944ccf4ecbab4cc618ef3ed01eeffffffef51e1b804cc89d182d279655c3aa89e815b1"
    "b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85"
    "c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac000"
    "247304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c451833"
    "1561406f90300e8f3358f51928d43c212a8caed02de67eebee0121025476c2e83188368da1ff3e292e7acafcdb356"
    "6bb0ad253f62fc70f07aeee635711000000"
)
BIP143_P2WPKH_PUB = "025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee6357"
BIP143_P2WPKH_SIGHASH = "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670"
BIP143_P2WPKH_SIG = (
    "304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a"
    "0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee01"
)

# BIP 143, "P2SH-P2WSH" example: one input signed with the six sighash types.
BIP143_MULTI_UNSIGNED = (
    "010000000136641869ca081e70f394c6948e8af409e18b619df2ed74aa106c1ca29787b96e0100000000ffffffff0"
    "200e9a435000000001976a914389ffce9cd9ae88dcc0631e88a821ffdbe9bfe2688acc0832f05000000001976a914"
    "7480a33f950689af511e6e84c138dbbd3c3ee41588ac00000000"
)
BIP143_MULTI_SCRIPT_CODE = (
    "cf56210307b8ae49ac90a048e9b53357a2354b3334e9c8bee813ecb98e99a7e07e8c3ba32103b28f0c28bfab54554"
    "ae8c658ac5c3e0ce6e79ad336331f78c428dd43eea8449b21034b8113d703413d57761b8b9781957b8c0ac1dfe69f"
    "492580ca4195f50376ba4a21033400f6afecb833092a9a21cfdf1ed1376e58c5d1f47de74683123987e967a8f4210"
    "3a6d48b1131e94ba04d9737d61acdaa1322008af9602b3b14862c07a1789aac162102d8b661b0b3302ee2f162b09e"
    "07a55ad5dfbe673a9f01d9f0c19617681024306b56ae"
)  # with its length prefix, as printed in BIP 143
BIP143_MULTI_AMOUNT = 987654321
BIP143_MULTI_SIGHASHES = [
    (0x01, "185c0be5263dce5b4bb50a047973c1b6272bfbd0103a89444597dc40b248ee7c"),
    (0x02, "e9733bc60ea13c95c6527066bb975a2ff29a925e80aa14c213f686cbae5d2f36"),
    (0x03, "1e1f1c303dc025bd664acb72e583e933fae4cff9148bf78c157d1e8f78530aea"),
    (0x81, "2a67f03e63a6a422125878b40b82da593be8d4efaafe88ee528af6e5a9955c6e"),
    (0x82, "781ba15f3779d5542ce8ecb5c18716733a5ee42a6f51488ec96154934e2c890a"),
    (0x83, "511e8e52ed574121fc1b654970395502128263f62662e076dc6baf05c2e6a99b"),
]


def _bip341() -> dict[str, Any]:
    vectors: dict[str, Any] = load_json_vector("bip341-wallet-test-vectors.json")
    return vectors


def test_bip143_native_p2wpkh_sighash_and_signature() -> None:
    tx = Transaction.parse(bytes.fromhex(BIP143_P2WPKH_UNSIGNED))
    assert tx.serialize().hex() == BIP143_P2WPKH_UNSIGNED
    pub = bytes.fromhex(BIP143_P2WPKH_PUB)
    from shardvault.chains.btc_address import hash160

    script_code = p2wpkh_script_code(hash160(pub))
    assert script_code.hex() == "76a9141d0f172a0ecb48aee1be1f2687d2963ae33f71a188ac"
    digest = sighash_segwit_v0(tx, 1, script_code, 600_000_000, 0x01)
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


@pytest.mark.parametrize(("hash_type", "expected"), BIP143_MULTI_SIGHASHES)
def test_bip143_all_sighash_types(hash_type: int, expected: str) -> None:
    tx = Transaction.parse(bytes.fromhex(BIP143_MULTI_UNSIGNED))
    code = bytes.fromhex(BIP143_MULTI_SCRIPT_CODE)
    assert code[0] == len(code) - 1
    digest = sighash_segwit_v0(tx, 0, code[1:], BIP143_MULTI_AMOUNT, hash_type)
    assert digest.hex() == expected


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
