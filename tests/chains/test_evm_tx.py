"""EVM transactions: parse unsigned legacy / EIP-2930 / EIP-1559 / EIP-7702 transactions,
hash them, assemble the vault's signature and check the result with eth-account.

Unsigned encodings are built independently of shardvault: eth-account signs the
transaction dict, the `rlp` package decodes its raw transaction and re-encodes it without
the signature fields."""

from __future__ import annotations

from typing import Any

import pytest
import rlp as pyrlp
from eth_account import Account
from eth_account._utils.legacy_transactions import serializable_unsigned_transaction_from_dict
from evmhelpers import vault_sign
from hypothesis import example, given
from hypothesis import strategies as st

from shardvault.chains import evm, evm_tx
from shardvault.errors import InvalidEncoding, InvalidParameters

N = evm.SECP256K1_N
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
ACCT = Account.from_key(KEY)
TO = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
DELEGATE = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
ACCESS = [
    {"address": TO, "storageKeys": ["0x" + "00" * 31 + "01", "0x" + "ab" * 32]},
    {"address": DELEGATE, "storageKeys": []},
]


def _auth(chain_id: int, nonce: int) -> Any:
    return Account.sign_authorization(
        {"chainId": chain_id, "address": DELEGATE, "nonce": nonce}, KEY
    )


TXS: dict[str, dict[str, Any]] = {
    "legacy transfer": {
        "chainId": 1,
        "nonce": 9,
        "gasPrice": 20 * 10**9,
        "gas": 21000,
        "to": "0x3535353535353535353535353535353535353535",
        "value": 10**18,
        "data": b"",
    },
    "legacy creation big chain id": {
        "chainId": 2**40 + 17,
        "nonce": 0,
        "gasPrice": 1,
        "gas": 2**63,
        "value": 0,
        "data": bytes(range(200)),
    },
    "legacy zeroes": {
        "chainId": 137,
        "nonce": 0,
        "gasPrice": 0,
        "gas": 0,
        "to": TO,
        "value": 0,
        "data": b"",
    },
    "eip2930": {
        "type": 1,
        "chainId": 5,
        "nonce": 1,
        "gasPrice": 10**9,
        "gas": 100000,
        "to": TO,
        "value": 2**255,
        "data": b"\xa9\x05\x9c\xbb" + bytes(64),
        "accessList": ACCESS,
    },
    "eip2930 creation no access list": {
        "type": 1,
        "chainId": 5,
        "nonce": 2**64 - 2,
        "gasPrice": 10**9,
        "gas": 100000,
        "value": 0,
        "data": b"\x60\x80",
        "accessList": [],
    },
    "eip1559": {
        "type": 2,
        "chainId": 1,
        "nonce": 42,
        "maxPriorityFeePerGas": 2 * 10**9,
        "maxFeePerGas": 50 * 10**9,
        "gas": 60000,
        "to": TO,
        "value": 12345,
        "data": b"\x01\x02",
        "accessList": ACCESS,
    },
    "eip1559 creation": {
        "type": 2,
        "chainId": 8453,
        "nonce": 0,
        "maxPriorityFeePerGas": 0,
        "maxFeePerGas": 0,
        "gas": 1_000_000,
        "value": 0,
        "data": b"\x60" * 100,
        "accessList": [],
    },
    "eip7702": {
        "type": 4,
        "chainId": 1,
        "nonce": 7,
        "maxPriorityFeePerGas": 10**9,
        "maxFeePerGas": 10**10,
        "gas": 200000,
        "to": ACCT.address,
        "value": 0,
        "data": b"",
        "accessList": ACCESS,
        "authorizationList": [_auth(1, 8), _auth(0, 9)],
    },
}


def _reference(tx: dict[str, Any]) -> tuple[bytes, bytes, Any]:
    """(unsigned payload, eth-account signing hash, eth-account signed tx)."""
    signed = Account.sign_transaction(tx, KEY)
    raw = bytes(signed.raw_transaction)
    if raw[0] >= 0xC0:
        fields = pyrlp.decode(raw)
        unsigned = pyrlp.encode([*fields[:6], tx["chainId"], 0, 0])
    else:
        fields = pyrlp.decode(raw[1:])
        unsigned = raw[:1] + pyrlp.encode(fields[:-3])
    ref_hash = bytes(serializable_unsigned_transaction_from_dict(tx).hash())
    return unsigned, ref_hash, signed


def _recid(tx: evm_tx.EvmTransaction, v: int) -> int:
    return v - 35 - 2 * tx.chain_id if tx.tx_type == 0 else v


