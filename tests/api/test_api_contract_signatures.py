"""Contract suite, signatures: FROST signatures verified by PyNaCl / coincurve, kinds,
Taproot tweaks, idempotent externalId, reading them back, and signers that go
offline, over the FakeVault and the real embedded vault alike (see apibackends.py).
ECDSA (CGGMP24): test_api_contract_ecdsa.py."""

from __future__ import annotations

import os
import re

import pytest
from apibackends import ContractApi
from apihelpers import ISO, error_of, verify_bip340
from nacl.signing import VerifyKey

SIG_ID = re.compile(r"sig-[0-7][0-9a-hjkmnp-tv-z]{25}")
HEX0X = re.compile(r"0x(?:[0-9a-f]{2})*")


def _h(data: bytes) -> str:
    return "0x" + data.hex()


def test_eddsa_message_signature_verifies_with_pynacl(any_api: ContractApi) -> None:
    key = any_api.create_key("EdDSA", "ed25519")
    msg = b"pay 1 SOL to alice"
    r = any_api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": _h(msg)})
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
    assert any_api.backend.sign_log == [(key["id"], msg, None)]


def test_eddsa_empty_and_long_messages(any_api: ContractApi) -> None:
    key = any_api.create_key()
    vk = VerifyKey(bytes.fromhex(key["publicKey"]))
    for msg in (b"", os.urandom(5000)):
        sig = any_api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": _h(msg)})
        vk.verify(msg, bytes.fromhex(sig.json()["signature"]["encoded"][2:]))


@pytest.mark.parametrize("root_kind", ["absent", "null", "bip86", "script"])
def test_schnorr_hash_with_taproot_variants(any_api: ContractApi, root_kind: str) -> None:
    key = any_api.create_key("Schnorr", "secp256k1")
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
    r = any_api.post(f"/keys/{key['id']}/signatures", body)
    assert r.status_code == 200, r.text
    sig = r.json()
    # the back end received exactly what the request meant
    assert any_api.backend.sign_log == [(key["id"], digest, expected_root)]
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


