"""The `shardvault` command line: the demo runs and every signature verifies."""

from __future__ import annotations

import os

from typer.testing import CliRunner

from shardvault.cli import app
from shardvault.demo import independent_verify, run_demo
from shardvault.protocols.frost.ciphersuites import (
    FROST_ED25519,
    FROST_SECP256K1,
    FROST_SECP256K1_TR,
)
from shardvault.protocols.frost.keys import (
    normalize_key_package,
    normalize_public_key_package,
    trusted_dealer_keygen,
)
from shardvault.protocols.frost.signing import aggregate, commit, sign


def test_demo_command_succeeds() -> None:
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "verified with an independent library" in result.output
    assert "✘" not in result.output


def test_demo_covers_every_suite_and_tweak() -> None:
    steps = run_demo()
    signed = [s for s in steps if s.verified_by]
    assert all(s.ok for s in signed)
    # 2 keys x (Ed25519 1 + secp256k1 1 + BIP 340 3 tweak kinds)
    assert len(signed) == 10
    assert {s.suite for s in steps} == {"EdDSA Ed25519", "FROST secp256k1", "Schnorr BIP 340"}


def test_independent_verify_rejects_wrong_signatures() -> None:
    for suite in (FROST_ED25519, FROST_SECP256K1, FROST_SECP256K1_TR):
        kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
        kps = [normalize_key_package(kp, None) for kp in kps]
        public = normalize_public_key_package(public, None)
        msg = os.urandom(32)
        n1, c1 = commit(kps[0])
        n2, c2 = commit(kps[1])
        shares = {1: sign(kps[0], n1, msg, [c1, c2]), 2: sign(kps[1], n2, msg, [c1, c2])}
        sig = aggregate(public, msg, [c1, c2], shares)
        key = public.group_public_key.encode()
        assert independent_verify(suite, key, msg, sig)[0]
        assert not independent_verify(suite, key, msg + b"x", sig)[0]


def test_version_and_help() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["version"]).output.strip() == "0.1.0"
    assert "demo" in runner.invoke(app, ["--help"]).output
