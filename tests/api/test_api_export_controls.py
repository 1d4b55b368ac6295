"""Export controls: an export passes the ``Keys:Export`` permission, the org setting
``keyExport`` and the key's ``exportable`` flag (approval policies on ``Keys:Export``
come on top), each refusal with its own code; ``exportable`` only ever goes from true
to false; the org setting ``signAfterExport`` decides whether an exported key signs."""

from __future__ import annotations

import os
from typing import Any

from apibackends import ContractApi
from apihelpers import Api, b64u, error_of, verify_ecdsa_signature
from nacl.signing import VerifyKey

from shardvault.api import set_key_export
from shardvault.crypto import hpke
from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.keyformats import ed25519_scalar_from_seed


def _export_body(requester: hpke.HpkeKeyPair) -> dict[str, Any]:
    return {
        "encryptionKey": b64u(requester.public_key),
        "supportedSchemes": [{"protocol": "FROST", "curve": "ed25519"}],
    }


def _code(r: Any) -> str:
    return str(error_of(r)["code"])


def test_export_refused_at_each_gate_then_allowed(api: Api) -> None:
    key = api.create_key()
    locked = api.create_key(exportable=False)
    assert (key["exportable"], locked["exportable"]) == (True, False)
    _, reader = api.account("Keys:Read", "Orgs:Settings:Read")
    _, exporter = api.account("Keys:Export", "Keys:Read")
    requester = hpke.HpkeKeyPair.generate()

    def export(key_id: str, headers: dict[str, str]) -> Any:
        return api.client.post(
            f"/keys/{key_id}/export", json=_export_body(requester), headers=headers
        )

    # 1. the permission (checked first: whatever the org setting)
    r = export(key["id"], reader)
    assert r.status_code == 403 and _code(r) == "PermissionDenied"
    assert error_of(r)["details"] == {"operation": "Keys:Export"}
    # 2. the org setting, off by default; switching it on needs Orgs:Settings:Update
    r = export(key["id"], exporter)
    assert r.status_code == 403 and _code(r) == "KeyExportDisabled"
    r = api.client.put("/org/settings", json={"keyExport": True}, headers=exporter)
    assert r.status_code == 403 and error_of(r)["details"]["operation"] == "Orgs:Settings:Update"
    assert api.client.get("/org/settings", headers=reader).json()["keyExport"] is False
    assert api.put("/org/settings", {"keyExport": True}).json()["keyExport"] is True
    # 3. the key's exportable flag: off at creation, or switched off later
    r = export(locked["id"], exporter)
    assert r.status_code == 403 and _code(r) == "KeyNotExportable"
    other = api.create_key()
    assert api.put(f"/keys/{other['id']}", {"exportable": False}).json()["exportable"] is False
    r = export(other["id"], exporter)
    assert r.status_code == 403 and _code(r) == "KeyNotExportable"
    assert api.vault.calls.get("export_key", 0) == 0
    for k in (key, locked, other):
        assert api.get(f"/keys/{k['id']}").json()["exported"] is False
    # all gates passed
    r = export(key["id"], exporter)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["publicKey"] == key["publicKey"]
    assert len(out["encryptedKeyShares"]) == 3
    assert api.vault.calls["export_key"] == 1
    assert api.get(f"/keys/{key['id']}").json()["exported"] is True
    # the org setting off again closes the gate
    assert api.put("/org/settings", {"keyExport": False}).status_code == 200
    r = export(key["id"], exporter)
    assert r.status_code == 403 and _code(r) == "KeyExportDisabled"


def test_the_cli_switch_still_sets_key_export(api: Api) -> None:
    key = api.create_key()
    set_key_export(api.database_url, True, org_id=api.org_id)
    assert api.get("/org/settings").json()["keyExport"] is True
    r = api.post(f"/keys/{key['id']}/export", _export_body(hpke.HpkeKeyPair.generate()))
    assert r.status_code == 200, r.text
    set_key_export(api.database_url, False, org_id=api.org_id)
    assert api.get("/org/settings").json()["keyExport"] is False


def test_exportable_goes_off_never_back_on(api: Api) -> None:
    key = api.create_key(name="k")
    r = api.put(f"/keys/{key['id']}", {"exportable": False})
    assert r.status_code == 200 and r.json()["exportable"] is False
    assert r.json()["name"] == "k"
    r = api.put(f"/keys/{key['id']}", {"exportable": True})
    assert r.status_code == 409 and _code(r) == "KeyNotExportable", r.text
    r = api.put(f"/keys/{key['id']}", {"name": "renamed", "exportable": True})
    assert r.status_code == 409
    after = api.get(f"/keys/{key['id']}").json()
    assert (after["name"], after["exportable"]) == ("k", False)  # nothing changed
    # switching off again, and renaming, keep it off
    assert api.put(f"/keys/{key['id']}", {"exportable": False}).status_code == 200
    r = api.put(f"/keys/{key['id']}", {"name": "renamed"})
    assert r.json()["name"] == "renamed" and r.json()["exportable"] is False
    # true on an exportable key changes nothing
    fresh = api.create_key()
    r = api.put(f"/keys/{fresh['id']}", {"exportable": True})
    assert r.status_code == 200 and r.json()["exportable"] is True
    for bad in ({}, {"exportable": "false"}, {"exportable": None}):
        r = api.put(f"/keys/{fresh['id']}", bad)
        assert r.status_code == 400, (bad, r.text)
    r = api.post("/keys", {"scheme": "EdDSA", "curve": "ed25519", "exportable": "no"})
    assert r.status_code == 400
    # switching it off needs Keys:Update
    _, reader = api.account("Keys:Read")
    r = api.client.put(f"/keys/{fresh['id']}", json={"exportable": False}, headers=reader)
    assert r.status_code == 403 and error_of(r)["details"]["operation"] == "Keys:Update"


