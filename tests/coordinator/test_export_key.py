"""Coordinator export: a request every signer refuses as malformed is reported as
malformed (400), not as signers being unavailable (503)."""

from __future__ import annotations

import pytest
from vault_runner import VaultRunner

from shardvault.crypto import hpke
from shardvault.errors import InvalidParameters, SignersUnavailable


def test_a_non_canonical_requester_key_is_invalid_parameters(runner: VaultRunner) -> None:
    v = runner.vault
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    # u >= 2^255 - 19: every signer refuses this encoding.
    bad = b"\xff" * 31 + b"\x7f"
    with pytest.raises(InvalidParameters) as err:
        runner.run(v.export_key(ed, bad))
    assert not isinstance(err.value, SignersUnavailable)
    assert "X25519" in str(err.value)


def test_a_valid_requester_key_gets_a_share_from_each_holder(runner: VaultRunner) -> None:
    v = runner.vault
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    shares = runner.run(v.export_key(ed, hpke.HpkeKeyPair.generate().public_key))
    assert len(shares) >= 2
