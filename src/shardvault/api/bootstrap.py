"""First-run setup and admin settings.

``ensure_admin`` gives a fresh vault an org, an admin service account with a fresh
Ed25519 credential, and a token, written to ``<data-dir>/credentials.json``
(``{"baseUrl", "orgId", "userId", "credentialId", "token", "privateKey"}``, the
private key a PKCS#8 PEM string, and the cluster's signed ``roster``, which the SDK
pins; mode 0600); later runs keep the existing token and credential.
``create_org`` does the same for a new org without a file (tests, tooling) and
returns an :class:`OrgAdmin`. ``create_service_account`` is behind ``shardvault
admin create-service-account``; ``set_key_export`` behind ``shardvault admin
enable-export``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from shardvault.api.audit import AuditContext, append
from shardvault.api.auth import issue_token, token_is_live
from shardvault.api.identity import IdentityRepository
from shardvault.api.operations import OPERATIONS
from shardvault.api.permission_repository import PermissionRepository
from shardvault.db.engine import make_engine, read_sessionmaker, upgrade_database
from shardvault.db.engine import write_sessionmaker as _write_sessionmaker
from shardvault.db.ids import new_id
from shardvault.db.models import CredentialRow, Org, ServiceAccount, utcnow
from shardvault.errors import InvalidParameters, NotFound

__all__ = [
    "CREDENTIALS_FILE",
    "OrgAdmin",
    "create_org",
    "create_service_account",
    "ensure_admin",
    "new_credential_key",
    "set_key_export",
    "set_org_settings",
]

logger = logging.getLogger("shardvault.api")

CREDENTIALS_FILE = "credentials.json"
_DEFAULT_ORG_NAME = "default"
_ADMIN_NAME = "admin"


def _write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically replace ``path`` with ``data``, readable by the owner only (0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            json.dump(data, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _read_credentials(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class OrgAdmin:
    """An org's admin service account: what a client needs to act as it."""

    org_id: str
    user_id: str
    credential_id: str
    token: str
    #: PKCS#8 PEM of the credential's Ed25519 private key.
    private_key: str = field(repr=False)

    def credentials(self, base_url: str) -> dict[str, Any]:
        """The ``credentials.json`` fields."""
        return {
            "baseUrl": base_url,
            "orgId": self.org_id,
            "userId": self.user_id,
            "credentialId": self.credential_id,
            "token": self.token,
            "privateKey": self.private_key,
        }


