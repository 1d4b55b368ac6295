"""The audit log over REST (docs/governance-audit.md): every state change leaves a
row with who, what, the request's hash and the result, in the change's own
transaction; refused (401/403) and failed writes are recorded; ``GET /audit`` pages
and filters the org's rows; the chain of each org verifies."""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apihelpers import Api, error_of
from clihelpers import invoke, route_cli_to
from sqlalchemy import text
from test_api_import_export import export_body

import shardvault.api.repository as repository_module
from shardvault.api import set_key_export
from shardvault.api.audit import NO_ORG
from shardvault.api.audit_chain import verify_chains
from shardvault.api.audit_middleware import AuditMiddleware
from shardvault.crypto import hpke
from shardvault.db import make_engine, read_sessionmaker
from shardvault.db.models import AuditRow
from shardvault.errors import SignersUnavailable


def audit_rows(api: Api, **params: Any) -> list[dict[str, Any]]:
    """Every audit row of the org, oldest first (through GET /audit, page by page)."""
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 7, **params}
    while True:
        r = api.get("/audit", params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        items.extend(page["items"])
        if "nextPageToken" not in page:
            return list(reversed(items))
        query["paginationToken"] = page["nextPageToken"]


def db_rows(api: Api, org_id: str) -> list[AuditRow]:
    engine = make_engine(api.database_url)
    try:
        with read_sessionmaker(engine)() as s:
            return list(s.query(AuditRow).filter(AuditRow.org_id == org_id).order_by(AuditRow.seq))
    finally:
        engine.dispose()


def verify_org(api: Api) -> None:
    engine = make_engine(api.database_url)
    try:
        with read_sessionmaker(engine)() as s:
            report = verify_chains(s, org_id=api.org_id)
    finally:
        engine.dispose()
    assert report.ok, [str(p) for p in report.problems]


def expected_hash(method: str, path: str, body: Any) -> str:
    canonical = b"" if body is None else json.dumps(body, sort_keys=True, separators=(",", ":"))
    if isinstance(canonical, str):
        canonical = canonical.encode()
    return hashlib.sha256(f"{method}\n{path}\n".encode() + canonical).hexdigest()


def steps(rows: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(r["action"], r["result"], r.get("targetId")) for r in rows]


@pytest.fixture
def fresh(api: Api) -> Iterator[Api]:
    """``api`` after its org's creation rows (the operator's)."""
    before = audit_rows(api)
    assert steps(before) == [
        ("Orgs:Create", "Success", api.org_id),
        ("Auth:ServiceAccounts:Create", "Success", before[1]["targetId"]),
        ("Auth:Tokens:Create", "Success", before[2]["targetId"]),
    ]
    assert {r["actor"]["kind"] for r in before} == {"Operator"}
    yield api
    verify_org(api)


def test_key_lifecycle_is_audited_with_who_what_and_request_hash(fresh: Api) -> None:
    api = fresh
    start = len(audit_rows(api))
    key = api.create_key()
    path = f"/keys/{key['id']}"
    assert api.put(path, {"name": "treasury"}).status_code == 200
    body = {"kind": "Message", "message": "0x0102", "externalId": "audit-1"}
    sig = api.post(f"{path}/signatures", body).json()
    assert api.post(f"{path}/signatures", body).json() == sig  # a replay changes nothing
    assert api.delete(path).status_code == 200
    rows = audit_rows(api)[start:]
    assert steps(rows) == [
        ("Keys:Create", "Success", key["id"]),
        ("Keys:Update", "Success", key["id"]),
        ("Keys:Signatures:Create", "Pending", sig["id"]),
        ("Keys:Signatures:Create", "Success", sig["id"]),
        ("Keys:Delete", "Pending", key["id"]),
        ("Keys:Delete", "Success", key["id"]),
    ]
    caller = rows[0]["actor"]
    assert caller["kind"] == "User" and caller["userId"].startswith("sa-")
    assert caller["tokenId"].startswith("to-")
    # the credential that signed the user action of each write (api/user_actions.py)
    assert caller["credentialId"].startswith("cr-")
    assert all(r["actor"] == caller for r in rows)
    assert all(r["orgId"] == api.org_id for r in rows)
    rename = rows[1]
    assert (rename["method"], rename["path"], rename["status"]) == ("PUT", path, 200)
    assert rename["requestHash"] == expected_hash("PUT", path, {"name": "treasury"})
    assert rename["details"] == {"name": "treasury"}
    assert rows[0]["requestHash"] == expected_hash(
        "POST", "/keys", {"scheme": "EdDSA", "curve": "ed25519"}
    )
    assert rows[4]["requestHash"] == expected_hash("DELETE", path, None)
    assert rows[3]["details"]["externalId"] == "audit-1"
    seqs = [r["seq"] for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + len(rows)))
    assert all(b["prevHash"] == a["hash"] for a, b in itertools.pairwise(rows))
    assert api.get(f"/audit/{rename['id']}").json() == rename


