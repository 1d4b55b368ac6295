"""Segwit addresses: BIP 173/350 vectors, BIP 341 scriptPubKey vectors, BIP 86 vectors.

Data: ``tests/vectors/bip173-segwit-addresses.json``, ``bip350-segwit-addresses.json`` and
``bip86-addresses.json`` (see tests/vectors/README.md); the BIP 341 file is a shared vector."""

from __future__ import annotations

import json
from typing import Any

import pytest
from shared_vectors import LOCAL_VECTORS, load_json_vector

from shardvault.chains import bitcoin
from shardvault.chains.btc_address import (
    NETWORKS,
    address_to_script_pubkey,
    decode_address,
    encode_segwit_address,
    hrp_for_network,
    is_valid_address,
    p2tr_address,
    p2wpkh_address,
    script_pubkey_p2tr,
    script_pubkey_p2wpkh,
    script_pubkey_to_address,
    taproot_output_key,
)
from shardvault.errors import InvalidEncoding, InvalidParameters

BIP173: dict[str, Any] = json.loads((LOCAL_VECTORS / "bip173-segwit-addresses.json").read_text())
BIP350: dict[str, Any] = json.loads((LOCAL_VECTORS / "bip350-segwit-addresses.json").read_text())
BIP86: list[dict[str, str]] = json.loads((LOCAL_VECTORS / "bip86-addresses.json").read_text())[
    "addresses"
]

# BIP 350 "Test vectors for v0-v16 native segregated witness addresses" (valid).
VALID_SEGWIT = [(v["address"], v["scriptPubKey"]) for v in BIP350["valid_segwit"]]

# BIP 350's invalid segwit addresses, then BIP 173's not already listed there.
_BIP350_INVALID = [v["address"] for v in BIP350["invalid_segwit"]]
INVALID_SEGWIT = _BIP350_INVALID + [
    v["address"] for v in BIP173["invalid_segwit"] if v["address"] not in _BIP350_INVALID
]
# BIP 173's valid segwit addresses: the v0 ones are BIP 350's too; the v1+ ones use the
# Bech32 checksum, which BIP 350 makes invalid for witness versions 1-16.
BIP173_V0 = [
    (v["address"], v["scriptPubKey"])
    for v in BIP173["valid_segwit"]
    if v["scriptPubKey"][:2] == "00"
]
BIP173_V1_PLUS = [v["address"] for v in BIP173["valid_segwit"] if v["scriptPubKey"][:2] != "00"]