def new_credential_key() -> tuple[str, str]:
    """A fresh Ed25519 credential key: (PKCS#8 private PEM, SPKI public PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private, public


def _new_credential(session: Session, org_id: str, account_id: str) -> tuple[str, str]:
    """A fresh Ed25519 credential for the account: (credential id, private PEM)."""
    private, public = new_credential_key()
    row = IdentityRepository.add_credential(session, org_id, account_id, public, "admin credential")
    return row.id, private


def create_org(database_url: str, name: str, *, admin_name: str = _ADMIN_NAME) -> OrgAdmin:
    """Create an org with an admin service account, its Ed25519 credential and a
    token. The token and private key are shown only here (the database keeps the
    token's SHA-256 and the public key)."""
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        with _write_sessionmaker(engine).begin() as s:
            org_id = _new_org(s, name)
            account_id = _new_admin(s, org_id, admin_name)
            credential_id, private = _new_credential(s, org_id, account_id)
            token = issue_token(
                s,
                org_id,
                account_id,
                credential_id=credential_id,
                audit=AuditContext.operator(org_id),
            )
    finally:
        engine.dispose()
    return OrgAdmin(org_id, account_id, credential_id, token, private)


def create_service_account(
    database_url: str,
    name: str,
    public_key_pem: str,
    org_id: str | None = None,
    permissions: Sequence[str] = (),
) -> dict[str, str]:
    """A new (non-admin) service account with the given public key as its credential
    and, when ``permissions`` names Dfns operations, a permission granting them
    assigned to it; returns ``{"userId", "credentialId", "token"}``. Without
    ``org_id`` the database must hold exactly one org. An unknown operation is
    refused (``UnknownOperation``) before anything is made."""
    unknown = [op for op in permissions if op not in OPERATIONS]
    if unknown:
        raise InvalidParameters(
            f"unknown operation(s): {', '.join(unknown[:10])}", code="UnknownOperation"
        )
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        with read_sessionmaker(engine)() as s:
            org_id = _the_org(s, org_id).id
        identity = IdentityRepository(engine)
        try:
            found, token = identity.create_service_account(
                org_id, name, public_key_pem, audit=AuditContext.operator(org_id)
            )
        finally:
            identity.close()
        if permissions:
            PermissionRepository(engine).grant(
                org_id,
                found.account.id,
                list(dict.fromkeys(permissions)),
                f"{name} (created with the account)",
                audit=AuditContext.operator(org_id),
            )
    finally:
        engine.dispose()
    return {
        "userId": found.account.id,
        "credentialId": found.credentials[0].id,
        "token": token,
    }


def _the_org(s: Session, org_id: str | None) -> Org:
    if org_id is not None:
        org = s.get(Org, org_id)
        if org is None:
            raise NotFound(f"org {org_id} not found")
        return org
    orgs = list(s.scalars(select(Org).limit(2)))
    if not orgs:
        raise NotFound("no org yet: start the vault once first")
    if len(orgs) > 1:
        raise InvalidParameters("several orgs exist: name the org")
    return orgs[0]


def _new_org(session: Any, name: str) -> str:
    org_id = new_id("or")
    session.add(Org(id=org_id, name=name, key_export_enabled=False, date_created=utcnow()))
    session.flush()
    append(
        session,
        AuditContext.operator(org_id),
        action="Orgs:Create",
        target_id=org_id,
        details={"name": name},
    )
    return org_id


def _new_admin(session: Any, org_id: str, name: str) -> str:
    account_id = new_id("sa")
    session.add(
        ServiceAccount(
            id=account_id,
            org_id=org_id,
            name=name,
            is_admin=True,
            is_active=True,
            date_created=utcnow(),
        )
    )
    session.flush()
    append(
        session,
        AuditContext.operator(org_id),
        action="Auth:ServiceAccounts:Create",
        target_id=account_id,
        details={"name": name, "isAdmin": True},
    )
    return account_id


def ensure_admin(
    database_url: str,
    data_dir: Path,
    base_url: str,
    roster: Mapping[str, Any] | None = None,
) -> Path:
    """Make sure ``<data_dir>/credentials.json`` holds a working admin token and
    credential (and ``roster``, the cluster roster's JSON, when given: the SDK pins
    the signers' identity keys from it).

    * First run: migrate, create an org, an admin service account, an Ed25519
      credential and a token, and write ``{"baseUrl", "orgId", "userId",
      "credentialId", "token", "privateKey"}`` with mode 0600.
    * Later runs: if the file's token is live in the database and its credential
      active, keep them (rewriting the file only to update ``baseUrl``/``orgId`` or
      fix its mode). A live token without a credential (a file from before
      credentials existed) gets a fresh credential for its account.
    * File missing or its token unknown (e.g. a new database): issue a new admin
      token and credential, for the existing org if there is one (keys stay
      reachable), else a new org.

    Returns the credentials file's path.
    """
    upgrade_database(database_url)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / CREDENTIALS_FILE
    existing = _read_credentials(path) if path.exists() else None
    engine = make_engine(database_url)
    try:
        token = existing.get("token") if existing else None
        if existing is not None and isinstance(token, str):
            with _write_sessionmaker(engine).begin() as s:
                row = token_is_live(s, token)
                if row is not None:
                    wanted = {
                        **existing,
                        "baseUrl": base_url,
                        "token": token,
                        "orgId": row.org_id,
                        "userId": row.service_account_id,
                    }
                    cred_id = existing.get("credentialId")
                    cred = s.get(CredentialRow, cred_id) if isinstance(cred_id, str) else None
                    if (
                        cred is None
                        or not cred.is_active
                        or cred.user_id != row.service_account_id
                        or not isinstance(existing.get("privateKey"), str)
                    ):
                        cred_id, private = _new_credential(s, row.org_id, row.service_account_id)
                        wanted["credentialId"] = cred_id
                        wanted["privateKey"] = private
                    if roster is not None:
                        wanted["roster"] = dict(roster)
                    if wanted != existing or (path.stat().st_mode & 0o777) != 0o600:
                        _write_private_json(path, wanted)
                    return path
        with _write_sessionmaker(engine).begin() as s:
            org = s.scalars(select(Org).order_by(Org.date_created, Org.id).limit(1)).first()
            if org is None:
                org_id = _new_org(s, _DEFAULT_ORG_NAME)
                account_id = _new_admin(s, org_id, _ADMIN_NAME)
            else:
                org_id = org.id
                account = s.scalars(
                    select(ServiceAccount)
                    .where(
                        ServiceAccount.org_id == org_id,
                        ServiceAccount.is_admin.is_(True),
                        ServiceAccount.is_active.is_(True),
                    )
                    .order_by(ServiceAccount.id)
                    .limit(1)
                ).first()
                account_id = account.id if account else _new_admin(s, org_id, _ADMIN_NAME)
            credential_id, private = _new_credential(s, org_id, account_id)
            token = issue_token(
                s,
                org_id,
                account_id,
                credential_id=credential_id,
                audit=AuditContext.operator(org_id),
            )
        admin = OrgAdmin(org_id, account_id, credential_id, token, private)
        written: dict[str, Any] = admin.credentials(base_url)
        if roster is not None:
            written["roster"] = dict(roster)
        _write_private_json(path, written)
        logger.info("wrote admin credentials for org %s to %s", org_id, path)
        return path
    finally:
        engine.dispose()


def set_key_export(
    database_url: str,
    enabled: bool,
    org_id: str | None = None,
    *,
    audit: AuditContext | None = None,
) -> str:
    """Turn the org setting ``keyExport`` on or off; returns the org id. Audited
    ``Orgs:Settings:Update`` (by ``audit``'s caller; default: the operator).

    Without ``org_id`` the database must hold exactly one org (the embedded case)."""
    return set_org_settings(database_url, org_id, key_export=enabled, audit=audit)


def set_org_settings(
    database_url: str,
    org_id: str | None = None,
    *,
    key_export: bool | None = None,
    sign_after_export: bool | None = None,
    audit: AuditContext | None = None,
) -> str:
    """Change the org settings ``keyExport`` / ``signAfterExport`` given (``None``:
    unchanged) in the database directly; returns the org id. Audited
    ``Orgs:Settings:Update`` (by ``audit``'s caller; default: the operator). Without
    ``org_id`` the database must hold exactly one org (the embedded case)."""
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        with _write_sessionmaker(engine).begin() as s:
            org = _the_org(s, org_id)
            was = {"keyExport": org.key_export_enabled, "signAfterExport": org.sign_after_export}
            changed: dict[str, bool] = {}
            if key_export is not None:
                org.key_export_enabled = changed["keyExport"] = key_export
            if sign_after_export is not None:
                org.sign_after_export = changed["signAfterExport"] = sign_after_export
            previous = {name: was[name] for name in changed}
            result = org.id
            s.flush()
            context = AuditContext.operator(org.id) if audit is None else audit.in_org(org.id)
            append(
                s,
                context,
                action="Orgs:Settings:Update",
                target_id=org.id,
                details={**changed, "previous": previous},
            )
    finally:
        engine.dispose()
    logger.info(
        "org %s settings: keyExport=%s signAfterExport=%s", result, key_export, sign_after_export
    )
    return result
