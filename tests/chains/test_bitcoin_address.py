"""Segwit addresses: BIP 173/350 vectors, BIP 341 scriptPubKey vectors, BIP 86 vectors."""

from __future__ import annotations

from typing import Any

import pytest
from shared_vectors import load_json_vector

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

# BIP 350 "Test vectors for v0-v16 native segregated witness addresses" (valid).
VALID_SEGWIT = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]

# BIP 350 and BIP 173 invalid segwit addresses.
INVALID_SEGWIT = [
    "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
    "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
    "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
    "bc1pw5dgrnzv",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
    "bc1gmk9yu",
    # BIP 173
    "tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
    "BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2",
    "bc1rw5uspcuh",
    "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7",
    "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du",
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv",
    # not segwit at all / too long
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    "bc1" + "q" * 88,
]

# BIP 86 test vectors (mnemonic "abandon ... about"), account 0.
BIP86 = [
    (
        "cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115",
        "a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c",
        "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr",
    ),
    (
        "83dfe85a3151d2517290da461fe2815591ef69f2b18a2ce63f01697a8b313145",
        "a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb",
        "bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh",
    ),
    (
        "399f1b2f4393f29a18c937859c5dd8a77350103157eb880f02e8c08214277cef",
        "882d74e5d0572d5a816cef0041a96b6c1de832f6f9676d9605c44d5e9a97d3dc",
        "bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7",
    ),
]

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


@pytest.mark.parametrize("address", INVALID_SEGWIT)
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
    # BIP 173 example: the P2WPKH address of the generator point G.
    assert p2wpkh_address(G_COMPRESSED, "bc") == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    assert p2wpkh_address(G_COMPRESSED, "tb") == "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
    spk = script_pubkey_p2wpkh(G_COMPRESSED)
    assert spk.hex() == "0014751e76e8199196d454941c45d1b3a323f1433bd6"
    regtest = p2wpkh_address(G_COMPRESSED, "bcrt")
    assert regtest.startswith("bcrt1q")
    assert decode_address(regtest, "bcrt").script_pubkey == spk


@pytest.mark.parametrize(("internal", "output", "address"), BIP86)
def test_bip86_addresses(internal: str, output: str, address: str) -> None:
    key = bytes.fromhex(internal)
    assert taproot_output_key(key).hex() == output
    assert p2tr_address(key, "bc") == address
    assert script_pubkey_p2tr(key).hex() == "5120" + output
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
