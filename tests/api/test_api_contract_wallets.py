"""Contract suite, wallets: addresses checked with independent libraries (eth-account,
embit, solders), creation by network and existing key, externalId idempotency, listing
and tags, and signing through a wallet (EVM, Bitcoin PSBT and BIP 322, Solana), over
the FakeVault and the real embedded vault alike (see apibackends.py). ECDSA tests
wait for the embedded vault's aux info first."""

from __future__ import annotations

import base64
from typing import Any

import coincurve
import pytest
from apibackends import ContractApi
from apihelpers import error_of
from embit import script as escript
from embit.ec import PublicKey as EPublicKey
from embit.psbt import PSBT
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from evmhelpers import EVM_CHAIN_IDS, eip1559_unsigned
from hexbytes import HexBytes
from nacl.signing import VerifyKey
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction as SolTx
from wallethelpers import TO, create_wallet, legacy_unsigned, psbt_for

from shardvault.crypto.keyformats import ed25519_scalar_from_seed


@pytest.fixture
def ecdsa_ready(any_api: ContractApi) -> None:
    """Wait until the back end's ECDSA (CGGMP24) is ready (the tests with ECDSA keys)."""
    any_api.backend.wait_ecdsa_ready()


def import_key(any_api: ContractApi, secret: int, protocol: str, curve: str) -> Any:
    """Import ``secret`` in the back end's share format."""
    r = any_api.post("/keys/import", any_api.import_body(secret, curve, protocol))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.usefixtures("ecdsa_ready")
def test_imported_eth_key_has_the_same_address_on_every_evm_network(any_api: ContractApi) -> None:
    account = Account.create()
    secret = int.from_bytes(bytes(account.key), "big")
    key = import_key(any_api, secret, "CGGMP24", "secp256k1")
    addresses = {
        create_wallet(any_api, n, signingKey={"id": key["id"]})["address"] for n in EVM_CHAIN_IDS
    }
    assert addresses == {account.address}
    # one key, many wallets
    assert len(any_api.get("/wallets").json()["items"]) == len(EVM_CHAIN_IDS)


@pytest.mark.usefixtures("ecdsa_ready")
def test_bitcoin_wallet_addresses_match_embit(any_api: ContractApi) -> None:
    ecdsa = create_wallet(any_api, "Bitcoin")
    assert ecdsa["signingKey"]["scheme"] == "ECDSA"
    pub = EPublicKey.parse(bytes.fromhex(ecdsa["signingKey"]["publicKey"]))
    assert ecdsa["address"] == escript.p2wpkh(pub).address()
    assert ecdsa["address"].startswith("bc1q")
    taproot = create_wallet(
        any_api, "BitcoinTestnet3", signingKey={"scheme": "Schnorr", "curve": "secp256k1"}
    )
    tpub = EPublicKey.parse(bytes.fromhex(taproot["signingKey"]["publicKey"]))
    from embit.networks import NETWORKS

    assert taproot["address"] == escript.p2tr(tpub).address(NETWORKS["test"])
    assert taproot["address"].startswith("tb1p")
    regtest = create_wallet(any_api, "BitcoinRegtest", signingKey={"id": ecdsa["signingKey"]["id"]})
    assert regtest["address"] == escript.p2wpkh(pub).address(NETWORKS["regtest"])
    signet = create_wallet(any_api, "BitcoinSignet", signingKey={"id": ecdsa["signingKey"]["id"]})
    assert signet["address"].startswith("tb1q")


def test_imported_solana_keypair_keeps_its_address(any_api: ContractApi) -> None:
    kp = Keypair()
    seed = bytes(kp)[:32]
    key = import_key(any_api, ed25519_scalar_from_seed(seed), "FROST", "ed25519")
    for network in ("Solana", "SolanaDevnet"):
        w = create_wallet(any_api, network, signingKey={"id": key["id"]})
        assert w["address"] == str(kp.pubkey())
    generated = create_wallet(any_api, "Solana")
    assert generated["signingKey"]["scheme"] == "EdDSA"
    assert Pubkey.from_string(generated["address"]) == Pubkey.from_bytes(
        bytes.fromhex(generated["signingKey"]["publicKey"])
    )


@pytest.mark.usefixtures("ecdsa_ready")
def test_wallet_with_an_archived_or_foreign_key(any_api: ContractApi) -> None:
    key = any_api.create_key("ECDSA", "secp256k1")
    _, other_auth = any_api.other_org()
    r = any_api.client.post(
        "/wallets",
        json={"network": "Ethereum", "signingKey": {"id": key["id"]}},
        headers=other_auth,
    )
    assert r.status_code == 404 and error_of(r)["code"] == "KeyNotFound"
    any_api.delete(f"/keys/{key['id']}")
    r = any_api.post("/wallets", {"network": "Ethereum", "signingKey": {"id": key["id"]}})
    assert r.status_code == 409 and error_of(r)["code"] == "KeyArchived"


