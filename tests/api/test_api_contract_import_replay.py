"""Contract suite, import replay (issue 12 part 2; docs/security.md item 27):
an import body captured anywhere (a proxy log, a client's leftovers) cannot create a
second key, in the same org, in another org, or after the first key was deleted; the
import context is one-time, bound to the org that fetched it and short-lived; there is
never a second live key with the same public key; and a fresh import of the same private
key after a delete works. Over the FakeVault and the embedded vault (the signers' own
refusals, driven directly, are in tests/coordinator/test_import_replay.py).

Against the code before the import context (commit 93bc06d) the same replays all
answered 200 and each clone exported the original private key.
"""

from __future__ import annotations

import copy
import os
from datetime import timedelta
from typing import Any

import coincurve
from apibackends import ContractApi
from apihelpers import b64u, error_of, verify_bip340
from sqlalchemy import update

from shardvault.api import set_key_export
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.crypto.keyformats import scalar_to_private_key_bytes
from shardvault.db.engine import make_engine
from shardvault.db.models import ImportContextRow, utcnow


def _secp_key() -> tuple[bytes, int]:
    sk = os.urandom(31).rjust(32, b"\x01")
    return sk, int.from_bytes(sk, "big")


def _body(c: ContractApi, secret: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return c.import_body(secret, "secp256k1", "FROST_BITCOIN", headers=headers)


def _exported(c: ContractApi, key: dict[str, Any]) -> bytes:
    set_key_export(c.database_url, True, org_id=c.org_id)
    requester = HpkeKeyPair.generate()
    r = c.post(
        f"/keys/{key['id']}/export",
        {
            "encryptionKey": b64u(requester.public_key),
            "supportedSchemes": [{"protocol": key["protocol"], "curve": key["curve"]}],
        },
    )
    assert r.status_code == 200, r.text
    return scalar_to_private_key_bytes(
        "secp256k1", c.backend.export_secret(key, r.json(), requester)
    )


def test_replayed_import_body_is_refused_everywhere(any_api: ContractApi) -> None:
    c = any_api
    sk, secret = _secp_key()
    body = _body(c, secret)
    captured = copy.deepcopy(body)
    first = c.post("/keys/import", body)
    assert first.status_code == 200, first.text
    key = first.json()
    assert key["publicKey"] == coincurve.PrivateKey(sk).public_key.format().hex()

    # 1. the same org
    r = c.post("/keys/import", captured)
    assert r.status_code == 409 and error_of(r)["code"] == "ImportContextUsed", r.text
    # 2. another org: the context was not issued to it
    other_org, other = c.other_org()
    r = c.client.post("/keys/import", json=captured, headers=other)
    assert r.status_code == 404 and error_of(r)["code"] == "ImportContextNotFound", r.text
    assert c.client.get("/keys", headers=other).json() == {"items": []}
    # 3. after the first key was deleted
    assert c.delete(f"/keys/{key['id']}").json()["status"] == "Archived"
    r = c.post("/keys/import", captured)
    assert r.status_code == 409 and error_of(r)["code"] == "ImportContextUsed", r.text

    assert c.backend.calls["import_key"] == 1  # no replay ever reached the signers
    assert [k["id"] for k in c.get("/keys").json()["items"]] == [key["id"]]
    # The key itself comes back through a fresh context (and is the same key).
    again = c.post("/keys/import", _body(c, secret))
    assert again.status_code == 200, again.text
    assert again.json()["publicKey"] == key["publicKey"]
    assert _exported(c, again.json()) == sk
    del other_org


def test_import_context_is_checked_org_expiry_and_form(any_api: ContractApi) -> None:
    c = any_api
    _, secret = _secp_key()
    # issued to another org
    _, other = c.other_org()
    r = c.post("/keys/import", _body(c, secret, headers=other))
    assert r.status_code == 404 and error_of(r)["code"] == "ImportContextNotFound", r.text
    # unknown id, malformed id, missing id
    body = _body(c, secret)
    r = c.post("/keys/import", {**body, "importId": b64u(os.urandom(16))})
    assert r.status_code == 404 and error_of(r)["code"] == "ImportContextNotFound"
    r = c.post("/keys/import", {**body, "importId": b64u(os.urandom(15))})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidEncoding"
    r = c.post("/keys/import", {k: v for k, v in body.items() if k != "importId"})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidRequest"
    # expired (its row's expiry moved into the past, as if 10 minutes had gone by)
    engine = make_engine(c.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(ImportContextRow)
                .where(ImportContextRow.org_id == c.org_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        engine.dispose()
    r = c.post("/keys/import", body)
    assert r.status_code == 400 and error_of(r)["code"] == "ImportContextExpired", r.text
    assert c.backend.calls.get("import_key", 0) == 0
    assert c.get("/keys").json() == {"items": []}
    # a GET creates nothing and is no way to fetch a context
    assert c.get("/keys/import/context").status_code in (404, 405)  # not a route


def test_context_lifetime_is_announced(any_api: ContractApi) -> None:
    out = any_api.post("/keys/import/context", {}).json()
    assert set(out) == {"importId", "issuedAt", "expiresAt"}
    ctx = any_api.import_context()
    again = any_api.import_context()
    assert ctx.import_id != again.import_id and len(ctx.import_id) == 16
    assert out["issuedAt"].endswith(".000Z") and out["expiresAt"] > out["issuedAt"]


def test_no_second_live_key_with_the_same_public_key(any_api: ContractApi) -> None:
    c = any_api
    sk, secret = _secp_key()
    key = c.post("/keys/import", _body(c, secret)).json()
    for headers in (None, c.other_org()[1]):  # this org and another one
        r = c.client.post(
            "/keys/import", json=_body(c, secret, headers=headers), headers=headers or c.auth
        )
        assert r.status_code == 409, r.text
        err = error_of(r)
        assert err["code"] == "DuplicateKey"
        assert key["id"] not in r.text and key["publicKey"] not in r.text
    # an exported key still has live shares: still a duplicate
    assert _exported(c, key) == sk
    r = c.post("/keys/import", _body(c, secret))
    assert r.status_code == 409 and error_of(r)["code"] == "DuplicateKey"
    # after the delete the same private key imports again, signs and exports
    c.delete(f"/keys/{key['id']}")
    fresh = c.post("/keys/import", _body(c, secret))
    assert fresh.status_code == 200, fresh.text
    new = fresh.json()
    assert new["id"] != key["id"] and new["publicKey"] == key["publicKey"]
    h = os.urandom(32)
    sig = c.post(f"/keys/{new['id']}/signatures", {"kind": "Hash", "hash": "0x" + h.hex()})
    assert sig.status_code == 200, sig.text
    encoded = bytes.fromhex(sig.json()["signature"]["encoded"][2:])
    assert verify_bip340(bytes.fromhex(new["publicKey"]), h, encoded, None)
    assert c.backend.holders(new["id"]) == set(c.backend.signer_ids)
    assert c.backend.holders(key["id"]) == set()
