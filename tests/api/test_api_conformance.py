"""Dfns wire conformance on the FakeVault: the request fields Dfns clients send
(``blockchainKind``, ``signingKey {scheme}``, wallet ``externalId`` updates,
``delayDelegation``) and the unsupported ones refused by name; signature kinds as Dfns
defines them (``Hash`` on EdDSA keys, ``Message`` on EVM is EIP-191, PSBT
``signedData`` 0x-hex); the response fields (``requester``, ``datePolicyResolved``,
key ``wallets``, error ``status``); the OpenAPI document; pagination on every list;
per-token rate limits; idempotency under 50 parallel requests.

Every signature is checked with an independent library: PyNaCl (Ed25519),
eth-account (EVM), embit + coincurve (PSBT)."""

from __future__ import annotations

import base64
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import coincurve
import httpx
import pytest
from apibackends import ContractApi
from apihelpers import BASE_URL, Api, AsyncApi, FakeVault, error_of, verify_ecdsa_signature
from embit import script as escript
from embit.ec import PublicKey as EPublicKey
from embit.psbt import PSBT
from eth_account import Account
from eth_account.messages import encode_defunct
from evmhelpers import eip1559_unsigned
from fastapi.testclient import TestClient
from nacl.signing import VerifyKey
from wallethelpers import create_wallet, psbt_for

from shardvault.api import create_app, create_org, ensure_admin
from shardvault.api.rate_limit import TokenBuckets
from shardvault.api.settings import ApiSettings


def _h(data: bytes) -> str:
    return "0x" + data.hex()


def _sig_bytes(out: dict[str, Any]) -> bytes:
    return bytes.fromhex(out["signature"]["encoded"][2:])


# -- request fields -----------------------------------------------------------------------
def test_hash_on_eddsa_key_signs_the_32_bytes(api: Api) -> None:
    key = api.create_key("EdDSA", "ed25519")
    digest = os.urandom(32)
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Hash", "hash": _h(digest)})
    assert r.status_code == 200, r.text
    VerifyKey(bytes.fromhex(key["publicKey"])).verify(digest, _sig_bytes(r.json()))
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Hash", "hash": _h(digest[:31])})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidEncoding"


