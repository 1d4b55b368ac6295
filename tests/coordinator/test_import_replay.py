"""The signers' own refusal of a replayed import (issue 12 part 2; docs/security.md
item 27), driven through the coordinator's path with the API out of the way
(as if the API, which checks the context first, were compromised): each signer opens
its share only under the context's AAD, refuses a context too old by its own clock,
records the import id as consumed durably before accepting the share, and refuses a
public key it already holds a live share of.

Against the code before the import context (commit 93bc06d) the replay of a captured
import's blobs under a new key id created a second key with the same secret.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from vault_runner import VaultRunner

from shardvault.crypto.groups import SECP256K1
from shardvault.errors import InvalidImport, InvalidParameters
from shardvault.protocols import key_import
from shardvault.protocols.key_import import ImportContext
from shardvault.server.embedded import EmbeddedVault


def _seal(runner: VaultRunner, secret: int, context: ImportContext) -> dict[str, bytes]:
    signers = runner.run(runner.vault.list_signers())
    _, blobs = key_import.seal_import_shares(
        secret,
        context=context,
        curve="secp256k1",
        protocol="FROST_BITCOIN",
        min_signers=2,
        signers=[(d.signer_id, d.encryption_key) for d in signers],
    )
    return dict(blobs)


def _import(runner: VaultRunner, key_id: str, blobs: dict[str, bytes], ctx: ImportContext) -> Any:
    return runner.run(runner.vault.import_key(key_id, "FROST_BITCOIN", "secp256k1", 2, blobs, ctx))


def _prepare_each(
    runner: VaultRunner, key_id: str, blobs: dict[str, bytes], ctx: ImportContext
) -> dict[str, BaseException | dict[str, Any]]:
    """``import.prepare`` sent to every signer directly, as a hostile coordinator could."""
    sessions = runner.vault.coordinator.sessions
    ids = sorted(blobs)
    out: dict[str, BaseException | dict[str, Any]] = {}
    for sid in ids:
        try:
            out[sid] = runner.run(
                sessions.call(
                    sid,
                    "import.prepare",
                    keyId=key_id,
                    protocol="FROST_BITCOIN",
                    curve="secp256k1",
                    minSigners=2,
                    signerIds=ids,
                    importId=ctx.import_id.hex(),
                    issuedAt=ctx.issued_at,
                    blob=blobs[sid].hex(),
                )
            )
        except InvalidImport as exc:
            out[sid] = exc
    for sid in ids:  # forget anything a signer kept pending
        runner.run(sessions.call(sid, "import.abort", keyId=key_id))
    return out


def _refused_by_each(results: dict[str, Any], code: str) -> None:
    """Every signer answered with the typed error ``code``; the context checks name the
    signer that refused (the reply comes from it, signed)."""
    for sid, result in results.items():
        assert isinstance(result, InvalidImport), (sid, result)
        assert result.code == code, (sid, result.message)
        if code != "ShareDecryptionFailed":
            assert f"signer {sid}" in result.message, result.message


def _holders(runner: VaultRunner, key_id: str) -> list[str]:
    return [s for s, n in runner.vault.nodes.items() if key_id in n.store.key_ids()]


def test_each_signer_refuses_a_replayed_import(runner: VaultRunner) -> None:
    secret = SECP256K1.random_scalar()
    ctx = ImportContext.issue()
    blobs = _seal(runner, secret, ctx)
    first = _import(runner, "key-first", blobs, ctx)
    signers = tuple(sorted(blobs))

    # Replay as is, under a new key id: every signer refuses it (the coordinator path).
    with pytest.raises(InvalidImport) as info:
        _import(runner, "key-clone", blobs, ctx)
    assert info.value.code == "ImportContextUsed"
    assert info.value.signers == signers
    # ... and each signer on its own, asked directly.
    _refused_by_each(_prepare_each(runner, "key-clone", blobs, ctx), "ImportContextUsed")
    assert _holders(runner, "key-clone") == []

    # A hostile coordinator cannot rename the context: the shares do not open.
    renamed = ImportContext(os.urandom(16), ctx.issued_at)
    _refused_by_each(_prepare_each(runner, "key-clone", blobs, renamed), "ShareDecryptionFailed")
    redated = ImportContext(ctx.import_id, ctx.issued_at + 1)
    _refused_by_each(_prepare_each(runner, "key-clone", blobs, redated), "ShareDecryptionFailed")

    # Durable: after a restart of every signer, and after the first key was deleted.
    runner.restart()
    runner.run(runner.vault.delete_key(first))
    assert _holders(runner, "key-first") == []
    _refused_by_each(_prepare_each(runner, "key-clone", blobs, ctx), "ImportContextUsed")
    assert _holders(runner, "key-clone") == []

    # The same private key, sealed under a fresh context, imports again after the delete.
    ctx2 = ImportContext.issue()
    again = _import(runner, "key-again", _seal(runner, secret, ctx2), ctx2)
    assert again.public_key == first.public_key == SECP256K1.mul_base(secret).encode()
    assert (
        runner.export_secret(again, curve="secp256k1", protocol="FROST_BITCOIN", min_signers=2)
        == secret
    )


def test_each_signer_refuses_a_second_live_share_of_a_public_key(runner: VaultRunner) -> None:
    secret = SECP256K1.random_scalar()
    ctx = ImportContext.issue()
    _import(runner, "key-live", _seal(runner, secret, ctx), ctx)
    ctx2 = ImportContext.issue()
    blobs = _seal(runner, secret, ctx2)  # a fresh, valid import of the same key
    _refused_by_each(_prepare_each(runner, "key-dup", blobs, ctx2), "DuplicateKey")
    ctx3 = ImportContext.issue()
    with pytest.raises(InvalidImport) as info:
        _import(runner, "key-dup", _seal(runner, secret, ctx3), ctx3)
    assert info.value.code == "DuplicateKey"
    assert _holders(runner, "key-dup") == []


def test_each_signer_refuses_an_old_context_by_its_own_clock(runner: VaultRunner) -> None:
    secret = SECP256K1.random_scalar()
    now = int(time.time())
    for issued_at in (
        now - key_import.IMPORT_CONTEXT_MAX_AGE_SECONDS - 5,
        now + key_import.IMPORT_CONTEXT_MAX_SKEW_SECONDS + 60,
    ):
        ctx = ImportContext(os.urandom(16), issued_at)
        blobs = _seal(runner, secret, ctx)
        _refused_by_each(_prepare_each(runner, "key-old", blobs, ctx), "ImportContextExpired")
        with pytest.raises(InvalidImport) as info:
            _import(runner, "key-old", blobs, ctx)
        assert info.value.code == "ImportContextExpired"
    assert _holders(runner, "key-old") == []
    # A context inside the window is fine.
    ctx = ImportContext(os.urandom(16), now - key_import.IMPORT_CONTEXT_LIFETIME_SECONDS)
    assert _import(runner, "key-ok", _seal(runner, secret, ctx), ctx).key_id == "key-ok"


@pytest.mark.parametrize(
    ("protocol", "curve"),
    [("FROST", "ed25519"), ("FROST_BITCOIN", "secp256k1"), ("CGGMP24", "secp256k1")],
)
def test_min_signers_one_is_refused_by_the_coordinator(
    runner: VaultRunner, protocol: str, curve: str
) -> None:
    """docs/security.md item 31, below the API: key generation and import alike."""
    with pytest.raises(InvalidParameters) as info:
        runner.run(runner.vault.generate_key("key-one", protocol, curve, 1))
    assert info.value.code == "InvalidMinSigners" and "whole key" in info.value.message
    ctx = ImportContext.issue()
    blobs = _seal(runner, SECP256K1.random_scalar(), ctx)
    with pytest.raises(InvalidImport) as err:
        runner.run(runner.vault.import_key("key-one", protocol, curve, 1, blobs, ctx))
    assert err.value.code in ("InvalidMinSigners", "UnsupportedProtocol")
    assert _holders(runner, "key-one") == []


def test_a_one_of_n_vault_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameters) as info:
        EmbeddedVault(tmp_path / "v", signers=3, threshold=1, kek=os.urandom(32))
    assert info.value.code == "InvalidMinSigners"
