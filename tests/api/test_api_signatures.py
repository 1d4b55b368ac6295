"""Signatures on the FakeVault only: request validation before the back end, the
idempotent externalId under concurrency (the fake's adjustable signing delay) and
faults the fake injects. Behaviour both back ends share:
test_api_contract_signatures.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import httpx
import pytest
from apihelpers import BASE_URL, Api, AsyncApi, FakeVault, error_of

from shardvault.api import create_app, ensure_admin
from shardvault.errors import InvalidParameters, SignerMisbehaved, SignersUnavailable


def _h(data: bytes) -> str:
    return "0x" + data.hex()


@pytest.mark.parametrize(
    "value",
    ["11" * 32, "0x" + "11" * 31, "0x" + "11" * 33, "0x" + "1" * 63, "0x" + "zz" * 32, "0x"],
)
def test_bad_hash_encoding(api: Api, value: str) -> None:
    key = api.create_key("Schnorr", "secp256k1")
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Hash", "hash": value})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "InvalidEncoding"
    assert err["details"] == {"field": "hash"}


@pytest.mark.parametrize(
    "value", ["0x", "0x" + "ab" * 31, "ab" * 32, "0x" + "ab" * 33, " ", "0xgg"]
)
def test_bad_taproot_merkle_root(api: Api, value: str) -> None:
    key = api.create_key("Schnorr", "secp256k1")
    r = api.post(
        f"/keys/{key['id']}/signatures",
        {"kind": "Hash", "hash": _h(bytes(32)), "taprootMerkleRoot": value},
    )
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "InvalidEncoding"
    assert err["details"] == {"field": "taprootMerkleRoot"}
    assert api.vault.calls.get("sign", 0) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "Message"},
        {"kind": "Message", "message": "0x00", "hash": "0x" + "00" * 32},
        {"kind": "Message", "message": "0x00", "taprootMerkleRoot": ""},
        {"kind": "Transaction", "message": "0x00"},
        {"message": "0x00"},
        {"kind": "Message", "message": 5},
        {"kind": "Message", "message": "0x00", "externalId": ""},
        {"kind": "Message", "message": "0x00", "taprootMerkelRoot": ""},
    ],
)
def test_malformed_signature_requests(api: Api, body: dict[str, object]) -> None:
    key = api.create_key()
    r = api.post(f"/keys/{key['id']}/signatures", body)
    assert r.status_code == 400
    assert error_of(r)["code"] == "InvalidRequest"


def test_bad_message_hex(api: Api) -> None:
    key = api.create_key()
    for value in ("0x0", "hello", "0xzz"):
        r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": value})
        assert error_of(r) == {
            "code": "InvalidEncoding",
            "message": error_of(r)["message"],
            "details": {"field": "message"},
        }


# -- idempotency ------------------------------------------------------------------------
@pytest.mark.anyio
async def test_concurrent_duplicates_sign_once(async_api: AsyncApi) -> None:
    client, vault = async_api.client, async_api.vault
    r = await client.post(
        "/keys", json={"scheme": "Schnorr", "curve": "secp256k1"}, headers=async_api.auth
    )
    key = r.json()
    vault.sign_delay = 0.15
    body = {"kind": "Hash", "hash": _h(os.urandom(32)), "externalId": "dup"}
    results: list[dict[str, object]] = []

    async def one() -> None:
        resp = await client.post(f"/keys/{key['id']}/signatures", json=body, headers=async_api.auth)
        assert resp.status_code == 200, resp.text
        results.append(resp.json())

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(one)
    assert vault.calls["sign"] == 1
    assert len({str(r["id"]) for r in results}) == 1
    assert all(r["status"] == "Signed" for r in results)
    listing = await client.get(f"/keys/{key['id']}/signatures", headers=async_api.auth)
    assert len(listing.json()["items"]) == 1


@pytest.mark.anyio
async def test_duplicate_waiting_too_long_gets_409(
    vault: FakeVault, database_url: str, tmp_path: Path
) -> None:
    creds = json.loads(ensure_admin(database_url, tmp_path / "d", BASE_URL).read_text())
    app = create_app(vault, database_url, idempotency_wait_seconds=0.05)
    auth = {"Authorization": f"Bearer {creds['token']}"}
    vault.sign_delay = 0.3
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        r = await c.post("/keys", json={"scheme": "EdDSA", "curve": "ed25519"}, headers=auth)
        path = f"/keys/{r.json()['id']}/signatures"
        body = {"kind": "Message", "message": "0x01", "externalId": "slow"}
        answers: list[httpx.Response] = []

        async def post(delay: float) -> None:
            await anyio.sleep(delay)
            answers.append(await c.post(path, json=body, headers=auth))

        async with anyio.create_task_group() as tg:
            tg.start_soon(post, 0.0)
            tg.start_soon(post, 0.05)
    assert sorted(a.status_code for a in answers) == [200, 409]
    late = next(a for a in answers if a.status_code == 409)
    assert error_of(late)["code"] == "SignatureInProgress"
    assert vault.calls["sign"] == 1


# -- failures ---------------------------------------------------------------------------
def test_signers_unavailable_is_503_recorded_failed_and_retryable(api: Api) -> None:
    key = api.create_key()
    api.vault.fail["sign"] = SignersUnavailable(
        "only 1 of 2 needed signers answered", signers=("sgn-test2", "sgn-test3")
    )
    body = {"kind": "Message", "message": "0x0102", "externalId": "retry-me"}
    r = api.post(f"/keys/{key['id']}/signatures", body)
    assert r.status_code == 503
    err = error_of(r)
    assert err["code"] == "SignersUnavailable"
    assert err["details"]["signers"] == ["sgn-test2", "sgn-test3"]
    failed_id = err["details"]["signatureId"]
    failed = api.get(f"/keys/{key['id']}/signatures/{failed_id}").json()
    assert failed["status"] == "Failed"
    assert failed["reason"].startswith("SignersUnavailable")
    assert "signature" not in failed and "dateSigned" not in failed
    # the failure released the externalId: a retry signs (once)
    del api.vault.fail["sign"]
    ok = api.post(f"/keys/{key['id']}/signatures", body)
    assert ok.status_code == 200 and ok.json()["status"] == "Signed"
    assert ok.json()["id"] != failed_id
    assert api.post(f"/keys/{key['id']}/signatures", body).json()["id"] == ok.json()["id"]
    assert api.vault.calls["sign"] == 2
    statuses = sorted(s["status"] for s in api.get(f"/keys/{key['id']}/signatures").json()["items"])
    assert statuses == ["Failed", "Signed"]


def test_signer_misbehaved_is_502_naming_the_signer(api: Api) -> None:
    key = api.create_key()
    api.vault.fail["sign"] = SignerMisbehaved(
        "signature share failed verification", signers=("sgn-test1",), check="share"
    )
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"})
    assert r.status_code == 502
    err = error_of(r)
    assert err["code"] == "SignerMisbehaved"
    assert err["details"]["signers"] == ["sgn-test1"] and err["details"]["check"] == "share"


def test_backend_parameter_error_is_400(api: Api) -> None:
    key = api.create_key()
    api.vault.fail["sign"] = InvalidParameters("message too long for this signer")
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"})
    assert r.status_code == 400
    assert error_of(r)["code"] == "InvalidParameters"


def test_unexpected_backend_exception_is_500_and_recorded(api: Api) -> None:
    key = api.create_key()
    api.vault.fail["sign"] = RuntimeError("kaboom")
    r = api.post(
        f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01", "externalId": "e"}
    )
    assert r.status_code == 500
    assert error_of(r)["code"] == "InternalError"
    (item,) = api.get(f"/keys/{key['id']}/signatures").json()["items"]
    assert item["status"] == "Failed"
    assert "kaboom" not in item["reason"]


# -- reading signatures -----------------------------------------------------------------
