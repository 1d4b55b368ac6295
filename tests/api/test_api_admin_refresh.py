"""``POST /admin/refresh`` and ``GET /admin/refresh`` (docs/security.md item 28) over
the FakeVault: an epoch covers every org's Active, never exported keys, the API
stores the new verifying shares, admin tokens only, and an epoch the API missed is
applied at start."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy
from apihelpers import Api, AsyncApi, error_of
from signinghelpers import signer_for

from shardvault.api.refresh_epoch import apply_missed_epoch
from shardvault.api.repository import ApiRepository
from shardvault.db.engine import make_engine
from shardvault.errors import Conflict

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _verifying(api: Api, key_id: str) -> dict[str, str]:
    engine = sqlalchemy.create_engine(api.database_url)
    with engine.connect() as c:
        raw = c.execute(
            sqlalchemy.text("SELECT verifying_shares FROM keys WHERE id = :k"), {"k": key_id}
        ).scalar_one()
    engine.dispose()
    return dict(raw) if isinstance(raw, dict) else dict(json.loads(raw))


def test_admin_refresh_runs_an_epoch_over_every_org(api: Api) -> None:
    mine = api.create_key("ECDSA", "secp256k1")
    _, other = api.other_org()
    r = api.client.post("/keys", json={"scheme": "ECDSA", "curve": "secp256k1"}, headers=other)
    theirs = r.json()
    exported = api.create_key("ECDSA", "secp256k1")
    before = {k["id"]: _verifying(api, k["id"]) for k in (mine, theirs)}
    engine = sqlalchemy.create_engine(api.database_url)
    with engine.begin() as c:
        c.execute(
            sqlalchemy.text("UPDATE keys SET exported = 1 WHERE id = :k"), {"k": exported["id"]}
        )
    engine.dispose()

    r = api.post("/admin/refresh", {"freshPrimes": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["epoch"] == 1 and body["state"] == "committed" and body["primes"] == "fresh"
    assert body["keys"] == {"ecdsa": 2, "frost": 0}
    assert ISO.match(body["startedAt"]) and ISO.match(body["finishedAt"])
    assert isinstance(body["durationMs"], int)
    for key in (mine, theirs):
        assert _verifying(api, key["id"]) != before[key["id"]]
    assert api.vault.calls["run_epoch"] == 1

    r = api.post("/admin/refresh")
    assert r.status_code == 200 and r.json()["primes"] == "stock"
    listed = api.get("/admin/refresh").json()["items"]
    assert [e["epoch"] for e in listed] == [2, 1]


def test_admin_refresh_needs_an_admin_token(api: Api) -> None:
    org_id, other = api.other_org()
    engine = sqlalchemy.create_engine(api.database_url)
    with engine.begin() as c:
        c.execute(
            sqlalchemy.text("UPDATE service_accounts SET is_admin = false WHERE org_id = :o"),
            {"o": org_id},
        )
    engine.dispose()
    for method in ("post", "get"):
        r = getattr(api.client, method)("/admin/refresh", headers=other)
        assert r.status_code == 403 and error_of(r)["code"] == "Forbidden"
    assert api.vault.calls.get("run_epoch", 0) == 0
    r = api.post("/admin/refresh", {"freshPrimes": "yes please"})
    assert r.status_code == 400


def test_an_epoch_the_api_missed_is_applied_at_start(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    before = _verifying(api, key["id"])
    # The signers commit an epoch, but the API never stores it (it stopped).
    record = api.vault._ecdsa_record(key["id"], api.vault.ecdsa_keys[key["id"]])
    asyncio.run(api.vault.run_epoch([record], fresh_primes=False))
    assert _verifying(api, key["id"]) == before
    repository = ApiRepository(make_engine(api.database_url))
    assert asyncio.run(apply_missed_epoch(api.vault, repository)) == 1
    assert _verifying(api, key["id"]) != before
    assert asyncio.run(apply_missed_epoch(api.vault, repository)) == 0  # idempotent


def test_a_decided_epoch_not_yet_committed_everywhere_is_stored(api: Api) -> None:
    """An epoch in state ``committing`` (decided; the coordinator resumes the commit
    on a late signer in the background) carries the keys' verifying shares from now
    on: the API stores them, at start as after the epoch."""
    key = api.create_key("ECDSA", "secp256k1")
    before = _verifying(api, key["id"])
    record = api.vault._ecdsa_record(key["id"], api.vault.ecdsa_keys[key["id"]])
    asyncio.run(api.vault.run_epoch([record], fresh_primes=False))
    api.vault.epoch_log[0] = dataclasses.replace(api.vault.epoch_log[0], state="committing")
    repository = ApiRepository(make_engine(api.database_url))
    assert asyncio.run(apply_missed_epoch(api.vault, repository)) == 1
    assert _verifying(api, key["id"]) != before


def test_a_non_admin_key_refresh_within_the_interval_starts_no_epoch(api: Api) -> None:
    """Finding 6 of the issue-12 review: POST /keys/{keyId}/refresh runs a cluster-wide
    epoch, so a non-admin caller within the minimum interval (10 min by default) of the
    last epoch starts none and gets the key as that epoch refreshed it (200); admins
    and POST /admin/refresh always run one."""
    _, other = api.account("Keys:Create", "Keys:Read", "Keys:Update")
    r = api.client.post("/keys", json={"scheme": "ECDSA", "curve": "secp256k1"}, headers=other)
    assert r.status_code == 200, r.text
    key = r.json()
    before = _verifying(api, key["id"])
    first = api.client.post(f"/keys/{key['id']}/refresh", headers=other)
    assert first.status_code == 200, first.text
    assert api.vault.calls["run_epoch"] == 1
    refreshed = _verifying(api, key["id"])
    assert refreshed != before
    for _ in range(3):
        again = api.client.post(f"/keys/{key['id']}/refresh", headers=other)
        assert again.status_code == 200 and again.json() == first.json()
    assert api.vault.calls["run_epoch"] == 1
    assert _verifying(api, key["id"]) == refreshed
    # Admins are not limited.
    assert api.post("/admin/refresh").status_code == 200
    mine = api.create_key("ECDSA", "secp256k1")
    assert api.post(f"/keys/{mine['id']}/refresh").status_code == 200
    assert api.vault.calls["run_epoch"] == 3


@pytest.mark.anyio
async def test_key_refreshes_during_an_epoch_join_it(
    async_api: AsyncApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A POST /keys/{keyId}/refresh while an epoch runs waits for that epoch's result
    instead of starting another (which would be refused: RefreshInProgress)."""
    client, vault = async_api.client, async_api.vault
    r = await client.post(
        "/keys", json={"scheme": "ECDSA", "curve": "secp256k1"}, headers=async_api.auth
    )
    key = r.json()
    run_epoch = vault.run_epoch
    running = 0

    async def slow_epoch(keys: Sequence[Any], *, fresh_primes: bool) -> Any:
        nonlocal running
        running += 1
        try:
            if running > 1:
                raise Conflict("an epoch is running", code="RefreshInProgress")
            await asyncio.sleep(0.3)
            return await run_epoch(keys, fresh_primes=fresh_primes)
        finally:
            running -= 1

    monkeypatch.setattr(vault, "run_epoch", slow_epoch)
    # signed beforehand, so the three requests arrive together
    path = f"/keys/{key['id']}/refresh"
    signer = signer_for(async_api.auth["Authorization"].removeprefix("Bearer "))
    signed = [
        {**async_api.auth, "X-DFNS-USERACTION": await signer.sign_request_async(
            client, "POST", path, "", headers=async_api.auth
        )}
        for _ in range(3)
    ]  # fmt: skip
    replies = await asyncio.gather(*(client.post(path, headers=h) for h in signed))
    assert [x.status_code for x in replies] == [200, 200, 200], [x.text for x in replies]
    assert vault.calls["run_epoch"] == 1
    assert len({json.dumps(x.json(), sort_keys=True) for x in replies}) == 1


