"""Ids, the datetime type, Alembic migrations on SQLite and on PostgreSQL.

PostgreSQL: ``SHARDVAULT_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test creates a uniquely
named database and drops it afterwards. Unreachable -> skip, or FAIL when CI=true.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import anyio
import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from apihelpers import BASE_URL, FakeVault, error_of, signed_token
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from shardvault.api import create_app, ensure_admin, set_key_export
from shardvault.crypto import hpke
from shardvault.db import (
    Base,
    KeyRow,
    Org,
    SignatureRow,
    alembic_config,
    default_database_url,
    is_id,
    make_engine,
    new_id,
    normalize_database_url,
    read_sessionmaker,
    upgrade_database,
    write_sessionmaker,
)
from shardvault.db.models import ServiceAccount, utcnow

PG_URL = os.environ.get(
    "SHARDVAULT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TABLES = {
    "alembic_version",
    "orgs",
    "credentials",
    "user_action_challenges",
    "user_action_tokens",
    "server_keys",
    "service_accounts",
    "api_tokens",
    "keys",
    "signatures",
    "wallets",
    "permissions",
    "permission_assignments",
    "audit_log",
    "audit_heads",
}


# -- ids and types ----------------------------------------------------------------------
def test_ids_are_prefixed_sortable_and_unique() -> None:
    ids = [new_id("key", now_ms=1_700_000_000_000 + i) for i in range(50)]
    assert ids == sorted(ids)
    for i in ids:
        assert re.fullmatch(r"key-[0-7][0-9a-hjkmnp-tv-z]{25}", i)
        assert is_id(i, "key") and not is_id(i, "sig")
    same_ms = {new_id("sig", now_ms=5) for _ in range(1000)}
    assert len(same_ms) == 1000
    assert new_id("or", now_ms=0).startswith("or-0000000000")
    assert new_id("or", now_ms=(1 << 48) - 1)[3:13] == "7zzzzzzzzz"
    with pytest.raises(ValueError):
        new_id("key", now_ms=1 << 48)
    for bad in ("key-", "key-" + "u" * 26, "KEY-01m89z0nex9nwt7vng6hqqgcp5", "key-8" + "0" * 25):
        assert not is_id(bad, "key")


def test_database_urls() -> None:
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///x") == "sqlite:///x"
    url = default_database_url(Path("rel/dir"))
    assert url.startswith("sqlite:////") and url.endswith("/rel/dir/api.sqlite3")


def _check_datetimes(url: str) -> None:
    engine = make_engine(url)
    try:
        now = utcnow()
        with write_sessionmaker(engine).begin() as s:
            s.add(
                Org(
                    id=new_id("or"),
                    name="tz",
                    date_created=now.astimezone(timezone(timedelta(hours=5))),
                )
            )
        with read_sessionmaker(engine)() as s:
            org = s.scalars(select(Org).where(Org.name == "tz")).one()
        assert org.date_created == now and org.date_created.tzinfo == UTC
        with pytest.raises(Exception, match="naive"), write_sessionmaker(engine).begin() as s:
            s.add(Org(id=new_id("or"), name="naive", date_created=datetime(2026, 1, 1)))
    finally:
        engine.dispose()


def _check_migrated(url: str) -> None:
    engine = make_engine(url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
            # the single head (the lead re-chains the migrations of parallel branches)
            heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()
            assert [ctx.get_current_revision()] == heads
    finally:
        engine.dispose()


def _check_unique_external_id(url: str) -> None:
    engine = make_engine(url)
    try:
        with write_sessionmaker(engine).begin() as s:
            org = Org(id=new_id("or"), name="u", date_created=utcnow())
            s.add(org)
            s.flush()
            key = KeyRow(
                id=new_id("key"), org_id=org.id, scheme="EdDSA", curve="ed25519",
                protocol="FROST", public_key="00" * 32, status="Active", imported=False,
                exported=False, date_created=utcnow(), shares_erased=False, min_signers=2,
                signer_ids=["a", "b"], verifying_shares={},
            )  # fmt: skip
            s.add(key)
            s.flush()
            for ext in (None, None, "x"):
                s.add(
                    SignatureRow(
                        id=new_id("sig"), key_id=key.id, status="Pending", request_body={},
                        external_id=ext, date_requested=utcnow(),
                    )
                )  # fmt: skip
        with pytest.raises(IntegrityError), write_sessionmaker(engine).begin() as s:
            s.add(
                SignatureRow(
                    id=new_id("sig"), key_id=key.id, status="Pending", request_body={},
                    external_id="x", date_requested=utcnow(),
                )
            )  # fmt: skip
    finally:
        engine.dispose()


# -- SQLite -----------------------------------------------------------------------------
def test_sqlite_migrations_on_a_fresh_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'dir' / 'api.sqlite3'}"
    upgrade_database(url)
    upgrade_database(url)  # idempotent
    _check_migrated(url)
    _check_unique_external_id(url)
    _check_datetimes(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_sqlite_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    upgrade_database(url)
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()
    upgrade_database(url)
    _check_migrated(url)


def test_migrations_ship_inside_the_package() -> None:
    import shardvault.db.migrations as migrations

    root = Path(migrations.__file__).parent
    assert (root / "env.py").exists()
    assert any(p.name.startswith("0001_") for p in (root / "versions").glob("*.py"))


# -- PostgreSQL -------------------------------------------------------------------------
@pytest.fixture
def pg_url() -> Iterator[str]:
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        conn = admin.connect()
    except OperationalError as exc:
        admin.dispose()
        reason = f"PostgreSQL unreachable at {PG_URL}: {type(exc).__name__}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"shardvault_test_{secrets.token_hex(6)}"
    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(normalize_database_url(PG_URL))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
        admin.dispose()


def test_postgres_migrations(pg_url: str) -> None:
    upgrade_database(pg_url)
    upgrade_database(pg_url)
    _check_migrated(pg_url)
    _check_unique_external_id(pg_url)
    _check_datetimes(pg_url)
    command.downgrade(alembic_config(pg_url), "base")
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        left = conn.execute(
            text("select tablename from pg_tables where schemaname = 'public'")
        ).scalars()
        assert set(left) == {"alembic_version"}
    engine.dispose()
    upgrade_database(pg_url)
    _check_migrated(pg_url)


def test_postgres_api_flow(pg_url: str, tmp_path: Path) -> None:
    vault = FakeVault()
    creds = json.loads(ensure_admin(pg_url, tmp_path / "data", BASE_URL).read_text())
    auth = {"Authorization": f"Bearer {creds['token']}"}
    with TestClient(create_app(vault, pg_url)) as c:
        keys = [
            c.post("/keys", json={"scheme": s, "curve": cv}, headers=auth).json()
            for s, cv in (("EdDSA", "ed25519"), ("Schnorr", "secp256k1"), ("EdDSA", "ed25519"))
        ]
        page = c.get("/keys", params={"limit": 2}, headers=auth).json()
        rest = c.get(
            "/keys", params={"paginationToken": page["nextPageToken"]}, headers=auth
        ).json()
        assert [k["id"] for k in page["items"] + rest["items"]] == sorted(
            (k["id"] for k in keys), reverse=True
        )
        body = {"kind": "Message", "message": "0x0102", "externalId": "pg"}
        path = f"/keys/{keys[0]['id']}/signatures"
        first = c.post(path, json=body, headers=auth).json()
        assert c.post(path, json=body, headers=auth).json() == first
        assert vault.calls["sign"] == 1
        assert c.get(f"{path}/{first['id']}", headers=auth).json() == first
        renamed = c.put(f"/keys/{keys[1]['id']}", json={"name": "n"}, headers=auth).json()
        assert renamed["name"] == "n"
        set_key_export(pg_url, True)
        enc = hpke.HpkeKeyPair.generate().public_key
        r = c.post(
            f"/keys/{keys[1]['id']}/export",
            json={
                "encryptionKey": base64.urlsafe_b64encode(enc).rstrip(b"=").decode(),
                "supportedSchemes": [{"protocol": "FROST_BITCOIN", "curve": "secp256k1"}],
            },
            headers=auth,
        )
        assert r.status_code == 200
        r = c.post(
            f"/keys/{keys[1]['id']}/signatures",
            json={"kind": "Hash", "hash": "0x" + "00" * 32},
            headers=auth,
        )
        assert error_of(r)["code"] == "KeyExported"
        assert c.delete(f"/keys/{keys[2]['id']}", headers=auth).json()["status"] == "Archived"


@pytest.mark.anyio
async def test_postgres_concurrent_duplicates_sign_once(pg_url: str, tmp_path: Path) -> None:
    vault = FakeVault(sign_delay=0.1)
    creds = json.loads(ensure_admin(pg_url, tmp_path / "data", BASE_URL).read_text())
    auth = {"Authorization": f"Bearer {creds['token']}"}
    app = create_app(vault, pg_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        key = (
            await c.post("/keys", json={"scheme": "EdDSA", "curve": "ed25519"}, headers=auth)
        ).json()
        body = {"kind": "Message", "message": "0x01", "externalId": "race"}
        ids: list[str] = []

        async def one() -> None:
            r = await c.post(f"/keys/{key['id']}/signatures", json=body, headers=auth)
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(one)
    assert len(set(ids)) == 1 and len(ids) == 5
    assert vault.calls["sign"] == 1


def test_pending_rows_from_before_leases_are_resolved_at_start(tmp_path: Path) -> None:
    """A row left Pending (in flight) under revision 0002 (no lease) blocked its externalId
    forever; after the upgrade (0008 makes it Executing) the API's start resolves it Failed
    ``Interrupted`` and frees the externalId (docs/security.md item 26)."""
    url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    upgrade_database(url, "0002")
    engine = make_engine(url)
    try:
        with engine.begin() as c:
            now = utcnow().replace(tzinfo=None)
            c.execute(
                text("INSERT INTO orgs (id, name, date_created) VALUES ('or-1', 'o', :now);"),
                {"now": now},
            )
            c.execute(
                text(
                    "INSERT INTO keys (id, org_id, scheme, curve, protocol, public_key, "
                    "status, imported, exported, date_created, shares_erased, min_signers, "
                    "signer_ids, verifying_shares) VALUES ('key-1', 'or-1', 'EdDSA', "
                    "'ed25519', 'FROST', '00', 'Active', 0, 0, :now, 0, 2, '[]', '{}')"
                ),
                {"now": now},
            )
            c.execute(
                text(
                    "INSERT INTO signatures (id, key_id, status, request_body, external_id, "
                    "date_requested) VALUES ('sig-1', 'key-1', 'Pending', '{}', 'x', :now)"
                ),
                {"now": now},
            )
    finally:
        engine.dispose()
    create_app(FakeVault(), url)  # upgrades to head, then resolves
    engine = make_engine(url)
    try:
        with read_sessionmaker(engine)() as s:
            sig = s.get_one(SignatureRow, "sig-1")
        assert (sig.status, sig.error_code, sig.external_id) == ("Failed", "Interrupted", None)
    finally:
        engine.dispose()


@pytest.mark.anyio
async def test_postgres_concurrent_approvals_sign_once(pg_url: str, tmp_path: Path) -> None:
    """Three approvers of a 2-of-3 group decide at once on PostgreSQL: the approval
    row lock and the conditional Pending -> Executing update sign it exactly once."""
    vault = FakeVault(sign_delay=0.1)
    creds = json.loads(ensure_admin(pg_url, tmp_path / "data", BASE_URL).read_text())
    auth = {"Authorization": f"Bearer {creds['token']}"}
    engine = make_engine(pg_url)
    approvers: list[tuple[str, dict[str, str]]] = []
    try:
        with write_sessionmaker(engine).begin() as s:
            for i in range(3):
                account = ServiceAccount(
                    id=new_id("sa"), org_id=creds["orgId"], name=f"approver{i}",
                    is_admin=True, is_active=True, date_created=utcnow(),
                )  # fmt: skip
                s.add(account)
                s.flush()
                token = signed_token(s, creds["orgId"], account.id)
                approvers.append((account.id, {"Authorization": f"Bearer {token}"}))
    finally:
        engine.dispose()
    app = create_app(vault, pg_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        policy = {
            "name": "2 of 3", "activityKind": "Wallets:Sign", "rule": {"kind": "AlwaysTrigger"},
            "action": {"kind": "RequestApproval", "approvalGroups": [
                {"quorum": 2, "approvers": {"userId": {"in": [a for a, _ in approvers]}}}
            ]},
        }  # fmt: skip
        assert (await c.post("/v2/policies", json=policy, headers=auth)).status_code == 200
        key = (
            await c.post("/keys", json={"scheme": "EdDSA", "curve": "ed25519"}, headers=auth)
        ).json()
        r = await c.post(
            f"/keys/{key['id']}/signatures",
            json={"kind": "Message", "message": "0x01"},
            headers=auth,
        )
        assert r.status_code == 202, r.text
        path = f"/v2/policy-approvals/{r.json()['approvalId']}"
        codes: list[int] = []

        async def decide(headers: dict[str, str]) -> None:
            answer = await c.post(f"{path}/decisions", json={"value": "Approved"}, headers=headers)
            codes.append(answer.status_code)

        async with anyio.create_task_group() as tg:
            for _, headers in approvers:
                tg.start_soon(decide, headers)
        final = (await c.get(path, headers=auth)).json()
    assert codes.count(200) >= 2 and set(codes) <= {200, 409}, codes
    assert vault.calls["sign"] == 1
    assert final["status"] == "Approved"
    assert final["activity"]["signatureRequest"]["status"] == "Signed"