# Our own cases (not from a BIP): not segwit at all / too long.
OUR_INVALID = ["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "bc1" + "q" * 88]

G_COMPRESSED = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")


@pytest.mark.parametrize(("address", "spk"), VALID_SEGWIT)
def test_valid_segwit_addresses(address: str, spk: str) -> None:
    hrp = address[: address.rfind("1")].lower()
    decoded = decode_address(address, hrp)
    assert decoded.script_pubkey.hex() == spk
    assert address_to_script_pubkey(address) == bytes.fromhex(spk)
    assert is_valid_address(address, hrp)
    assert script_pubkey_to_address(bytes.fromhex(spk), hrp) == address.lower()
    assert encode_segwit_address(hrp, decoded.version, decoded.program) == address.lower()


def test_bip173_v0_addresses_are_bip350_vectors() -> None:
    assert BIP173_V0 and set(BIP173_V0) <= set(VALID_SEGWIT)
    assert len(BIP173_V1_PLUS) == 3


@pytest.mark.parametrize("address", INVALID_SEGWIT + BIP173_V1_PLUS + OUR_INVALID)
def test_invalid_segwit_addresses(address: str) -> None:
    for hrp in ("bc", "tb"):
        assert not is_valid_address(address, hrp)
        with pytest.raises(InvalidEncoding) as excinfo:
            decode_address(address, hrp)
        assert excinfo.value.code == "InvalidAddress"


def test_wrong_network_is_rejected() -> None:
    addr = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
    assert is_valid_address(addr)
    assert not is_valid_address(addr, "tb")


def test_p2wpkh_address_of_generator() -> None:
    # BIP 173 examples: the P2WPKH addresses of the generator point G.
    examples = BIP173["examples"]
    assert bytes.fromhex(examples["public_key"]) == G_COMPRESSED
    p2wpkh = {e["network"]: e["address"] for e in examples["addresses"] if e["type"] == "P2WPKH"}
    assert p2wpkh_address(G_COMPRESSED, "bc") == p2wpkh["Mainnet"]
    assert p2wpkh_address(G_COMPRESSED, "tb") == p2wpkh["Testnet"]
    spk = script_pubkey_p2wpkh(G_COMPRESSED)
    assert spk.hex() == "0014751e76e8199196d454941c45d1b3a323f1433bd6"
    regtest = p2wpkh_address(G_COMPRESSED, "bcrt")
    assert regtest.startswith("bcrt1q")
    assert decode_address(regtest, "bcrt").script_pubkey == spk


@pytest.mark.parametrize("vector", BIP86, ids=[v["path"] for v in BIP86])
def test_bip86_addresses(vector: dict[str, str]) -> None:
    key = bytes.fromhex(vector["internal_key"])
    address = vector["address"]
    assert taproot_output_key(key).hex() == vector["output_key"]
    assert p2tr_address(key, "bc") == address
    assert script_pubkey_p2tr(key).hex() == vector["scriptPubKey"]
    assert script_pubkey_to_address(bytes.fromhex(vector["scriptPubKey"]), "bc") == address
    # A 33-byte compressed key with either parity gives the same x-only internal key.
    for prefix in (b"\x02", b"\x03"):
        assert p2tr_address(prefix + key, "bc") == address


def test_bip341_script_pubkey_vectors() -> None:
    vectors: list[dict[str, Any]] = load_json_vector("bip341-wallet-test-vectors.json")[
        "scriptPubKey"
    ]
    for v in vectors:
        internal = bytes.fromhex(v["given"]["internalPubkey"])
        root = v["intermediary"]["merkleRoot"]
        merkle = b"" if root is None else bytes.fromhex(root)
        out = taproot_output_key(internal, merkle)
        assert out.hex() == v["intermediary"]["tweakedPubkey"]
        spk = bytes.fromhex(v["expected"]["scriptPubKey"])
        assert script_pubkey_to_address(spk, "bc") == v["expected"]["bip350Address"]
        if root is None:
            assert p2tr_address(internal, "bc") == v["expected"]["bip350Address"]
            assert script_pubkey_p2tr(internal) == spk


def test_networks() -> None:
    assert hrp_for_network("Bitcoin") == "bc"
    assert hrp_for_network("BitcoinTestnet3") == "tb"
    assert hrp_for_network("BitcoinSignet") == "tb"
    assert hrp_for_network("BitcoinRegtest") == "bcrt"
    assert set(NETWORKS) == {"Bitcoin", "BitcoinTestnet3", "BitcoinSignet", "BitcoinRegtest"}
    with pytest.raises(InvalidParameters) as excinfo:
        hrp_for_network("Litecoin")
    assert excinfo.value.code == "UnsupportedNetwork"
    assert bitcoin.p2wpkh_address is p2wpkh_address


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        G_COMPRESSED[1:] + b"\x00",  # 33 bytes with a bad prefix
        b"\x04" + bytes(64),
        b"\x02" + b"\xff" * 32,  # x >= p
    ],
)
def test_bad_public_keys(bad: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        p2wpkh_address(bad, "bc")
    with pytest.raises(InvalidEncoding):
        p2tr_address(bad, "bc")


def test_bad_program_for_encoding() -> None:
    with pytest.raises(InvalidEncoding):
        encode_segwit_address("bc", 0, bytes(21))
    with pytest.raises(InvalidEncoding):
        encode_segwit_address("bc", 17, bytes(32))
    with pytest.raises(InvalidParameters):
        encode_segwit_address("BC", 0, bytes(20))