def test_an_epoch_first_finishes_deletes_the_signers_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DELETE the signers refused (here: during an epoch) leaves the key Archived
    with its shares on the signers; an epoch leaving such a key out would be aborted
    (``KeysOutOfStep``), so the API first finishes the erasure, then runs the epoch."""
    key = api.create_key("ECDSA", "secp256k1")
    original = api.vault.delete_key

    async def refused(record: Any) -> None:
        raise Conflict("a refresh epoch is running", code="RefreshInProgress")

    monkeypatch.setattr(api.vault, "delete_key", refused)
    r = api.delete(f"/keys/{key['id']}")
    assert r.status_code == 409 and error_of(r)["code"] == "RefreshInProgress"
    erased: list[str] = []

    async def recording(record: Any) -> None:
        erased.append(record.key_id)
        await original(record)

    monkeypatch.setattr(api.vault, "delete_key", recording)
    r = api.post("/admin/refresh", {})
    assert r.status_code == 200, r.text
    assert erased == [key["id"]]
    engine = sqlalchemy.create_engine(api.database_url)
    with engine.connect() as c:
        status, shares_erased = c.execute(
            sqlalchemy.text("SELECT status, shares_erased FROM keys WHERE id = :k"),
            {"k": key["id"]},
        ).one()
    engine.dispose()
    assert status == "Archived" and bool(shares_erased)
