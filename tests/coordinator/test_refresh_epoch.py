"""Refresh epochs on the embedded vault (docs/security.md item 28): new aux info on
every signer (new Paillier primes from the in-memory spare stock), new shares of
every ECDSA key, old p, q, lambda, old shares and every presignature erased from the
store files; a crash between commit and erasure finishes the erasure at the next
start; a crash of the coordinator after its decision is resumed; a failure before
the commit changes nothing anywhere.

The signers' primes are TEST-ONLY fixtures (tests/fixtures/cggmp_primes.json): the
first six are the first aux info, the next six the spare stock of the epoch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import coincurve
import pytest
from nacl.signing import VerifyKey
from vault_runner import VaultRunner

from shardvault.coordinator.backend import KeyRecord
from shardvault.coordinator.sessions import SessionParties
from shardvault.crypto import bip340, hpke
from shardvault.crypto.groups import ED25519, SECP256K1
from shardvault.crypto.shamir import interpolate_secret
from shardvault.errors import Conflict, InvalidParameters, SignerMisbehaved
from shardvault.protocols.frost.ciphersuites import suite_for
from shardvault.signer import epoch as signer_epoch
from shardvault.signer.aux_primes import RECORD_NAME
from shardvault.signer.ecdsa import AUX_ACTIVE, aux_from_record, share_from_record
from shardvault.signer.frost_keys import key_from_record
from shardvault.signer.store import SignerStore

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"


def primes_with_spares() -> list[tuple[int, ...]]:
    """TEST ONLY (public primes): per signer, its first pair and one spare pair."""
    p = [int(x, 16) for x in json.loads(FIXTURE.read_text())["safe_primes_1536"]]
    return [(p[2 * i], p[2 * i + 1], p[6 + 2 * i], p[7 + 2 * i]) for i in range(3)]


def wait_until(runner: VaultRunner, cond: Any, timeout: float = 300.0) -> None:
    """Poll ``cond`` while the vault's loop runs its background tasks."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        runner.run(asyncio.sleep(0.1))


def restart(runner: VaultRunner) -> None:
    runner.restart()
    wait_until(runner, lambda: runner.run(runner.vault.ecdsa_status()).ready)


def check_ecdsa(key: KeyRecord, digest: bytes, sig: bytes) -> None:
    pub = coincurve.PublicKey(key.public_key)
    der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(sig[:64]))
    assert pub.verify(der, digest, hasher=None)


def check_bip340(key: KeyRecord, msg: bytes, sig: bytes) -> None:
    assert coincurve.PublicKeyXOnly(key.public_key[1:]).verify(sig, msg)
    assert bip340.verify(key.public_key[1:], msg, sig)


@pytest.fixture
def ecdsa_runner(tmp_path: Path) -> Iterator[VaultRunner]:
    r = VaultRunner(
        tmp_path / "vault", os.urandom(32), ecdsa_primes=primes_with_spares(), presig_pool_target=1
    )
    wait_until(r, lambda: r.run(r.vault.ecdsa_status()).ready)
    yield r
    r.close()


def _keys(runner: VaultRunner) -> tuple[KeyRecord, KeyRecord, KeyRecord]:
    v = runner.vault
    ecdsa = runner.run(v.generate_key("key-ecdsa", "CGGMP24", "secp256k1", 2))
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    tr = runner.run(v.generate_key("key-tr", "FROST_BITCOIN", "secp256k1", 2))
    return ecdsa, ed, tr


def _sign_all(runner: VaultRunner, ecdsa: KeyRecord, ed: KeyRecord, tr: KeyRecord) -> None:
    v = runner.vault
    digest = os.urandom(32)
    check_ecdsa(ecdsa, digest, runner.run(v.sign(ecdsa, digest)))
    VerifyKey(ed.public_key).verify(b"m", runner.run(v.sign(ed, b"m")))
    check_bip340(tr, digest, runner.run(v.sign(tr, digest)))


def _with_shares(key: KeyRecord, result: Any) -> KeyRecord:
    return dataclasses.replace(key, verifying_shares=dict(result.verifying_shares[key.key_id]))