def test_sign_after_export_is_an_org_setting(api: Api) -> None:
    api.put("/org/settings", {"keyExport": True})
    key = api.create_key()
    message = {"kind": "Message", "message": "0x" + b"after export".hex()}
    r = api.post(f"/keys/{key['id']}/export", _export_body(hpke.HpkeKeyPair.generate()))
    assert r.status_code == 200, r.text
    # default: an exported key no longer signs (nor backs a new wallet)
    r = api.post(f"/keys/{key['id']}/signatures", message)
    assert r.status_code == 409 and _code(r) == "KeyExported"
    r = api.post("/wallets", {"network": "Solana", "signingKey": {"id": key["id"]}})
    assert r.status_code == 409 and _code(r) == "KeyExported"
    # signAfterExport on: it signs (a real signature under its public key)
    assert api.put("/org/settings", {"signAfterExport": True}).json()["signAfterExport"]
    r = api.post(f"/keys/{key['id']}/signatures", message)
    assert r.status_code == 200, r.text
    VerifyKey(bytes.fromhex(key["publicKey"])).verify(
        b"after export", bytes.fromhex(r.json()["signature"]["encoded"][2:])
    )
    r = api.post("/wallets", {"network": "Solana", "signingKey": {"id": key["id"]}})
    assert r.status_code == 200, r.text
    wallet = r.json()
    r = api.post(f"/wallets/{wallet['id']}/signatures", message)
    assert r.status_code == 200, r.text
    # and off again: refused again
    api.put("/org/settings", {"signAfterExport": False})
    r = api.post(f"/wallets/{wallet['id']}/signatures", message)
    assert r.status_code == 409 and _code(r) == "KeyExported"
    # the setting is per org
    _, other = api.other_org()
    assert api.client.get("/org/settings", headers=other).json()["signAfterExport"] is False


def test_imported_key_exportable_flag(api: Api) -> None:
    from test_api_import_export import import_body

    r = api.post("/keys/import", api.with_context(import_body(exportable=False)))
    assert r.status_code == 200, r.text
    assert r.json()["exportable"] is False
    api.put("/org/settings", {"keyExport": True})
    r = api.post(f"/keys/{r.json()['id']}/export", _export_body(hpke.HpkeKeyPair.generate()))
    assert r.status_code == 403 and _code(r) == "KeyNotExportable"
    r = api.post("/keys/import", api.with_context(import_body()))
    assert r.json()["exportable"] is True


def test_export_gates_and_sign_after_export_on_both_backends(any_api: ContractApi) -> None:
    """Over the fake and the real embedded vault: the gates refuse before any signer
    is asked; with ``signAfterExport`` an exported (imported) key keeps signing under
    its public key on the real signers too."""
    c = any_api
    seed = os.urandom(32)
    body = c.import_body(ed25519_scalar_from_seed(seed), "ed25519", "FROST")
    r = c.post("/keys/import", {**body, "exportable": False})
    assert r.status_code == 200, r.text
    locked = r.json()
    key = c.create_key()
    requester = hpke.HpkeKeyPair.generate()
    r = c.post(f"/keys/{key['id']}/export", _export_body(requester))
    assert r.status_code == 403 and _code(r) == "KeyExportDisabled"
    c.put("/org/settings", {"keyExport": True, "signAfterExport": True})
    r = c.post(f"/keys/{locked['id']}/export", _export_body(requester))
    assert r.status_code == 403 and _code(r) == "KeyNotExportable"
    assert c.backend.calls.get("export_key", 0) == 0
    r = c.post(f"/keys/{key['id']}/export", _export_body(requester))
    assert r.status_code == 200, r.text
    assert c.get(f"/keys/{key['id']}").json()["exported"] is True
    msg = b"still signing"
    r = c.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x" + msg.hex()})
    assert r.status_code == 200, r.text
    VerifyKey(bytes.fromhex(key["publicKey"])).verify(
        msg, bytes.fromhex(r.json()["signature"]["encoded"][2:])
    )


def test_sign_after_export_with_an_ecdsa_key_on_both_backends(any_api: ContractApi) -> None:
    """CGGMP24: the coordinator drops its presignatures of an exported key; with
    ``signAfterExport`` the key still signs (fresh presignatures) on the real signers."""
    c = any_api
    c.backend.wait_ecdsa_ready()
    key = c.post("/keys/import", c.import_body(SECP256K1.random_scalar(), "secp256k1", "CGGMP24"))
    assert key.status_code == 200, key.text
    key_id, public_key = key.json()["id"], bytes.fromhex(key.json()["publicKey"])
    c.put("/org/settings", {"keyExport": True, "signAfterExport": True})
    body = {
        "encryptionKey": b64u(hpke.HpkeKeyPair.generate().public_key),
        "supportedSchemes": [{"protocol": "CGGMP24", "curve": "secp256k1"}],
    }
    r = c.post(f"/keys/{key_id}/export", body)
    assert r.status_code == 200, r.text
    digest = os.urandom(32)
    r = c.post(f"/keys/{key_id}/signatures", {"kind": "Hash", "hash": "0x" + digest.hex()})
    assert r.status_code == 200, r.text
    verify_ecdsa_signature(public_key, digest, r.json()["signature"])
    # refresh still refuses an exported key (its secret is out; epochs skip it)
    r = c.post(f"/keys/{key_id}/refresh")
    assert r.status_code == 409 and _code(r) == "KeyExported"
