"""Threshold signing end to end, checked by independent libraries:
Ed25519 with PyNaCl (libsodium), BIP 340 with coincurve (libsecp256k1)."""

from __future__ import annotations

import os

import coincurve
import pytest
from helpers import run_dkg, run_signing
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto import bip340
from shardvault.demo import independent_verify as check_with_other_library
from shardvault.protocols.frost.ciphersuites import (
    FROST_ED25519,
    FROST_SECP256K1,
    FROST_SECP256K1_TR,
    Ciphersuite,
)
from shardvault.protocols.frost.keys import (
    KeyPackage,
    PublicKeyPackage,
    reconstruct_secret,
    trusted_dealer_keygen,
)

SUITES = [FROST_ED25519, FROST_SECP256K1, FROST_SECP256K1_TR]


def independent_verify(
    suite: Ciphersuite, public: PublicKeyPackage, msg: bytes, sig: bytes, root: bytes | None = None
) -> None:
    """Verify with a library that is not ours (see shardvault.demo.independent_verify)."""
    ok, verifier = check_with_other_library(suite, public.group_public_key.encode(), msg, sig, root)
    assert ok, verifier
    assert suite.verify(public.group_public_key, msg, sig) or root is not None


@st.composite
def threshold_setup(draw: st.DrawFn) -> tuple[int, int, list[int]]:
    n = draw(st.integers(min_value=1, max_value=7))
    t = draw(st.integers(min_value=1, max_value=min(n, 5)))
    size = draw(st.integers(min_value=t, max_value=n))
    subset = draw(st.permutations(list(range(1, n + 1))))[:size]
    return t, n, sorted(subset)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@settings(max_examples=15)
@given(setup=threshold_setup(), msg=st.binary(max_size=200), data=st.data())
def test_dealer_split_then_sign_any_subset(
    suite: Ciphersuite, setup: tuple[int, int, list[int]], msg: bytes, data: st.DataObject
) -> None:
    t, n, subset = setup
    secret = suite.group.random_scalar()
    kps, public = trusted_dealer_keygen(suite, secret, t, n)
    public.check_consistent()
    chosen = [kps[i - 1] for i in subset]
    root = None
    if suite.bip340:
        root = data.draw(st.sampled_from([None, b"", os.urandom(32)]))
    coordinator = run_signing(public, chosen, msg, merkle_root=root)
    sig = coordinator.result()
    independent_verify(suite, public, msg, sig, root)
    assert reconstruct_secret(chosen[:t]) == secret


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@settings(max_examples=6)
@given(setup=threshold_setup(), msg=st.binary(max_size=64))
def test_dkg_then_sign_any_subset(
    suite: Ciphersuite, setup: tuple[int, int, list[int]], msg: bytes
) -> None:
    t, n, subset = setup
    parties = run_dkg(suite, t, n)
    results = [p.result() for p in parties]
    public = results[0][1]
    for kp, pub in results:
        assert pub == public
        assert kp.group_public_key == public.group_public_key
        assert public.verifying_shares[kp.identifier] == kp.verifying_share
    public.check_consistent()
    chosen: list[KeyPackage] = [results[i - 1][0] for i in subset]
    sig = run_signing(public, chosen, msg).result()
    independent_verify(suite, public, msg, sig)
    # The DKG key is a real t-of-n key: any t shares recombine to the same secret.
    secret = reconstruct_secret(chosen[:t])
    assert suite.group.mul_base(secret) == public.group_public_key


def test_bip340_odd_key_and_all_tweak_kinds() -> None:
    """Keys with odd y exercise the negation path; each tweak kind verifies."""
    suite = FROST_SECP256K1_TR
    seen_odd = seen_even = False
    for _ in range(12):
        kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
        odd = public.group_public_key.data[0] == 3
        seen_odd |= odd
        seen_even |= not odd
        for root in (None, b"", os.urandom(32)):
            msg = os.urandom(32)
            sig = run_signing(public, [kps[0], kps[2]], msg, merkle_root=root).result()
            independent_verify(suite, public, msg, sig, root)
    assert seen_odd and seen_even


def test_bip86_tweak_matches_single_key_reference() -> None:
    """The BIP 86 output key of a dealer-split key equals the single-key BIP 341 result."""
    suite = FROST_SECP256K1_TR
    secret = suite.group.random_scalar()
    kps, public = trusted_dealer_keygen(suite, secret, 2, 3)
    internal = bip340.public_key(secret.to_bytes(32, "big"))
    q, _ = bip340.tweak_public_key(internal, b"")
    msg = os.urandom(32)
    sig = run_signing(public, kps[1:], msg, merkle_root=b"").result()
    assert coincurve.PublicKeyXOnly(q.data[1:]).verify(sig, msg)