@pytest.mark.parametrize("name", sorted(TXS))
def test_matches_eth_account(name: str) -> None:
    tx_dict = TXS[name]
    unsigned, ref_hash, signed = _reference(tx_dict)
    tx = evm_tx.parse_unsigned_transaction(unsigned, tx_dict["chainId"])
    assert tx.tx_type == tx_dict.get("type", 0)
    assert tx.chain_id == tx_dict["chainId"]
    assert tx.nonce == tx_dict["nonce"]
    assert tx.gas_limit == tx_dict["gas"]
    assert tx.value == tx_dict["value"]
    assert tx.data == tx_dict["data"]
    assert tx.to_address == tx_dict.get("to")
    assert tx.signing_payload() == unsigned
    assert tx.signing_hash() == ref_hash
    # eth-account's own signature, put back by us, gives byte-identical output.
    assembled = tx.assemble(signed.r, signed.s, _recid(tx, signed.v))
    assert assembled == bytes(signed.raw_transaction)
    assert evm.keccak256(assembled) == bytes(signed.hash)


@pytest.mark.parametrize("name", sorted(TXS))
def test_vault_signature_recovers_to_sender(name: str) -> None:
    tx_dict = TXS[name]
    unsigned, _, _ = _reference(tx_dict)
    acct = Account.create()
    tx = evm_tx.parse_unsigned_transaction(unsigned, tx_dict["chainId"])
    r, s, recid = vault_sign(bytes(acct.key), tx.signing_hash())
    assembled = tx.assemble(r, s, recid)
    assert Account.recover_transaction(assembled) == acct.address
    assert evm.recover_address(tx.signing_hash(), r, s, recid) == acct.address


def test_access_list_and_authorizations_are_exposed() -> None:
    unsigned, _, _ = _reference(TXS["eip7702"])
    tx = evm_tx.parse_unsigned_transaction(unsigned, 1)
    assert [evm.checksum_encode(e.address) for e in tx.access_list] == [TO, DELEGATE]
    assert len(tx.access_list[0].storage_keys) == 2
    auths = tx.authorization_list
    assert [(a.chain_id, a.address_checksummed, a.nonce) for a in auths] == [
        (1, DELEGATE, 8),
        (0, DELEGATE, 9),
    ]
    ref = TXS["eip7702"]["authorizationList"][0]
    assert (auths[0].y_parity, auths[0].r, auths[0].s) == (ref.y_parity, ref.r, ref.s)
    assert tx.max_fee_per_gas == 10**10 and tx.max_priority_fee_per_gas == 10**9
    assert tx.gas_price is None


def test_pre_eip155_legacy_is_signed_with_replay_protection() -> None:
    tx_dict = TXS["legacy transfer"]
    unsigned, ref_hash, signed = _reference(tx_dict)
    six_fields = pyrlp.encode(pyrlp.decode(unsigned)[:6])
    tx = evm_tx.parse_unsigned_transaction(six_fields, 1)
    assert tx.signing_hash() == ref_hash
    assert tx.assemble(signed.r, signed.s, _recid(tx, signed.v)) == bytes(signed.raw_transaction)
    # The same 6-field payload on another network is bound to that network.
    other = evm_tx.parse_unsigned_transaction(six_fields, 10)
    assert other.chain_id == 10 and other.signing_hash() != ref_hash


def test_legacy_v_encoding() -> None:
    unsigned, _, _ = _reference(TXS["legacy zeroes"])
    tx = evm_tx.parse_unsigned_transaction(unsigned, 137)
    for recid in (0, 1):
        fields = pyrlp.decode(tx.assemble(1, 2, recid))
        assert int.from_bytes(fields[6], "big") == 35 + 2 * 137 + recid


# ---------------------------------------------------------------------------
# Rejections
# ---------------------------------------------------------------------------


def _code(raw: bytes, chain_id: int) -> str:
    with pytest.raises((InvalidEncoding, InvalidParameters)) as info:
        evm_tx.parse_unsigned_transaction(raw, chain_id)
    return info.value.code


@pytest.mark.parametrize("name", sorted(TXS))
def test_chain_id_mismatch(name: str) -> None:
    tx_dict = TXS[name]
    unsigned, _, _ = _reference(tx_dict)
    with pytest.raises(InvalidParameters) as info:
        evm_tx.parse_unsigned_transaction(unsigned, tx_dict["chainId"] + 1)
    assert info.value.code == "ChainIdMismatch"


@pytest.mark.parametrize("name", sorted(TXS))
def test_signed_input_is_refused(name: str) -> None:
    tx_dict = TXS[name]
    _, _, signed = _reference(tx_dict)
    with pytest.raises(InvalidEncoding) as info:
        evm_tx.parse_unsigned_transaction(bytes(signed.raw_transaction), tx_dict["chainId"])
    assert info.value.code == "InvalidTransaction"