@pytest.mark.usefixtures("ecdsa_ready")
def test_external_id_is_idempotent_per_org(any_api: ContractApi) -> None:
    body = {"network": "Base", "externalId": "user-1", "name": "n", "tags": ["x"]}
    first = create_wallet(any_api, **body)
    assert first["externalId"] == "user-1"
    assert create_wallet(any_api, **body) == first
    assert any_api.backend.calls["generate_key"] == 1
    for change in ({"name": "m"}, {"network": "Optimism"}, {"tags": []}):
        r = any_api.post("/wallets", {**body, **change})
        assert r.status_code == 409, change
        err = error_of(r)
        assert err["code"] == "ExternalIdConflict"
        assert err["details"] == {
            "walletId": first["id"],
            "duplicate": {"id": first["id"], "externalId": "user-1"},
        }
    r = any_api.post(
        "/wallets", {**body, "signingKey": {"scheme": "ECDSA", "curve": "secp256k1"}}
    )  # the same as the default: matches
    assert r.json() == first
    r = any_api.post("/wallets", {**body, "signingKey": {"id": first["signingKey"]["id"]}})
    assert r.json() == first
    assert any_api.backend.calls["generate_key"] == 1
    # another org may use the same externalId
    _, other_auth = any_api.other_org()
    r = any_api.client.post("/wallets", json=body, headers=other_auth)
    assert r.status_code == 200 and r.json()["id"] != first["id"]


@pytest.mark.usefixtures("ecdsa_ready")
def test_list_get_update_and_tags(any_api: ContractApi) -> None:
    key = any_api.create_key("ECDSA", "secp256k1")
    ids = [
        create_wallet(any_api, n, signingKey={"id": key["id"]})["id"]
        for n in ("Ethereum", "Base", "Polygon")
    ]
    page = any_api.get("/wallets", params={"limit": 2}).json()
    assert [w["id"] for w in page["items"]] == ids[::-1][:2]
    rest = any_api.get(
        "/wallets", params={"limit": 2, "paginationToken": page["nextPageToken"]}
    ).json()
    assert [w["id"] for w in rest["items"]] == [ids[0]] and "nextPageToken" not in rest
    r = any_api.get("/wallets", params={"paginationToken": "bad"})
    assert error_of(r)["code"] == "InvalidPaginationToken"

    wid = ids[0]
    assert any_api.put(f"/wallets/{wid}", {"name": "main"}).json()["name"] == "main"
    r = any_api.put(f"/wallets/{wid}/tags", {"tags": ["vip", "eu", "vip"]})
    assert r.json()["tags"] == ["vip", "eu"]
    r = any_api.put(f"/wallets/{wid}/tags", {"tags": ["eu", "new"]})
    assert r.json()["tags"] == ["vip", "eu", "new"]
    r = any_api.client.request("DELETE", f"/wallets/{wid}/tags", json={"tags": ["eu", "absent"]},
                           headers=any_api.auth)  # fmt: skip
    assert r.status_code == 200 and r.json()["tags"] == ["vip", "new"]
    assert any_api.get(f"/wallets/{wid}").json()["tags"] == ["vip", "new"]
    r = any_api.put(f"/wallets/{wid}/tags", {"tags": []})
    assert r.status_code == 400

    for path in ("/wallets/wa-nope", f"/wallets/{'wa-' + '0' * 26}"):
        r = any_api.get(path)
        assert r.status_code == 404 and error_of(r)["code"] == "WalletNotFound"
    _, other_auth = any_api.other_org()
    r = any_api.client.get(f"/wallets/{wid}", headers=other_auth)
    assert r.status_code == 404
    assert any_api.client.get("/wallets", headers=other_auth).json()["items"] == []
    # archiving the key archives its wallets
    any_api.delete(f"/keys/{key['id']}")
    assert any_api.get(f"/wallets/{wid}").json()["status"] == "Archived"