def test_message_on_evm_is_eip191(api: Api) -> None:
    w = create_wallet(api, "Ethereum")
    text = b"I love Dfns"
    r = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Message", "message": _h(text)})
    assert r.status_code == 200, r.text
    signable = encode_defunct(primitive=text)
    assert Account.recover_message(signable, signature=_sig_bytes(r.json())) == w["address"]
    # the key endpoint with blockchainKind Evm (the Dfns docs' own example body)
    r = api.post(
        f"/keys/{w['signingKey']['id']}/signatures",
        {"blockchainKind": "Evm", "kind": "Message", "message": "0x49206c6f76652044666e73"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["requestBody"]["blockchainKind"] == "Evm"
    assert Account.recover_message(signable, signature=_sig_bytes(r.json())) == w["address"]
    # without a chain, an ECDSA key still signs only hashes
    r = api.post(
        f"/keys/{w['signingKey']['id']}/signatures", {"kind": "Message", "message": "0x00"}
    )
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidSignatureKind"


def test_evm_transaction_by_blockchain_kind_takes_the_chain_from_the_transaction(
    api: Api,
) -> None:
    w = create_wallet(api, "Base")
    path = f"/keys/{w['signingKey']['id']}/signatures"
    raw, _tx = eip1559_unsigned(8453)
    r = api.post(path, {"blockchainKind": "Evm", "kind": "Transaction", "transaction": _h(raw)})
    assert r.status_code == 200, r.text
    signed = bytes.fromhex(r.json()["signedData"][2:])
    assert Account.recover_transaction(signed) == w["address"]
    unknown, _ = eip1559_unsigned(999_999)
    calls = api.vault.calls["sign"]
    r = api.post(path, {"blockchainKind": "Evm", "kind": "Transaction", "transaction": _h(unknown)})
    assert r.status_code == 400 and error_of(r)["code"] == "NetworkRequired"
    assert api.vault.calls["sign"] == calls


def test_blockchain_kind_solana_message_and_mismatches(api: Api) -> None:
    key = api.create_key("EdDSA", "ed25519")
    path = f"/keys/{key['id']}/signatures"
    body = b"hello"
    r = api.post(path, {"blockchainKind": "Solana", "kind": "Message", "message": _h(body)})
    assert r.status_code == 200, r.text
    expected = b"\xffsolana offchain" + bytes([0, 0]) + len(body).to_bytes(2, "little") + body
    VerifyKey(bytes.fromhex(key["publicKey"])).verify(expected, _sig_bytes(r.json()))
    # Hash is the same on every chain: any blockchainKind is accepted and recorded
    digest = os.urandom(32)
    r = api.post(path, {"blockchainKind": "Aptos", "kind": "Hash", "hash": _h(digest)})
    assert r.status_code == 200, r.text
    assert r.json()["requestBody"]["blockchainKind"] == "Aptos"
    VerifyKey(bytes.fromhex(key["publicKey"])).verify(digest, _sig_bytes(r.json()))
    calls = api.vault.calls["sign"]
    r = api.post(path, {"blockchainKind": "Aptos", "kind": "Message", "message": "0x00"})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "UnsupportedFeature" and err["details"]["field"] == "blockchainKind"
    sol = create_wallet(api, "Solana")
    r = api.post(
        f"/wallets/{sol['id']}/signatures",
        {"blockchainKind": "Evm", "kind": "Message", "message": "0x00"},
    )
    assert r.status_code == 400 and error_of(r)["code"] == "BlockchainKindMismatch"
    r = api.post(path, {"blockchainKind": "Evm", "kind": "Message", "message": "0x00"})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidSignatureKind"
    r = api.post(path, {"blockchainKind": "Ethereum", "kind": "Message", "message": "0x00"})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidRequest"
    assert api.vault.calls["sign"] == calls


def test_psbt_signed_data_is_0x_hex(api: Api) -> None:
    w = create_wallet(api, "BitcoinTestnet3")
    pub = EPublicKey.parse(bytes.fromhex(w["signingKey"]["publicKey"]))
    psbt, values = psbt_for(escript.p2wpkh(pub), escript.p2tr(pub))
    r = api.post(
        f"/wallets/{w['id']}/signatures",
        {"blockchainKind": "Bitcoin", "kind": "Psbt", "psbt": _h(psbt.serialize())},
    )
    assert r.status_code == 200, r.text
    signed_data = r.json()["signedData"]
    assert signed_data.startswith("0x70736274ff")  # "psbt" 0xff, hex, as Dfns answers
    signed = PSBT.parse(bytes.fromhex(signed_data[2:]))
    assert r.json()["signedInputs"] == [0]
    sig = signed.inputs[0].partial_sigs[pub]
    digest = signed.tx.sighash_segwit(0, escript.p2pkh(pub), values[0], sighash=1)
    assert coincurve.PublicKey(pub.sec()).verify(sig[:-1], digest, hasher=None)
    # Dfns's per-input signatures list: the same signature, DER-encoded
    (value,) = r.json()["signatures"]
    verify_ecdsa_signature(pub.sec(), digest, value)
    assert bytes.fromhex(value["encoded"][2:]) == sig[:-1]


@pytest.mark.parametrize(
    ("network", "scheme", "curve"),
    [("Solana", "EdDSA", "ed25519"), ("Ethereum", "ECDSA", "secp256k1"),
     ("Bitcoin", "Schnorr", "secp256k1")],
)  # fmt: skip
def test_signing_key_scheme_without_curve_takes_the_default(
    api: Api, network: str, scheme: str, curve: str
) -> None:
    w = create_wallet(api, network, signingKey={"scheme": scheme})
    assert (w["signingKey"]["scheme"], w["signingKey"]["curve"]) == (scheme, curve)
    if scheme == "Schnorr":
        assert w["address"].startswith("bc1p")  # a Taproot wallet
    r = api.post("/wallets", {"network": network, "signingKey": {"scheme": "DH"}})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidRequest"
    assert "default curve" in error_of(r)["message"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"masterKey": True}, "masterKey"),
        ({"deriveFrom": {"keyId": "key-1"}}, "deriveFrom"),
        ({"storeId": "ks-1"}, "storeId"),
        ({"delegateTo": "us-1"}, "delegateTo"),
    ],
)
def test_create_key_unsupported_features_are_named(
    api: Api, extra: dict[str, Any], field: str
) -> None:
    r = api.post("/keys", {"scheme": "EdDSA", "curve": "ed25519", **extra})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "UnsupportedFeature"
    assert err["details"]["field"] == field and field in err["message"]
    assert api.vault.calls.get("generate_key", 0) == 0


