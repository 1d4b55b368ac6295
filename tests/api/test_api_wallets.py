"""Wallets and chain signature kinds over REST (issue 6), on the FakeVault back end.

Every address and signature is checked with an independent library: eth-account (EVM),
embit + coincurve (Bitcoin), solders / PyNaCl (Solana)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import anyio
import coincurve
import pytest
import rlp
from apihelpers import Api, AsyncApi, error_of
from embit import script as escript
from embit.ec import PublicKey as EPublicKey
from embit.psbt import PSBT
from embit.transaction import Transaction as ETx
from embit.transaction import TransactionInput, TransactionOutput
from eth_account import Account
from eth_account._utils.legacy_transactions import serializable_unsigned_transaction_from_dict
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_bytes, to_checksum_address
from evmhelpers import EVM_CHAIN_IDS, eip1559_unsigned
from hexbytes import HexBytes
from nacl.signing import VerifyKey
from shared_vectors import LOCAL_VECTORS
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction as SolTx

from shardvault.crypto.groups import ED25519, SECP256K1, Group
from shardvault.crypto.keyformats import ed25519_scalar_from_seed
from shardvault.crypto.shamir import split_secret

TO = to_checksum_address("0x" + "5a" * 20)


# -- helpers ------------------------------------------------------------------------------
def import_key(api: Api, group: Group, secret: int, protocol: str, curve: str) -> Any:
    """Import ``secret`` through the FakeVault's test share format (index || scalar)."""
    shares, _ = split_secret(group, secret, 2, 3)
    body = {
        "curve": curve,
        "protocol": protocol,
        "minSigners": 2,
        "encryptedKeyShares": [
            {
                "signerId": sid,
                "encryptedKeyShare": base64.urlsafe_b64encode(
                    bytes([s.index]) + s.value.to_bytes(32, "big")
                )
                .rstrip(b"=")
                .decode(),
            }
            for sid, s in zip(api.vault.signer_ids, shares, strict=True)
        ],
    }
    r = api.post("/keys/import", body)
    assert r.status_code == 200, r.text
    return r.json()