def test_wallets_import_and_export_are_audited(fresh: Api) -> None:
    api = fresh
    start = len(audit_rows(api))
    wallet = api.post("/wallets", {"network": "Ethereum", "externalId": "w1"}).json()
    wpath = f"/wallets/{wallet['id']}"
    assert api.put(wpath, {"name": "ops"}).status_code == 200
    assert api.put(f"{wpath}/tags", {"tags": ["a", "b"]}).status_code == 200
    r = api.client.request("DELETE", f"{wpath}/tags", json={"tags": ["a"]}, headers=api.auth)
    assert r.status_code == 200
    sig = api.post(f"{wpath}/signatures", {"kind": "Eip191", "message": "0x01"}).json()
    api.import_context()
    key = api.create_key()
    set_key_export(api.database_url, True, org_id=api.org_id)
    exported = api.post(f"/keys/{key['id']}/export", export_body(hpke.HpkeKeyPair.generate()))
    assert exported.status_code == 200, exported.text
    rows = audit_rows(api)[start:]
    key_of_wallet = wallet["signingKey"]["id"]
    assert steps(rows)[:6] == [
        ("Keys:Create", "Success", key_of_wallet),
        ("Wallets:Create", "Success", wallet["id"]),
        ("Wallets:Update", "Success", wallet["id"]),
        ("Wallets:Tags:Add", "Success", wallet["id"]),
        ("Wallets:Tags:Remove", "Success", wallet["id"]),
        ("Wallets:Signatures:Create", "Pending", sig["id"]),
    ]
    assert rows[1]["details"] == {"keyId": key_of_wallet, "network": "Ethereum", "externalId": "w1"}
    assert rows[4]["details"] == {"tags": ["a"]}
    assert rows[6]["action"] == "Wallets:Signatures:Create" and rows[6]["result"] == "Success"
    assert rows[6]["details"]["walletId"] == wallet["id"]
    assert (rows[7]["action"], rows[7]["result"]) == ("Keys:ImportContext:Create", "Success")
    assert steps(rows)[8:] == [
        ("Keys:Create", "Success", key["id"]),
        ("Orgs:Settings:Update", "Success", api.org_id),
        ("Keys:Export", "Pending", key["id"]),
        ("Keys:Export", "Success", key["id"]),
    ]
    assert rows[9]["actor"]["kind"] == "Operator"
    assert rows[9]["details"] == {"keyExport": True, "previous": {"keyExport": False}}
    assert sorted(rows[11]["details"]["signers"]) == sorted(api.vault.signer_ids)


