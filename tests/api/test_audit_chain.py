"""The audit log's hash chain on SQLite and PostgreSQL: ``verify_chains`` and
``shardvault audit verify`` find an edited, re-hashed, reordered or deleted row, a
deleted tail (against the head row, and against a checkpoint when the head was
forged too) and a deleted chain; concurrent appends from several engines (API
processes) keep one gapless chain.

PostgreSQL: the ``pg_url`` fixture of test_api_db.py (skipped when unreachable, a
failure with CI=true)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from apihelpers import BASE_URL, FakeVault
from clihelpers import invoke
from sqlalchemy import select, text
from test_api_db import pg_url  # noqa: F401 (a fixture)

from shardvault.api import create_app, create_org, ensure_admin
from shardvault.api.audit import ACTOR_USER, AuditContext, append
from shardvault.api.audit_chain import VerifyReport, row_hash, verify_chains
from shardvault.api.repository import ApiRepository
from shardvault.db import make_engine, read_sessionmaker, upgrade_database, write_sessionmaker
from shardvault.db.models import AuditHead, AuditRow, KeyRow, utcnow


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'api.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


def user(org_id: str) -> AuditContext:
    return AuditContext(
        org_id=org_id,
        actor=ACTOR_USER,
        user_id="sa-test",
        token_id="to-test",
        credential_id="cr-test",
        method="POST",
        path="/keys",
        request_hash="ab" * 32,
    )


def append_rows(url: str, org_id: str, n: int) -> None:
    engine = make_engine(url)
    try:
        for i in range(n):
            with write_sessionmaker(engine).begin() as s:
                append(
                    s,
                    user(org_id),
                    action="Keys:Create",
                    target_id=f"key-{i}",
                    details={"i": i, "name": "é✓"},
                )
    finally:
        engine.dispose()


@pytest.fixture
def chain(url: str) -> Iterator[tuple[str, str]]:
    """A database with one org whose chain has 8 rows (3 from its creation)."""
    upgrade_database(url)
    org_id = create_org(url, "audited").org_id
    append_rows(url, org_id, 5)
    yield url, org_id


def verify(url: str, **kw: Any) -> VerifyReport:
    engine = make_engine(url)
    try:
        with read_sessionmaker(engine)() as s:
            return verify_chains(s, **kw)
    finally:
        engine.dispose()


def sql(url: str, statement: str, **params: Any) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as c:
            c.execute(text(statement), params)
    finally:
        engine.dispose()


def row_id(url: str, org_id: str, seq: int) -> str:
    engine = make_engine(url)
    try:
        with read_sessionmaker(engine)() as s:
            return s.scalars(
                select(AuditRow.id).where(AuditRow.org_id == org_id, AuditRow.seq == seq)
            ).one()
    finally:
        engine.dispose()


def only_problem(url: str, **kw: Any) -> Any:
    report = verify(url, **kw)
    assert len(report.problems) == 1, [str(p) for p in report.problems]
    return report.problems[0]


def cli_verify(url: str, *extra: str) -> Any:
    return invoke("audit", "verify", "--db", url, *extra)


def test_intact_chain_verifies(chain: tuple[str, str]) -> None:
    url, org_id = chain
    report = verify(url)
    assert report.ok and report.rows == 8
    assert report.heads[org_id][0] == 8
    result = cli_verify(url)
    assert result.exit_code == 0, result.output
    assert "audit log intact: 8 rows in 1 chains" in result.output
    assert report.heads[org_id][1] in result.output


def test_edited_row_is_named(chain: tuple[str, str]) -> None:
    url, org_id = chain
    sql(url, "UPDATE audit_log SET action = 'Keys:Read' WHERE org_id = :o AND seq = 5", o=org_id)
    problem = only_problem(url)
    assert (problem.org_id, problem.seq, problem.row_id) == (org_id, 5, row_id(url, org_id, 5))
    assert "edited" in problem.message
    result = cli_verify(url)
    assert result.exit_code == 1
    assert f"chain {org_id}, row 5 ({problem.row_id})" in result.output


def test_edited_details_are_detected(chain: tuple[str, str]) -> None:
    url, org_id = chain
    sql(
        url,
        "UPDATE audit_log SET details = :d WHERE org_id = :o AND seq = 6",
        o=org_id,
        d=json.dumps({"i": 2, "name": "é✓", "extra": True}),
    )
    assert only_problem(url).seq == 6


def test_rehashed_row_breaks_the_next_link(chain: tuple[str, str]) -> None:
    """An editor who recomputes the edited row's hash breaks the next row's prevHash."""
    url, org_id = chain
    engine = make_engine(url)
    try:
        with write_sessionmaker(engine).begin() as s:
            row = s.scalars(
                select(AuditRow).where(AuditRow.org_id == org_id, AuditRow.seq == 4)
            ).one()
            row.result = "Failure"
            row.hash = row_hash(row)
    finally:
        engine.dispose()
    problem = only_problem(url)
    assert problem.seq == 5 and "prevHash" in problem.message


def test_reordered_rows_are_detected(chain: tuple[str, str]) -> None:
    url, org_id = chain
    sql(url, "UPDATE audit_log SET seq = -1 WHERE org_id = :o AND seq = 4", o=org_id)
    sql(url, "UPDATE audit_log SET seq = 4 WHERE org_id = :o AND seq = 5", o=org_id)
    sql(url, "UPDATE audit_log SET seq = 5 WHERE org_id = :o AND seq = -1", o=org_id)
    problem = only_problem(url)
    assert problem.seq == 4


def test_deleted_row_is_detected(chain: tuple[str, str]) -> None:
    url, org_id = chain
    sql(url, "DELETE FROM audit_log WHERE org_id = :o AND seq = 3", o=org_id)
    problem = only_problem(url)
    assert problem.seq == 4 and "row 3 is missing" in problem.message
    result = cli_verify(url, "--org", org_id)
    assert result.exit_code == 1 and "row 3 is missing (deleted)" in result.output


def test_deleted_tail_is_detected_by_the_head(chain: tuple[str, str]) -> None:
    url, org_id = chain
    sql(url, "DELETE FROM audit_log WHERE org_id = :o AND seq >= 7", o=org_id)
    problem = only_problem(url)
    assert problem.seq == 7 and "tail deleted" in problem.message


def test_forged_head_is_caught_by_a_checkpoint(chain: tuple[str, str], tmp_path: Path) -> None:
    """Deleting the tail and rewriting the head to match passes the database's own
    checks (the documented limit); a checkpoint saved earlier elsewhere catches it."""
    url, org_id = chain
    checkpoint = tmp_path / "checkpoint.json"
    assert cli_verify(url, "--save-checkpoint", str(checkpoint)).exit_code == 0
    saved = json.loads(checkpoint.read_text())["chains"][org_id]
    assert saved["seq"] == 8
    assert cli_verify(url, "--checkpoint", str(checkpoint)).exit_code == 0
    engine = make_engine(url)
    try:
        with write_sessionmaker(engine).begin() as s:
            s.execute(text("DELETE FROM audit_log WHERE org_id = :o AND seq >= 7"), {"o": org_id})
            last = s.scalars(
                select(AuditRow).where(AuditRow.org_id == org_id, AuditRow.seq == 6)
            ).one()
            head = s.get_one(AuditHead, org_id)
            head.seq, head.hash = 6, last.hash
    finally:
        engine.dispose()
    assert verify(url).ok  # the limit: the database alone cannot tell
    problem = only_problem(url, checkpoint={org_id: (saved["seq"], saved["hash"])})
    assert problem.seq == 7 and "checkpoint" in problem.message
    result = cli_verify(url, "--checkpoint", str(checkpoint))
    assert result.exit_code == 1 and "rows 7 to 8 are missing" in result.output


def test_rewritten_chain_differs_from_the_checkpoint(chain: tuple[str, str]) -> None:
    url, org_id = chain
    saved = verify(url).heads[org_id]
    engine = make_engine(url)
    try:  # rewrite row 8 consistently (content, hash and head)
        with write_sessionmaker(engine).begin() as s:
            row = s.scalars(
                select(AuditRow).where(AuditRow.org_id == org_id, AuditRow.seq == 8)
            ).one()
            row.target_id = "key-forged"
            row.hash = row_hash(row)
            s.get_one(AuditHead, org_id).hash = row.hash
    finally:
        engine.dispose()
    assert verify(url).ok
    assert "checkpoint" in only_problem(url, checkpoint={org_id: saved}).message


def test_deleted_chain_is_detected(chain: tuple[str, str]) -> None:
    url, org_id = chain
    sql(url, "DELETE FROM audit_log WHERE org_id = :o", o=org_id)
    sql(url, "DELETE FROM audit_heads WHERE org_id = :o", o=org_id)
    problem = only_problem(url)
    assert problem.org_id == org_id and "no audit chain" in problem.message


def test_edited_head_is_detected(chain: tuple[str, str]) -> None:
    url, org_id = chain
    sql(url, "UPDATE audit_heads SET hash = :h WHERE org_id = :o", o=org_id, h="00" * 32)
    assert "head edited" in only_problem(url).message


def test_cli_reads_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'api.sqlite3'}"
    ensure_admin(url, data, BASE_URL)
    result = invoke("audit", "verify", "--data-dir", str(data), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ok"] is True and out["rows"] == 3 and out["problems"] == []
    missing = invoke("audit", "verify", "--data-dir", str(tmp_path / "none"))
    assert missing.exit_code == 1 and "NotInitialized" in missing.output


def _append_concurrently(url: str, org_ids: list[str], threads: int, each: int) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker() -> None:
        engine = make_engine(url)  # one engine per thread: separate API processes
        try:
            start.wait()
            for i in range(each):
                with write_sessionmaker(engine).begin() as s:
                    append(s, user(org_ids[i % len(org_ids)]), action="Keys:Update")
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []


def test_concurrent_appends_keep_one_chain(url: str) -> None:
    """Several engines append to one org's chain and to a chain created by the race
    itself (no head yet): every row lands, numbered without gaps, chain intact."""
    upgrade_database(url)
    org_id = create_org(url, "busy").org_id
    fresh_chain = "or-raced-into-existence"
    _append_concurrently(url, [fresh_chain, org_id], threads=6, each=20)
    report = verify(url)
    assert report.ok, [str(p) for p in report.problems]
    assert report.heads[org_id][0] == 3 + 60 and report.heads[fresh_chain][0] == 60


@pytest.mark.anyio
async def test_postgres_two_api_processes_audit_concurrently(
    pg_url: str,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    vault = FakeVault()
    creds = json.loads(ensure_admin(pg_url, tmp_path / "data", BASE_URL).read_text())
    auth = {"Authorization": f"Bearer {creds['token']}"}
    apps = [create_app(vault, pg_url), create_app(vault, pg_url)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url=BASE_URL) for a in apps
    ]
    ids: list[str] = []

    async def create(client: httpx.AsyncClient) -> None:
        r = await client.post("/keys", json={"scheme": "EdDSA", "curve": "ed25519"}, headers=auth)
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])

    try:
        async with anyio.create_task_group() as tg:
            for i in range(16):
                tg.start_soon(create, clients[i % 2])
        r = await clients[0].get(
            "/audit", params={"action": "Keys:Create", "limit": 100}, headers=auth
        )
        assert sorted(row["targetId"] for row in r.json()["items"]) == sorted(ids)
    finally:
        for c in clients:
            await c.aclose()
    report = verify(pg_url)
    assert report.ok, [str(p) for p in report.problems]
    assert report.heads[creds["orgId"]][0] == 3 + 16


def test_migration_gives_existing_orgs_an_empty_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    upgrade_database(url, "0004")
    sql(url, "INSERT INTO orgs (id, name, date_created) VALUES ('or-old', 'o', '2026-01-01')")
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with read_sessionmaker(engine)() as s:
            head = s.get_one(AuditHead, "or-old")
    finally:
        engine.dispose()
    assert (head.seq, head.hash) == (0, "0" * 64)
    assert verify(url).ok
    append_rows(url, "or-old", 2)
    report = verify(url)
    assert report.ok and report.heads["or-old"][0] == 2
    sql(url, "DELETE FROM audit_heads WHERE org_id = 'or-old'")
    sql(url, "DELETE FROM audit_log WHERE org_id = 'or-old'")
    assert "no audit chain" in only_problem(url).message


def test_interrupted_claims_are_resolved_by_the_vault_on_the_record(tmp_path: Path) -> None:
    """A claim whose process died is resolved Failed ``Interrupted`` at the next
    start, with a ``System`` row in the key's org."""
    url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    upgrade_database(url)
    org_id = create_org(url, "o").org_id
    engine = make_engine(url)
    try:
        with write_sessionmaker(engine).begin() as s:
            s.add(
                KeyRow(
                    id="key-1", org_id=org_id, scheme="EdDSA", curve="ed25519",
                    protocol="FROST", public_key="00" * 32, status="Active", imported=False,
                    exported=False, date_created=utcnow(), shares_erased=False, min_signers=2,
                    signer_ids=["a", "b"], verifying_shares={},
                )
            )  # fmt: skip
        dead = ApiRepository(engine, lease_seconds=0.001)
        claim = dead.claim_signature(
            org_id,
            "key-1",
            {"kind": "Message"},
            "x",
            audit=replace(user(org_id), action="Keys:Signatures:Create"),
        )
        time.sleep(0.01)
        assert ApiRepository(engine).resolve_expired_claims() == 1
        with read_sessionmaker(engine)() as s:
            rows = list(
                s.scalars(select(AuditRow).where(AuditRow.org_id == org_id).order_by(AuditRow.seq))
            )
    finally:
        engine.dispose()
    claimed, resolved = rows[-2], rows[-1]
    assert (claimed.result, claimed.target_id, claimed.actor) == (
        "Pending",
        claim.signature.id,
        "User",
    )
    assert (resolved.actor, resolved.result, resolved.error_code, resolved.target_id) == (
        "System",
        "Failure",
        "Interrupted",
        claim.signature.id,
    )
    assert verify(url).ok
