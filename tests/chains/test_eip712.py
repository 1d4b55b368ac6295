"""EIP-712: the EIP's own Mail example (tests/vectors/eip712-mail-example.json), documents
cross-checked against eth-account, signatures recovered by eth-account, and a table of
malformed documents."""

from __future__ import annotations

import copy
import json
from typing import Any

import coincurve
import pytest
from eth_account import Account
from eth_account._utils.encode_typed_data.encoding_and_hashing import (
    encode_type as ref_encode_type,
)
from eth_account.messages import _hash_eip191_message, encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_vectors import LOCAL_VECTORS

from shardvault.chains import eip712, evm
from shardvault.errors import InvalidParameters

N = evm.SECP256K1_N

# EIP-712's Mail example (ethereum/EIPs EIPS/eip-712.md and assets/eip-712/Example.js), in
# tests/vectors/eip712-mail-example.json; the other documents below are ours.
MAIL_EXAMPLE: dict[str, Any] = json.loads((LOCAL_VECTORS / "eip712-mail-example.json").read_text())
MAIL: dict[str, Any] = MAIL_EXAMPLE["typed_data"]
MAIL_EXPECTED: dict[str, Any] = MAIL_EXAMPLE["expected"]

ARRAYS: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [
            {"name": "name", "type": "string"},
            {"name": "wallets", "type": "address[]"},
        ],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person[]"},
            {"name": "contents", "type": "string"},
            {"name": "attachments", "type": "bytes[]"},
            {"name": "grid", "type": "uint8[2][]"},
            {"name": "flags", "type": "bool[3]"},
            {"name": "groups", "type": "Group[2]"},
        ],
        "Group": [
            {"name": "name", "type": "string"},
            {"name": "members", "type": "Person[]"},
        ],
    },
    "primaryType": "Mail",
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": 137,
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    },
    "message": {
        "from": {
            "name": "Cow",
            "wallets": [
                "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826",
                "0xDeaDbeefdEAdbeefdEadbEEFdeadbeEFdEaDbeeF",
            ],
        },
        "to": [
            {"name": "Bob", "wallets": ["0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"]},
            {"name": "Alice", "wallets": []},
        ],
        "contents": "Hello, Bob!",
        "attachments": ["0x", "0x00ff", "0x" + "ab" * 100],
        "grid": [[1, 2], [255, 0], [7, 7]],
        "flags": [True, False, True],
        "groups": [
            {"name": "empty", "members": []},
            {"name": "one", "members": [{"name": "Dan", "wallets": []}]},
        ],
    },
}

ATOMS: dict[str, Any] = {
    "types": {
        "Atoms": [
            {"name": "u8", "type": "uint8"},
            {"name": "u256", "type": "uint256"},
            {"name": "u64hex", "type": "uint64"},
            {"name": "u128dec", "type": "uint128"},
            {"name": "i8", "type": "int8"},
            {"name": "i256", "type": "int256"},
            {"name": "i16max", "type": "int16"},
            {"name": "flag", "type": "bool"},
            {"name": "who", "type": "address"},
            {"name": "b1", "type": "bytes1"},
            {"name": "b32", "type": "bytes32"},
            {"name": "b17", "type": "bytes17"},
            {"name": "blob", "type": "bytes"},
            {"name": "text", "type": "string"},
            {"name": "ints", "type": "int32[]"},
        ],
    },
    "primaryType": "Atoms",
    "domain": {"name": "atoms", "chainId": 10, "salt": "0x" + "5a" * 32},
    "message": {
        "u8": 255,
        "u256": 2**256 - 1,
        "u64hex": "0xffffffffffffffff",
        "u128dec": "340282366920938463463374607431768211455",
        "i8": -128,
        "i256": -(2**255),
        "i16max": 32767,
        "flag": False,
        "who": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "b1": "0x7f",
        "b32": "0x" + "01" * 32,
        "b17": "0x" + "ee" * 17,
        "blob": "0xdeadbeef",
        "text": "héllo ✓ 🦊",
        "ints": [-1, 0, 1, -(2**31), 2**31 - 1],
    },
}

