"""``client.wallets``, ``client.networks`` and the chain kinds of ``client.keys.sign``.

Request encoding is checked against a mock transport; the round trips run the SDK
against the real embedded vault (``BackgroundVault``: EdDSA and Schnorr, no ECDSA aux
info) and check results with solders / embit / coincurve."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import coincurve
import httpx
import pytest
from embit import script as escript
from embit.ec import PublicKey as EPublicKey
from embit.psbt import PSBT
from embit.transaction import Transaction as ETx
from embit.transaction import TransactionInput, TransactionOutput
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction as SolTx

from shardvault.sdk import Client, InvalidArgument, KeyWallet, ShardvaultApiError, Wallet
from shardvault.server import BackgroundVault

BASE = "http://vault.test"
WALLET = {
    "id": "wa-1",
    "network": "Ethereum",
    "address": "0x" + "ab" * 20,
    "signingKey": {"id": "key-1", "scheme": "ECDSA", "curve": "secp256k1",
                   "publicKey": "02" + "11" * 32},
    "status": "Active",
    "tags": ["a"],
    "dateCreated": "2026-11-25T12:00:00.000Z",
}  # fmt: skip
SIGNATURE = {
    "id": "sig-1",
    "keyId": "key-1",
    "walletId": "wa-1",
    "network": "Ethereum",
    "status": "Signed",
    "requestBody": {},
    "signature": {"r": "0x01", "s": "0x02", "recid": 0, "encoded": "0x" + "00" * 65},
    "signedData": "0xf86c",
    "dateRequested": "2026-11-25T12:00:00.000Z",
}


def recording(answer: Any) -> tuple[Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer(request) if callable(answer) else answer)

    return Client(BASE, token="t", transport=httpx.MockTransport(handler)), seen


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


# -- request encoding -----------------------------------------------------------------------
def test_wallet_requests() -> None:
    client, seen = recording(WALLET)
    wallet = client.wallets.create("Ethereum", name="n", external_id="e", tags=["a"])
    assert isinstance(wallet, Wallet) and wallet.signing_key.public_key_bytes[0] == 2
    client.wallets.create("Ethereum", signing_key_id="key-1")
    client.wallets.create("Bitcoin", scheme="Schnorr", curve="secp256k1")
    client.wallets.get("wa-1")
    client.wallets.update("wa-1", name="x")
    client.wallets.update("wa-1", external_id="e2")
    client.wallets.update("wa-1", name=None, external_id=None)
    client.wallets.create("Bitcoin", scheme="Schnorr")
    client.wallets.add_tags("wa-1", ["b"])
    client.wallets.remove_tags("wa-1", ["a"])
    got = [(r.method, r.url.path, body_of(r) if r.content else None) for r in seen]
    assert got == [
        ("POST", "/wallets", {"network": "Ethereum", "name": "n", "externalId": "e",
                              "tags": ["a"]}),
        ("POST", "/wallets", {"network": "Ethereum", "signingKey": {"id": "key-1"}}),
        ("POST", "/wallets", {"network": "Bitcoin",
                              "signingKey": {"scheme": "Schnorr", "curve": "secp256k1"}}),
        ("GET", "/wallets/wa-1", None),
        ("PUT", "/wallets/wa-1", {"name": "x"}),
        ("PUT", "/wallets/wa-1", {"externalId": "e2"}),
        ("PUT", "/wallets/wa-1", {"name": None, "externalId": None}),
        ("POST", "/wallets", {"network": "Bitcoin", "signingKey": {"scheme": "Schnorr"}}),
        ("PUT", "/wallets/wa-1/tags", {"tags": ["b"]}),
        ("DELETE", "/wallets/wa-1/tags", {"tags": ["a"]}),
    ]  # fmt: skip
    with pytest.raises(InvalidArgument):
        client.wallets.create("Ethereum", signing_key_id="key-1", scheme="ECDSA")
    with pytest.raises(InvalidArgument):
        client.wallets.create("Ethereum", curve="secp256k1")
    with pytest.raises(InvalidArgument):
        client.wallets.add_tags("wa-1", "notalist")  # type: ignore[arg-type]


def test_wallet_list_and_iter() -> None:
    def answer(request: httpx.Request) -> Any:
        if request.url.params.get("paginationToken") == "p2":
            return {"items": [{**WALLET, "id": "wa-2"}]}
        return {"items": [WALLET], "nextPageToken": "p2"}

    client, seen = recording(answer)
    page = client.wallets.list(limit=1)
    assert [w.id for w in page.items] == ["wa-1"] and page.next_page_token == "p2"
    assert [w.id for w in client.wallets.iter_all()] == ["wa-1", "wa-2"]
    assert seen[0].url.params["limit"] == "1"


def test_networks_list() -> None:
    client, _ = recording(
        {
            "items": [
                {
                    "network": "Ethereum",
                    "family": "EVM",
                    "chainId": 1,
                    "allowedSchemes": [{"scheme": "ECDSA", "curve": "secp256k1"}],
                    "defaultScheme": {"scheme": "ECDSA", "curve": "secp256k1"},
                }
            ]
        }
    )
    (net,) = client.networks.list()
    assert (net.network, net.chain_id, net.default_scheme.scheme) == ("Ethereum", 1, "ECDSA")


def test_sign_kinds_encoding() -> None:
    client, seen = recording(SIGNATURE)
    sig = client.wallets.sign_transaction("wa-1", b"\x01\x02", external_id="x")
    assert sig.signed_data == "0xf86c" and sig.wallet_id == "wa-1"
    client.wallets.sign_transaction("wa-1", "0xABCD")
    client.wallets.sign_psbt("wa-1", b"psbt\xff")
    client.wallets.sign_psbt("wa-1", "cHNidP8=")
    typed = {"types": {}, "domain": {}, "primaryType": "EIP712Domain", "message": {}}
    client.wallets.sign_typed_data("wa-1", typed)
    client.wallets.sign("wa-1", kind="Bip322", message=b"hi")
    client.keys.sign("key-1", message=b"hi", kind="Eip191")
    client.keys.sign("key-1", transaction=b"\x02", network="Base")
    client.keys.sign("key-1", hash=bytes(32))  # unchanged positional behaviour
    client.keys.sign("key-1", None, b"m")
    bodies = [body_of(r) for r in seen]
    assert [r.url.path for r in seen[:6]] == ["/wallets/wa-1/signatures"] * 6
    assert bodies == [
        {"kind": "Transaction", "transaction": "0x0102", "externalId": "x"},
        {"kind": "Transaction", "transaction": "0xabcd"},
        {"kind": "Psbt", "psbt": base64.b64encode(b"psbt\xff").decode()},
        {"kind": "Psbt", "psbt": "cHNidP8="},
        {"kind": "Eip712", **typed},
        {"kind": "Bip322", "message": "0x" + b"hi".hex()},
        {"kind": "Eip191", "message": "0x" + b"hi".hex()},
        {"kind": "Transaction", "transaction": "0x02", "network": "Base"},
        {"kind": "Hash", "hash": "0x" + "00" * 32},
        {"kind": "Message", "message": "0x6d"},
    ]
    for bad in (
        {"hash": bytes(32), "message": b"x"},
        {},
        {"kind": "Eip712", "message": b"x"},
        {"kind": "Nope", "message": b"x"},
        {"typed_data": {"types": {}}},
        {"transaction": "0xzz"},
    ):
        with pytest.raises(InvalidArgument):
            client.keys.sign("key-1", **bad)


# -- against the embedded vault ---------------------------------------------------------------
@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundVault]:
    with BackgroundVault(
        tmp_path_factory.mktemp("vault"), os.urandom(32), ecdsa_primes="off"
    ) as vault:
        yield vault


@pytest.fixture
def client(live: BackgroundVault) -> Iterator[Client]:
    with Client.from_credentials_file(live.credentials) as c:
        yield c


def test_imported_solana_keypair_wallet_signs_transactions(client: Client) -> None:
    kp = Keypair()
    key = client.keys.import_key(bytes(kp), curve="ed25519", protocol="FROST", min_signers=2)
    wallet = client.wallets.create("Solana", signing_key_id=key.id, name="sol", tags=["t"])
    assert wallet.address == str(kp.pubkey())
    assert client.wallets.get(wallet.id) == wallet
    payer = kp.pubkey()
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=Pubkey(bytes([3] * 32)), lamports=9))
    msg = Message.new_with_blockhash([ix], payer, Hash(bytes([1] * 32)))
    sig = client.wallets.sign_transaction(wallet.id, bytes(SolTx.new_unsigned(msg)))
    assert sig.status == "Signed" and sig.signed_data is not None
    signed = SolTx.from_bytes(bytes.fromhex(sig.signed_data[2:]))
    assert signed.verify_with_results() == [True]
    assert client.wallets.add_tags(wallet.id, ["u"]).tags == ["t", "u"]
    assert client.wallets.remove_tags(wallet.id, ["t"]).tags == ["u"]
    assert client.wallets.update(wallet.id, name="renamed").name == "renamed"
    updated = client.wallets.update(wallet.id, external_id="sol-1")
    assert (updated.name, updated.external_id) == ("renamed", "sol-1")
    assert client.keys.get(key.id).wallets == [KeyWallet(id=wallet.id, network="Solana")]
    assert sig.requester is not None and sig.requester.token_id
    assert sig.date_policy_resolved == sig.date_requested
    assert wallet.id in {w.id for w in client.wallets.iter_all()}
    assert {n.network for n in client.networks.list()} >= {"Solana", "Bitcoin", "Ethereum"}


def test_taproot_wallet_signs_a_psbt(client: Client) -> None:
    wallet = client.wallets.create("BitcoinRegtest", scheme="Schnorr", curve="secp256k1")
    pub = EPublicKey.parse(wallet.signing_key.public_key_bytes)
    spk = escript.p2tr(pub)
    tx = ETx(vin=[TransactionInput(os.urandom(32), 0)], vout=[TransactionOutput(9_000, spk)])
    psbt = PSBT(tx)
    psbt.inputs[0].witness_utxo = TransactionOutput(10_000, spk)
    sig = client.wallets.sign_psbt(wallet.id, psbt.serialize())
    assert sig.signed_inputs == [0] and sig.skipped_inputs == []
    assert sig.signed_data is not None
    signed = PSBT.from_string(sig.signed_data.removeprefix("0x"))
    pin = signed.inputs[0]
    schnorr = getattr(pin, "taproot_key_sig", None) or pin.unknown[b"\x13"]
    digest = signed.tx.sighash_taproot(0, [spk], [10_000], sighash=0)
    assert coincurve.PublicKeyXOnly(spk.data[2:]).verify(schnorr, digest)


def test_errors_surface_with_codes(client: Client) -> None:
    wallet = client.wallets.create("Solana")
    with pytest.raises(ShardvaultApiError) as info:
        client.wallets.sign_transaction(wallet.id, b"\x01\x02")
    assert info.value.code == "InvalidTransaction" and info.value.status_code == 400
    with pytest.raises(ShardvaultApiError) as info:
        client.wallets.create("Ethereum", scheme="EdDSA", curve="ed25519")
    assert info.value.code == "SchemeNotSupportedByNetwork"
    with pytest.raises(ShardvaultApiError) as info:
        client.wallets.get("wa-nope")
    assert info.value.code == "WalletNotFound"