def _secret_shares(runner: VaultRunner, keys: Any) -> dict[str, dict[str, int]]:
    """key id -> signer id -> its secret share, read from each signer's store (what a
    thief of the store and the KEK holds)."""
    out: dict[str, dict[str, int]] = {}
    for key in keys:
        for signer_id, node in runner.vault.nodes.items():
            record = node.store.get_share(key.key_id).record
            if key.protocol == "CGGMP24":
                value = share_from_record(record)[0].secret
            else:
                value = key_from_record(suite_for(key.protocol, key.curve), record)[0].signing_share
            out.setdefault(key.key_id, {})[signer_id] = value
    return out


def _raw(directory: Path) -> bytes:
    """Every byte of the signer's store and pool files (and their WAL/journal)."""
    return b"".join(
        p.read_bytes() for p in sorted(directory.iterdir()) if p.name.endswith(("-wal", "3"))
    )


def _sealed(path: Path, sql: str) -> list[bytes]:
    db = sqlite3.connect(path)
    try:
        return [bytes(r[0]) for r in db.execute(sql)]
    finally:
        db.close()


def _snapshot(runner: VaultRunner) -> dict[str, dict[str, Any]]:
    """Per signer: its aux digest, its p and q, and the sealed bytes of its aux info,
    its prime record, its shares and its presignatures."""
    out: dict[str, dict[str, Any]] = {}
    for signer_id, node in runner.vault.nodes.items():
        directory = node.store.path.parent
        aux, _ = aux_from_record(node.store.get_secret(AUX_ACTIVE) or b"")
        store_file = directory / "store.sqlite3"
        out[signer_id] = {
            "dir": directory,
            "digest": node.ecdsa.status()["auxDigest"],
            "p": aux.paillier_key.p,
            "q": aux.paillier_key.q,
            "sealed": _sealed(
                store_file,
                f"SELECT value FROM meta WHERE name IN ('{AUX_ACTIVE}', '{RECORD_NAME}')",
            )
            + _sealed(store_file, "SELECT sealed FROM shares WHERE protocol = 'CGGMP24'"),
            "presigs": _sealed(
                directory / "presignatures.sqlite3",
                "SELECT sealed FROM presignatures WHERE status = 'available'",
            ),
        }
    return out


def _opened_values(directory: Path, signer_id: str, kek: bytes) -> list[bytes]:
    """Every sealed value of the store file, opened with the KEK (what a thief holding
    the file and the KEK recovers)."""
    store = SignerStore(directory / "store.sqlite3", signer_id, kek)
    try:
        names = [str(r[0]) for r in store._db.execute("SELECT name FROM meta")]
        values = [store.get_secret(n) or b"" for n in names]
        values += [store.get_share(k).record for k in store.key_ids()]
    finally:
        store.close()
    return values


