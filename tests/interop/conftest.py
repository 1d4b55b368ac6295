"""One live vault for the whole interop suite: ``shardvault up`` in a background
thread (API served by uvicorn on a free 127.0.0.1 port, 3 signers, 2-of-3, a fresh
data directory), CGGMP24 from the TEST-ONLY pregenerated Paillier primes of
tests/fixtures/cggmp_primes.json. The tests reach it only over HTTP, through the
published Dfns SDKs."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dfns_sdk import DfnsClient, DfnsClientConfig
from interophelpers import Credentials, dfns_client, install_ts_sdk, require_node

from shardvault.server import BackgroundVault

FIXTURE_PRIMES = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"


def _fixture_prime_pairs() -> list[tuple[int, int]]:
    """TEST ONLY: three pairs of pregenerated 1536-bit safe primes (public!)."""
    primes = [int(p, 16) for p in json.loads(FIXTURE_PRIMES.read_text())["safe_primes_1536"]]
    return [(primes[0], primes[1]), (primes[2], primes[3]), (primes[4], primes[5])]


@pytest.fixture(scope="session")
def live_vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundVault]:
    """The running vault, once ECDSA is ready (its aux info computed)."""
    with BackgroundVault(
        tmp_path_factory.mktemp("interop-vault"),
        os.urandom(32),
        ecdsa_primes=_fixture_prime_pairs(),
        presig_pool_target=0,
    ) as vault:
        deadline = time.monotonic() + 300
        while not httpx.get(vault.base_url + "/health").json()["ecdsaReady"]:
            assert time.monotonic() < deadline, "ECDSA aux info not ready after 300 s"
            time.sleep(0.3)
        yield vault


@pytest.fixture(scope="session")
def creds(live_vault: BackgroundVault) -> Credentials:
    found = Credentials.load(live_vault.credentials)
    assert found.base_url == live_vault.base_url
    return found


@pytest.fixture(scope="session")
def reader(live_vault: BackgroundVault) -> Iterator[DfnsClient]:
    """The Dfns Python SDK with the admin's bearer token and no signer: reads only
    (it needs nothing of credentials.json but ``baseUrl`` and ``token``)."""
    data = json.loads(live_vault.credentials.read_text(encoding="utf-8"))
    with DfnsClient(DfnsClientConfig(auth_token=data["token"], base_url=data["baseUrl"])) as c:
        yield c


@pytest.fixture(scope="session")
def admin(creds: Credentials) -> Iterator[DfnsClient]:
    """The Dfns Python SDK as the vault's admin service account."""
    with dfns_client(creds.base_url, creds.token, creds.credential_id, creds.private_key) as c:
        yield c


@pytest.fixture(scope="session")
def ts_sdk() -> tuple[str, Path]:
    """(node executable, the directory where the pinned SDKs are installed)."""
    node, npm = require_node()
    return node, install_ts_sdk(npm)
