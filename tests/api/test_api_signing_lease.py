"""A signature request whose process died mid-sign (docs/security.md item 26).

The crash is simulated in the app: the back end signs (the signers durably consume
their presignature), then the process "dies" before it stores anything — the
signing raises and the repository's failure write is swallowed, as a SIGKILL would
leave it. The row stays Executing. Before the lease, every retry of the same body
waited ``idempotency_wait_seconds`` and got 409 ``SignatureInProgress``, forever,
even across clean restarts. Now the claim carries a lease (owner and expiry in the
row): a retry while the lease runs is still 409; once it expired, the retry (or the
next API start) resolves the row Failed ``Interrupted`` and the retry signs afresh
— with a new presignature, so no two ECDSA signatures share ``r``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import coincurve
import httpx
import pytest
from apibackends import fixture_prime_pairs
from apihelpers import BASE_URL, FakeVault, error_of
from signinghelpers import signer_for

from shardvault.api import create_app, ensure_admin
from shardvault.api.repository import ApiRepository
from shardvault.coordinator.backend import KeyRecord
from shardvault.db import make_engine
from shardvault.db.models import SIG_EXECUTING, SIG_FAILED
from shardvault.server.embedded import EmbeddedVault

pytestmark = pytest.mark.anyio

#: The ECDSA test's lease: long enough for a second API process to retry within it
#: on a loaded machine (background presigning shares the cores).
LEASE = 12.0


class _Crash(Exception):
    """The process dies here (after the signers signed, before the result is stored)."""


def crash_after_signing(app: Any, backend: Any, produced: list[bytes]) -> None:
    """The next signature through ``app`` is made, recorded in ``produced``, and then
    the process "dies": nothing is written back to the signature row."""
    honest = backend.sign

    async def sign_then_die(key: KeyRecord, message: bytes, **kw: Any) -> bytes:
        produced.append(await honest(key, message, **kw))
        raise _Crash("killed")

    def no_write(*_args: Any, **_kw: Any) -> None:
        return None

    backend.sign = sign_then_die
    app.state.repository.fail_signature = no_write


def row(database_url: str, signature_id: str) -> Any:
    engine = make_engine(database_url)
    try:
        return ApiRepository(engine).get_signature(signature_id)
    finally:
        engine.dispose()


def only_pending_row(database_url: str) -> str:
    from sqlalchemy import text

    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            ids = [
                r[0]
                for r in c.execute(
                    text("SELECT id FROM signatures WHERE status = :s"), {"s": SIG_EXECUTING}
                )
            ]
    finally:
        engine.dispose()
    assert len(ids) == 1, ids
    return str(ids[0])


class Api:
    def __init__(self, backend: Any, database_url: str, token: str, **options: Any) -> None:
        self.app = create_app(backend, database_url, **options)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=BASE_URL
        )
        self.auth = {"Authorization": f"Bearer {token}"}

    async def post(self, path: str, body: Any, user_action: str | None = None) -> httpx.Response:
        extra = {} if user_action is None else {"X-DFNS-USERACTION": user_action}
        return await self.http.post(path, json=body, headers={**self.auth, **extra})

    async def sign(self, path: str, body: Any) -> str:
        """A user-action token for ``POST path body``, obtained now (so a later request
        within a short lease needs no extra round trips)."""
        token = self.auth["Authorization"].removeprefix("Bearer ")
        return await signer_for(token).sign_request_async(
            self.http, "POST", path, json.dumps(body), headers=self.auth
        )

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
def token(database_url: str, tmp_path: Path) -> str:
    return str(
        json.loads(ensure_admin(database_url, tmp_path / "d", BASE_URL).read_text())["token"]
    )


async def test_retry_after_a_crash_waits_for_the_lease_then_signs(
    database_url: str, token: str
) -> None:
    vault = FakeVault()
    options = {"idempotency_wait_seconds": 0.05, "signing_lease_seconds": 0.5}
    first = Api(vault, database_url, token, **options)
    key = (await first.post("/keys", {"scheme": "EdDSA", "curve": "ed25519"})).json()
    path = f"/keys/{key['id']}/signatures"
    body = {"kind": "Message", "message": "0x0102", "externalId": "crashy"}
    produced: list[bytes] = []
    crash_after_signing(first.app, vault, produced)
    within_lease = await first.sign(path, body)
    assert (await first.post(path, body)).status_code == 500
    await first.close()
    stuck = only_pending_row(database_url)
    vault.sign = type(vault).sign.__get__(vault)  # the next process signs normally
    second = Api(vault, database_url, token, **options)  # a restart within the lease
    r = await second.post(path, body, within_lease)
    assert r.status_code == 409 and error_of(r)["code"] == "SignatureInProgress"
    assert row(database_url, stuck).status == SIG_EXECUTING
    await anyio.sleep(0.6)  # the lease expires; the same process takes the retry
    r = await second.post(path, body)
    assert r.status_code == 200, r.text
    assert r.json()["id"] != stuck and r.json()["status"] == "Signed"
    dead = row(database_url, stuck)
    assert (dead.status, dead.error_code, dead.external_id) == (SIG_FAILED, "Interrupted", None)
    again = await second.post(path, body)  # idempotent from now on
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    await second.close()


async def test_a_slow_signature_keeps_its_lease(database_url: str, token: str) -> None:
    """A live process renews its lease while the back end signs: a retry after the
    lease's nominal length still waits (409), and the first request's result stands."""
    vault = FakeVault()
    api = Api(vault, database_url, token, idempotency_wait_seconds=0.05, signing_lease_seconds=0.3)
    key = (await api.post("/keys", {"scheme": "EdDSA", "curve": "ed25519"})).json()
    path = f"/keys/{key['id']}/signatures"
    body = {"kind": "Message", "message": "0x04", "externalId": "slow"}
    vault.sign_delay = 1.2
    answers: dict[str, httpx.Response] = {}

    async def first() -> None:
        answers["first"] = await api.post(path, body)

    async def retry() -> None:
        await anyio.sleep(0.8)  # well past the 0.3 s lease: renewed meanwhile
        answers["retry"] = await api.post(path, body)

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        tg.start_soon(retry)
    assert answers["first"].status_code == 200, answers["first"].text
    assert answers["retry"].status_code == 409
    assert error_of(answers["retry"])["code"] == "SignatureInProgress"
    assert vault.calls["sign"] == 1
    again = await api.post(path, body)
    assert again.json() == answers["first"].json()
    await api.close()


async def test_api_start_resolves_expired_claims(database_url: str, token: str) -> None:
    vault = FakeVault()
    first = Api(vault, database_url, token, signing_lease_seconds=0.2)
    key = (await first.post("/keys", {"scheme": "EdDSA", "curve": "ed25519"})).json()
    path = f"/keys/{key['id']}/signatures"
    crash_after_signing(first.app, vault, [])
    body = {"kind": "Message", "message": "0x03", "externalId": "gone"}
    assert (await first.post(path, body)).status_code == 500
    await first.close()
    stuck = only_pending_row(database_url)
    await anyio.sleep(0.3)
    later = Api(vault, database_url, token)  # a clean start, long after the crash
    dead = row(database_url, stuck)
    assert (dead.status, dead.error_code) == (SIG_FAILED, "Interrupted")
    assert "interrupted" in dead.error_message
    await later.close()


async def _wait_ready(vault: EmbeddedVault) -> None:
    deadline = time.monotonic() + 300
    while not (await vault.ecdsa_status()).ready:
        assert time.monotonic() < deadline
        await anyio.sleep(0.1)


@pytest.fixture
async def ecdsa_vault_dir(tmp_path: Path) -> AsyncIterator[tuple[Path, bytes]]:
    yield tmp_path / "vault", os.urandom(32)


async def test_ecdsa_retry_after_a_crash_never_reuses_a_presignature(
    database_url: str, token: str, ecdsa_vault_dir: tuple[Path, bytes]
) -> None:
    """Crash mid-sign with the embedded vault (warm pool), restart vault and API,
    retry the same body: a retry within the lease is 409, after it the retry signs,
    and the signature made before the crash and the retry's have different r."""
    data_dir, kek = ecdsa_vault_dir

    def open_vault() -> EmbeddedVault:
        return EmbeddedVault(
            data_dir, kek=kek, ecdsa_primes=fixture_prime_pairs(), presig_pool_target=2
        )

    options = {"idempotency_wait_seconds": 0.05, "signing_lease_seconds": LEASE}
    vault = open_vault()
    await vault.start()
    await _wait_ready(vault)
    api = Api(vault, database_url, token, **options)
    key = (await api.post("/keys", {"scheme": "ECDSA", "curve": "secp256k1"})).json()
    digest = os.urandom(32)
    path = f"/keys/{key['id']}/signatures"
    body = {"kind": "Hash", "hash": "0x" + digest.hex(), "externalId": "ecdsa-crash"}
    produced: list[bytes] = []
    crash_after_signing(api.app, vault, produced)
    assert (await api.post(path, body)).status_code == 500
    crashed_at = time.monotonic()
    await api.close()
    stuck = only_pending_row(database_url)
    # Another API process on the same database, within the lease: still in progress.
    vault.sign = type(vault).sign.__get__(vault)
    other = Api(vault, database_url, token, **options)
    r = await other.post(path, body)
    await other.close()
    assert time.monotonic() - crashed_at < LEASE, "too slow to retry within the lease"
    assert r.status_code == 409 and error_of(r)["code"] == "SignatureInProgress"
    await vault.stop()

    vault = open_vault()  # the restarted process (its signers discard their pools)
    await vault.start()
    await _wait_ready(vault)
    await anyio.sleep(max(0.0, crashed_at + LEASE + 0.1 - time.monotonic()))
    api = Api(vault, database_url, token, **options)
    try:
        r = await api.post(path, body)
        assert r.status_code == 200, r.text
    finally:
        await api.close()
        await vault.stop()
    assert row(database_url, stuck).status == SIG_FAILED
    out = r.json()["signature"]
    retried = int(out["r"], 16).to_bytes(32, "big") + int(out["s"], 16).to_bytes(32, "big")
    pub = coincurve.PublicKey(bytes.fromhex(key["publicKey"]))
    for compact in (produced[0][:64], retried):
        der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(compact))
        assert pub.verify(der, digest, hasher=None)
    assert produced[0][:32] != retried[:32], "two signatures share r: a presignature was reused"
