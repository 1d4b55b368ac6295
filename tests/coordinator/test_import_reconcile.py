"""Stray import shares are reconciled at start (issue 12 section 5; docs/security.md
item 9). An import is prepare -> commit -> activate; a process that dies between
commit and activate leaves an inert Pending share on the signers. At the next start the
signers' key ids are reconciled against the API's keys and the strays are erased, but
each signer erases only a share that is still Pending and past its grace period (the
API, which supplies the list, may be hostile): Active keys are never touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nacl.signing import VerifyKey
from vault_runner import VaultRunner

from shardvault.crypto.groups import ED25519
from shardvault.db.engine import upgrade_database
from shardvault.errors import Conflict, NotFound
from shardvault.protocols import key_import
from shardvault.protocols.key_import import ImportContext
from shardvault.server.serving import reconcile_imports_at_start
from shardvault.signer import custody_ops


class Killed(BaseException):
    """The coordinator's process dying (nothing after it runs)."""


def _seal(runner: VaultRunner, secret: int) -> tuple[dict[str, bytes], ImportContext]:
    ctx = ImportContext.issue()
    signers = runner.run(runner.vault.list_signers())
    _, blobs = key_import.seal_import_shares(
        secret,
        context=ctx,
        curve="ed25519",
        protocol="FROST",
        min_signers=2,
        signers=[(d.signer_id, d.encryption_key) for d in signers],
    )
    return dict(blobs), ctx


def _statuses(runner: VaultRunner, key_id: str) -> dict[str, str]:
    out = {}
    for sid, node in runner.vault.nodes.items():
        for row in node.store.share_statuses():
            if row.key_id == key_id:
                out[sid] = row.status
    return out


def _kill_between_commit_and_activate(runner: VaultRunner, key_id: str, secret: int) -> None:
    coordinator = runner.vault.coordinator
    start_all = coordinator.sessions.start_all

    async def dies_at_activate(ids: Any, op: str, *args: Any, **kw: Any) -> Any:
        if op == "import.activate":
            raise Killed
        return await start_all(ids, op, *args, **kw)

    async def nothing_runs_after_death(*_: Any) -> list[str]:
        return []

    coordinator.sessions.start_all = dies_at_activate  # type: ignore[method-assign]
    coordinator._erase_everywhere = nothing_runs_after_death  # type: ignore[method-assign]
    blobs, ctx = _seal(runner, secret)
    with pytest.raises(Killed):
        runner.run(runner.vault.import_key(key_id, "FROST", "ed25519", 2, blobs, ctx))


def test_stray_is_erased_at_start_and_active_keys_are_untouched(
    runner: VaultRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = runner.vault
    active = runner.run(v.generate_key("key-active", "FROST", "ed25519", 2))
    secret = ED25519.random_scalar()
    _kill_between_commit_and_activate(runner, "key-stray", secret)
    assert _statuses(runner, "key-stray") == {s: "Pending" for s in v.signer_ids}

    v = runner.restart()
    # Within the grace period nothing is erased (an import may still be activating).
    assert runner.run(v.reconcile_imports({"key-active"})) == {}
    assert _statuses(runner, "key-stray") == {s: "Pending" for s in v.signer_ids}

    monkeypatch.setattr(custody_ops, "STRAY_GRACE_SECONDS", 0.0)
    # The API's database (here: empty, as a hostile or wiped one would be) is the list.
    database_url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    upgrade_database(database_url)
    erased = runner.run(reconcile_imports_at_start(v, database_url))
    assert erased == {s: ["key-stray"] for s in v.signer_ids}
    assert _statuses(runner, "key-stray") == {}
    assert all(n.store.was_erased("key-stray") for n in v.nodes.values())  # tombstoned

    # The Active key, absent from that list, is untouched and still signs.
    assert _statuses(runner, "key-active") == {s: "Active" for s in v.signer_ids}
    VerifyKey(active.public_key).verify(b"still here", runner.run(v.sign(active, b"still here")))
    # The stray's public key is free again: the same private key imports afresh.
    blobs, ctx = _seal(runner, secret)
    again = runner.run(v.import_key("key-again", "FROST", "ed25519", 2, blobs, ctx))
    assert again.public_key == ED25519.mul_base(secret).encode()


def test_a_signer_refuses_to_erase_an_active_share_as_a_stray(
    runner: VaultRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(custody_ops, "STRAY_GRACE_SECONDS", 0.0)
    v = runner.vault
    active = runner.run(v.generate_key("key-active", "FROST", "ed25519", 2))
    sessions = v.coordinator.sessions
    for sid in v.signer_ids:  # a hostile coordinator asks directly
        with pytest.raises(Conflict) as info:
            runner.run(sessions.call(sid, "import.erase_stray", keyId="key-active"))
        assert info.value.code == "NotAStray" and "Active" in info.value.message
        with pytest.raises(NotFound):
            runner.run(sessions.call(sid, "import.erase_stray", keyId="key-unknown"))
    assert runner.run(v.reconcile_imports(set())) == {}  # an empty list erases nothing Active
    assert _statuses(runner, "key-active") == {s: "Active" for s in v.signer_ids}
    VerifyKey(active.public_key).verify(b"m", runner.run(v.sign(active, b"m")))