def test_refusals_are_audited_without_the_token(api: Api) -> None:
    unknown = "sv_" + secrets.token_urlsafe(32)
    r = api.client.get("/keys", headers={"Authorization": f"Bearer {unknown}"})
    assert r.status_code == 401
    r = api.client.post("/keys", json={"scheme": "EdDSA"})
    assert r.status_code == 401
    prefix = hashlib.sha256(unknown.encode()).hexdigest()[:16]
    anonymous = db_rows(api, NO_ORG)
    mine = [row for row in anonymous if row.token_hash_prefix == prefix]
    assert len(mine) == 1
    row = mine[0]
    assert (row.actor, row.action, row.result, row.status, row.error_code) == (
        "Unknown",
        "Keys:Read",
        "Refused",
        401,
        "Unauthorized",
    )
    assert row.user_id is None and row.token_id is None and row.method == "GET"
    for value in (row.path, row.details, row.request_hash, row.target_id):
        assert unknown not in json.dumps(value)
    assert row.request_hash == expected_hash("GET", "/keys", None)
    no_token = anonymous[-1]
    assert (no_token.action, no_token.token_hash_prefix, no_token.method) == (
        "Keys:Create",
        None,
        "POST",
    )
    assert no_token.request_hash is None  # the body of a refused caller is never read

    # 403 inside the org: export while the org setting is off
    key = api.create_key()
    r = api.post(f"/keys/{key['id']}/export", export_body(hpke.HpkeKeyPair.generate()))
    assert error_of(r)["code"] == "KeyExportDisabled"
    refused = audit_rows(api, result="Refused")
    assert steps(refused) == [("Keys:Export", "Refused", key["id"])]
    assert refused[0]["status"] == 403 and refused[0]["errorCode"] == "KeyExportDisabled"
    assert refused[0]["actor"]["kind"] == "User"
    assert refused[0]["requestHash"] == expected_hash(
        "POST", f"/keys/{key['id']}/export", json.loads(r.request.content)
    )
    verify_org(api)


def test_failed_writes_are_audited_once(api: Api) -> None:
    api.vault.fail["generate_key"] = SignersUnavailable("signers are down", signers=("s1",))
    r = api.post("/keys", {"scheme": "EdDSA", "curve": "ed25519"})
    assert r.status_code == 503
    del api.vault.fail["generate_key"]
    key = api.create_key()
    api.vault.fail["sign"] = SignersUnavailable("signers are down", signers=("s1",))
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"})
    assert r.status_code == 503
    sig_id = error_of(r)["details"]["signatureId"]
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Nonsense"})
    assert r.status_code == 400
    assert api.get("/keys/key-01m89z0nex9nwt7vng6hqqgcp5").status_code == 404  # reads: none
    rows = audit_rows(api)[3:]
    assert steps(rows) == [
        ("Keys:Create", "Failure", None),
        ("Keys:Create", "Success", key["id"]),
        ("Keys:Signatures:Create", "Pending", sig_id),
        ("Keys:Signatures:Create", "Failure", sig_id),
        ("Keys:Signatures:Create", "Failure", key["id"]),
    ]
    assert (rows[0]["status"], rows[0]["errorCode"]) == (503, "SignersUnavailable")
    assert (rows[3]["status"], rows[3]["errorCode"]) == (503, "SignersUnavailable")
    assert (rows[4]["status"], rows[4]["errorCode"]) == (400, "InvalidRequest")
    verify_org(api)


def test_a_failed_audit_write_fails_the_request_and_keeps_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = api.create_key("Schnorr", "secp256k1")
    real = repository_module.append

    def broken(session: Any, context: Any, **kw: Any) -> Any:
        if kw.get("result", "Success") in ("Success", "Pending"):
            raise RuntimeError("audit storage is full")
        return real(session, context, **kw)

    monkeypatch.setattr(repository_module, "append", broken)
    r = api.put(f"/keys/{key['id']}", {"name": "lost"})
    assert r.status_code == 500 and error_of(r)["code"] == "InternalError"
    api.vault.calls.clear()
    created = api.post("/keys", {"scheme": "EdDSA", "curve": "ed25519"})
    assert created.status_code == 500
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Hash", "hash": "0x" + "11" * 32})
    assert r.status_code == 500
    assert api.vault.calls.get("sign", 0) == 0  # nothing signed without its claim's row
    monkeypatch.setattr(repository_module, "append", real)
    assert "name" not in api.get(f"/keys/{key['id']}").json()
    assert [k["id"] for k in api.get("/keys").json()["items"]] == [key["id"]]
    assert api.vault.calls.get("delete_key", 0) == 1  # the unstored key's shares discarded
    assert api.get(f"/keys/{key['id']}/signatures").json()["items"] == []
    failures = audit_rows(api, result="Failure")
    assert steps(failures) == [
        ("Keys:Update", "Failure", key["id"]),
        ("Keys:Create", "Failure", None),
        ("Keys:Signatures:Create", "Failure", key["id"]),
    ]
    assert {r["status"] for r in failures} == {500}
    verify_org(api)


