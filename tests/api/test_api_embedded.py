"""The API over the real embedded vault only, where the FakeVault cannot stand in:
the key-import format binds the threshold (the fake's test share format carries
none). Everything both back ends do alike is in the contract suite
(test_api_contract_*.py, over the fake and this vault)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from apihelpers import BASE_URL, b64u, error_of, unb64u

from shardvault.api import create_app, ensure_admin
from shardvault.crypto.keyformats import ed25519_scalar_from_seed
from shardvault.protocols import key_import
from shardvault.server import embedded

pytestmark = pytest.mark.anyio


class Client:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.auth = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.http.request(method, path, json=body, headers=self.auth)


@pytest.fixture
async def setup(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[Client, Any, str]]:
    vault = embedded.EmbeddedVault(
        tmp_path / "vault", signers=3, threshold=2, kek=os.urandom(32), ecdsa_primes="off"
    )
    await vault.start()
    try:
        creds = json.loads(ensure_admin(database_url, tmp_path / "data", BASE_URL).read_text())
        app = create_app(vault, database_url)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Client(http, creds["token"]), vault, database_url
    finally:
        await vault.stop()


async def _import_body(c: Client, secret: int, curve: str, protocol: str) -> dict[str, Any]:
    cluster = (await c.call("GET", "/signers")).json()["clusters"][0]
    signers = [(s["signerId"], unb64u(s["encryptionKey"])) for s in cluster["signers"]]
    out = (await c.call("POST", "/keys/import/context", {})).json()
    issued = datetime.fromisoformat(out["issuedAt"].replace("Z", "+00:00"))
    context = key_import.ImportContext(unb64u(out["importId"]), int(issued.timestamp()))
    _, blobs = key_import.seal_import_shares(
        secret, context=context, curve=curve, protocol=protocol, min_signers=2, signers=signers
    )
    return {
        "curve": curve,
        "protocol": protocol,
        "minSigners": 2,
        "encryptedKeyShares": [
            {"signerId": sid, "encryptedKeyShare": b64u(blob)} for sid, blob in blobs
        ],
        "importId": out["importId"],
    }


async def test_import_under_another_threshold_is_400_and_stores_nothing(
    setup: tuple[Client, Any, str],
) -> None:
    """Shares dealt 2-of-3 imported as 3-of-3: the signers refuse them (the tampered
    and missing-share cases, which both back ends refuse, are in
    test_api_contract_import_export.py)."""
    c, _vault, _url = setup
    body = await _import_body(c, ed25519_scalar_from_seed(os.urandom(32)), "ed25519", "FROST")
    wrong_t = {**body, "minSigners": 3}
    r = await c.call("POST", "/keys/import", wrong_t)
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] not in {"InvalidRequest", "InternalError"}
    assert (await c.call("GET", "/keys")).json() == {"items": []}
