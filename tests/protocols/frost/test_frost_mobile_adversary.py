"""A mobile adversary against a FROST key (issue 12, part 1): it steals participant
A's share before a refresh and participant B's after it. After a FrostRefresh the two
shares do not interpolate the group key; as a control, two shares of the same epoch
(before, or after) do. Before FrostRefresh existed the "refresh" of a FROST key kept
its shares, so A's and B's stolen shares were always of the same epoch: the control.
"""

from __future__ import annotations

import os

import pytest
from helpers import deliver

from shardvault.crypto.shamir import interpolate_secret
from shardvault.protocols.frost.ciphersuites import (
    FROST_ED25519,
    FROST_SECP256K1_TR,
    Ciphersuite,
)
from shardvault.protocols.frost.keys import trusted_dealer_keygen
from shardvault.protocols.frost.refresh import FrostRefresh
from shardvault.protocols.messages import InMemorySessionRegistry

A, B = 1, 2


def steal_key(suite: Ciphersuite, shares: dict[int, int], group_key_bytes: bytes) -> int | None:
    """What the thief does with two shares of a 2-of-3 key: interpolate, check."""
    x = interpolate_secret(suite.group, shares)
    return x if suite.group.mul_base(x).encode() == group_key_bytes else None


@pytest.mark.parametrize("suite", [FROST_ED25519, FROST_SECP256K1_TR], ids=lambda s: s.name)
def test_shares_from_before_and_after_a_refresh_do_not_give_the_key(suite: Ciphersuite) -> None:
    secret = suite.group.random_scalar()
    kps, public = trusted_dealer_keygen(suite, secret, 2, 3)
    key = public.group_public_key.encode()
    stolen_a_before = kps[A - 1].signing_share
    stolen_b_before = kps[B - 1].signing_share
    sid = os.urandom(32)
    parties = [FrostRefresh(sid, kp, public, InMemorySessionRegistry()) for kp in kps]
    deliver(parties)
    new = {p.me: p.result()[0] for p in parties}
    stolen_b_after = new[B].signing_share
    assert new[A].group_public_key == public.group_public_key

    assert steal_key(suite, {A: stolen_a_before, B: stolen_b_after}, key) is None
    # Control: shares of one epoch interpolate the key (before, and after).
    assert steal_key(suite, {A: stolen_a_before, B: stolen_b_before}, key) == secret
    assert steal_key(suite, {A: new[A].signing_share, B: stolen_b_after}, key) == secret