@pytest.mark.usefixtures("ecdsa_ready")
def test_wallet_signature_idempotency(any_api: ContractApi) -> None:
    w = create_wallet(any_api, "Ethereum")
    raw, _ = legacy_unsigned(1)
    body = {"kind": "Transaction", "transaction": "0x" + raw.hex(), "externalId": "tx-1"}
    first = any_api.post(f"/wallets/{w['id']}/signatures", body)
    again = any_api.post(f"/wallets/{w['id']}/signatures", body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert any_api.backend.calls["sign"] == 1
    raw2, _ = legacy_unsigned(1, nonce=1)
    r = any_api.post(f"/wallets/{w['id']}/signatures", {**body, "transaction": "0x" + raw2.hex()})
    assert r.status_code == 409 and error_of(r)["code"] == "ExternalIdConflict"
    # the same key through another wallet: a different request
    other = create_wallet(any_api, "Ethereum", signingKey={"id": w["signingKey"]["id"]})
    r = any_api.post(f"/wallets/{other['id']}/signatures", body)
    assert r.status_code == 409
    got = any_api.get(f"/keys/{w['signingKey']['id']}/signatures/{first.json()['id']}").json()
    assert got == first.json()


def test_sign_psbt_taproot_bip86(any_api: ContractApi) -> None:
    w = create_wallet(any_api, "Bitcoin", signingKey={"scheme": "Schnorr", "curve": "secp256k1"})
    pub = EPublicKey.parse(bytes.fromhex(w["signingKey"]["publicKey"]))
    spk = escript.p2tr(pub)
    other = escript.p2wpkh(EPublicKey.parse(coincurve.PrivateKey().public_key.format()))
    psbt, values = psbt_for(spk, other)
    r = any_api.post(f"/wallets/{w['id']}/signatures", {"kind": "Psbt", "psbt": psbt.to_string()})
    assert r.status_code == 200, r.text
    assert r.json()["signedInputs"] == [0]
    signed = PSBT.from_string(r.json()["signedData"].removeprefix("0x"))
    pin = signed.inputs[0]
    sig = getattr(pin, "taproot_key_sig", None) or pin.unknown[b"\x13"]
    assert len(sig) == 64  # SIGHASH_DEFAULT: no sighash byte
    digest = signed.tx.sighash_taproot(0, [spk, other], values, sighash=0)
    output_key = spk.data[2:]
    assert coincurve.PublicKeyXOnly(output_key).verify(sig, digest)
    assert any_api.backend.sign_log[-1][2] == b""  # BIP 86 key-path tweak


@pytest.mark.usefixtures("ecdsa_ready")
@pytest.mark.parametrize(("scheme", "prefix"), [("ECDSA", "bc1q"), ("Schnorr", "bc1p")])
def test_bip322_simple(any_api: ContractApi, scheme: str, prefix: str) -> None:
    from shardvault.chains.bitcoin import bip322_verify_simple

    w = create_wallet(any_api, "Bitcoin", signingKey={"scheme": scheme, "curve": "secp256k1"})
    assert w["address"].startswith(prefix)
    r = any_api.post(
        f"/wallets/{w['id']}/signatures", {"kind": "Bip322", "message": "0x" + b"hi".hex()}
    )
    assert r.status_code == 200, r.text
    encoded = r.json()["signedData"]
    assert bip322_verify_simple(b"hi", w["address"], base64.b64decode(encoded).decode())
    assert not bip322_verify_simple(b"ho", w["address"], base64.b64decode(encoded).decode())


def test_sign_solana_transaction(any_api: ContractApi) -> None:
    kp = Keypair()
    key = import_key(any_api, ed25519_scalar_from_seed(bytes(kp)[:32]), "FROST", "ed25519")
    w = create_wallet(any_api, "SolanaDevnet", signingKey={"id": key["id"]})
    payer = Pubkey.from_string(w["address"])
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=Pubkey(bytes([7] * 32)), lamports=5))
    msg = Message.new_with_blockhash([ix], payer, Hash(bytes([9] * 32)))
    unsigned = bytes(SolTx.new_unsigned(msg))
    r = any_api.post(
        f"/wallets/{w['id']}/signatures",
        {"kind": "Transaction", "transaction": "0x" + unsigned.hex()},
    )
    assert r.status_code == 200, r.text
    signed = SolTx.from_bytes(bytes.fromhex(r.json()["signedData"][2:]))
    assert signed.verify_with_results() == [True]
    assert signed.message == msg and signed.message.account_keys[0] == kp.pubkey()
    assert r.json()["signature"]["encoded"] == "0x" + bytes(signed.signatures[0]).hex()
    # a bare message is accepted too
    r = any_api.post(
        f"/wallets/{w['id']}/signatures",
        {"kind": "Transaction", "transaction": "0x" + bytes(msg).hex()},
    )
    assert r.status_code == 200
    assert SolTx.from_bytes(bytes.fromhex(r.json()["signedData"][2:])).verify_with_results() == [
        True
    ]


