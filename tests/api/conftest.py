"""Fixtures for the REST API tests (helpers and the test-only back end: apihelpers.py)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apibackends import (
    BackendUnderTest,
    ContractApi,
    EmbeddedBackend,
    FakeBackend,
    fixture_prime_pairs,
)
from apihelpers import BASE_URL, Api, AsyncApi, FakeVault
from fastapi import FastAPI
from fastapi.testclient import TestClient
from signinghelpers import register_admin, register_credentials

from shardvault.api import create_app, create_org, ensure_admin
from shardvault.db import upgrade_database
from shardvault.server.embedded import EmbeddedVault


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied per test (migrating each time is slower)."""
    path = tmp_path_factory.mktemp("template") / "api.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: Path) -> str:
    target = tmp_path / "data" / "api.sqlite3"
    target.parent.mkdir(parents=True)
    shutil.copyfile(migrated_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def vault() -> FakeVault:
    return FakeVault()


def _build(vault: FakeVault, database_url: str, tmp_path: Path, **kw: Any) -> tuple[FastAPI, Any]:
    data_dir = tmp_path / "data"
    creds = json.loads(ensure_admin(database_url, data_dir, BASE_URL).read_text())
    register_credentials(creds)
    app = create_app(vault, database_url, **kw)
    return app, creds


@pytest.fixture(scope="session")
def shared_app(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, FakeVault, FastAPI, TestClient]]:
    """One database, back end and app for the synchronous tests (building an app per
    test is most of a test's cost); tests are isolated by org, see ``api``."""
    url = f"sqlite:///{tmp_path_factory.mktemp('shared') / 'api.sqlite3'}"
    vault = FakeVault()
    app = create_app(vault, url, max_body_bytes=64 * 1024)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield url, vault, app, client


@pytest.fixture
def api(shared_app: tuple[str, FakeVault, FastAPI, TestClient], tmp_path: Path) -> Api:
    """A fresh org and admin token on the shared app, with the back end reset."""
    url, vault, app, client = shared_app
    vault.reset()
    admin = create_org(url, "test")
    register_admin(admin)
    return Api(client, app, vault, url, tmp_path, admin.token, admin.org_id)


@pytest.fixture
async def async_api(vault: FakeVault, database_url: str, tmp_path: Path) -> AsyncIterator[AsyncApi]:
    app, creds = _build(vault, database_url, tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield AsyncApi(client, vault, {"Authorization": f"Bearer {creds['token']}"})


@pytest.fixture(scope="session", params=["fake", "embedded"])
def contract_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, BackendUnderTest, FastAPI, TestClient]]:
    """One app per back end for the contract suite (test_api_contract_*.py): the
    FakeVault, and the real embedded vault (2-of-3; CGGMP24 from the fixture primes,
    its aux info computed in the background from the start; no presignature pool, so
    every ECDSA signature is a whole presign + sign)."""
    where = tmp_path_factory.mktemp(f"contract-{request.param}")
    url = f"sqlite:///{where / 'api.sqlite3'}"
    backend: BackendUnderTest
    if request.param == "fake":
        backend = FakeBackend(FakeVault())
    else:
        vault = EmbeddedVault(
            where / "vault",
            signers=3,
            threshold=2,
            kek=os.urandom(32),
            ecdsa_primes=fixture_prime_pairs(),
            presig_pool_target=0,
        )
        backend = EmbeddedBackend(vault)
    app = create_app(backend.recorder, url, max_body_bytes=64 * 1024)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.portal is not None
        backend.run = client.portal.call
        if isinstance(backend, EmbeddedBackend):
            client.portal.call(backend.vault.start)
        try:
            yield url, backend, app, client
        finally:
            if isinstance(backend, EmbeddedBackend):
                client.portal.call(backend.vault.stop)


@pytest.fixture
def any_api(
    contract_app: tuple[str, BackendUnderTest, FastAPI, TestClient], tmp_path: Path
) -> ContractApi:
    """A fresh org and admin token on the contract app of each back end (every signer
    online, nothing recorded)."""
    url, backend, app, client = contract_app
    backend.reset()
    admin = create_org(url, "test")
    register_admin(admin)
    return ContractApi(
        client, app, backend.recorder.inner, url, tmp_path, admin.token, admin.org_id, backend
    )