def test_create_key_accepts_dfns_defaults(api: Api) -> None:
    key = api.create_key("EdDSA", "ed25519", masterKey=False, delayDelegation=True)
    assert key["custodial"] is True


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"delegateTo": "us-1"}, "delegateTo"),
        ({"signingKey": {"deriveFrom": {"keyId": "key-1"}}}, "signingKey.deriveFrom"),
        ({"signingKey": {"scheme": "ECDSA", "storeId": "ks-1"}}, "signingKey.storeId"),
        ({"signingKey": {"scheme": "ECDSA", "masterKey": True}}, "signingKey.masterKey"),
    ],
)
def test_create_wallet_unsupported_features_are_named(
    api: Api, extra: dict[str, Any], field: str
) -> None:
    r = api.post("/wallets", {"network": "Ethereum", **extra})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "UnsupportedFeature" and err["details"]["field"] == field
    assert api.get("/wallets").json()["items"] == []


def test_create_wallet_accepts_delay_delegation(api: Api) -> None:
    w = create_wallet(api, "Ethereum", delayDelegation=True)
    assert w["custodial"] is True


def test_import_master_key_is_unsupported(api: Api) -> None:
    body = {
        "curve": "ed25519",
        "protocol": "FROST",
        "minSigners": 2,
        "encryptedKeyShares": [{"signerId": "s", "encryptedKeyShare": "AA"}],
        "importId": "AA",
        "masterKey": True,
    }
    r = api.post("/keys/import", body)
    assert r.status_code == 400 and error_of(r)["code"] == "UnsupportedFeature"


def test_wallet_update_external_id_and_name(api: Api) -> None:
    a = create_wallet(api, "Ethereum", name="a")
    b = create_wallet(api, "Base")
    r = api.put(f"/wallets/{a['id']}", {"externalId": "ext-a"})
    assert r.status_code == 200, r.text
    assert r.json()["externalId"] == "ext-a" and r.json()["name"] == "a"
    assert api.get(f"/wallets/{a['id']}").json()["externalId"] == "ext-a"
    r = api.put(f"/wallets/{b['id']}", {"externalId": "ext-a"})
    assert r.status_code == 409 and error_of(r)["code"] == "ExternalIdConflict"
    assert "externalId" not in api.get(f"/wallets/{b['id']}").json()
    r = api.put(f"/wallets/{a['id']}", {"name": None, "externalId": None})
    assert r.status_code == 200
    assert "name" not in r.json() and "externalId" not in r.json()
    r = api.put(f"/wallets/{b['id']}", {"externalId": "ext-a", "name": "b"})
    assert r.json()["externalId"] == "ext-a" and r.json()["name"] == "b"
    r = api.put(f"/wallets/{b['id']}", {"color": "red"})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidRequest"


@pytest.mark.parametrize(
    ("path", "param"),
    [("/keys", "owner"), ("/wallets", "owner"), ("/wallets", "ownerId"),
     ("/wallets", "ownerUsername")],
)  # fmt: skip
def test_owner_filters_are_refused(api: Api, path: str, param: str) -> None:
    r = api.get(path, params={param: "us-1"})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "UnsupportedFeature" and err["details"]["field"] == param