def test_epoch_renews_aux_info_and_shares_and_erases_the_old(ecdsa_runner: VaultRunner) -> None:
    runner = ecdsa_runner
    v = runner.vault
    ecdsa, ed, tr = _keys(runner)
    _sign_all(runner, ecdsa, ed, tr)
    wait_until(runner, lambda: v.coordinator.ecdsa.warm(ecdsa) >= 1)
    before = _snapshot(runner)
    # the pools of the preferred signer set hold presignatures
    assert sum(bool(s["presigs"]) for s in before.values()) == 2

    stolen_before = _secret_shares(runner, (ecdsa, ed, tr))

    result = runner.run(v.run_epoch([ecdsa, ed, tr], fresh_primes=False))
    assert (result.epoch, result.state, result.primes) == (1, "committed", "stock")
    assert (result.ecdsa_keys, result.frost_keys) == (1, 2)
    assert result.duration_ms is not None
    for key in (ecdsa, ed, tr):
        shares = result.verifying_shares[key.key_id]
        assert set(shares) == set(key.verifying_shares)
        assert all(shares[s] != key.verifying_shares[s] for s in shares)

    # The mobile adversary on the shares: signer A's share stolen before the epoch and
    # signer B's after do not interpolate any key; A's and B's after do.
    stolen_after = _secret_shares(runner, (ecdsa, ed, tr))
    a, b = v.signer_ids[0], v.signer_ids[1]
    for key in (ecdsa, ed, tr):
        group = ED25519 if key.curve == "ed25519" else SECP256K1
        mixed = {1: stolen_before[key.key_id][a], 2: stolen_after[key.key_id][b]}
        fresh = {1: stolen_after[key.key_id][a], 2: stolen_after[key.key_id][b]}
        assert group.mul_base(interpolate_secret(group, fresh)).encode() == key.public_key
        assert group.mul_base(interpolate_secret(group, mixed)).encode() != key.public_key

    after = _snapshot(runner)
    for signer_id, old in before.items():
        new = after[signer_id]
        assert new["digest"] != old["digest"]
        assert {new["p"], new["q"]}.isdisjoint({old["p"], old["q"]})
        node = v.nodes[signer_id]
        assert node.ecdsa.pool.available(ecdsa.key_id) == {}
        assert runner.run(v.coordinator.epoch_status())[signer_id] == 1
        # Nothing of the old epoch in the files: not its sealed bytes, and not its
        # primes or share in anything the KEK opens.
        raw = _raw(old["dir"])
        for blob in old["sealed"] + old["presigs"]:
            assert blob[12:44] not in raw
        opened = b"\n".join(_opened_values(old["dir"], signer_id, runner.kek))
        for p in (old["p"], old["q"]):
            assert hex(p).encode() not in opened
            assert p.to_bytes(192, "big") not in opened
        assert node.store.get_secret(signer_epoch.EPOCH_ERASE) is None

    # Same public keys; every kind signs (new shares, new aux info).
    refreshed = _with_shares(ecdsa, result)
    _sign_all(runner, refreshed, _with_shares(ed, result), _with_shares(tr, result))
    # Pools refill under the new aux info; a restart keeps the epoch.
    wait_until(runner, lambda: v.coordinator.ecdsa.warm(refreshed) >= 1)
    restart(runner)
    digest = os.urandom(32)
    check_ecdsa(refreshed, digest, runner.run(runner.vault.sign(refreshed, digest)))
    assert runner.run(runner.vault.coordinator.epoch_status()) == {s: 1 for s in before}
    assert [e.state for e in runner.run(runner.vault.epochs())] == ["committed"]


def test_a_failure_before_the_commit_changes_nothing(ecdsa_runner: VaultRunner) -> None:
    runner = ecdsa_runner
    v = runner.vault
    ecdsa, ed, tr = _keys(runner)
    before = _snapshot(runner)
    bad = v.signer_ids[1]
    node = v.nodes[bad]

    def refuse(body: dict[str, Any]) -> bytes:
        raise InvalidParameters("injected failure")

    node._ops["epoch.refresh"] = refuse
    with pytest.raises(SignerMisbehaved) as err:
        runner.run(v.run_epoch([ecdsa, ed, tr], fresh_primes=False))
    assert bad in err.value.signers
    after = _snapshot(runner)
    for signer_id, old in before.items():
        assert after[signer_id]["digest"] == old["digest"]
        assert after[signer_id]["sealed"] == old["sealed"]
        assert runner.run(v.coordinator.epoch_status())[signer_id] == 0
        store = v.nodes[signer_id].store
        assert store.secret_names("epoch_pending:") == []
    assert [e.state for e in runner.run(v.epochs())] == ["aborted"]
    _sign_all(runner, ecdsa, ed, tr)