A20 = bytes.fromhex(TO[2:])
K32 = b"\x11" * 32
AUTH = [1, A20, 0, 1, 5, 6]


def legacy(*fields: Any) -> bytes:
    return pyrlp.encode(list(fields))


def t1(*fields: Any) -> bytes:
    return b"\x01" + pyrlp.encode(list(fields))


def t2(*fields: Any) -> bytes:
    return b"\x02" + pyrlp.encode(list(fields))


def t4(*fields: Any) -> bytes:
    return b"\x04" + pyrlp.encode(list(fields))


GOOD_T2 = [1, 0, 1, 2, 21000, A20, 0, b"", []]
GOOD_T4 = [1, 0, 1, 2, 21000, A20, 0, b"", [], [AUTH]]

INVALID: dict[str, bytes] = {
    "empty": b"",
    "type 0": b"\x00" + pyrlp.encode(GOOD_T2),
    "blob type 3": b"\x03" + pyrlp.encode(GOOD_T2),
    "type 5": b"\x05" + pyrlp.encode(GOOD_T2),
    "type 0x7f": b"\x7f",
    "legacy is a string": pyrlp.encode(b"hello"),
    "rlp string prefix": b"\x80",
    "typed payload is a string": b"\x02" + pyrlp.encode(b"x"),
    "typed without payload": b"\x02",
    "trailing byte": t2(*GOOD_T2) + b"\x00",
    "truncated": t2(*GOOD_T2)[:-1],
    "non-canonical length": b"\x02\xf8"
    + bytes([len(pyrlp.encode(GOOD_T2)) - 1])
    + pyrlp.encode(GOOD_T2)[1:],
    "leading zero nonce": t2(1, b"\x00\x01", 1, 2, 21000, A20, 0, b"", []),
    "zero as 0x00": t2(1, b"\x00", 1, 2, 21000, A20, 0, b"", []),
    "nonce 2**64-1": t2(1, 2**64 - 1, 1, 2, 21000, A20, 0, b"", []),
    "nonce 2**64": t2(1, 2**64, 1, 2, 21000, A20, 0, b"", []),
    "gas above 64 bits": t2(1, 0, 1, 2, 2**64, A20, 0, b"", []),
    "value above 256 bits": t2(1, 0, 1, 2, 21000, A20, 2**256, b"", []),
    "priority above max fee": t2(1, 0, 3, 2, 21000, A20, 0, b"", []),
    "to 19 bytes": t2(1, 0, 1, 2, 21000, A20[:19], 0, b"", []),
    "to 21 bytes": t2(1, 0, 1, 2, 21000, A20 + b"\x00", 0, b"", []),
    "to is a list": t2(1, 0, 1, 2, 21000, [A20], 0, b"", []),
    "data is a list": t2(1, 0, 1, 2, 21000, A20, 0, [], []),
    "nonce is a list": t2(1, [], 1, 2, 21000, A20, 0, b"", []),
    "access list is bytes": t2(1, 0, 1, 2, 21000, A20, 0, b"", b"x"),
    "access entry 1 field": t2(1, 0, 1, 2, 21000, A20, 0, b"", [[A20]]),
    "access entry 3 fields": t2(1, 0, 1, 2, 21000, A20, 0, b"", [[A20, [], b""]]),
    "access address 19 bytes": t2(1, 0, 1, 2, 21000, A20, 0, b"", [[A20[:19], []]]),
    "access key 31 bytes": t2(1, 0, 1, 2, 21000, A20, 0, b"", [[A20, [K32[:31]]]]),
    "access keys not a list": t2(1, 0, 1, 2, 21000, A20, 0, b"", [[A20, K32]]),
    "access key is a list": t2(1, 0, 1, 2, 21000, A20, 0, b"", [[A20, [[K32]]]]),
    "type 2 too few fields": t2(*GOOD_T2[:-1]),
    "type 2 one extra field": t2(*GOOD_T2, b""),
    "type 2 signed": t2(*GOOD_T2, 1, 5, 6),
    "type 1 nine fields": t1(1, 0, 1, 21000, A20, 0, b"", [], b""),
    "type 1 signed": t1(1, 0, 1, 21000, A20, 0, b"", [], 0, 5, 6),
    "type 4 empty authorizations": t4(*GOOD_T4[:-1], []),
    "type 4 creation": t4(1, 0, 1, 2, 21000, b"", 0, b"", [], [AUTH]),
    "type 4 authorization 5 fields": t4(*GOOD_T4[:-1], [AUTH[:5]]),
    "type 4 authorization 7 fields": t4(*GOOD_T4[:-1], [[*AUTH, 0]]),
    "type 4 authorization is bytes": t4(*GOOD_T4[:-1], [b"x"]),
    "type 4 authorizations is bytes": t4(*GOOD_T4[:-1], b"x"),
    "type 4 authorization address 19": t4(*GOOD_T4[:-1], [[1, A20[:19], 0, 1, 5, 6]]),
    "type 4 authorization y parity 256": t4(*GOOD_T4[:-1], [[1, A20, 0, 256, 5, 6]]),
    "type 4 authorization nonce 2**64": t4(*GOOD_T4[:-1], [[1, A20, 2**64, 1, 5, 6]]),
    "type 4 authorization r 2**256": t4(*GOOD_T4[:-1], [[1, A20, 0, 1, 2**256, 6]]),
    "type 4 authorization chain 2**256": t4(*GOOD_T4[:-1], [[2**256, A20, 0, 1, 5, 6]]),
    "type 4 signed": t4(*GOOD_T4, 0, 5, 6),
    "legacy 5 fields": legacy(0, 1, 21000, A20, 0),
    "legacy 7 fields": legacy(0, 1, 21000, A20, 0, b"", 1),
    "legacy 8 fields": legacy(0, 1, 21000, A20, 0, b"", 1, 0),
    "legacy 10 fields": legacy(0, 1, 21000, A20, 0, b"", 1, 0, 0, 0),
    "legacy signed eip155": legacy(0, 1, 21000, A20, 0, b"", 37, 5, 6),
    "legacy signed pre-eip155": legacy(0, 1, 21000, A20, 0, b"", 27, 5, 6),
    "legacy only r": legacy(0, 1, 21000, A20, 0, b"", 1, 5, 0),
    "legacy chain id 0": legacy(0, 1, 21000, A20, 0, b"", 0, 0, 0),
    "legacy leading zero gas": legacy(0, 1, b"\x00\x52\x08", A20, 0, b""),
    "legacy to 19 bytes": legacy(0, 1, 21000, A20[:19], 0, b""),
    "legacy with trailing": legacy(0, 1, 21000, A20, 0, b"") + b"\x80",
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_transactions(name: str) -> None:
    assert _code(INVALID[name], 1) == "InvalidTransaction"


def test_mismatch_on_legacy_eip155() -> None:
    assert _code(legacy(0, 1, 21000, A20, 0, b"", 5, 0, 0), 1) == "ChainIdMismatch"
    assert evm_tx.parse_unsigned_transaction(legacy(0, 1, 21000, A20, 0, b"", 5, 0, 0), 5)


def test_valid_minimal_transactions() -> None:
    assert evm_tx.parse_unsigned_transaction(t2(*GOOD_T2), 1).tx_type == 2
    assert evm_tx.parse_unsigned_transaction(t4(*GOOD_T4), 1).authorization_list[0].r == 5
    assert evm_tx.parse_unsigned_transaction(bytearray(t2(*GOOD_T2)), 1).nonce == 0


@pytest.mark.parametrize("chain_id", [0, -1, 2**256, True, "1", None])
def test_bad_expected_chain_id(chain_id: Any) -> None:
    with pytest.raises(InvalidParameters) as info:
        evm_tx.parse_unsigned_transaction(t2(*GOOD_T2), chain_id)
    assert info.value.code == "InvalidParameters"


def test_raw_must_be_bytes() -> None:
    with pytest.raises(InvalidParameters):
        evm_tx.parse_unsigned_transaction(t2(*GOOD_T2).hex(), 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("recid", [2, 3, -1, 4])
def test_assemble_rejects_unencodable_recid(recid: int) -> None:
    tx = evm_tx.parse_unsigned_transaction(t2(*GOOD_T2), 1)
    with pytest.raises(InvalidParameters) as info:
        tx.assemble(1, 2, recid)
    assert info.value.code == "InvalidSignature"


def test_assemble_rejects_high_s() -> None:
    tx = evm_tx.parse_unsigned_transaction(legacy(0, 1, 21000, A20, 0, b""), 1)
    with pytest.raises(InvalidParameters):
        tx.assemble(1, N - 1, 0)


@given(st.sampled_from([b"", b"\x01", b"\x02", b"\x04"]), st.binary(max_size=200))
def test_fuzz_only_typed_errors(prefix: bytes, body: bytes) -> None:
    try:
        tx = evm_tx.parse_unsigned_transaction(prefix + body, 1)
    except (InvalidEncoding, InvalidParameters) as exc:
        assert exc.code in {"InvalidTransaction", "ChainIdMismatch"}
        return
    if prefix:
        # Anything accepted is canonical: what we sign is exactly what we were given.
        assert tx.signing_payload() == prefix + body


@given(st.sampled_from(sorted(TXS)), st.integers(0, 10_000), st.integers(0, 255))
# Found by this test: the byte that lengthens a legacy transaction's empty data to
# swallow the EIP-155 tail leaves a 6-field (pre-EIP-155) transaction.
@example("legacy transfer", 131, 131)
def test_fuzz_mutated_transactions(name: str, pos: int, byte: int) -> None:
    chain_id = TXS[name]["chainId"]
    unsigned, _, _ = _reference(TXS[name])
    mutated = bytearray(unsigned)
    mutated[pos % len(mutated)] = byte
    try:
        tx = evm_tx.parse_unsigned_transaction(bytes(mutated), chain_id)
    except (InvalidEncoding, InvalidParameters) as exc:
        assert exc.code in {"InvalidTransaction", "ChainIdMismatch"}
        return
    expected = bytes(mutated)
    if tx.tx_type == 0 and len(pyrlp.decode(expected)) == 6:
        # A pre-EIP-155 legacy transaction is signed with EIP-155 replay protection
        # for the wallet's chain (module docstring): its fields plus [chainId, 0, 0].
        expected = pyrlp.encode([*pyrlp.decode(expected), chain_id, 0, 0])
    # Anything else accepted is canonical: what we sign is exactly what we were given.
    assert tx.signing_payload() == expected


# ---------------------------------------------------------------------------
# Direct construction
# ---------------------------------------------------------------------------

BASE_T2: dict[str, Any] = {
    "tx_type": 2,
    "chain_id": 1,
    "nonce": 0,
    "gas_limit": 21000,
    "to": A20,
    "value": 0,
    "data": b"",
    "max_priority_fee_per_gas": 1,
    "max_fee_per_gas": 2,
}


def test_direct_construction_matches_parse() -> None:
    assert evm_tx.EvmTransaction(**BASE_T2) == evm_tx.parse_unsigned_transaction(t2(*GOOD_T2), 1)
    auth = evm_tx.Authorization(1, A20, 0, 1, 5, 6)
    built = evm_tx.EvmTransaction(**{**BASE_T2, "tx_type": 4, "authorization_list": (auth,)})
    assert built == evm_tx.parse_unsigned_transaction(t4(*GOOD_T4), 1)


AUTH_OK = evm_tx.Authorization(1, A20, 0, 1, 5, 6)

BAD_FIELDS: dict[str, dict[str, Any]] = {
    "type 3": {"tx_type": 3},
    "type -1": {"tx_type": -1},
    "chain id 0": {"chain_id": 0},
    "nonce max": {"nonce": 2**64 - 1},
    "nonce bool": {"nonce": True},
    "gas 2**64": {"gas_limit": 2**64},
    "value negative": {"value": -1},
    "value float": {"value": 1.5},
    "data str": {"data": "0x"},
    "to 19": {"to": A20[:19]},
    "to str": {"to": TO},
    "gas price on 1559": {"gas_price": 1},
    "missing max fee": {"max_fee_per_gas": None},
    "tip above max": {"max_priority_fee_per_gas": 3},
    "legacy with 1559 fees": {"tx_type": 0, "gas_price": 1},
    "legacy without gas price": {
        "tx_type": 0,
        "max_fee_per_gas": None,
        "max_priority_fee_per_gas": None,
    },
    "access entry not an entry": {"access_list": ((A20, ()),)},
    "access address short": {"access_list": (evm_tx.AccessListEntry(A20[:19], ()),)},
    "access key short": {"access_list": (evm_tx.AccessListEntry(A20, (K32[:31],)),)},
    "authorizations on type 2": {"authorization_list": (AUTH_OK,)},
    "type 4 no authorizations": {"tx_type": 4},
    "type 4 creation": {"tx_type": 4, "to": None, "authorization_list": (AUTH_OK,)},
    "authorization y parity": {
        "tx_type": 4,
        "authorization_list": (evm_tx.Authorization(1, A20, 0, 256, 5, 6),),
    },
    "authorization not an authorization": {"tx_type": 4, "authorization_list": ((1, A20),)},
}


@pytest.mark.parametrize("name", sorted(BAD_FIELDS))
def test_direct_construction_is_validated(name: str) -> None:
    with pytest.raises(InvalidParameters) as info:
        evm_tx.EvmTransaction(**{**BASE_T2, **BAD_FIELDS[name]})
    assert info.value.code == "InvalidTransaction"