# Dependencies reached through several paths; names sorted differently from definition order.
DEPS: dict[str, Any] = {
    "types": {
        "Zeta": [{"name": "a", "type": "Alpha"}, {"name": "m", "type": "Mu[]"}],
        "Mu": [{"name": "a", "type": "Alpha[2]"}, {"name": "b", "type": "Beta"}],
        "Beta": [{"name": "x", "type": "uint256"}],
        "Alpha": [{"name": "b", "type": "Beta"}, {"name": "n", "type": "string"}],
    },
    "primaryType": "Zeta",
    "domain": {"version": "2", "verifyingContract": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"},
    "message": {
        "a": {"b": {"x": 1}, "n": "alpha"},
        "m": [
            {"a": [{"b": {"x": 2}, "n": ""}, {"b": {"x": 3}, "n": "z"}], "b": {"x": 4}},
        ],
    },
}

# A recursive type: a tree.
TREE: dict[str, Any] = {
    "types": {
        "Node": [
            {"name": "label", "type": "string"},
            {"name": "children", "type": "Node[]"},
        ],
    },
    "primaryType": "Node",
    "domain": {"name": "tree", "chainId": "0x2105"},
    "message": {
        "label": "root",
        "children": [
            {"label": "a", "children": []},
            {"label": "b", "children": [{"label": "b1", "children": []}]},
        ],
    },
}

EMPTY_STRUCT: dict[str, Any] = {
    "types": {"Nothing": []},
    "primaryType": "Nothing",
    "domain": {},
    "message": {},
}

DOCS = {
    "mail": MAIL,
    "arrays": ARRAYS,
    "atoms": ATOMS,
    "deps": DEPS,
    "tree": TREE,
    "empty struct": EMPTY_STRUCT,
}


def reference_hash(doc: dict[str, Any]) -> bytes:
    return bytes(_hash_eip191_message(encode_typed_data(full_message=copy.deepcopy(doc))))


def _h(hex_0x: str) -> bytes:
    assert hex_0x.startswith("0x")
    return bytes.fromhex(hex_0x[2:])


def test_mail_example_from_the_eip() -> None:
    result = eip712.hash_typed_data(MAIL)
    assert eip712.encode_type("Mail", MAIL["types"]) == MAIL_EXPECTED["encode_type_mail"]
    assert evm.keccak256(MAIL_EXPECTED["encode_type_mail"].encode()) == _h(
        MAIL_EXPECTED["type_hash_mail"]
    )
    assert result.domain_separator == _h(MAIL_EXPECTED["domain_separator"])
    assert result.message_hash is not None
    assert result.message_hash == _h(MAIL_EXPECTED["hash_struct_mail"])
    # Example.js's encodeData: typeHash || the three encoded fields, hashing to hashStruct.
    encoded = _h(MAIL_EXPECTED["encode_data_mail"])
    assert encoded[:32] == _h(MAIL_EXPECTED["type_hash_mail"]) and len(encoded) == 4 * 32
    assert evm.keccak256(encoded) == result.message_hash
    assert result.digest == _h(MAIL_EXPECTED["sign_hash"])
    assert result.chain_id == 1
    assert result.verifying_contract == "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
    assert result.primary_type == "Mail"
    assert eip712.hash_struct("Mail", MAIL["types"], MAIL["message"]) == result.message_hash


def test_mail_example_signature_from_the_eip() -> None:
    """Example.js signs with keccak256("cow"); its (v, r, s) is the EIP text's signature."""
    assert MAIL_EXAMPLE["private_key_derivation"] == "keccak256(utf8('cow'))"
    key = evm.keccak256(b"cow")
    digest = eip712.eip712_hash(MAIL)
    r, s = int(MAIL_EXPECTED["r"], 16), int(MAIL_EXPECTED["s"], 16)
    recid = MAIL_EXPECTED["v"] - 27
    signature = evm.signature_65(r, s, recid)
    assert signature == _h(MAIL_EXAMPLE["signature"])
    pub = coincurve.PrivateKey(key).public_key.format(compressed=False)
    assert evm.address_from_public_key(pub) == MAIL_EXAMPLE["signer"]
    assert MAIL_EXAMPLE["signer"].lower() == MAIL_EXPECTED["address"]
    assert evm.recover_address(digest, r, s, recid) == MAIL_EXAMPLE["signer"]
    # RFC 6979 signing (as ethereumjs-util's ecsign) reproduces the published signature.
    assert coincurve.PrivateKey(key).sign_recoverable(digest, hasher=None) == (
        signature[:64] + bytes([recid])
    )
    signable = encode_typed_data(full_message=copy.deepcopy(MAIL))
    assert Account.recover_message(signable, signature=signature) == MAIL_EXAMPLE["signer"]


@pytest.mark.parametrize("name", sorted(DOCS))
def test_matches_eth_account(name: str) -> None:
    doc = DOCS[name]
    assert eip712.eip712_hash(doc) == reference_hash(doc)


@pytest.mark.parametrize("name", sorted(DOCS))
def test_derived_domain_type_matches(name: str) -> None:
    doc = copy.deepcopy(DOCS[name])
    doc["types"].pop("EIP712Domain", None)
    assert eip712.eip712_hash(doc) == eip712.eip712_hash(DOCS[name])
    assert eip712.eip712_hash(doc) == reference_hash(doc)


@pytest.mark.parametrize("name", ["deps", "tree", "arrays"])
def test_encode_type_matches_eth_account(name: str) -> None:
    doc = DOCS[name]
    types = {k: v for k, v in doc["types"].items() if k != "EIP712Domain"}
    for type_name in types:
        assert eip712.encode_type(type_name, types) == ref_encode_type(type_name, types)


def test_dependency_order() -> None:
    assert eip712.encode_type("Zeta", DEPS["types"]) == (
        "Zeta(Alpha a,Mu[] m)Alpha(Beta b,string n)Beta(uint256 x)Mu(Alpha[2] a,Beta b)"
    )
    assert eip712.encode_type("Node", TREE["types"]) == "Node(string label,Node[] children)"


def test_returned_domain_fields() -> None:
    tree = eip712.hash_typed_data(TREE)
    assert tree.chain_id == 0x2105 and tree.verifying_contract is None
    deps = eip712.hash_typed_data(DEPS)
    assert deps.chain_id is None
    assert deps.verifying_contract == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_byte_values_and_tuples_are_accepted() -> None:
    doc = copy.deepcopy(ATOMS)
    msg = doc["message"]
    msg["who"] = bytes.fromhex(msg["who"][2:])
    msg["b32"] = b"\x01" * 32
    msg["blob"] = bytearray.fromhex("deadbeef")
    msg["ints"] = tuple(msg["ints"])
    msg["u64hex"] = 2**64 - 1
    assert eip712.eip712_hash(doc) == eip712.eip712_hash(ATOMS)


def test_domain_only_primary_type() -> None:
    doc = {**copy.deepcopy(MAIL), "primaryType": "EIP712Domain", "message": {}}
    result = eip712.hash_typed_data(doc)
    assert result.message_hash is None
    assert result.digest == evm.keccak256(b"\x19\x01" + result.domain_separator)


def test_domain_fields_in_given_order_are_hashed_in_that_order() -> None:
    doc = copy.deepcopy(MAIL)
    doc["types"]["EIP712Domain"].reverse()
    result = eip712.hash_typed_data(doc)
    assert result.message_hash == eip712.hash_typed_data(MAIL).message_hash
    assert result.domain_separator != eip712.hash_typed_data(MAIL).domain_separator


@pytest.mark.parametrize("name", sorted(DOCS))
def test_signature_recovers_with_eth_account(name: str) -> None:
    doc = DOCS[name]
    acct = Account.create()
    digest = eip712.eip712_hash(doc)
    sig = coincurve.PrivateKey(bytes(acct.key)).sign_recoverable(digest, hasher=None)
    r, s, recid = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    if s > N // 2:
        s, recid = N - s, recid ^ 1
    signature = evm.signature_65(r, s, recid)
    signable = encode_typed_data(full_message=copy.deepcopy(doc))
    assert Account.recover_message(signable, signature=signature) == acct.address
    assert bytes(Account.sign_message(signable, acct.key).signature) == signature


# ---------------------------------------------------------------------------
# Malformed documents
# ---------------------------------------------------------------------------


def _mutate(base: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()


def _field_type(base: dict[str, Any], struct: str, index: int, type_: Any) -> dict[str, Any]:
    return _mutate(base, ("types", struct, index, "type"), type_)


def _deep_tree(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"label": "leaf", "children": []}
    for _ in range(depth):
        node = {"label": "n", "children": [node]}
    return {**copy.deepcopy(TREE), "message": node}


BAD: dict[str, Any] = {
    "not a mapping": [MAIL],
    "missing primaryType": _mutate(MAIL, ("primaryType",), _DELETE),
    "missing types": _mutate(MAIL, ("types",), _DELETE),
    "missing domain": _mutate(MAIL, ("domain",), _DELETE),
    "missing message": _mutate(MAIL, ("message",), _DELETE),
    "extra top-level key": {**MAIL, "extra": 1},
    "primaryType undefined": _mutate(MAIL, ("primaryType",), "Letter"),
    "primaryType not a string": _mutate(MAIL, ("primaryType",), ["Mail"]),
    "types not a mapping": _mutate(MAIL, ("types",), [1]),
    "fields not a list": _mutate(MAIL, ("types", "Person"), "string name"),
    "field not a mapping": _mutate(MAIL, ("types", "Person", 0), ["name", "string"]),
    "field missing type": _mutate(MAIL, ("types", "Person", 0, "type"), _DELETE),
    "field extra key": _mutate(MAIL, ("types", "Person", 0, "extra"), "x"),
    "field name not identifier": _mutate(MAIL, ("types", "Person", 0, "name"), "na me"),
    "field name not a string": _mutate(MAIL, ("types", "Person", 0, "name"), 1),
    "field type not a string": _field_type(MAIL, "Person", 0, None),
    "duplicate field": _mutate(MAIL, ("types", "Person", 1, "name"), "name"),
    "struct name not identifier": _mutate(MAIL, ("types", "9Lives"), []),
    "struct shadows atomic": _mutate(MAIL, ("types", "uint256"), []),
    "unknown type": _field_type(MAIL, "Mail", 0, "Persn"),
    "unknown type in unused struct": _mutate(
        MAIL, ("types", "Spare"), [{"name": "x", "type": "Nope"}]
    ),
    "bare uint": _field_type(MAIL, "Person", 0, "uint"),
    "bare int": _field_type(MAIL, "Person", 0, "int"),
    "uint7": _field_type(MAIL, "Person", 0, "uint7"),
    "uint264": _field_type(MAIL, "Person", 0, "uint264"),
    "int0": _field_type(MAIL, "Person", 0, "int0"),
    "bytes0": _field_type(MAIL, "Person", 0, "bytes0"),
    "bytes33": _field_type(MAIL, "Person", 0, "bytes33"),
    "fixed type": _field_type(MAIL, "Person", 0, "fixed128x18"),
    "unclosed array": _field_type(MAIL, "Person", 0, "string["),
    "zero-length array": _field_type(MAIL, "Person", 0, "string[0]"),
    "leading-zero array length": _field_type(MAIL, "Person", 0, "string[01]"),
    "negative array length": _field_type(MAIL, "Person", 0, "string[-1]"),
    "space in type": _field_type(MAIL, "Person", 0, "string []"),
    "missing message field": _mutate(MAIL, ("message", "contents"), _DELETE),
    "missing nested field": _mutate(MAIL, ("message", "to", "wallet"), _DELETE),
    "extra message field": _mutate(MAIL, ("message", "cc"), "Alice"),
    "message not a mapping": _mutate(MAIL, ("message",), "hi"),
    "struct value is a list": _mutate(MAIL, ("message", "from"), ["Cow", "0x" + "00" * 20]),
    "bad address checksum": _mutate(
        MAIL, ("message", "to", "wallet"), "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbb"
    ),
    "short address": _mutate(MAIL, ("message", "to", "wallet"), "0x" + "bb" * 19),
    "address without 0x": _mutate(MAIL, ("message", "to", "wallet"), "bb" * 20),
    "address as int": _mutate(MAIL, ("message", "to", "wallet"), 1),
    "address 19 bytes": _mutate(MAIL, ("message", "to", "wallet"), b"\xbb" * 19),
    "string as int": _mutate(MAIL, ("message", "contents"), 5),
    "string lone surrogate": _mutate(MAIL, ("message", "contents"), "\ud800"),
    "string as bytes": _mutate(MAIL, ("message", "contents"), b"hi"),
    "uint8 256": _mutate(ATOMS, ("message", "u8"), 256),
    "uint8 -1": _mutate(ATOMS, ("message", "u8"), -1),
    "uint8 '-1'": _mutate(ATOMS, ("message", "u8"), "-1"),
    "uint256 2**256": _mutate(ATOMS, ("message", "u256"), 2**256),
    "uint64 hex too big": _mutate(ATOMS, ("message", "u64hex"), "0x1" + "0" * 16),
    "uint as float": _mutate(ATOMS, ("message", "u8"), 1.0),
    "uint as bool": _mutate(ATOMS, ("message", "u8"), True),
    "uint as None": _mutate(ATOMS, ("message", "u8"), None),
    "uint bad text": _mutate(ATOMS, ("message", "u8"), "12a"),
    "uint empty text": _mutate(ATOMS, ("message", "u8"), ""),
    "uint bare 0x": _mutate(ATOMS, ("message", "u8"), "0x"),
    "uint huge decimal text": _mutate(ATOMS, ("message", "u256"), "9" * 5000),
    "int8 128": _mutate(ATOMS, ("message", "i8"), 128),
    "int8 -129": _mutate(ATOMS, ("message", "i8"), -129),
    "int256 below min": _mutate(ATOMS, ("message", "i256"), -(2**255) - 1),
    "int16 32768": _mutate(ATOMS, ("message", "i16max"), 32768),
    "int32 array element": _mutate(ATOMS, ("message", "ints", 0), 2**31),
    "bool as int": _mutate(ATOMS, ("message", "flag"), 0),
    "bool as text": _mutate(ATOMS, ("message", "flag"), "false"),
    "bytes32 short": _mutate(ATOMS, ("message", "b32"), "0x" + "01" * 31),
    "bytes32 long": _mutate(ATOMS, ("message", "b32"), "0x" + "01" * 33),
    "bytes32 raw short": _mutate(ATOMS, ("message", "b32"), b"\x01" * 31),
    "bytes1 empty": _mutate(ATOMS, ("message", "b1"), "0x"),
    "bytes odd hex": _mutate(ATOMS, ("message", "blob"), "0xabc"),
    "bytes plain text": _mutate(ATOMS, ("message", "blob"), "hello"),
    "bytes no 0x": _mutate(ATOMS, ("message", "blob"), "deadbeef"),
    "bytes as int": _mutate(ATOMS, ("message", "blob"), 5),
    "fixed array too short": _mutate(ARRAYS, ("message", "flags"), [True, False]),
    "fixed array too long": _mutate(ARRAYS, ("message", "flags"), [True] * 4),
    "nested fixed array wrong length": _mutate(ARRAYS, ("message", "grid", 1), [1, 2, 3]),
    "array as string": _mutate(ARRAYS, ("message", "attachments"), "0x00"),
    "array as mapping": _mutate(ARRAYS, ("message", "to"), {"name": "Bob", "wallets": []}),
    "array element wrong": _mutate(ARRAYS, ("message", "from", "wallets", 1), "0x1234"),
    "domain not a mapping": _mutate(MAIL, ("domain",), ["Ether Mail"]),
    "domain missing declared field": _mutate(MAIL, ("domain", "version"), _DELETE),
    "domain extra field": _mutate(MAIL, ("domain", "salt"), "0x" + "00" * 32),
    "derived domain unknown key": _mutate(TREE, ("domain", "owner"), "me"),
    "domain non-standard field": _mutate(
        MAIL, ("types", "EIP712Domain", 0), {"name": "title", "type": "string"}
    ),
    "domain chainId wrong type": _mutate(
        MAIL, ("types", "EIP712Domain", 2), {"name": "chainId", "type": "string"}
    ),
    "domain chainId negative": _mutate(MAIL, ("domain", "chainId"), -1),
    "domain bad contract": _mutate(MAIL, ("domain", "verifyingContract"), "0x1234"),
    "derived domain bad salt": _mutate(ATOMS, ("domain", "salt"), "0x00"),
    "struct references undeclared domain": _mutate(
        TREE, ("types", "Node", 0, "type"), "EIP712Domain"
    ),
    "domain primaryType with message": {**MAIL, "primaryType": "EIP712Domain"},
    "too deep": _deep_tree(eip712.MAX_DEPTH),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_documents(name: str) -> None:
    with pytest.raises(InvalidParameters) as info:
        eip712.hash_typed_data(BAD[name])
    assert info.value.code == "InvalidEip712"


def test_moderately_deep_tree_is_fine() -> None:
    assert len(eip712.eip712_hash(_deep_tree(10))) == 32
    assert eip712.eip712_hash(_deep_tree(10)) == reference_hash(_deep_tree(10))


def test_encode_type_and_hash_struct_validate() -> None:
    with pytest.raises(InvalidParameters):
        eip712.encode_type("Letter", MAIL["types"])
    with pytest.raises(InvalidParameters):
        eip712.hash_struct("Letter", MAIL["types"], {})
    with pytest.raises(InvalidParameters):
        eip712.hash_struct("Person", MAIL["types"], {"name": "x"})


# ---------------------------------------------------------------------------
# Random atomic values against eth-account
# ---------------------------------------------------------------------------


def _atomic_strategy() -> st.SearchStrategy[tuple[str, Any]]:
    uints = st.integers(1, 32).flatmap(
        lambda n: st.tuples(st.just(f"uint{8 * n}"), st.integers(0, 2 ** (8 * n) - 1))
    )
    ints = st.integers(1, 32).flatmap(
        lambda n: st.tuples(
            st.just(f"int{8 * n}"), st.integers(-(2 ** (8 * n - 1)), 2 ** (8 * n - 1) - 1)
        )
    )
    fixed = st.integers(1, 32).flatmap(
        lambda n: st.tuples(
            st.just(f"bytes{n}"), st.binary(min_size=n, max_size=n).map(lambda b: "0x" + b.hex())
        )
    )
    return st.one_of(
        uints,
        ints,
        fixed,
        st.tuples(st.just("bool"), st.booleans()),
        st.tuples(st.just("string"), st.text(max_size=40)),
        st.tuples(st.just("bytes"), st.binary(max_size=70).map(lambda b: "0x" + b.hex())),
        st.tuples(
            st.just("address"),
            st.binary(min_size=20, max_size=20).map(evm.checksum_encode),
        ),
    )


@settings(max_examples=60)
@given(st.lists(_atomic_strategy(), min_size=1, max_size=8), st.integers(1, 2**64))
def test_random_atomic_structs_match_eth_account(fields: list[tuple[str, Any]], chain: int) -> None:
    doc = {
        "types": {
            "Random": [{"name": f"f{i}", "type": t} for i, (t, _) in enumerate(fields)],
            "Outer": [
                {"name": "inner", "type": "Random"},
                {"name": "list", "type": "Random[]"},
            ],
        },
        "primaryType": "Outer",
        "domain": {"name": "fuzz", "chainId": chain},
        "message": {
            "inner": {f"f{i}": v for i, (_, v) in enumerate(fields)},
            "list": [{f"f{i}": v for i, (_, v) in enumerate(fields)}] * 2,
        },
    }
    result = eip712.hash_typed_data(doc)
    assert result.digest == reference_hash(doc)
    assert result.chain_id == chain


def _doc_with(types: dict[str, Any], primary: str, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}], **types},
        "domain": {"name": "x"},
        "primaryType": primary,
        "message": message,
    }


