"""EVM addresses, signatures and EIP-191 messages, checked against eth-account / eth-keys."""

from __future__ import annotations

import json
from typing import Any

import coincurve
import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, defunct_hash_message, encode_defunct
from eth_keys import keys as eth_keys
from eth_utils import keccak as ref_keccak
from eth_utils import to_checksum_address
from evmhelpers import vault_sign
from hypothesis import given
from hypothesis import strategies as st
from shared_vectors import LOCAL_VECTORS

from shardvault.chains import evm
from shardvault.errors import InvalidParameters, InvalidPoint

N = evm.SECP256K1_N


# ---------------------------------------------------------------------------
# Keccak and addresses
# ---------------------------------------------------------------------------


def test_keccak256_known_values() -> None:
    assert evm.keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert evm.keccak256(b"abc") == ref_keccak(b"abc")


@given(st.binary(max_size=300))
def test_keccak256_matches_reference(data: bytes) -> None:
    assert evm.keccak256(data) == ref_keccak(data)


# EIP-55's "Test Cases" (ethereum/ERCs ERCS/erc-55.md), in
# tests/vectors/eip55-checksum-addresses.json.
_EIP55_DATA: dict[str, Any] = json.loads(
    (LOCAL_VECTORS / "eip55-checksum-addresses.json").read_text()
)
EIP55: list[str] = [a for group in _EIP55_DATA["test_cases"] for a in group["addresses"]]


def test_eip55_vector_count() -> None:
    assert [len(g["addresses"]) for g in _EIP55_DATA["test_cases"]] == [2, 2, 4]


@pytest.mark.parametrize("address", EIP55)
def test_eip55_vectors(address: str) -> None:
    assert evm.checksum_address(address) == address
    assert evm.checksum_address(address.lower()) == address
    assert evm.checksum_address("0x" + address[2:].upper()) == address
    assert evm.is_checksum_address(address)
    assert evm.checksum_encode(bytes.fromhex(address[2:])) == address
    assert evm.address_to_bytes(address) == bytes.fromhex(address[2:])


@pytest.mark.parametrize(
    "bad",
    [
        "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # mixed case, wrong checksum
        "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # no prefix
        "0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",  # 39 digits
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",
        " 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\n",
        "",
        "0x",
        None,
        b"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    ],
)
def test_bad_addresses(bad: Any) -> None:
    with pytest.raises(InvalidParameters) as info:
        evm.checksum_address(bad)
    assert info.value.code == "InvalidAddress"
    assert not evm.is_checksum_address(bad)


def test_lowercase_is_not_a_checksum_address() -> None:
    assert not evm.is_checksum_address(EIP55[4].lower())


@pytest.mark.parametrize("bad", [b"\x00" * 19, b"\x00" * 21, "00" * 20])
def test_checksum_encode_wants_20_bytes(bad: Any) -> None:
    with pytest.raises(InvalidParameters):
        evm.checksum_encode(bad)


@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils(raw: bytes) -> None:
    assert evm.checksum_encode(raw) == to_checksum_address(raw)


@pytest.mark.parametrize("seed", range(8))
def test_address_from_public_key_matches_eth_account(seed: int) -> None:
    acct = Account.create(f"shardvault evm {seed}")
    pub = coincurve.PrivateKey(bytes(acct.key)).public_key
    assert evm.address_from_public_key(pub.format(compressed=True)) == acct.address
    assert evm.address_from_public_key(pub.format(compressed=False)) == acct.address
    ref = eth_keys.PrivateKey(bytes(acct.key)).public_key.to_checksum_address()
    assert ref == acct.address


def test_address_of_generator() -> None:
    # Private key 1: a well-known address.
    pub = coincurve.PrivateKey((1).to_bytes(32, "big")).public_key.format()
    assert evm.address_from_public_key(pub) == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x02" + b"\x00" * 31,
        b"\x04" + b"\x00" * 64,  # not on the curve
        b"\x02" + b"\xff" * 32,  # x >= p
        b"\x05" + b"\x11" * 32,
        b"\x06" + b"\x11" * 64,  # hybrid encodings are refused
        "02" * 33,
    ],
)
def test_bad_public_keys(bad: Any) -> None:
    with pytest.raises(InvalidPoint):
        evm.address_from_public_key(bad)


def test_hybrid_encoding_of_a_valid_key_is_refused() -> None:
    pub = coincurve.PrivateKey((7).to_bytes(32, "big")).public_key.format(compressed=False)
    hybrid = bytes([6 + (pub[-1] & 1)]) + pub[1:]
    with pytest.raises(InvalidPoint):
        evm.address_from_public_key(hybrid)


# ---------------------------------------------------------------------------
# Signatures and EIP-191
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message", [b"", b"hello", "héllo wörld".encode(), bytes(range(256)), b"\x19" * 1000]
)
def test_eip191_sign_and_recover(message: bytes) -> None:
    acct = Account.create()
    digest = evm.eip191_hash(message)
    assert digest == _hash_eip191_message(encode_defunct(primitive=message))
    assert digest == bytes(defunct_hash_message(primitive=message))
    r, s, recid = vault_sign(bytes(acct.key), digest)
    signature = evm.signature_65(r, s, recid)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert Account.recover_message(encode_defunct(primitive=message), signature=signature) == (
        acct.address
    )
    assert evm.recover_address(digest, r, s, recid) == acct.address
    # Same bytes as eth_account's own signature (both use RFC 6979 nonces).
    ref = Account.sign_message(encode_defunct(primitive=message), acct.key)
    assert bytes(ref.signature) == signature


def test_eip191_hash_rejects_text() -> None:
    with pytest.raises(InvalidParameters):
        evm.eip191_hash("hello")  # type: ignore[arg-type]


GOOD_R = 0x1234
GOOD_S = 0x5678


@pytest.mark.parametrize(
    ("r", "s", "recid"),
    [
        (0, GOOD_S, 0),
        (N, GOOD_S, 0),
        (GOOD_R, 0, 0),
        (GOOD_R, N // 2 + 1, 0),  # high s
        (GOOD_R, N - 1, 1),
        (GOOD_R, GOOD_S, 2),  # R.x >= n: not expressible on EVM
        (GOOD_R, GOOD_S, 3),
        (GOOD_R, GOOD_S, -1),
        (GOOD_R, GOOD_S, 27),
        (GOOD_R, GOOD_S, True),
        (float(GOOD_R), GOOD_S, 0),
    ],
)
def test_signature_range_checks(r: Any, s: Any, recid: Any) -> None:
    with pytest.raises(InvalidParameters) as info:
        evm.signature_65(r, s, recid)
    assert info.value.code == "InvalidSignature"
    with pytest.raises(InvalidParameters):
        evm.recover_address(b"\x01" * 32, r, s, recid)


def test_signature_65_layout() -> None:
    sig = evm.signature_65(1, N // 2, 1)
    assert sig == (1).to_bytes(32, "big") + (N // 2).to_bytes(32, "big") + b"\x1c"


def test_recover_address_wants_32_bytes() -> None:
    with pytest.raises(InvalidParameters):
        evm.recover_address(b"\x01" * 31, GOOD_R, GOOD_S, 0)
