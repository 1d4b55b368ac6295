"""Wallets and chain signature kinds over REST on the FakeVault only: networks, EVM
transactions on several chains, EIP-191/712, PSBTs (P2WPKH, limits), request errors
that sign nothing, concurrency and the worker-thread preparation of large requests.
Behaviour both back ends share: test_api_contract_wallets.py.

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
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.typed_transactions import TypedTransaction
from evmhelpers import EVM_CHAIN_IDS, eip1559_unsigned
from hexbytes import HexBytes
from shared_vectors import LOCAL_VECTORS
from wallethelpers import TO, create_wallet, legacy_unsigned, psbt_for, signatures_of

from shardvault.crypto.groups import Group
from shardvault.crypto.shamir import split_secret


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
    r = api.post("/keys/import", api.with_context(body))
    assert r.status_code == 200, r.text
    return r.json()


def eth_secret(api: Api, key_id: str) -> bytes:
    return api.vault.ecdsa_keys[key_id].secret().to_bytes(32, "big")


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


# -- Bitcoin --------------------------------------------------------------------------------
def test_sign_psbt_p2wpkh(api: Api) -> None:
    w = create_wallet(api, "BitcoinTestnet3")
    pub = EPublicKey.parse(bytes.fromhex(w["signingKey"]["publicKey"]))
    other = escript.p2wpkh(EPublicKey.parse(coincurve.PrivateKey().public_key.format()))
    psbt, values = psbt_for(escript.p2wpkh(pub), other)
    r = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Psbt", "psbt": psbt.to_string()})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["signedInputs"] == [0]
    assert [s["index"] for s in out["skippedInputs"]] == [1]
    assert "signature" not in out
    signed = PSBT.from_string(out["signedData"].removeprefix("0x"))
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
    assert PSBT.from_string(r.json()["signedData"].removeprefix("0x")).tx.txid() == psbt.tx.txid()


def test_psbt_bad_inputs_sign_nothing(api: Api) -> None:
    w = create_wallet(api, "Bitcoin")
    stranger = escript.p2wpkh(EPublicKey.parse(coincurve.PrivateKey().public_key.format()))
    psbt, _ = psbt_for(stranger, stranger)
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
    psbt, _ = psbt_for(spk, spk)
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
    psbt, _ = psbt_for(escript.p2tr(pub), other)
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
    signed = PSBT.from_string(r.json()["signedData"].removeprefix("0x"))
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


# -- Solana ---------------------------------------------------------------------------------
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
    psbt, values = psbt_for(spk, spk)  # both inputs are ours
    body = {"kind": "Psbt", "psbt": psbt.to_string(), "externalId": "p"}
    r = await client.post(f"/wallets/{w['id']}/signatures", json=body, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["signedInputs"] == [0, 1] and r.json()["skippedInputs"] == []
    signed = PSBT.from_string(r.json()["signedData"].removeprefix("0x"))
    for i in (0, 1):
        sig = signed.inputs[i].partial_sigs[pub]
        digest = signed.tx.sighash_segwit(i, escript.p2pkh(pub), values[i], sighash=1)
        assert coincurve.PublicKey(pub.sec()).verify(sig[:-1], digest, hasher=None)
    again = await client.post(f"/wallets/{w['id']}/signatures", json=body, headers=auth)
    assert again.json() == r.json()
    assert async_api.vault.calls["sign"] == 2