def _code_of(document: dict[str, Any]) -> str:
    with pytest.raises(InvalidParameters) as excinfo:
        eip712.hash_typed_data(document)
    return excinfo.value.code


def test_types_table_is_bounded() -> None:
    """Shapes that made hashing quadratic (thousands of array dimensions, long chains of
    distinct struct types) are refused up front; the bounds themselves are accepted and
    hash like eth-account."""
    dims = eip712.MAX_ARRAY_DIMENSIONS
    deep = _doc_with({"M": [{"name": "a", "type": "uint8" + "[]" * dims}]}, "M", {"a": [[]]})
    assert eip712.eip712_hash(deep) == reference_hash(deep)
    too_deep = _doc_with(
        {"M": [{"name": "a", "type": "uint8" + "[]" * (dims + 1)}]}, "M", {"a": [[]]}
    )
    assert _code_of(too_deep) == "InvalidEip712"

    n = eip712.MAX_STRUCT_TYPES - 2  # plus EIP712Domain and M
    chain = {f"T{i}": [{"name": "x", "type": f"T{i + 1}[]"}] for i in range(n - 1)}
    chain[f"T{n - 1}"] = [{"name": "x", "type": "uint8"}]
    chain["M"] = [{"name": "t", "type": "T0"}]
    assert len(eip712.hash_typed_data(_doc_with(chain, "M", {"t": {"x": []}})).digest) == 32
    chain["Extra"] = [{"name": "x", "type": "uint8"}]
    assert _code_of(_doc_with(chain, "M", {"t": {"x": []}})) == "InvalidEip712"

    fields = eip712.MAX_FIELDS - 1  # plus EIP712Domain's one
    wide = {"M": [{"name": f"f{i}", "type": "uint8"} for i in range(fields)]}
    message = {f"f{i}": i % 256 for i in range(fields)}
    assert len(eip712.hash_typed_data(_doc_with(wide, "M", message)).digest) == 32
    wide["N"] = [{"name": "x", "type": "uint8"}]
    assert _code_of(_doc_with(wide, "M", message)) == "InvalidEip712"