def create_wallet(api: Api, network: str, **extra: Any) -> Any:
    r = api.post("/wallets", {"network": network, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def eth_secret(api: Api, key_id: str) -> bytes:
    return api.vault.ecdsa_keys[key_id].secret().to_bytes(32, "big")


def signatures_of(api: Api, key_id: str) -> list[Any]:
    r = api.get(f"/keys/{key_id}/signatures")
    assert r.status_code == 200
    return list(r.json()["items"])


def legacy_unsigned(chain_id: int, nonce: int = 0) -> tuple[bytes, dict[str, Any]]:
    tx = {
        "nonce": nonce,
        "gasPrice": 20 * 10**9,
        "gas": 21000,
        "to": TO,
        "value": 10**15,
        "data": b"",
        "chainId": chain_id,
    }
    raw = rlp.encode(
        [nonce, tx["gasPrice"], tx["gas"], to_bytes(hexstr=TO), tx["value"], b"", chain_id, 0, 0]
    )
    assert keccak(raw) == serializable_unsigned_transaction_from_dict(tx).hash()
    return raw, tx


# EIP-712's Mail example (tests/vectors/eip712-mail-example.json, from the EIP).
TYPED_DATA: dict[str, Any] = json.loads((LOCAL_VECTORS / "eip712-mail-example.json").read_text())[
    "typed_data"
]


# -- networks -----------------------------------------------------------------------------
def test_networks_list(api: Api) -> None:
    r = api.get("/networks")
    assert r.status_code == 200
    items = {n["network"]: n for n in r.json()["items"]}
    for name, chain_id in EVM_CHAIN_IDS.items():
        assert items[name] == {
            "network": name,
            "family": "EVM",
            "chainId": chain_id,
            "allowedSchemes": [{"scheme": "ECDSA", "curve": "secp256k1"}],
            "defaultScheme": {"scheme": "ECDSA", "curve": "secp256k1"},
        }
    btc = items["Bitcoin"]
    assert btc["family"] == "Bitcoin" and "chainId" not in btc
    assert {s["scheme"] for s in btc["allowedSchemes"]} == {"ECDSA", "Schnorr"}
    assert btc["defaultScheme"]["scheme"] == "ECDSA"
    for name in ("BitcoinTestnet3", "BitcoinSignet", "BitcoinRegtest"):
        assert items[name]["family"] == "Bitcoin"
    for name in ("Solana", "SolanaDevnet"):
        assert items[name]["defaultScheme"] == {"scheme": "EdDSA", "curve": "ed25519"}
    assert api.client.get("/networks").status_code == 401


# -- wallets: creation and addresses --------------------------------------------------------
def test_create_evm_wallet_generates_an_ecdsa_key(api: Api) -> None:
    w = create_wallet(api, "Ethereum", name="treasury", tags=["a", "b", "a"])
    assert w["id"].startswith("wa-")
    assert w["network"] == "Ethereum" and w["status"] == "Active"
    assert w["name"] == "treasury" and w["tags"] == ["a", "b"]
    assert w["signingKey"]["scheme"] == "ECDSA" and w["signingKey"]["curve"] == "secp256k1"
    assert "externalId" not in w and w["dateCreated"].endswith("Z")
    key_id = w["signingKey"]["id"]
    assert w["address"] == Account.from_key(eth_secret(api, key_id)).address
    key = api.get(f"/keys/{key_id}").json()
    assert key["publicKey"] == w["signingKey"]["publicKey"]
    assert api.get(f"/wallets/{w['id']}").json() == w


def test_imported_eth_key_has_the_same_address_on_every_evm_network(api: Api) -> None:
    account = Account.create()
    secret = int.from_bytes(bytes(account.key), "big")
    key = import_key(api, SECP256K1, secret, "CGGMP24", "secp256k1")
    addresses = {
        create_wallet(api, n, signingKey={"id": key["id"]})["address"] for n in EVM_CHAIN_IDS
    }
    assert addresses == {account.address}
    # one key, many wallets
    assert len(api.get("/wallets").json()["items"]) == len(EVM_CHAIN_IDS)


def test_bitcoin_wallet_addresses_match_embit(api: Api) -> None:
    ecdsa = create_wallet(api, "Bitcoin")
    assert ecdsa["signingKey"]["scheme"] == "ECDSA"
    pub = EPublicKey.parse(bytes.fromhex(ecdsa["signingKey"]["publicKey"]))
    assert ecdsa["address"] == escript.p2wpkh(pub).address()
    assert ecdsa["address"].startswith("bc1q")
    taproot = create_wallet(
        api, "BitcoinTestnet3", signingKey={"scheme": "Schnorr", "curve": "secp256k1"}
    )
    tpub = EPublicKey.parse(bytes.fromhex(taproot["signingKey"]["publicKey"]))
    from embit.networks import NETWORKS

    assert taproot["address"] == escript.p2tr(tpub).address(NETWORKS["test"])
    assert taproot["address"].startswith("tb1p")
    regtest = create_wallet(api, "BitcoinRegtest", signingKey={"id": ecdsa["signingKey"]["id"]})
    assert regtest["address"] == escript.p2wpkh(pub).address(NETWORKS["regtest"])
    signet = create_wallet(api, "BitcoinSignet", signingKey={"id": ecdsa["signingKey"]["id"]})
    assert signet["address"].startswith("tb1q")


def test_imported_solana_keypair_keeps_its_address(api: Api) -> None:
    kp = Keypair()
    seed = bytes(kp)[:32]
    key = import_key(api, ED25519, ed25519_scalar_from_seed(seed), "FROST", "ed25519")
    for network in ("Solana", "SolanaDevnet"):
        w = create_wallet(api, network, signingKey={"id": key["id"]})
        assert w["address"] == str(kp.pubkey())
    generated = create_wallet(api, "Solana")
    assert generated["signingKey"]["scheme"] == "EdDSA"
    assert Pubkey.from_string(generated["address"]) == Pubkey.from_bytes(
        bytes.fromhex(generated["signingKey"]["publicKey"])
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"network": "Dogecoin"}, 400, "UnknownNetwork"),
        ({"network": "Ethereum", "signingKey": {"scheme": "EdDSA", "curve": "ed25519"}}, 400,
         "SchemeNotSupportedByNetwork"),
        ({"network": "Ethereum", "signingKey": {"scheme": "Schnorr", "curve": "secp256k1"}}, 400,
         "SchemeNotSupportedByNetwork"),
        ({"network": "Solana", "signingKey": {"scheme": "ECDSA", "curve": "secp256k1"}}, 400,
         "SchemeNotSupportedByNetwork"),
        ({"network": "Bitcoin", "signingKey": {"scheme": "EdDSA", "curve": "ed25519"}}, 400,
         "SchemeNotSupportedByNetwork"),
        ({"network": "Ethereum", "signingKey": {"id": "key-nope"}}, 404, "KeyNotFound"),
        ({"network": "Ethereum", "signingKey": {"id": "key-1", "scheme": "ECDSA"}}, 400,
         "InvalidRequest"),
        ({"network": "Ethereum", "signingKey": {"scheme": "ECDSA"}}, 400, "InvalidRequest"),
        ({"network": "Ethereum", "color": "red"}, 400, "InvalidRequest"),
        ({"network": "Ethereum", "tags": [""]}, 400, "InvalidRequest"),
    ],
)  # fmt: skip
def test_create_wallet_errors(api: Api, body: dict[str, Any], status: int, code: str) -> None:
    r = api.post("/wallets", body)
    assert r.status_code == status, r.text
    assert error_of(r)["code"] == code
    assert api.vault.calls.get("generate_key", 0) == 0
    assert api.get("/wallets").json()["items"] == []


