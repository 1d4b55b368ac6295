"""Fixtures for the REST API tests (helpers and the test-only back end: apihelpers.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apihelpers import BASE_URL, Api, AsyncApi, FakeVault
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shardvault.api import create_app, create_org, ensure_admin
from shardvault.db import upgrade_database


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
    creds = ensure_admin(database_url, data_dir, BASE_URL)
    app = create_app(vault, database_url, **kw)
    return app, json.loads(creds.read_text())


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
    org_id, token = create_org(url, "test")
    return Api(client, app, vault, url, tmp_path, token, org_id)


@pytest.fixture
async def async_api(vault: FakeVault, database_url: str, tmp_path: Path) -> AsyncIterator[AsyncApi]:
    app, creds = _build(vault, database_url, tmp_path)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield AsyncApi(client, vault, {"Authorization": f"Bearer {creds['token']}"})
