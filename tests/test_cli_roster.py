"""``shardvault signers list`` against a live vault: each signer checked against the
roster pinned from credentials.json, and the roster fingerprints shown side by side
(docs/security.md item 30)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from clihelpers import flat, invoke

from shardvault.server import BackgroundVault


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundVault]:
    with BackgroundVault(
        tmp_path_factory.mktemp("vault"), os.urandom(32), ecdsa_primes="off"
    ) as vault:
        yield vault


def test_signers_list_compares_the_pinned_roster(live: BackgroundVault) -> None:
    assert live.vault is not None and live.vault.roster is not None
    fingerprint = live.vault.roster.fingerprint
    result = invoke("signers", "list", "--data-dir", str(live.data_dir))
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert text.count("valid") == 3 and "NOT PINNED" not in text
    assert f"roster of {live.vault.cluster_id}: {fingerprint}" in text
    assert f"pinned roster: {fingerprint}" in text


def test_signers_list_flags_signers_outside_the_pinned_roster(
    live: BackgroundVault, tmp_path: Path
) -> None:
    """Credentials carrying another cluster's roster (signed by that cluster's
    signers): every signer of this vault is NOT PINNED and the fingerprints differ."""
    with BackgroundVault(tmp_path / "other", os.urandom(32), ecdsa_primes="off") as other:
        other_roster = json.loads(other.credentials.read_text())["roster"]
    data = json.loads(live.credentials.read_text())
    data["roster"] = other_roster
    (tmp_path / "credentials.json").write_text(json.dumps(data))
    result = invoke("signers", "list", "--data-dir", str(tmp_path))
    assert result.exit_code != 0
    text = flat(result.output)
    assert text.count("NOT PINNED") == 3
    assert "RosterMismatch" in text


def test_a_tampered_roster_in_credentials_is_refused(live: BackgroundVault, tmp_path: Path) -> None:
    data = json.loads(live.credentials.read_text())
    victim = data["roster"]["signers"][2]["signerId"]
    del data["roster"]["signatures"][victim]
    (tmp_path / "credentials.json").write_text(json.dumps(data))
    result = invoke("signers", "list", "--data-dir", str(tmp_path))
    assert result.exit_code != 0
    assert victim in flat(result.output)