def test_wallet_with_an_existing_key_of_the_wrong_scheme(api: Api) -> None:
    eddsa = api.create_key()
    r = api.post("/wallets", {"network": "Ethereum", "signingKey": {"id": eddsa["id"]}})
    assert r.status_code == 400
    assert error_of(r)["code"] == "SchemeNotSupportedByNetwork"
    schnorr = api.create_key("Schnorr", "secp256k1")
    assert create_wallet(api, "Bitcoin", signingKey={"id": schnorr["id"]})["address"].startswith(
        "bc1p"
    )
    r = api.post("/wallets", {"network": "Ethereum", "signingKey": {"id": schnorr["id"]}})
    assert error_of(r)["code"] == "SchemeNotSupportedByNetwork"


def test_wallet_with_an_archived_or_foreign_key(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    _, other_auth = api.other_org()
    r = api.client.post(
        "/wallets",
        json={"network": "Ethereum", "signingKey": {"id": key["id"]}},
        headers=other_auth,
    )
    assert r.status_code == 404 and error_of(r)["code"] == "KeyNotFound"
    api.delete(f"/keys/{key['id']}")
    r = api.post("/wallets", {"network": "Ethereum", "signingKey": {"id": key["id"]}})
    assert r.status_code == 409 and error_of(r)["code"] == "KeyArchived"


def test_external_id_is_idempotent_per_org(api: Api) -> None:
    body = {"network": "Base", "externalId": "user-1", "name": "n", "tags": ["x"]}
    first = create_wallet(api, **body)
    assert first["externalId"] == "user-1"
    assert create_wallet(api, **body) == first
    assert api.vault.calls["generate_key"] == 1
    for change in ({"name": "m"}, {"network": "Optimism"}, {"tags": []}):
        r = api.post("/wallets", {**body, **change})
        assert r.status_code == 409, change
        err = error_of(r)
        assert err["code"] == "ExternalIdConflict"
        assert err["details"] == {"walletId": first["id"]}
    r = api.post(
        "/wallets", {**body, "signingKey": {"scheme": "ECDSA", "curve": "secp256k1"}}
    )  # the same as the default: matches
    assert r.json() == first
    r = api.post("/wallets", {**body, "signingKey": {"id": first["signingKey"]["id"]}})
    assert r.json() == first
    assert api.vault.calls["generate_key"] == 1
    # another org may use the same externalId
    _, other_auth = api.other_org()
    r = api.client.post("/wallets", json=body, headers=other_auth)
    assert r.status_code == 200 and r.json()["id"] != first["id"]


def test_list_get_update_and_tags(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    ids = [
        create_wallet(api, n, signingKey={"id": key["id"]})["id"]
        for n in ("Ethereum", "Base", "Polygon")
    ]
    page = api.get("/wallets", params={"limit": 2}).json()
    assert [w["id"] for w in page["items"]] == ids[::-1][:2]
    rest = api.get("/wallets", params={"limit": 2, "paginationToken": page["nextPageToken"]}).json()
    assert [w["id"] for w in rest["items"]] == [ids[0]] and "nextPageToken" not in rest
    r = api.get("/wallets", params={"paginationToken": "bad"})
    assert error_of(r)["code"] == "InvalidPaginationToken"

    wid = ids[0]
    assert api.put(f"/wallets/{wid}", {"name": "main"}).json()["name"] == "main"
    r = api.put(f"/wallets/{wid}/tags", {"tags": ["vip", "eu", "vip"]})
    assert r.json()["tags"] == ["vip", "eu"]
    r = api.put(f"/wallets/{wid}/tags", {"tags": ["eu", "new"]})
    assert r.json()["tags"] == ["vip", "eu", "new"]
    r = api.client.request("DELETE", f"/wallets/{wid}/tags", json={"tags": ["eu", "absent"]},
                           headers=api.auth)  # fmt: skip
    assert r.status_code == 200 and r.json()["tags"] == ["vip", "new"]
    assert api.get(f"/wallets/{wid}").json()["tags"] == ["vip", "new"]
    r = api.put(f"/wallets/{wid}/tags", {"tags": []})
    assert r.status_code == 400

    for path in ("/wallets/wa-nope", f"/wallets/{'wa-' + '0' * 26}"):
        r = api.get(path)
        assert r.status_code == 404 and error_of(r)["code"] == "WalletNotFound"
    _, other_auth = api.other_org()
    r = api.client.get(f"/wallets/{wid}", headers=other_auth)
    assert r.status_code == 404
    assert api.client.get("/wallets", headers=other_auth).json()["items"] == []
    # archiving the key archives its wallets
    api.delete(f"/keys/{key['id']}")
    assert api.get(f"/wallets/{wid}").json()["status"] == "Archived"


# -- EVM signing ----------------------------------------------------------------------------
@pytest.mark.parametrize("network", ["Ethereum", "Base", "Polygon"])
def test_sign_legacy_and_eip1559_transactions(api: Api, network: str) -> None:
    w = create_wallet(api, network)
    chain_id = EVM_CHAIN_IDS[network]
    for raw, tx in (legacy_unsigned(chain_id), eip1559_unsigned(chain_id, to=TO)):
        r = api.post(
            f"/wallets/{w['id']}/signatures",
            {"kind": "Transaction", "transaction": "0x" + raw.hex()},
        )
        assert r.status_code == 200, r.text
        sig = r.json()
        assert sig["status"] == "Signed" and sig["walletId"] == w["id"]
        assert sig["network"] == network
        assert sig["requestBody"] == {
            "kind": "Transaction",
            "network": network,
            "transaction": "0x" + raw.hex(),
        }
        signed = bytes.fromhex(sig["signedData"][2:])
        assert Account.recover_transaction(signed) == w["address"]
        # the same signature as eth-account's own signing with the secret
        value = sig["signature"]
        encoded = bytes.fromhex(value["encoded"][2:])
        assert len(encoded) == 65 and encoded[64] == 27 + value["recid"]
        assert encoded[:32].hex() == value["r"][2:] and encoded[32:64].hex() == value["s"][2:]
        if "type" in tx:
            decoded = TypedTransaction.from_bytes(HexBytes(signed))
            assert decoded.as_dict()["chainId"] == chain_id
        else:
            v = rlp.decode(signed)[6]
            assert int.from_bytes(v, "big") in (35 + 2 * chain_id, 36 + 2 * chain_id)
    assert len(signatures_of(api, w["signingKey"]["id"])) == 2


def test_sign_transaction_on_the_key_endpoint_needs_the_network(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    raw, _ = legacy_unsigned(1)
    body = {"kind": "Transaction", "transaction": "0x" + raw.hex()}
    r = api.post(f"/keys/{key['id']}/signatures", body)
    assert r.status_code == 400 and error_of(r)["code"] == "NetworkRequired"
    r = api.post(f"/keys/{key['id']}/signatures", {**body, "network": "Ethereum"})
    assert r.status_code == 200
    address = Account.from_key(eth_secret(api, key["id"])).address
    assert Account.recover_transaction(bytes.fromhex(r.json()["signedData"][2:])) == address
    assert r.json()["network"] == "Ethereum" and "walletId" not in r.json()


def test_eip191_and_eip712(api: Api) -> None:
    w = create_wallet(api, "Ethereum")
    path = f"/wallets/{w['id']}/signatures"
    r = api.post(path, {"kind": "Eip191", "message": "0x" + b"hello vault".hex()})
    assert r.status_code == 200, r.text
    encoded = bytes.fromhex(r.json()["signature"]["encoded"][2:])
    signable = encode_defunct(primitive=b"hello vault")
    assert Account.recover_message(signable, signature=encoded) == w["address"]
    assert "signedData" not in r.json()

    r = api.post(path, {"kind": "Eip712", **TYPED_DATA})
    assert r.status_code == 200, r.text
    encoded = bytes.fromhex(r.json()["signature"]["encoded"][2:])
    signable = encode_typed_data(full_message=TYPED_DATA)
    assert Account.recover_message(signable, signature=encoded) == w["address"]
    assert r.json()["requestBody"]["primaryType"] == "Mail"
    # the key endpoint signs EIP-191 too, without a network
    r = api.post(f"/keys/{w['signingKey']['id']}/signatures", {"kind": "Eip191", "message": "0x00"})
    assert r.status_code == 200


def test_evm_bad_inputs_sign_nothing(api: Api) -> None:
    w = create_wallet(api, "Ethereum")
    path = f"/wallets/{w['id']}/signatures"
    wrong_chain, _ = legacy_unsigned(8453)
    typed_1559, _ = eip1559_unsigned(137, to=TO)
    bad_typed = {**TYPED_DATA, "primaryType": "Nope"}
    other_chain = {**TYPED_DATA, "domain": {**TYPED_DATA["domain"], "chainId": 10}}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "Transaction", "transaction": "0x" + wrong_chain.hex()}, "ChainIdMismatch"),
        ({"kind": "Transaction", "transaction": "0x" + typed_1559.hex()}, "ChainIdMismatch"),
        ({"kind": "Transaction", "transaction": "0xdeadbeef"}, "InvalidTransaction"),
        ({"kind": "Transaction", "transaction": "0x"}, "InvalidTransaction"),
        ({"kind": "Transaction", "transaction": "nothex"}, "InvalidEncoding"),
        ({"kind": "Eip712", **bad_typed}, "InvalidEip712"),
        ({"kind": "Eip712", **other_chain}, "ChainIdMismatch"),
        ({"kind": "Psbt", "psbt": "cHNidP8="}, "InvalidSignatureKind"),
        ({"kind": "Bip322", "message": "0x00"}, "InvalidSignatureKind"),
        ({"kind": "Message", "message": "0x00"}, "InvalidSignatureKind"),
        ({"kind": "Eip191", "message": "0x00", "network": "Base"}, "NetworkMismatch"),
        ({"kind": "Transaction", "message": "0x00"}, "InvalidRequest"),
        ({"kind": "Eip712", "types": {}, "domain": {}, "primaryType": "X", "message": "0x"},
         "InvalidRequest"),
    ]  # fmt: skip
    for body, code in cases:
        r = api.post(path, body)
        assert r.status_code == 400, (body, r.text)
        assert error_of(r)["code"] == code, (body, r.json())
    assert api.vault.calls.get("sign", 0) == 0
    assert signatures_of(api, w["signingKey"]["id"]) == []
    # EdDSA keys cannot sign EVM kinds
    eddsa = api.create_key()
    r = api.post(f"/keys/{eddsa['id']}/signatures", {"kind": "Eip191", "message": "0x00"})
    assert error_of(r)["code"] == "InvalidSignatureKind"
    r = api.post(
        f"/keys/{eddsa['id']}/signatures",
        {"kind": "Transaction", "transaction": "0x" + wrong_chain.hex(), "network": "Base"},
    )
    assert error_of(r)["code"] == "SchemeNotSupportedByNetwork"