def test_list_filters_pages_and_org_scope(api: Api) -> None:
    keys = [api.create_key() for _ in range(3)]
    api.put(f"/keys/{keys[1]['id']}", {"name": "x"})
    created = audit_rows(api, action="Keys:Create")
    assert [r["targetId"] for r in created] == [k["id"] for k in keys]
    about = audit_rows(api, targetId=keys[1]["id"])
    assert steps(about) == [
        ("Keys:Create", "Success", keys[1]["id"]),
        ("Keys:Update", "Success", keys[1]["id"]),
    ]
    user = created[0]["actor"]["userId"]
    assert len(audit_rows(api, userId=user)) == 4
    assert audit_rows(api, userId="sa-01m89z0nex9nwt7vng6hqqgcp5") == []
    everything = audit_rows(api)
    middle = everything[4]["date"]
    assert audit_rows(api, dateFrom=middle) == [r for r in everything if r["date"] >= middle]
    assert audit_rows(api, dateTo=middle) == [r for r in everything if r["date"] < middle]
    page = api.get("/audit", params={"limit": 2}).json()
    assert [r["seq"] for r in page["items"]] == [everything[-1]["seq"], everything[-2]["seq"]]
    for bad in ({"paginationToken": "bm9wZQ"}, {"dateFrom": "yesterday"}, {"result": "Ok"}):
        r = api.get("/audit", params=bad)
        assert r.status_code == 400, bad
    # another org sees none of these rows, and cannot read one by id
    _other, headers = api.other_org()
    theirs = api.client.get("/audit", headers=headers, params={"limit": 100}).json()["items"]
    assert {r["orgId"] for r in theirs} == {_other}
    r = api.client.get(f"/audit/{everything[-1]['id']}", headers=headers)
    assert error_of(r)["code"] == "AuditEntryNotFound"
    assert api.get("/audit/nonsense").status_code == 404


def test_refresh_epochs_are_audited_in_every_org_they_change(api: Api) -> None:
    mine = api.create_key("ECDSA", "secp256k1")
    other_org, other = api.other_org()
    r = api.client.post("/keys", json={"scheme": "ECDSA", "curve": "secp256k1"}, headers=other)
    assert r.status_code == 200
    epoch = api.post("/admin/refresh", {}).json()["epoch"]
    row = audit_rows(api)[-1]
    assert (row["action"], row["result"], row["actor"]["kind"]) == (
        "Admin:Refresh",
        "Success",
        "User",
    )
    assert row["details"] == {"epoch": epoch, "keysRefreshed": 1}
    theirs = api.client.get("/audit", headers=other, params={"limit": 1}).json()["items"][0]
    assert (theirs["action"], theirs["actor"]["kind"]) == ("Keys:Refresh", "System")
    assert theirs["details"] == {"epoch": epoch, "keysRefreshed": 1}
    assert theirs["orgId"] == other_org
    refreshed = api.post(f"/keys/{mine['id']}/refresh", {})
    assert refreshed.status_code == 200, refreshed.text
    row = audit_rows(api)[-1]
    assert (row["action"], row["targetId"]) == ("Keys:Refresh", mine["id"])
    assert row["details"]["epoch"] == epoch + 1
    verify_org(api)


def test_unknown_callers_are_rate_limited_and_counted(api: Api) -> None:
    """A flood of bad tokens cannot fill the disk: beyond the per-process budget the
    rows are counted, and the next row written says how many were left out."""
    middleware = api.app.middleware_stack
    while not isinstance(middleware, AuditMiddleware):
        middleware = middleware.app  # type: ignore[attr-defined]
    budget = middleware._unknown
    budget.tokens, budget.rate = 3.0, 0.0
    try:
        for _ in range(8):
            assert (
                api.client.get("/wallets", headers={"Authorization": "Bearer x"}).status_code == 401
            )
        rows = [r for r in db_rows(api, NO_ORG) if r.action == "Wallets:Read"]
        assert budget.dropped == 5
        budget.tokens = 1.0
        api.client.get("/wallets")
        last = db_rows(api, NO_ORG)[-1]
        assert last.details == {"unrecorded": 5} and budget.dropped == 0
        assert len([r for r in db_rows(api, NO_ORG) if r.action == "Wallets:Read"]) == len(rows) + 1
    finally:
        budget.rate, budget.tokens, budget.dropped = 10.0, 50.0, 0