def test_crash_between_commit_and_erasure_finishes_at_start(
    ecdsa_runner: VaultRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = ecdsa_runner
    v = runner.vault
    ecdsa, ed, tr = _keys(runner)
    wait_until(runner, lambda: v.coordinator.ecdsa.warm(ecdsa) >= 1)
    before = _snapshot(runner)

    def crash(ctx: Any) -> int:
        raise sqlite3.OperationalError("injected crash after the commit")

    monkeypatch.setattr(signer_epoch, "erase_old_epoch", crash)
    # (this test is about the start: the background resume waits meanwhile)
    v.coordinator.epochs.resume_first_delay = 3600.0
    decided = runner.run(v.run_epoch([ecdsa, ed, tr], fresh_primes=False))
    assert decided.state == "committing"
    # Committed everywhere (one transaction), erasure due on every signer.
    for node in v.nodes.values():
        assert node.store.get_secret(signer_epoch.EPOCH_ERASE) is not None
    assert sum(bool(n.ecdsa.pool.available(ecdsa.key_id)) for n in v.nodes.values()) == 2
    assert runner.run(v.epochs())[0].state == "committing"
    monkeypatch.undo()
    restart(runner)
    v = runner.vault
    for signer_id, node in v.nodes.items():
        assert node.store.get_secret(signer_epoch.EPOCH_ERASE) is None
        assert node.ecdsa.pool.available(ecdsa.key_id) == {}
        raw = _raw(before[signer_id]["dir"])
        for blob in before[signer_id]["sealed"] + before[signer_id]["presigs"]:
            assert blob[12:44] not in raw
    (last,) = runner.run(v.epochs())
    assert last.state == "committed"
    _sign_all(runner, *(_with_shares(k, last) for k in (ecdsa, ed, tr)))


def test_a_commit_the_coordinator_decided_is_resumed(ecdsa_runner: VaultRunner) -> None:
    """Once the coordinator has logged its decision, the new verifying shares are the
    keys': a signer whose commit failed is left out of signing (the other quorum
    signs at once, FROST and ECDSA, with the keys as the caller held them before the
    epoch), and the background resume commits it without a restart."""
    runner = ecdsa_runner
    v = runner.vault
    v.coordinator.epochs.resume_first_delay = 0.2
    ecdsa, ed, tr = _keys(runner)
    # The first signer: the one every quorum would pick first.
    late = v.signer_ids[0]
    node = v.nodes[late]
    commit = node._ops["epoch.commit"]
    calls = []
    gone = True

    def flaky(body: dict[str, Any]) -> bytes:
        calls.append(body)
        if gone:
            raise sqlite3.OperationalError("injected: the signer is gone before its commit")
        return commit(body)

    node._ops["epoch.commit"] = flaky
    result = runner.run(v.run_epoch([ecdsa, ed, tr], fresh_primes=False))
    assert result.state == "committing"
    status = runner.run(v.coordinator.epoch_status())
    assert status[late] == 0 and sorted(status.values()) == [0, 1, 1]
    # Right away: the other two sign every kind of key (verified by coincurve/PyNaCl).
    _sign_all(runner, ecdsa, ed, tr)
    # The background resume keeps retrying (with backoff) and commits the late signer.
    wait_until(runner, lambda: len(calls) >= 2, timeout=60)
    assert runner.run(v.coordinator.epoch_status())[late] == 0
    gone = False
    wait_until(runner, lambda: runner.run(v.coordinator.epoch_status())[late] == 1, timeout=120)
    # The signer commits first; the coordinator records the epoch as committed after.
    wait_until(runner, lambda: runner.run(v.epochs())[0].state == "committed", timeout=60)
    (last,) = runner.run(v.epochs())
    assert last.state == "committed"
    assert v.coordinator.sessions.lagging == frozenset()
    # The late signer signs again, with its new shares: force it into every quorum.
    other = next(s for s in v.signer_ids if s != late)
    v.stop_signer(other)
    try:
        _sign_all(runner, _with_shares(ecdsa, last), ed, tr)
    finally:
        v.start_signer(other)


def test_key_changes_wait_for_a_running_epoch(ecdsa_runner: VaultRunner) -> None:
    """docs/security.md item 33: while an epoch re-deals the group's shares, no key is
    created, exported or erased on the signers (409 ``RefreshInProgress``), so an
    epoch never re-deals a key that a DELETE or an export has taken out meanwhile,
    and a refused DELETE or export leaves every share where it was."""
    v = ecdsa_runner.vault
    key = ecdsa_runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    requester = os.urandom(32)

    async def during_an_epoch() -> None:
        async with v.coordinator.epochs.lock.epoch():
            for change in (
                v.generate_key("key-x", "FROST", "ed25519", 2),
                v.export_key(key, requester),
                v.delete_key(key),
            ):
                with pytest.raises(Conflict) as err:
                    await change
                assert err.value.code == "RefreshInProgress"

    ecdsa_runner.run(during_an_epoch())
    for node in v.nodes.values():
        assert node.store.key_ids() == ["key-ed"]
    message = b"still here"
    sig = ecdsa_runner.run(v.sign(key, message))
    VerifyKey(key.public_key).verify(message, sig)


def test_a_vault_without_ecdsa_re_deals_its_frost_keys(runner: VaultRunner) -> None:
    """No Paillier primes, no aux info: the epoch re-deals the FROST keys only."""
    v = runner.vault
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    tr = runner.run(v.generate_key("key-tr", "FROST_BITCOIN", "secp256k1", 2))
    before = _secret_shares(runner, (ed, tr))
    result = runner.run(v.run_epoch([ed, tr], fresh_primes=False))
    assert (result.state, result.primes, result.frost_keys) == ("committed", "", 2)
    after = _secret_shares(runner, (ed, tr))
    for key in (ed, tr):
        assert all(after[key.key_id][s] != before[key.key_id][s] for s in v.signer_ids)
    new_ed, new_tr = _with_shares(ed, result), _with_shares(tr, result)
    VerifyKey(ed.public_key).verify(b"after", runner.run(v.sign(new_ed, b"after")))
    digest = os.urandom(32)
    check_bip340(tr, digest, runner.run(v.sign(new_tr, digest)))
    assert set(runner.run(v.coordinator.epoch_status()).values()) == {1}


def test_a_lost_epoch_log_does_not_stop_the_next_epoch(ecdsa_runner: VaultRunner) -> None:
    """The next epoch's number is max(the coordinator's log, every signer's committed
    epoch) + 1: a coordinator whose epochs.json was lost (or restored from an older
    backup) still runs epochs instead of blaming honest signers for refusing an old
    number."""
    runner = ecdsa_runner
    v = runner.vault
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    first = runner.run(v.run_epoch([ed], fresh_primes=True))
    assert first.epoch == 1 and first.state == "committed"
    (runner.data_dir / "epochs.json").unlink()
    restart(runner)
    v = runner.vault
    second = runner.run(v.run_epoch([ed], fresh_primes=True))
    assert second.epoch == 2 and second.state == "committed"
    assert set(runner.run(v.coordinator.epoch_status()).values()) == {2}
    refreshed = _with_shares(ed, second)
    VerifyKey(ed.public_key).verify(b"m", runner.run(v.sign(refreshed, b"m")))


def test_an_epoch_waits_for_a_key_change_in_flight(ecdsa_runner: VaultRunner) -> None:
    """Finding 3 of the issue-12 review: a DELETE already on its way to the signers
    when an epoch starts must not land between the re-deal and the commit (a signer
    would then fail its commit on every resume). The epoch holds the epoch lock
    exclusively from epoch.begin to the end of the commit and waits for the key
    changes in flight (which hold it shared); a change arriving meanwhile gets 409
    RefreshInProgress at once."""
    runner = ecdsa_runner
    v = runner.vault
    doomed = runner.run(v.generate_key("key-doomed", "FROST", "ed25519", 2))
    kept = runner.run(v.generate_key("key-kept", "FROST", "ed25519", 2))
    slow = v.nodes[v.signer_ids[0]]
    delete, begin = slow._ops["delete"], slow._ops["epoch.begin"]
    release = threading.Event()
    events: list[str] = []

    def slow_delete(body: dict[str, Any]) -> bytes:
        events.append("delete-arrived")
        release.wait(30)
        events.append("delete-done")
        return delete(body)

    def logged_begin(body: dict[str, Any]) -> bytes:
        events.append("begin")
        return begin(body)

    slow._ops["delete"] = slow_delete
    slow._ops["epoch.begin"] = logged_begin

    async def race() -> Any:
        deleting = asyncio.ensure_future(v.delete_key(doomed))
        while "delete-arrived" not in events:
            await asyncio.sleep(0.01)
        epoch = asyncio.ensure_future(v.run_epoch([kept], fresh_primes=False))
        await asyncio.sleep(0.5)
        with pytest.raises(Conflict) as err:
            await v.generate_key("key-late", "FROST", "ed25519", 2)
        assert err.value.code == "RefreshInProgress"
        release.set()
        await deleting
        return await epoch

    try:
        result = runner.run(race())
    finally:
        release.set()
    assert events == ["delete-arrived", "delete-done", "begin"]
    assert result.state == "committed"
    for node in v.nodes.values():
        assert node.store.key_ids() == ["key-kept"]
    assert set(runner.run(v.coordinator.epoch_status()).values()) == {1}
    VerifyKey(kept.public_key).verify(b"m", runner.run(v.sign(_with_shares(kept, result), b"m")))


# -- a hostile coordinator drives the signers directly (review finding 1) ------------------


def _hostile_each(runner: VaultRunner, op: str, **args: Any) -> dict[str, Any]:
    """``op`` signed by the coordinator's key on every signer, outside EpochService."""
    sessions = runner.vault.coordinator.sessions
    return runner.run(sessions.call_each(list(sessions.signer_ids), op, **args))


def _refusals(results: dict[str, Any]) -> set[str | None]:
    """Every signer's refusal code (every signer must have refused)."""
    assert all(isinstance(r, Conflict) for r in results.values()), results
    return {r.code for r in results.values()}


def test_a_commit_that_renews_no_aux_info_is_refused(ecdsa_runner: VaultRunner) -> None:
    """begin(1) then commit(1, auxDigest=None, keys={}) would record epoch 1 while every
    signer keeps its old p, q and shares; each signer refuses it by itself."""
    runner = ecdsa_runner
    v = runner.vault
    ecdsa, ed, tr = _keys(runner)
    before = _secret_shares(runner, (ecdsa, ed, tr))
    _hostile_each(runner, "epoch.begin", epoch=1)
    refused = _hostile_each(runner, "epoch.commit", epoch=1, auxDigest=None, keys={})
    assert _refusals(refused) == {"AuxNotRenewed"}
    assert set(runner.run(v.coordinator.epoch_status()).values()) == {0}
    assert _secret_shares(runner, (ecdsa, ed, tr)) == before
    _hostile_each(runner, "epoch.abort", epoch=1)
    # The honest epoch still runs afterwards.
    result = runner.run(v.run_epoch([ecdsa, ed, tr], fresh_primes=False))
    assert result.state == "committed"
    new = [_with_shares(k, result) for k in (ecdsa, ed, tr)]
    _sign_all(runner, *new)


def test_a_commit_that_omits_an_active_key_is_refused(runner: VaultRunner) -> None:
    """A key Active at epoch.begin and still live must be re-dealt by the commit."""
    v = runner.vault
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    tr = runner.run(v.generate_key("key-tr", "FROST_BITCOIN", "secp256k1", 2))
    before = _secret_shares(runner, (ed, tr))
    begun = _hostile_each(runner, "epoch.begin", epoch=1)
    assert all(r["redeal"] == [ed.key_id, tr.key_id] for r in begun.values())
    refused = _hostile_each(runner, "epoch.commit", epoch=1, auxDigest=None, keys={})
    assert _refusals(refused) == {"KeyNotRefreshed"}
    assert set(runner.run(v.coordinator.epoch_status()).values()) == {0}
    assert _secret_shares(runner, (ed, tr)) == before
    _hostile_each(runner, "epoch.abort", epoch=1)
    # An epoch that leaves out a key the signers hold live is aborted before its
    # decision (the signers' commits would refuse it and the decided epoch could never
    # commit): nothing changes, the error names the key, and a full epoch then runs.
    with pytest.raises(Conflict) as err:
        runner.run(v.run_epoch([ed], fresh_primes=False))
    assert err.value.code == "KeysOutOfStep" and tr.key_id in err.value.message
    assert set(runner.run(v.coordinator.epoch_status()).values()) == {0}
    assert _secret_shares(runner, (ed, tr)) == before
    assert runner.run(v.epochs())[0].state == "aborted"
    result = runner.run(v.run_epoch([ed, tr], fresh_primes=False))
    assert result.state == "committed"


def test_epoch_aux_runs_among_exactly_the_pinned_roster(ecdsa_runner: VaultRunner) -> None:
    """An aux-info session of two of the three signers would leave the third out of
    the group's new aux info; every signer asked refuses it."""
    runner = ecdsa_runner
    sessions = runner.vault.coordinator.sessions
    ids = list(sessions.signer_ids)
    descs = runner.run(sessions.require_all(ids))
    subset = ids[:2]
    parties = SessionParties.of([(i + 1, descs[s]) for i, s in enumerate(subset)])
    _hostile_each(runner, "epoch.begin", epoch=1)
    results = runner.run(
        sessions.call_each(
            subset,
            "epoch.aux",
            epoch=1,
            sessionId=os.urandom(32).hex(),
            parties=parties.arg,
            freshPrimes=False,
        )
    )
    assert all(isinstance(r, InvalidParameters) for r in results.values()), results
    assert {r.code for r in results.values()} == {"NotTheRoster"}


# -- deletes and exports against a running epoch (review finding 3, signer side) -----------


def test_signers_refuse_delete_and_export_between_begin_and_commit(runner: VaultRunner) -> None:
    """A delete or export that reaches a signer between epoch.begin and the commit or
    abort is refused by the signer itself (409 RefreshInProgress), whatever the
    coordinator's lock; after the abort both go through again."""
    v = runner.vault
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    _hostile_each(runner, "epoch.begin", epoch=1)
    requester = os.urandom(32).hex()
    for op, args in (("delete", {}), ("export", {"requesterKey": requester})):
        refused = _hostile_each(runner, op, keyId=ed.key_id, **args)
        assert _refusals(refused) == {"RefreshInProgress"}
    for node in v.nodes.values():
        assert node.store.key_ids() == [ed.key_id]
    _hostile_each(runner, "epoch.abort", epoch=1)
    VerifyKey(ed.public_key).verify(b"m", runner.run(v.sign(ed, b"m")))
    runner.run(v.delete_key(ed))
    for node in v.nodes.values():
        assert node.store.key_ids() == []


def test_a_key_erased_before_the_commit_is_skipped(runner: VaultRunner) -> None:
    """A delete already past the signer's check when the epoch began lands before
    this signer's commit: the commit skips the tombstoned key instead of failing
    with NotFound on every resume (the group half committed for good)."""
    v = runner.vault
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    tr = runner.run(v.generate_key("key-tr", "FROST_BITCOIN", "secp256k1", 2))
    late = v.nodes[v.signer_ids[0]]
    commit = late._ops["epoch.commit"]

    def delete_lands_first(body: dict[str, Any]) -> bytes:
        late.store.erase_share(ed.key_id)  # the in-flight delete, on this signer only
        return commit(body)

    late._ops["epoch.commit"] = delete_lands_first
    result = runner.run(v.run_epoch([ed, tr], fresh_primes=False))
    assert result.state == "committed"
    assert set(runner.run(v.coordinator.epoch_status()).values()) == {1}
    assert late.store.key_ids() == [tr.key_id]
    assert late.store.secret_names("epoch_pending:") == []
    digest = os.urandom(32)
    check_bip340(tr, digest, runner.run(v.sign(_with_shares(tr, result), digest)))


def test_the_public_key_index_is_backfilled_at_open(runner: VaultRunner) -> None:
    """Review finding 5: shares stored before the live public-key index existed are
    indexed when the store opens (idempotently), so a second import of their public
    key is refused as a duplicate."""
    v = runner.vault
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    tr = runner.run(v.generate_key("key-tr", "FROST_BITCOIN", "secp256k1", 2))
    paths = [n.store.path for n in v.nodes.values()]
    runner.run(v.stop())
    for path in paths:  # a store written before the index rows existed
        db = sqlite3.connect(path)
        db.execute("DELETE FROM live_public_keys")
        db.commit()
        db.close()
    runner.vault = runner.open()
    runner.restart()  # a second open changes nothing
    for node in runner.vault.nodes.values():
        for key in (ed, tr):
            assert node.store.holds_public_key(key.public_key) == key.key_id
        rows = node.store._db.execute("SELECT COUNT(*) FROM live_public_keys").fetchone()
        assert rows[0] == 2


def test_a_presignature_finished_under_the_old_aux_info_is_never_filed(
    ecdsa_runner: VaultRunner,
) -> None:
    """Review finding 7, as a forced interleaving: a presigning session passes the
    aux-unchanged check, then the epoch commits and erases on this signer, then the
    presignature is added. Check and add are atomic with the commit and erasure: the
    commit waits, and its erasure takes the presignature out."""
    runner = ecdsa_runner
    v = runner.vault
    key = runner.run(v.generate_key("key-ecdsa", "CGGMP24", "secp256k1", 2))
    wait_until(runner, lambda: v.coordinator.ecdsa.warm(key) >= 1)
    node = next(n for n in v.nodes.values() if n.ecdsa.pool.available(key.key_id))
    ((binding, ids),) = node.ecdsa.pool.available(key.key_id).items()
    taken = node.ecdsa.pool.take(key.key_id, binding, ids[0])
    assert taken is not None
    presig = taken[1]  # a real presignature, made under the active (old) aux info
    _, key_signers = share_from_record(node.store.get_share(key.key_id).record)
    old_aux = node.ecdsa.aux(key_signers)
    checked, commit_started, committed = threading.Event(), threading.Event(), threading.Event()
    add = node.ecdsa.pool.add

    def add_after_the_commit(*args: Any, **kwargs: Any) -> str:
        checked.set()
        assert commit_started.wait(300.0)
        committed.wait(5.0)  # the commit runs now, unless it waits for this add
        return add(*args, **kwargs)

    commit = node._ops["epoch.commit"]

    def commit_then_signal(body: dict[str, Any]) -> bytes:
        commit_started.set()
        try:
            return commit(body)
        finally:
            committed.set()

    node.ecdsa.pool.add = add_after_the_commit  # type: ignore[method-assign]
    node._ops["epoch.commit"] = commit_then_signal
    late_id = os.urandom(32).hex()
    filed: list[Any] = []
    worker = threading.Thread(
        target=lambda: filed.append(
            node.ecdsa.file_presignature(key.key_id, binding, presig, late_id, key_signers, old_aux)
        )
    )
    worker.start()
    assert checked.wait(30.0)
    result = runner.run(v.run_epoch([key], fresh_primes=False))
    worker.join(30.0)
    node.ecdsa.pool.add = add  # type: ignore[method-assign]
    assert result.state == "committed" and filed == [late_id]
    assert node.ecdsa.pool.status(late_id) != "available"
    assert late_id not in node.ecdsa.pool.available(key.key_id).get(binding, [])


def test_exported_keys_are_not_required(runner: VaultRunner) -> None:
    """What the signer's commit requires matches what the coordinator re-deals: not an
    exported key (its secret is out)."""
    v = runner.vault
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    tr = runner.run(v.generate_key("key-tr", "FROST_BITCOIN", "secp256k1", 2))
    # A real X25519 key: random bytes are a non-canonical encoding half the time.
    runner.run(v.export_key(ed, hpke.HpkeKeyPair.generate().public_key))
    begun = _hostile_each(runner, "epoch.begin", epoch=1)
    assert all(r["redeal"] == [tr.key_id] for r in begun.values())
    _hostile_each(runner, "epoch.abort", epoch=1)
    result = runner.run(v.run_epoch([tr], fresh_primes=False))
    assert result.state == "committed"