def _all_pages(api: Api, path: str) -> list[str]:
    ids: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if token is not None:
            params["paginationToken"] = token
        r = api.get(path, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        ids += [item["id"] for item in page["items"]]
        pages += 1
        token = page.get("nextPageToken")
        if token is None:
            return ids if pages > 1 else []


def test_pagination_token_on_every_list(api: Api) -> None:
    keys = [api.create_key()["id"] for _ in range(2)]
    wallets = [create_wallet(api, "Solana")["id"] for _ in range(3)]
    sigs = [
        api.post(f"/keys/{keys[0]}/signatures", {"kind": "Message", "message": _h(bytes([i]))})
        .json()["id"]
        for i in range(5)
    ]  # fmt: skip
    wallet_path = f"/wallets/{wallets[0]}/signatures"
    wallet_sigs = [
        api.post(wallet_path, {"kind": "Message", "message": _h(bytes([i]))}).json()["id"]
        for i in range(3)
    ]
    all_keys = {k["id"] for k in api.get("/keys").json()["items"]}
    assert len(all_keys) == 5
    lists = {
        "/keys": sorted(all_keys),
        "/wallets": sorted(wallets),
        f"/keys/{keys[0]}/signatures": sorted(sigs),
        f"/wallets/{wallets[0]}/signatures": sorted(wallet_sigs),
    }
    for path, expected in lists.items():
        assert sorted(_all_pages(api, path)) == expected, path
        r = api.get(path, params={"paginationToken": "bm9wZQ"})
        assert r.status_code == 400 and error_of(r)["code"] == "InvalidPaginationToken"
        r = api.get(path, params={"paginationtoken": "x"})
        assert r.status_code == 400, path
        err = error_of(r)
        assert err["code"] == "InvalidRequest" and err["details"]["field"] == "paginationtoken"
        # the Python SDK's TypedDicts spell it pagination_token: named, not ignored
        r = api.get(path, params={"pagination_token": "x"})
        assert r.status_code == 400 and "paginationToken" in error_of(r)["message"]


def test_single_page_lists_refuse_paging(api: Api) -> None:
    """``GET /networks`` and ``GET /admin/refresh`` answer every item at once: a
    paginationToken there is refused, not ignored."""
    for path in ("/networks", "/admin/refresh"):
        assert api.get(path).status_code == 200
        for param in ("paginationToken", "limit", "owner"):
            r = api.get(path, params={param: "1"})
            assert r.status_code == 400, (path, param)
            assert error_of(r)["details"]["field"] == param


def test_wallet_signatures_read_back(api: Api) -> None:
    w = create_wallet(api, "Solana")
    other = create_wallet(api, "Solana", signingKey={"id": w["signingKey"]["id"]})
    sig = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Message", "message": "0x01"})
    out = sig.json()
    assert api.get(f"/wallets/{w['id']}/signatures/{out['id']}").json() == out
    r = api.get(f"/wallets/{other['id']}/signatures/{out['id']}")
    assert r.status_code == 404
    assert api.get(f"/wallets/{other['id']}/signatures").json()["items"] == []
    # the key's list holds it too; a signature through the key holds no wallet
    api.post(f"/keys/{w['signingKey']['id']}/signatures", {"kind": "Message", "message": "0x02"})
    assert len(api.get(f"/keys/{w['signingKey']['id']}/signatures").json()["items"]) == 2
    assert len(api.get(f"/wallets/{w['id']}/signatures").json()["items"]) == 1
    r = api.get("/wallets/wa-nope/signatures")
    assert r.status_code == 404


# -- responses ------------------------------------------------------------------------------
def test_signature_carries_requester_and_policy_dates(api: Api) -> None:
    principal = api.app.state.repository.principal(api.token)
    key = api.create_key()
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"})
    out = r.json()
    assert out["requester"] == {
        "userId": principal.service_account_id,
        "tokenId": principal.token_id,
    }
    assert out["status"] == "Signed"
    assert "approvalId" not in out
    assert out["datePolicyResolved"] == out["dateRequested"] and out["dateSigned"]
    again = api.get(f"/keys/{key['id']}/signatures/{out['id']}").json()
    assert again == out
    (listed,) = api.get(f"/keys/{key['id']}/signatures").json()["items"]
    assert listed["requester"] == out["requester"]
    w = create_wallet(api, "Solana", signingKey={"id": key["id"]})
    r = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Message", "message": "0x02"})
    assert r.json()["requester"]["userId"] == principal.service_account_id


def test_get_key_lists_its_wallets(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    assert api.get(f"/keys/{key['id']}").json()["wallets"] == []
    eth = create_wallet(api, "Ethereum", signingKey={"id": key["id"]})
    base = create_wallet(api, "Base", signingKey={"id": key["id"]})
    create_wallet(api, "Ethereum")  # another key's
    wallets = api.get(f"/keys/{key['id']}").json()["wallets"]
    assert sorted(wallets, key=lambda w: w["network"]) == [
        {"id": base["id"], "network": "Base"},
        {"id": eth["id"], "network": "Ethereum"},
    ]
    assert all("wallets" not in k for k in api.get("/keys").json()["items"])


def test_error_objects_carry_the_http_status(api: Api) -> None:
    for r in (
        api.get("/keys/key-nope"),
        api.post("/keys", {"scheme": 5}),
        api.client.get("/keys"),
        api.get("/no/such/route"),
    ):
        assert r.json()["error"]["status"] == r.status_code >= 400


def test_openapi_documents_only_the_errors_sent(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    text = json.dumps(spec)
    assert "HTTPValidationError" not in text and '"422"' not in text
    assert "ValidationError" not in spec["components"]["schemas"]
    operations = [op for ops in spec["paths"].values() for op in ops.values()]
    for op in operations:
        if "requestBody" in op or op.get("parameters"):
            assert "400" in op["responses"], op["operationId"]
    error_body = spec["components"]["schemas"]["ErrorBody"]
    assert {"code", "message", "status"} <= set(error_body["required"])
    signature = spec["components"]["schemas"]["SignatureOut"]["properties"]
    assert {"requester", "approvalId", "datePolicyResolved", "dateSigned"} <= set(signature)


# -- rate limits ---------------------------------------------------------------------------
def test_token_bucket_refills_at_the_rate() -> None:
    now = [100.0]
    buckets = TokenBuckets(2.0, 3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # another token has its own bucket
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    now[0] += 10
    assert [buckets.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "kw", [{"rate_limit_per_second": -1.0}, {"rate_limit_per_second": float("inf")},
           {"rate_limit_burst": -1}],
)  # fmt: skip
def test_rate_limit_settings_are_checked(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        ApiSettings(**kw)


def test_rate_limit_is_off_by_default() -> None:
    assert ApiSettings().rate_limit_per_second == 0
    assert ApiSettings(rate_limit_per_second=2.5).effective_rate_limit_burst == 3


def test_rate_limited_token_gets_429_with_retry_after(
    vault: FakeVault, database_url: str, tmp_path: Path
) -> None:
    creds = json.loads(ensure_admin(database_url, tmp_path / "d", BASE_URL).read_text())
    other_token = create_org(database_url, "other").token
    app = create_app(vault, database_url, rate_limit_per_second=0.01, rate_limit_burst=2)
    auth = {"Authorization": f"Bearer {creds['token']}"}
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/keys", headers=auth).status_code == 200
        assert c.post("/keys", json={"scheme": "EdDSA", "curve": "ed25519"}, headers=auth)
        r = c.get("/keys", headers=auth)
        assert r.status_code == 429
        err = error_of(r)
        assert err["code"] == "RateLimited"
        assert int(r.headers["Retry-After"]) == err["details"]["retryAfterSeconds"] >= 1
        # another token, the public health check and unauthenticated callers are not
        # counted against this one
        assert c.get("/keys", headers={"Authorization": f"Bearer {other_token}"}).is_success
        assert c.get("/health").status_code == 200
        assert c.get("/keys").status_code == 401
        assert c.get("/keys", headers=auth).status_code == 429


# -- idempotency under load -----------------------------------------------------------------
async def _new_eddsa_key(async_api: AsyncApi) -> dict[str, Any]:
    r = await async_api.client.post(
        "/keys", json={"scheme": "EdDSA", "curve": "ed25519"}, headers=async_api.auth
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.anyio
async def test_50_parallel_distinct_external_ids_sign_50_times(async_api: AsyncApi) -> None:
    key = await _new_eddsa_key(async_api)
    verify = VerifyKey(bytes.fromhex(key["publicKey"]))
    path = f"/keys/{key['id']}/signatures"
    async_api.vault.sign_delay = 0.01
    messages = [os.urandom(16) for _ in range(50)]
    answers: dict[int, httpx.Response] = {}

    async def one(i: int) -> None:
        body = {"kind": "Message", "message": _h(messages[i]), "externalId": f"ext-{i}"}
        answers[i] = await async_api.client.post(path, json=body, headers=async_api.auth)

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(one, i)
    assert async_api.vault.calls["sign"] == 50
    ids = set()
    for i, r in answers.items():
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["status"] == "Signed" and out["externalId"] == f"ext-{i}"
        verify.verify(messages[i], _sig_bytes(out))
        ids.add(out["id"])
    assert len(ids) == 50


@pytest.mark.anyio
async def test_50_parallel_same_external_id_sign_once(async_api: AsyncApi) -> None:
    key = await _new_eddsa_key(async_api)
    verify = VerifyKey(bytes.fromhex(key["publicKey"]))
    path = f"/keys/{key['id']}/signatures"
    async_api.vault.sign_delay = 0.05
    message = os.urandom(16)
    body = {"kind": "Message", "message": _h(message), "externalId": "once"}
    answers: list[httpx.Response] = []

    async def one() -> None:
        answers.append(await async_api.client.post(path, json=body, headers=async_api.auth))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(one)
    assert async_api.vault.calls["sign"] == 1
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers][:3]
    outs = [r.json() for r in answers]
    assert len({o["id"] for o in outs}) == 1 and all(o == outs[0] for o in outs)
    verify.verify(message, _sig_bytes(outs[0]))
    # a different body under the same externalId: 409, nothing signed
    other = {**body, "message": _h(message + b"!")}
    r = await async_api.client.post(path, json=other, headers=async_api.auth)
    assert r.status_code == 409 and error_of(r)["code"] == "ExternalIdConflict"
    assert error_of(r)["details"]["signatureId"] == outs[0]["id"]
    assert error_of(r)["details"]["duplicate"] == {"id": outs[0]["id"], "externalId": "once"}
    assert async_api.vault.calls["sign"] == 1
    listing = await async_api.client.get(path, headers=async_api.auth)
    assert [s["id"] for s in listing.json()["items"]] == [outs[0]["id"]]


@pytest.mark.anyio
async def test_parallel_wallets_with_one_external_id_make_one_wallet(
    async_api: AsyncApi,
) -> None:
    body = {"network": "Solana", "externalId": "w-once", "name": "w"}
    answers: list[httpx.Response] = []

    async def one() -> None:
        answers.append(await async_api.client.post("/wallets", json=body, headers=async_api.auth))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(one)
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers][:3]
    assert len({r.json()["id"] for r in answers}) == 1
    r = await async_api.client.post(
        "/wallets", json={**body, "name": "other"}, headers=async_api.auth
    )
    assert r.status_code == 409 and error_of(r)["code"] == "ExternalIdConflict"
    wallet_id = answers[0].json()["id"]
    assert error_of(r)["details"]["duplicate"] == {"id": wallet_id, "externalId": "w-once"}
    listing = await async_api.client.get("/wallets", headers=async_api.auth)
    assert len(listing.json()["items"]) == 1
    # the keys of the wallets that lost the race were discarded
    keys = await async_api.client.get("/keys", headers=async_api.auth)
    assert len(keys.json()["items"]) == 1


def test_b64_psbt_input_still_signs(api: Api) -> None:
    """Clients that send a base64 PSBT (BIP 174's text form) get 0x-hex back too."""
    w = create_wallet(api, "BitcoinTestnet3")
    pub = EPublicKey.parse(bytes.fromhex(w["signingKey"]["publicKey"]))
    psbt, _ = psbt_for(escript.p2wpkh(pub), escript.p2tr(pub))
    b64 = base64.b64encode(psbt.serialize()).decode()
    r = api.post(f"/wallets/{w['id']}/signatures", {"kind": "Psbt", "psbt": b64})
    assert r.status_code == 200, r.text
    assert r.json()["signedData"].startswith("0x70736274ff")


def test_parallel_external_ids_over_both_back_ends(any_api: ContractApi) -> None:
    """The same two races over the real signers too (threads through the test
    client): 50 distinct externalIds sign 50 times, 50 copies of one sign once."""
    key = any_api.create_key("EdDSA", "ed25519")
    verify = VerifyKey(bytes.fromhex(key["publicKey"]))
    path = f"/keys/{key['id']}/signatures"
    messages = [os.urandom(16) for _ in range(50)]

    def distinct(i: int) -> httpx.Response:
        body = {"kind": "Message", "message": _h(messages[i]), "externalId": f"d-{i}"}
        return any_api.post(path, body)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(distinct, range(50)))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers][:3]
    for i, r in enumerate(answers):
        verify.verify(messages[i], _sig_bytes(r.json()))
    assert len({r.json()["id"] for r in answers}) == 50
    assert any_api.backend.calls["sign"] == 50

    once = {"kind": "Message", "message": _h(messages[0] + b"!"), "externalId": "same"}
    with ThreadPoolExecutor(max_workers=16) as pool:
        copies = list(pool.map(lambda _i: any_api.post(path, once), range(50)))
    assert all(r.status_code == 200 for r in copies), [r.text for r in copies][:3]
    assert len({r.json()["id"] for r in copies}) == 1
    verify.verify(messages[0] + b"!", _sig_bytes(copies[0].json()))
    assert any_api.backend.calls["sign"] == 51