def test_wallet_signature_idempotency(api: Api) -> None:
    w = create_wallet(api, "Ethereum")
    raw, _ = legacy_unsigned(1)
    body = {"kind": "Transaction", "transaction": "0x" + raw.hex(), "externalId": "tx-1"}
    first = api.post(f"/wallets/{w['id']}/signatures", body)
    again = api.post(f"/wallets/{w['id']}/signatures", body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert api.vault.calls["sign"] == 1
    raw2, _ = legacy_unsigned(1, nonce=1)
    r = api.post(f"/wallets/{w['id']}/signatures", {**body, "transaction": "0x" + raw2.hex()})
    assert r.status_code == 409 and error_of(r)["code"] == "ExternalIdConflict"
    # the same key through another wallet: a different request
    other = create_wallet(api, "Ethereum", signingKey={"id": w["signingKey"]["id"]})
    r = api.post(f"/wallets/{other['id']}/signatures", body)
    assert r.status_code == 409
    got = api.get(f"/keys/{w['signingKey']['id']}/signatures/{first.json()['id']}").json()
    assert got == first.json()


# -- Bitcoin --------------------------------------------------------------------------------
def _psbt_for(spk: escript.Script, other: escript.Script) -> tuple[PSBT, list[int]]:
    """Two inputs: one paying ``spk`` (100000 sat), one paying ``other`` (50000 sat)."""
    values = [100_000, 50_000]
    tx = ETx(
        vin=[TransactionInput(os.urandom(32), 0), TransactionInput(os.urandom(32), 1)],
        vout=[TransactionOutput(140_000, other)],
    )
    psbt = PSBT(tx)
    psbt.inputs[0].witness_utxo = TransactionOutput(values[0], spk)
    psbt.inputs[1].witness_utxo = TransactionOutput(values[1], other)
    return psbt, values


def test_sign_psbt_p2wpkh(api: Api) -> None:
    w = create_wallet(api, "BitcoinTestnet3")
    pub = EPublicKey.parse(bytes.fromhex(w["signingKey"]["publicKey"]))
    other = escript.p2wpkh(EPublicKey.parse(coincurve.PrivateKey().public_key.format()))
    psbt, values = _psbt_for(escript.p2wpkh(pub), other)
    r = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Psbt", "psbt": psbt.to_string()})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["signedInputs"] == [0]
    assert [s["index"] for s in out["skippedInputs"]] == [1]
    assert "signature" not in out
    signed = PSBT.from_string(out["signedData"])
    sig = signed.inputs[0].partial_sigs[pub]
    assert sig[-1] == 1  # SIGHASH_ALL
    digest = signed.tx.sighash_segwit(0, escript.p2pkh(pub), values[0], sighash=1)
    assert coincurve.PublicKey(pub.sec()).verify(sig[:-1], digest, hasher=None)
    assert not signed.inputs[1].partial_sigs
    # hex input is accepted too, and gives the same unsigned transaction
    r = api.post(
        f"/wallets/{w['id']}/signatures", {"kind": "Psbt", "psbt": "0x" + psbt.serialize().hex()}
    )
    assert r.status_code == 200
    assert PSBT.from_string(r.json()["signedData"]).tx.txid() == psbt.tx.txid()


def test_sign_psbt_taproot_bip86(api: Api) -> None:
    w = create_wallet(api, "Bitcoin", signingKey={"scheme": "Schnorr", "curve": "secp256k1"})
    pub = EPublicKey.parse(bytes.fromhex(w["signingKey"]["publicKey"]))
    spk = escript.p2tr(pub)
    other = escript.p2wpkh(EPublicKey.parse(coincurve.PrivateKey().public_key.format()))
    psbt, values = _psbt_for(spk, other)
    r = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Psbt", "psbt": psbt.to_string()})
    assert r.status_code == 200, r.text
    assert r.json()["signedInputs"] == [0]
    signed = PSBT.from_string(r.json()["signedData"])
    pin = signed.inputs[0]
    sig = getattr(pin, "taproot_key_sig", None) or pin.unknown[b"\x13"]
    assert len(sig) == 64  # SIGHASH_DEFAULT: no sighash byte
    digest = signed.tx.sighash_taproot(0, [spk, other], values, sighash=0)
    output_key = spk.data[2:]
    assert coincurve.PublicKeyXOnly(output_key).verify(sig, digest)
    assert api.vault.sign_log[-1][2] == b""  # BIP 86 key-path tweak


def test_psbt_bad_inputs_sign_nothing(api: Api) -> None:
    w = create_wallet(api, "Bitcoin")
    stranger = escript.p2wpkh(EPublicKey.parse(coincurve.PrivateKey().public_key.format()))
    psbt, _ = _psbt_for(stranger, stranger)
    path = f"/wallets/{w['id']}/signatures"
    cases = [
        ({"kind": "Psbt", "psbt": psbt.to_string()}, "NoInputForKey"),
        ({"kind": "Psbt", "psbt": "cHNidP8="}, "InvalidPsbt"),
        ({"kind": "Psbt", "psbt": "not a psbt!"}, "InvalidEncoding"),
        ({"kind": "Transaction", "transaction": "0x00"}, "InvalidSignatureKind"),
        ({"kind": "Eip191", "message": "0x00"}, "InvalidSignatureKind"),
    ]
    for body, code in cases:
        r = api.post(path, body)
        assert r.status_code == 400, r.text
        assert error_of(r)["code"] == code, r.json()
    assert api.vault.calls.get("sign", 0) == 0
    assert signatures_of(api, w["signingKey"]["id"]) == []


def test_psbt_already_signed_by_the_key_is_nothing_to_sign(api: Api) -> None:
    w = create_wallet(api, "Bitcoin")
    spk = escript.p2wpkh(EPublicKey.parse(bytes.fromhex(w["signingKey"]["publicKey"])))
    psbt, _ = _psbt_for(spk, spk)
    path = f"/wallets/{w['id']}/signatures"
    first = api.post(path, {"kind": "Psbt", "psbt": psbt.to_string()})
    assert first.status_code == 200 and first.json()["signedInputs"] == [0, 1]
    calls = api.vault.calls["sign"]
    r = api.post(path, {"kind": "Psbt", "psbt": first.json()["signedData"]})
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] == "NothingToSign"
    assert [s["index"] for s in err["details"]["skippedInputs"]] == [0, 1]
    assert api.vault.calls["sign"] == calls
    assert len(signatures_of(api, w["signingKey"]["id"])) == 1


