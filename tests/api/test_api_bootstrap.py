"""ensure_admin (credentials.json, 0600, idempotent) and set_key_export."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from apihelpers import FakeVault
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import select

from shardvault.api import create_app, create_org, ensure_admin, set_key_export, set_org_settings
from shardvault.db import ApiToken, Org, ServiceAccount, make_engine, read_sessionmaker
from shardvault.db.models import CredentialRow
from shardvault.errors import InvalidParameters, NotFound

#: A JWT (header.claims.signature, base64url).
TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _rows(url: str) -> tuple[list[Org], list[ServiceAccount], list[ApiToken]]:
    engine = make_engine(url)
    with read_sessionmaker(engine)() as s:
        out = (
            list(s.scalars(select(Org))),
            list(s.scalars(select(ServiceAccount))),
            list(s.scalars(select(ApiToken))),
        )
    engine.dispose()
    return out


@pytest.fixture
def fresh_url(tmp_path: Path) -> str:
    """A database that does not exist yet (ensure_admin must migrate it)."""
    return f"sqlite:///{tmp_path / 'db' / 'api.sqlite3'}"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_first_run_writes_0600_credentials(
    fresh_url: str, tmp_path: Path, loose_umask: None
) -> None:
    data = tmp_path / "data"
    path = ensure_admin(fresh_url, data, "http://127.0.0.1:8080")
    assert path == data / "credentials.json"
    assert _mode(path) == 0o600
    creds = json.loads(path.read_text())
    assert set(creds) == {"baseUrl", "token", "orgId", "userId", "credentialId", "privateKey"}
    assert creds["baseUrl"] == "http://127.0.0.1:8080"
    assert TOKEN.fullmatch(creds["token"])
    orgs, accounts, tokens = _rows(fresh_url)
    assert [o.id for o in orgs] == [creds["orgId"]]
    assert orgs[0].key_export_enabled is False
    assert len(accounts) == 1 and accounts[0].is_admin
    assert creds["userId"] == accounts[0].id
    # the credential: a fresh Ed25519 key (PKCS#8), its public half registered
    key = serialization.load_pem_private_key(creds["privateKey"].encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    engine = make_engine(fresh_url)
    with read_sessionmaker(engine)() as s:
        cred = s.get(CredentialRow, creds["credentialId"])
    engine.dispose()
    assert cred is not None and cred.is_active and cred.user_id == creds["userId"]
    assert (
        cred.public_key
        == key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    # the JWT's claims (the TS SDK reads the org from the custom claim)
    claims = json.loads(base64.urlsafe_b64decode(creds["token"].split(".")[1] + "=="))
    assert claims["https://custom/app_metadata"] == {
        "orgId": creds["orgId"],
        "userId": creds["userId"],
        "tokenId": tokens[0].id,
    }
    assert claims["sub"] == creds["userId"] and claims["jti"] == tokens[0].id
    assert claims["exp"] > claims["iat"]
    # only the SHA-256 of the token is stored
    assert [t.token_sha256 for t in tokens] == [hashlib.sha256(creds["token"].encode()).hexdigest()]
    assert creds["token"] not in Path(fresh_url.removeprefix("sqlite:///")).read_bytes().decode(
        "latin-1"
    )
    # no temporary files left behind
    assert sorted(p.name for p in data.iterdir()) == ["credentials.json"]


def test_later_runs_keep_the_token(fresh_url: str, tmp_path: Path) -> None:
    path = ensure_admin(fresh_url, tmp_path / "data", "http://a")
    first = json.loads(path.read_text())
    before = path.stat().st_mtime_ns
    assert ensure_admin(fresh_url, tmp_path / "data", "http://a") == path
    assert json.loads(path.read_text()) == first
    assert path.stat().st_mtime_ns == before  # untouched
    assert len(_rows(fresh_url)[2]) == 1


def test_base_url_change_is_written_with_the_same_token(fresh_url: str, tmp_path: Path) -> None:
    path = ensure_admin(fresh_url, tmp_path / "data", "http://a")
    first = json.loads(path.read_text())
    ensure_admin(fresh_url, tmp_path / "data", "http://b:9000")
    second = json.loads(path.read_text())
    assert second == {**first, "baseUrl": "http://b:9000"}
    assert _mode(path) == 0o600


def test_loose_permissions_are_tightened(fresh_url: str, tmp_path: Path) -> None:
    path = ensure_admin(fresh_url, tmp_path / "data", "http://a")
    path.chmod(0o644)
    ensure_admin(fresh_url, tmp_path / "data", "http://a")
    assert _mode(path) == 0o600


@pytest.mark.parametrize(
    "content",
    [None, "", "not json", "[]", '{"token": 5}', '{"token": "sv_' + "A" * 43 + '"}'],
)
def test_lost_or_unknown_credentials_get_a_new_token_for_the_same_org(
    fresh_url: str, tmp_path: Path, content: str | None
) -> None:
    path = ensure_admin(fresh_url, tmp_path / "data", "http://a")
    first = json.loads(path.read_text())
    if content is None:
        path.unlink()
    else:
        path.write_text(content)
    ensure_admin(fresh_url, tmp_path / "data", "http://a")
    second = json.loads(path.read_text())
    assert second["token"] != first["token"]
    assert second["orgId"] == first["orgId"]
    assert _mode(path) == 0o600
    orgs, accounts, tokens = _rows(fresh_url)
    assert len(orgs) == 1 and len(accounts) == 1 and len(tokens) == 2


def test_credentials_work_against_the_api(fresh_url: str, tmp_path: Path) -> None:
    creds = json.loads(ensure_admin(fresh_url, tmp_path / "data", "http://a").read_text())
    with TestClient(create_app(FakeVault(), fresh_url)) as client:
        r = client.get("/keys", headers={"Authorization": f"Bearer {creds['token']}"})
    assert r.status_code == 200


def test_set_key_export(fresh_url: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        set_key_export(fresh_url, True)  # no org yet
    creds = json.loads(ensure_admin(fresh_url, tmp_path / "data", "http://a").read_text())
    assert set_key_export(fresh_url, True) == creds["orgId"]
    assert _rows(fresh_url)[0][0].key_export_enabled is True
    assert set_key_export(fresh_url, False) == creds["orgId"]
    assert _rows(fresh_url)[0][0].key_export_enabled is False

    other = create_org(fresh_url, "second").org_id
    with pytest.raises(InvalidParameters):
        set_key_export(fresh_url, True)  # ambiguous
    assert set_key_export(fresh_url, True, org_id=other) == other
    enabled = {o.id: o.key_export_enabled for o in _rows(fresh_url)[0]}
    assert enabled == {creds["orgId"]: False, other: True}
    with pytest.raises(NotFound):
        set_key_export(fresh_url, True, org_id="or-01m89z0nex9nwt7vng6hqqgcp5")


def test_set_org_settings_changes_only_what_is_given(fresh_url: str, tmp_path: Path) -> None:
    creds = json.loads(ensure_admin(fresh_url, tmp_path / "data", "http://a").read_text())

    def settings() -> tuple[bool, bool]:
        org = _rows(fresh_url)[0][0]
        return org.key_export_enabled, org.sign_after_export

    assert settings() == (False, False)
    assert set_org_settings(fresh_url, sign_after_export=True) == creds["orgId"]
    assert settings() == (False, True)
    set_org_settings(fresh_url, creds["orgId"], key_export=True)
    assert settings() == (True, True)
    set_key_export(fresh_url, False)
    assert settings() == (False, True)
    set_org_settings(fresh_url, key_export=True, sign_after_export=False)
    assert settings() == (True, False)


def test_a_file_from_before_credentials_gets_one_and_keeps_its_token(
    fresh_url: str, tmp_path: Path
) -> None:
    """A pre-0005 vault: an ``sv_`` token in a file without a credential. The token
    keeps working; the next start adds a credential for its account."""
    from shardvault.api.auth import new_token, token_digest
    from shardvault.db import write_sessionmaker
    from shardvault.db.ids import new_id
    from shardvault.db.models import utcnow

    path = ensure_admin(fresh_url, tmp_path / "data", "http://a")
    first = json.loads(path.read_text())
    legacy = new_token()
    engine = make_engine(fresh_url)
    with write_sessionmaker(engine).begin() as s:
        s.add(
            ApiToken(
                id=new_id("to"), service_account_id=first["userId"], org_id=first["orgId"],
                token_sha256=token_digest(legacy), date_created=utcnow(),
            )
        )  # fmt: skip
    engine.dispose()
    path.write_text(json.dumps({"baseUrl": "http://a", "token": legacy, "orgId": first["orgId"]}))
    ensure_admin(fresh_url, tmp_path / "data", "http://a")
    after = json.loads(path.read_text())
    assert after["token"] == legacy and after["userId"] == first["userId"]
    assert after["credentialId"] != first["credentialId"]
    assert "PRIVATE KEY" in after["privateKey"]
    with TestClient(create_app(FakeVault(), fresh_url)) as client:
        r = client.get("/keys", headers={"Authorization": f"Bearer {legacy}"})
        assert r.status_code == 200
        r = client.post(
            "/keys",
            json={"scheme": "EdDSA", "curve": "ed25519"},
            headers={"Authorization": f"Bearer {legacy}"},
        )
        assert r.status_code == 200, r.text  # signed with the new credential


def test_create_service_account_grants_the_permissions_given(
    fresh_url: str, tmp_path: Path
) -> None:
    """``shardvault admin create-service-account --permissions``: the account holds
    those operations; an unknown one is refused before anything is made."""
    from shardvault.api import create_service_account
    from shardvault.api.bootstrap import new_credential_key
    from shardvault.api.permission_repository import PermissionRepository

    ensure_admin(fresh_url, tmp_path / "data", "http://a")
    made = create_service_account(
        fresh_url, "ci", new_credential_key()[1], permissions=["Keys:Read", "Keys:Create"]
    )
    bare = create_service_account(fresh_url, "bare", new_credential_key()[1])
    engine = make_engine(fresh_url)
    try:
        org_id = _rows(fresh_url)[0][0].id
        held = PermissionRepository(engine).held_operations(org_id, made["userId"])
        assert {"Keys:Read", "Keys:Create"} <= held and "Keys:Delete" not in held
        assert PermissionRepository(engine).held_operations(org_id, bare["userId"]) == set()
        with read_sessionmaker(engine)() as s:
            before = len(list(s.scalars(select(ServiceAccount))))
        with pytest.raises(InvalidParameters) as refused:
            create_service_account(
                fresh_url, "typo", new_credential_key()[1], permissions=["Keys:Creat"]
            )
        assert refused.value.code == "UnknownOperation"
        with read_sessionmaker(engine)() as s:
            assert len(list(s.scalars(select(ServiceAccount)))) == before
    finally:
        engine.dispose()