def test_uppercase_hex_is_accepted_and_normalised(any_api: ContractApi) -> None:
    key = any_api.create_key("Schnorr", "secp256k1")
    digest = bytes(range(32))
    root = bytes(range(32, 64))
    r = any_api.post(
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


def test_hash_on_eddsa_signs_the_32_bytes(any_api: ContractApi) -> None:
    """Dfns: every scheme signs a Hash; an EdDSA key signs the digest as its message."""
    ed = any_api.create_key("EdDSA", "ed25519")
    digest = os.urandom(32)
    r = any_api.post(f"/keys/{ed['id']}/signatures", {"kind": "Hash", "hash": _h(digest)})
    assert r.status_code == 200, r.text
    signature = bytes.fromhex(r.json()["signature"]["encoded"][2:])
    VerifyKey(bytes.fromhex(ed["publicKey"])).verify(digest, signature)


def test_message_on_schnorr_is_400(any_api: ContractApi) -> None:
    btc = any_api.create_key("Schnorr", "secp256k1")
    r = any_api.post(f"/keys/{btc['id']}/signatures", {"kind": "Message", "message": "0x00"})
    assert r.status_code == 400
    assert error_of(r)["code"] == "InvalidSignatureKind"
    assert any_api.backend.calls.get("sign", 0) == 0


def test_external_id_returns_first_result_without_signing_again(any_api: ContractApi) -> None:
    key = any_api.create_key()
    body = {"kind": "Message", "message": "0xabcd", "externalId": "order-42"}
    first = any_api.post(f"/keys/{key['id']}/signatures", body)
    second = any_api.post(f"/keys/{key['id']}/signatures", body)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["requestBody"]["externalId"] == "order-42"
    assert first.json()["externalId"] == "order-42"
    assert any_api.backend.calls["sign"] == 1
    # same externalId on another key is independent
    other = any_api.create_key()
    third = any_api.post(f"/keys/{other['id']}/signatures", body)
    assert third.json()["id"] != first.json()["id"]
    assert any_api.backend.calls["sign"] == 2
    # without externalId every request signs
    any_api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0xabcd"})
    any_api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0xabcd"})
    assert any_api.backend.calls["sign"] == 4


def test_external_id_reused_for_another_request_is_409(any_api: ContractApi) -> None:
    key = any_api.create_key()
    first = any_api.post(
        f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01", "externalId": "x"}
    ).json()
    r = any_api.post(
        f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x02", "externalId": "x"}
    )
    assert r.status_code == 409
    err = error_of(r)
    assert err["code"] == "ExternalIdConflict"
    assert err["details"] == {
        "signatureId": first["id"],
        "duplicate": {"id": first["id"], "externalId": "x"},
    }
    assert any_api.backend.calls["sign"] == 1


def test_external_id_replay_survives_archival(any_api: ContractApi) -> None:
    key = any_api.create_key()
    body = {"kind": "Message", "message": "0x01", "externalId": "before-delete"}
    first = any_api.post(f"/keys/{key['id']}/signatures", body).json()
    any_api.delete(f"/keys/{key['id']}")
    again = any_api.post(f"/keys/{key['id']}/signatures", body)
    assert again.status_code == 200 and again.json() == first
    fresh = any_api.post(f"/keys/{key['id']}/signatures", {**body, "externalId": "after"})
    assert error_of(fresh)["code"] == "KeyArchived"


def test_get_and_list_signatures(any_api: ContractApi) -> None:
    key = any_api.create_key()
    other = any_api.create_key()
    ids = [
        any_api.post(
            f"/keys/{key['id']}/signatures", {"kind": "Message", "message": _h(bytes([i]))}
        ).json()["id"]
        for i in range(5)
    ]
    foreign = any_api.post(
        f"/keys/{other['id']}/signatures", {"kind": "Message", "message": "0x00"}
    ).json()
    one = any_api.get(f"/keys/{key['id']}/signatures/{ids[2]}")
    assert one.status_code == 200 and one.json()["id"] == ids[2]
    # a signature of another key is not found under this key
    r = any_api.get(f"/keys/{key['id']}/signatures/{foreign['id']}")
    assert r.status_code == 404 and error_of(r)["code"] == "SignatureNotFound"
    r = any_api.get(f"/keys/{key['id']}/signatures/not-a-sig")
    assert r.status_code == 404
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 2}
    while True:
        page = any_api.get(f"/keys/{key['id']}/signatures", params=params).json()
        seen += [s["id"] for s in page["items"]]
        if "nextPageToken" not in page:
            break
        params["paginationToken"] = page["nextPageToken"]
    assert seen == sorted(ids, reverse=True)
    r = any_api.get(f"/keys/{key['id']}/signatures", params={"paginationToken": "a2V5LTAxbTg5"})
    assert error_of(r)["code"] == "InvalidPaginationToken"


# -- signers offline ----------------------------------------------------------------------
def test_signer_availability(any_api: ContractApi) -> None:
    """One signer of three offline: a 2-of-3 key still signs. Two offline: 503
    ``SignersUnavailable`` naming them, the failure is recorded and frees the
    externalId, so once a signer is back the retry signs."""
    backend = any_api.backend
    ids = backend.signer_ids
    key = any_api.create_key()
    path = f"/keys/{key['id']}/signatures"
    backend.take_offline(ids[0])
    assert any_api.post(path, {"kind": "Message", "message": "0x01"}).status_code == 200
    backend.take_offline(ids[2])
    r = any_api.post(path, {"kind": "Message", "message": "0x02", "externalId": "e"})
    assert r.status_code == 503
    err = error_of(r)
    assert err["code"] == "SignersUnavailable"
    assert set(err["details"]["signers"]) == {ids[0], ids[2]}
    failed = any_api.get(f"{path}/{err['details']['signatureId']}").json()
    assert failed["status"] == "Failed" and failed["reason"].startswith("SignersUnavailable")
    # the failure freed the externalId: once a signer is back, the retry signs
    backend.bring_online(ids[2])
    r = any_api.post(path, {"kind": "Message", "message": "0x02", "externalId": "e"})
    assert r.status_code == 200 and r.json()["status"] == "Signed"
    VerifyKey(bytes.fromhex(key["publicKey"])).verify(
        b"\x02", bytes.fromhex(r.json()["signature"]["encoded"][2:])
    )