def test_solana_offchain_message_and_bad_inputs(any_api: ContractApi) -> None:
    w = create_wallet(any_api, "Solana")
    body = b"hello solana"
    r = any_api.post(
        f"/wallets/{w['id']}/signatures", {"kind": "Message", "message": "0x" + body.hex()}
    )
    assert r.status_code == 200, r.text
    signature = bytes.fromhex(r.json()["signature"]["encoded"][2:])
    # agave's off-chain message v0, restricted ASCII
    expected = b"\xffsolana offchain" + bytes([0, 0]) + len(body).to_bytes(2, "little") + body
    VerifyKey(bytes.fromhex(w["signingKey"]["publicKey"])).verify(expected, signature)
    # the key endpoint without a network keeps signing the raw message
    r = any_api.post(
        f"/keys/{w['signingKey']['id']}/signatures",
        {"kind": "Message", "message": "0x" + body.hex()},
    )
    VerifyKey(bytes.fromhex(w["signingKey"]["publicKey"])).verify(
        body, bytes.fromhex(r.json()["signature"]["encoded"][2:])
    )
    calls = any_api.backend.calls["sign"]
    stranger = Keypair().pubkey()
    ix = transfer(TransferParams(from_pubkey=stranger, to_pubkey=stranger, lamports=1))
    msg = Message.new_with_blockhash([ix], stranger, Hash(bytes(32)))
    for tx, code in (
        (bytes(SolTx.new_unsigned(msg)), "KeyNotASigner"),
        (b"\x01\x02", "InvalidTransaction"),
    ):
        r = any_api.post(
            f"/wallets/{w['id']}/signatures",
            {"kind": "Transaction", "transaction": "0x" + tx.hex()},
        )
        assert r.status_code == 400 and error_of(r)["code"] == code, r.json()
    r = any_api.post(f"/wallets/{w['id']}/signatures", {"kind": "Message", "message": "0x"})
    assert r.status_code == 400
    r = any_api.post(f"/wallets/{w['id']}/signatures", {"kind": "Eip191", "message": "0x00"})
    assert error_of(r)["code"] == "InvalidSignatureKind"
    assert any_api.backend.calls["sign"] == calls


@pytest.mark.usefixtures("ecdsa_ready")
def test_remembered_wallets_stay_org_scoped_and_follow_key_archival(any_api: ContractApi) -> None:
    """The API remembers a wallet's key and network after its first signature; another
    org still gets 404 and a deleted key still refuses, with nothing signed."""
    w = create_wallet(any_api, "Ethereum")
    path = f"/wallets/{w['id']}/signatures"
    body = {"kind": "Eip191", "message": "0x01"}
    assert any_api.post(path, body).status_code == 200
    calls = any_api.backend.calls["sign"]
    _, other_auth = any_api.other_org()
    r = any_api.client.post(path, json=body, headers=other_auth)
    assert r.status_code == 404 and error_of(r)["code"] == "WalletNotFound"
    r = any_api.post(path, {**body, "network": "Base"})
    assert r.status_code == 400 and error_of(r)["code"] == "NetworkMismatch"
    any_api.delete(f"/keys/{w['signingKey']['id']}")
    r = any_api.post(path, body)
    assert r.status_code == 409 and error_of(r)["code"] == "KeyArchived"
    assert any_api.backend.calls["sign"] == calls


@pytest.mark.usefixtures("ecdsa_ready")
def test_sign_evm_transaction(any_api: ContractApi) -> None:
    """An EIP-1559 transaction on Ethereum, signed by the wallet's generated key:
    eth-account recovers the wallet's address from the signed transaction."""
    w = create_wallet(any_api, "Ethereum")
    raw, _tx = eip1559_unsigned(1, to=TO)
    r = any_api.post(
        f"/wallets/{w['id']}/signatures", {"kind": "Transaction", "transaction": "0x" + raw.hex()}
    )
    assert r.status_code == 200, r.text
    sig = r.json()
    assert sig["status"] == "Signed" and sig["walletId"] == w["id"]
    assert sig["requestBody"] == {
        "kind": "Transaction",
        "network": "Ethereum",
        "transaction": "0x" + raw.hex(),
    }
    signed = bytes.fromhex(sig["signedData"][2:])
    assert Account.recover_transaction(signed) == w["address"]
    assert TypedTransaction.from_bytes(HexBytes(signed)).as_dict()["chainId"] == 1
    value = sig["signature"]
    encoded = bytes.fromhex(value["encoded"][2:])
    assert len(encoded) == 65 and encoded[64] == 27 + value["recid"]
    assert encoded[:32].hex() == value["r"][2:] and encoded[32:64].hex() == value["s"][2:]