def test_evm_message_signatures_are_65_bytes_with_v_27_plus_recid(api: Api) -> None:
    w = create_wallet(api, "Ethereum")
    path = f"/wallets/{w['id']}/signatures"
    for body, signable in (
        ({"kind": "Eip191", "message": "0x6869"}, encode_defunct(primitive=b"hi")),
        ({"kind": "Eip712", **TYPED_DATA}, encode_typed_data(full_message=TYPED_DATA)),
    ):
        out = api.post(path, body).json()
        encoded = bytes.fromhex(out["signature"]["encoded"][2:])
        assert len(encoded) == 65 and encoded[64] == 27 + out["signature"]["recid"]
        assert encoded[:32] == bytes.fromhex(out["signature"]["r"][2:])
        assert encoded[32:64] == bytes.fromhex(out["signature"]["s"][2:])
        assert Account.recover_message(signable, signature=encoded) == w["address"]


def test_large_request_is_prepared_off_the_event_loop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large request body (the threshold, create_app's ``large_request_bytes``, is
    lowered here; the test API caps bodies at 64 KiB) is parsed and hashed in a worker
    thread, a small one on the event loop; the result is the same (here with a
    proprietary record kept byte for byte)."""
    import threading

    import shardvault.api.signing.service as service_module

    w = create_wallet(api, "Bitcoin", signingKey={"scheme": "Schnorr", "curve": "secp256k1"})
    pub = EPublicKey.parse(bytes.fromhex(w["signingKey"]["publicKey"]))
    other = escript.p2wpkh(EPublicKey.parse(coincurve.PrivateKey().public_key.format()))
    psbt, _ = _psbt_for(escript.p2tr(pub), other)
    psbt.unknown[b"\xfc\x05vault\x00"] = os.urandom(20_000)
    threads: list[str] = []
    real_prepare = service_module.prepare_chain_job

    def recording(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real_prepare(*args)

    monkeypatch.setattr(service_module, "prepare_chain_job", recording)
    monkeypatch.setattr(api.app.state.signing, "large_request_bytes", 10_000)
    path = f"/wallets/{w['id']}/signatures"
    r = api.post(path, {"kind": "Psbt", "psbt": psbt.to_string()})
    assert r.status_code == 200, r.text
    assert r.json()["signedInputs"] == [0]
    signed = PSBT.from_string(r.json()["signedData"])
    assert signed.unknown[b"\xfc\x05vault\x00"] == psbt.unknown[b"\xfc\x05vault\x00"]
    del psbt.unknown[b"\xfc\x05vault\x00"]
    assert api.post(path, {"kind": "Psbt", "psbt": psbt.to_string()}).status_code == 200
    event_loop_thread = threads[1]
    assert len(threads) == 2 and threads[0] != event_loop_thread


def test_psbt_with_too_many_inputs_of_the_key_signs_nothing(api: Api) -> None:
    from shardvault.api.signing.chains import MAX_PSBT_SIGNATURES

    w = create_wallet(api, "Bitcoin", signingKey={"scheme": "Schnorr", "curve": "secp256k1"})
    spk = escript.p2tr(EPublicKey.parse(bytes.fromhex(w["signingKey"]["publicKey"])))
    n = MAX_PSBT_SIGNATURES + 1
    tx = ETx(
        vin=[TransactionInput(i.to_bytes(32, "big"), 0) for i in range(n)],
        vout=[TransactionOutput(1_000, spk)],
    )
    psbt = PSBT(tx)
    for pin in psbt.inputs:
        pin.witness_utxo = TransactionOutput(2_000, spk)
    r = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Psbt", "psbt": psbt.to_string()})
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] == "TooManyInputs"
    assert err["details"] == {"field": "psbt", "inputs": n, "max": MAX_PSBT_SIGNATURES}
    assert api.vault.calls.get("sign", 0) == 0
    assert signatures_of(api, w["signingKey"]["id"]) == []


@pytest.mark.parametrize(("scheme", "prefix"), [("ECDSA", "bc1q"), ("Schnorr", "bc1p")])
def test_bip322_simple(api: Api, scheme: str, prefix: str) -> None:
    from shardvault.chains.bitcoin import bip322_verify_simple

    w = create_wallet(api, "Bitcoin", signingKey={"scheme": scheme, "curve": "secp256k1"})
    assert w["address"].startswith(prefix)
    r = api.post(
        f"/wallets/{w['id']}/signatures", {"kind": "Bip322", "message": "0x" + b"hi".hex()}
    )
    assert r.status_code == 200, r.text
    encoded = r.json()["signedData"]
    assert bip322_verify_simple(b"hi", w["address"], base64.b64decode(encoded).decode())
    assert not bip322_verify_simple(b"ho", w["address"], base64.b64decode(encoded).decode())


# -- Solana ---------------------------------------------------------------------------------
def test_sign_solana_transaction(api: Api) -> None:
    kp = Keypair()
    key = import_key(api, ED25519, ed25519_scalar_from_seed(bytes(kp)[:32]), "FROST", "ed25519")
    w = create_wallet(api, "SolanaDevnet", signingKey={"id": key["id"]})
    payer = Pubkey.from_string(w["address"])
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=Pubkey(bytes([7] * 32)), lamports=5))
    msg = Message.new_with_blockhash([ix], payer, Hash(bytes([9] * 32)))
    unsigned = bytes(SolTx.new_unsigned(msg))
    r = api.post(
        f"/wallets/{w['id']}/signatures",
        {"kind": "Transaction", "transaction": "0x" + unsigned.hex()},
    )
    assert r.status_code == 200, r.text
    signed = SolTx.from_bytes(bytes.fromhex(r.json()["signedData"][2:]))
    assert signed.verify_with_results() == [True]
    assert signed.message == msg and signed.message.account_keys[0] == kp.pubkey()
    assert r.json()["signature"]["encoded"] == "0x" + bytes(signed.signatures[0]).hex()
    # a bare message is accepted too
    r = api.post(
        f"/wallets/{w['id']}/signatures",
        {"kind": "Transaction", "transaction": "0x" + bytes(msg).hex()},
    )
    assert r.status_code == 200
    assert SolTx.from_bytes(bytes.fromhex(r.json()["signedData"][2:])).verify_with_results() == [
        True
    ]


def test_solana_offchain_message_and_bad_inputs(api: Api) -> None:
    w = create_wallet(api, "Solana")
    body = b"hello solana"
    r = api.post(
        f"/wallets/{w['id']}/signatures", {"kind": "Message", "message": "0x" + body.hex()}
    )
    assert r.status_code == 200, r.text
    signature = bytes.fromhex(r.json()["signature"]["encoded"][2:])
    # agave's off-chain message v0, restricted ASCII
    expected = b"\xffsolana offchain" + bytes([0, 0]) + len(body).to_bytes(2, "little") + body
    VerifyKey(bytes.fromhex(w["signingKey"]["publicKey"])).verify(expected, signature)
    # the key endpoint without a network keeps signing the raw message
    r = api.post(
        f"/keys/{w['signingKey']['id']}/signatures",
        {"kind": "Message", "message": "0x" + body.hex()},
    )
    VerifyKey(bytes.fromhex(w["signingKey"]["publicKey"])).verify(
        body, bytes.fromhex(r.json()["signature"]["encoded"][2:])
    )
    calls = api.vault.calls["sign"]
    stranger = Keypair().pubkey()
    ix = transfer(TransferParams(from_pubkey=stranger, to_pubkey=stranger, lamports=1))
    msg = Message.new_with_blockhash([ix], stranger, Hash(bytes(32)))
    for tx, code in (
        (bytes(SolTx.new_unsigned(msg)), "KeyNotASigner"),
        (b"\x01\x02", "InvalidTransaction"),
    ):
        r = api.post(
            f"/wallets/{w['id']}/signatures",
            {"kind": "Transaction", "transaction": "0x" + tx.hex()},
        )
        assert r.status_code == 400 and error_of(r)["code"] == code, r.json()
    r = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Message", "message": "0x"})
    assert r.status_code == 400
    r = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Eip191", "message": "0x00"})
    assert error_of(r)["code"] == "InvalidSignatureKind"
    assert api.vault.calls["sign"] == calls


def test_hash_kind_through_a_wallet(api: Api) -> None:
    w = create_wallet(api, "Ethereum")
    digest = hashlib.sha256(b"x").digest()
    r = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Hash", "hash": "0x" + digest.hex()})
    assert r.status_code == 200
    assert r.json()["requestBody"] == {
        "kind": "Hash",
        "network": "Ethereum",
        "hash": "0x" + digest.hex(),
    }
    # DER as for any ECDSA Hash request
    assert r.json()["signature"]["encoded"].startswith("0x30")
    r = api.post("/wallets/wa-nope/signatures", {"kind": "Hash", "hash": "0x" + digest.hex()})
    assert r.status_code == 404


# -- concurrency ------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_concurrent_creates_with_one_external_id(async_api: AsyncApi) -> None:
    client, vault = async_api.client, async_api.vault
    generate = vault.generate_key

    async def slow_generate(*args: Any) -> Any:
        record = await generate(*args)
        await anyio.sleep(0.05)
        return record

    vault.generate_key = slow_generate  # type: ignore[method-assign]
    body = {"network": "Ethereum", "externalId": "race"}
    results: list[Any] = []

    async def one() -> None:
        r = await client.post("/wallets", json=body, headers=async_api.auth)
        assert r.status_code == 200, r.text
        results.append(r.json())

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(one)
    assert len({r["id"] for r in results}) == 1
    assert len({r["signingKey"]["id"] for r in results}) == 1
    # every key generated for a losing request was erased again, none was stored
    assert vault.calls["generate_key"] >= 2
    assert vault.calls.get("delete_key", 0) == vault.calls["generate_key"] - 1
    wallets = (await client.get("/wallets", headers=async_api.auth)).json()["items"]
    keys = (await client.get("/keys", headers=async_api.auth)).json()["items"]
    assert len(wallets) == 1 and [k["id"] for k in keys] == [results[0]["signingKey"]["id"]]


@pytest.mark.anyio
async def test_psbt_signing_runs_the_back_end_from_a_worker_thread(async_api: AsyncApi) -> None:
    client, auth = async_api.client, async_api.auth
    r = await client.post("/wallets", json={"network": "BitcoinSignet"}, headers=auth)
    w = r.json()
    pub = EPublicKey.parse(bytes.fromhex(w["signingKey"]["publicKey"]))
    spk = escript.p2wpkh(pub)
    psbt, values = _psbt_for(spk, spk)  # both inputs are ours
    body = {"kind": "Psbt", "psbt": psbt.to_string(), "externalId": "p"}
    r = await client.post(f"/wallets/{w['id']}/signatures", json=body, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["signedInputs"] == [0, 1] and r.json()["skippedInputs"] == []
    signed = PSBT.from_string(r.json()["signedData"])
    for i in (0, 1):
        sig = signed.inputs[i].partial_sigs[pub]
        digest = signed.tx.sighash_segwit(i, escript.p2pkh(pub), values[i], sighash=1)
        assert coincurve.PublicKey(pub.sec()).verify(sig[:-1], digest, hasher=None)
    again = await client.post(f"/wallets/{w['id']}/signatures", json=body, headers=auth)
    assert again.json() == r.json()
    assert async_api.vault.calls["sign"] == 2


def test_remembered_wallets_stay_org_scoped_and_follow_key_archival(api: Api) -> None:
    """The API remembers a wallet's key and network after its first signature; another
    org still gets 404 and a deleted key still refuses, with nothing signed."""
    w = create_wallet(api, "Ethereum")
    path = f"/wallets/{w['id']}/signatures"
    body = {"kind": "Eip191", "message": "0x01"}
    assert api.post(path, body).status_code == 200
    calls = api.vault.calls["sign"]
    _, other_auth = api.other_org()
    r = api.client.post(path, json=body, headers=other_auth)
    assert r.status_code == 404 and error_of(r)["code"] == "WalletNotFound"
    r = api.post(path, {**body, "network": "Base"})
    assert r.status_code == 400 and error_of(r)["code"] == "NetworkMismatch"
    api.delete(f"/keys/{w['signingKey']['id']}")
    r = api.post(path, body)
    assert r.status_code == 409 and error_of(r)["code"] == "KeyArchived"
    assert api.vault.calls["sign"] == calls