def client_side_hash(item: dict[str, Any]) -> str:
    """A row's hash as docs/governance-audit.md defines it, from GET /audit alone."""
    actor = item["actor"]
    fields = {
        "v": 1,
        "id": item["id"],
        "orgId": item["orgId"],
        "seq": item["seq"],
        "date": item["date"],
        "actor": actor["kind"],
        "userId": actor.get("userId"),
        "tokenId": actor.get("tokenId"),
        "credentialId": actor.get("credentialId"),
        "tokenHashPrefix": actor.get("tokenHashPrefix"),
        "action": item["action"],
        "targetId": item.get("targetId"),
        "method": item.get("method"),
        "path": item.get("path"),
        "requestHash": item.get("requestHash"),
        "result": item["result"],
        "status": item.get("status"),
        "errorCode": item.get("errorCode"),
        "details": item.get("details"),
        "prevHash": item["prevHash"],
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(b"shardvault/audit/v1\x00" + canonical.encode()).hexdigest()


def test_a_client_recomputes_its_orgs_chain_from_the_api(api: Api) -> None:
    key = api.create_key()
    api.put(f"/keys/{key['id']}", {"name": "ünïcode ✓"})
    api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"})
    rows = audit_rows(api)
    assert rows[0]["seq"] == 1 and rows[0]["prevHash"] == "0" * 64
    for before, row in itertools.pairwise([None, *rows]):
        assert row["prevHash"] == (before["hash"] if before else "0" * 64)
        assert client_side_hash(row) == row["hash"], row


def test_cli_verifies_the_org_chain_through_the_api(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = api.create_key()
    api.put(f"/keys/{key['id']}", {"name": "n"})

    def forward(request: httpx.Request) -> httpx.Response:
        r = api.client.request(
            request.method, request.url.path, params=request.url.params, headers=api.auth
        )
        return httpx.Response(r.status_code, content=r.content, headers=r.headers)

    route_cli_to(monkeypatch, forward)
    ok = invoke("audit", "verify", "--remote")
    assert ok.exit_code == 0, ok.output
    assert "audit log intact: 5 rows in 1 chains" in ok.output
    checkpoint = tmp_path / "cp.json"
    assert (
        invoke("audit", "verify", "--remote", "--save-checkpoint", str(checkpoint)).exit_code == 0
    )
    rows = db_rows(api, api.org_id)
    engine = make_engine(api.database_url)
    try:
        with engine.begin() as c:
            c.execute(
                text("UPDATE audit_log SET target_id = 'key-other' WHERE id = :i"),
                {"i": rows[3].id},
            )
    finally:
        engine.dispose()
    bad = invoke("audit", "verify", "--remote")
    assert bad.exit_code == 1
    assert f"chain {api.org_id}, row 4 ({rows[3].id}): hash does not match" in bad.output
    with engine.begin() as c:
        c.execute(
            text("UPDATE audit_log SET target_id = :k WHERE id = :i"),
            {"i": rows[3].id, "k": key["id"]},
        )
        c.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": rows[4].id})
    engine.dispose()
    assert invoke("audit", "verify", "--remote").exit_code == 0  # a cut tail: the limit
    cut = invoke("audit", "verify", "--remote", "--checkpoint", str(checkpoint))
    assert cut.exit_code == 1 and "row 5: missing or different from the checkpoint" in cut.output


def test_routes_missing_from_the_action_table_are_still_audited() -> None:
    """A write route another part adds later is recorded under ``METHOD /route``
    until it gets its Dfns name; reads and unknown paths are not writes."""
    from shardvault.api.audit import action_for

    assert action_for("POST", "/keys") == ("Keys:Create", True)
    assert action_for("post", "/v2/policies") == ("Policies:Create", True)
    assert action_for("POST", "/not/yet/named") == ("POST /not/yet/named", True)
    assert action_for("GET", "/keys/{keyId}") == ("Keys:Read", False)
    assert action_for("GET", "/v2/policies") == ("Policies:Read", False)
    assert action_for("GET", "/not/yet/named") == ("GET /not/yet/named", False)
    assert action_for("POST", None) == ("POST ?", False)
