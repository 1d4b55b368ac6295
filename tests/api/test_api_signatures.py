"""Signatures: real FROST signatures verified by PyNaCl / coincurve, kinds, encodings,
Taproot tweaks, idempotent externalId (also under concurrency), failures."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import anyio
import httpx
import pytest
from apihelpers import BASE_URL, Api, AsyncApi, FakeVault, error_of, verify_bip340
from nacl.signing import VerifyKey

from shardvault.api import create_app, ensure_admin
from shardvault.errors import InvalidParameters, SignerMisbehaved, SignersUnavailable

SIG_ID = re.compile(r"sig-[0-7][0-9a-hjkmnp-tv-z]{25}")
HEX0X = re.compile(r"0x(?:[0-9a-f]{2})*")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _h(data: bytes) -> str:
    return "0x" + data.hex()


def test_eddsa_message_signature_verifies_with_pynacl(api: Api) -> None:
    key = api.create_key("EdDSA", "ed25519")
    msg = b"pay 1 SOL to alice"
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": _h(msg)})
    assert r.status_code == 200, r.text
    sig = r.json()
    assert SIG_ID.fullmatch(sig["id"])
    assert sig["keyId"] == key["id"]
    assert sig["status"] == "Signed"
    assert sig["requestBody"] == {"kind": "Message", "message": _h(msg)}
    assert ISO.fullmatch(sig["dateRequested"]) and ISO.fullmatch(sig["dateSigned"])
    assert sig["dateSigned"] >= sig["dateRequested"]
    value = sig["signature"]
    assert set(value) == {"r", "s", "encoded"}
    for field in ("r", "s", "encoded"):
        assert HEX0X.fullmatch(value[field])
    encoded = bytes.fromhex(value["encoded"][2:])
    assert len(encoded) == 64
    assert value["r"] == _h(encoded[:32]) and value["s"] == _h(encoded[32:])
    VerifyKey(bytes.fromhex(key["publicKey"])).verify(msg, encoded)
    assert api.vault.sign_log == [(key["id"], msg, None)]


def test_eddsa_empty_and_long_messages(api: Api) -> None:
    key = api.create_key()
    vk = VerifyKey(bytes.fromhex(key["publicKey"]))
    for msg in (b"", os.urandom(5000)):
        sig = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": _h(msg)})
        vk.verify(msg, bytes.fromhex(sig.json()["signature"]["encoded"][2:]))


@pytest.mark.parametrize("root_kind", ["absent", "null", "bip86", "script"])
def test_schnorr_hash_with_taproot_variants(api: Api, root_kind: str) -> None:
    key = api.create_key("Schnorr", "secp256k1")
    digest = os.urandom(32)
    body: dict[str, object] = {"kind": "Hash", "hash": _h(digest)}
    expected_root: bytes | None = None
    if root_kind == "null":
        body["taprootMerkleRoot"] = None
    elif root_kind == "bip86":
        body["taprootMerkleRoot"] = ""
        expected_root = b""
    elif root_kind == "script":
        expected_root = os.urandom(32)
        body["taprootMerkleRoot"] = _h(expected_root)
    r = api.post(f"/keys/{key['id']}/signatures", body)
    assert r.status_code == 200, r.text
    sig = r.json()
    # the back end received exactly what the request meant
    assert api.vault.sign_log == [(key["id"], digest, expected_root)]
    encoded = bytes.fromhex(sig["signature"]["encoded"][2:])
    internal = bytes.fromhex(key["publicKey"])
    assert verify_bip340(internal, digest, encoded, expected_root)
    if expected_root is not None:  # and not under the untweaked key
        assert not verify_bip340(internal, digest, encoded, None)
    echoed = sig["requestBody"]
    if expected_root is None:
        assert "taprootMerkleRoot" not in echoed
    else:
        assert echoed["taprootMerkleRoot"] == ("" if expected_root == b"" else _h(expected_root))


def test_uppercase_hex_is_accepted_and_normalised(api: Api) -> None:
    key = api.create_key("Schnorr", "secp256k1")
    digest = bytes(range(32))
    root = bytes(range(32, 64))
    r = api.post(
        f"/keys/{key['id']}/signatures",
        {
            "kind": "Hash",
            "hash": "0x" + digest.hex().upper(),
            "taprootMerkleRoot": "0x" + root.hex().upper(),
        },
    )
    assert r.json()["requestBody"] == {
        "kind": "Hash",
        "hash": _h(digest),
        "taprootMerkleRoot": _h(root),
    }


def test_hash_on_eddsa_and_message_on_schnorr_are_400(api: Api) -> None:
    ed = api.create_key("EdDSA", "ed25519")
    btc = api.create_key("Schnorr", "secp256k1")
    r = api.post(f"/keys/{ed['id']}/signatures", {"kind": "Hash", "hash": _h(bytes(32))})
    assert r.status_code == 400
    assert error_of(r)["code"] == "InvalidSignatureKind"
    r = api.post(f"/keys/{btc['id']}/signatures", {"kind": "Message", "message": "0x00"})
    assert r.status_code == 400
    assert error_of(r)["code"] == "InvalidSignatureKind"
    assert api.vault.calls.get("sign", 0) == 0


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
def test_external_id_returns_first_result_without_signing_again(api: Api) -> None:
    key = api.create_key()
    body = {"kind": "Message", "message": "0xabcd", "externalId": "order-42"}
    first = api.post(f"/keys/{key['id']}/signatures", body)
    second = api.post(f"/keys/{key['id']}/signatures", body)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["requestBody"]["externalId"] == "order-42"
    assert first.json()["externalId"] == "order-42"
    assert api.vault.calls["sign"] == 1
    # same externalId on another key is independent
    other = api.create_key()
    third = api.post(f"/keys/{other['id']}/signatures", body)
    assert third.json()["id"] != first.json()["id"]
    assert api.vault.calls["sign"] == 2
    # without externalId every request signs
    api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0xabcd"})
    api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0xabcd"})
    assert api.vault.calls["sign"] == 4


def test_external_id_reused_for_another_request_is_409(api: Api) -> None:
    key = api.create_key()
    first = api.post(
        f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01", "externalId": "x"}
    ).json()
    r = api.post(
        f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x02", "externalId": "x"}
    )
    assert r.status_code == 409
    err = error_of(r)
    assert err["code"] == "ExternalIdConflict"
    assert err["details"] == {"signatureId": first["id"]}
    assert api.vault.calls["sign"] == 1


def test_external_id_replay_survives_archival(api: Api) -> None:
    key = api.create_key()
    body = {"kind": "Message", "message": "0x01", "externalId": "before-delete"}
    first = api.post(f"/keys/{key['id']}/signatures", body).json()
    api.delete(f"/keys/{key['id']}")
    again = api.post(f"/keys/{key['id']}/signatures", body)
    assert again.status_code == 200 and again.json() == first
    fresh = api.post(f"/keys/{key['id']}/signatures", {**body, "externalId": "after"})
    assert error_of(fresh)["code"] == "KeyArchived"


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
def test_get_and_list_signatures(api: Api) -> None:
    key = api.create_key()
    other = api.create_key()
    ids = [
        api.post(
            f"/keys/{key['id']}/signatures", {"kind": "Message", "message": _h(bytes([i]))}
        ).json()["id"]
        for i in range(5)
    ]
    foreign = api.post(
        f"/keys/{other['id']}/signatures", {"kind": "Message", "message": "0x00"}
    ).json()
    one = api.get(f"/keys/{key['id']}/signatures/{ids[2]}")
    assert one.status_code == 200 and one.json()["id"] == ids[2]
    # a signature of another key is not found under this key
    r = api.get(f"/keys/{key['id']}/signatures/{foreign['id']}")
    assert r.status_code == 404 and error_of(r)["code"] == "SignatureNotFound"
    r = api.get(f"/keys/{key['id']}/signatures/not-a-sig")
    assert r.status_code == 404
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2}
    while True:
        page = api.get(f"/keys/{key['id']}/signatures", params=params).json()
        seen += [s["id"] for s in page["items"]]
        if "nextPageToken" not in page:
            break
        params["paginationToken"] = page["nextPageToken"]
    assert seen == sorted(ids, reverse=True)
    r = api.get(f"/keys/{key['id']}/signatures", params={"paginationToken": "a2V5LTAxbTg5"})
    assert error_of(r)["code"] == "InvalidPaginationToken"
