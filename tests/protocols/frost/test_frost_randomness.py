"""Randomness enters FROST only through the ``rng`` argument (dealer split, DKG
coefficients and proof nonce, signing nonces), and the signing nonces stay hedged with
the secret share and the signing request when that source is weak (docs/security.md item 17).
"""

from __future__ import annotations

import os

import pytest
from helpers import deliver
from rnghelpers import ReplayRng, SeededRng

from shardvault.protocols.frost.ciphersuites import (
    FROST_ED25519,
    FROST_SECP256K1,
    FROST_SECP256K1_TR,
    Ciphersuite,
)
from shardvault.protocols.frost.dkg import FrostDkg
from shardvault.protocols.frost.keys import trusted_dealer_keygen
from shardvault.protocols.frost.session import FrostCoordinator, FrostSigner
from shardvault.protocols.frost.signing import commit, nonce_generate
from shardvault.protocols.messages import InMemorySessionRegistry

SUITES = [FROST_ED25519, FROST_SECP256K1, FROST_SECP256K1_TR]

CONSTANT = bytes(range(32))


def _dkg(suite: Ciphersuite, session_id: bytes, seeds: list[int]) -> list[FrostDkg]:
    n = len(seeds)
    parties = [
        FrostDkg(suite, session_id, i, 2, n, InMemorySessionRegistry(), rng=SeededRng(seed))
        for i, seed in enumerate(seeds, start=1)
    ]
    deliver(parties)
    return parties


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_dkg_is_a_function_of_its_rngs(suite: Ciphersuite) -> None:
    sid = os.urandom(32)
    first = [p.result() for p in _dkg(suite, sid, [1, 2, 3])]
    again = [p.result() for p in _dkg(suite, sid, [1, 2, 3])]
    other = [p.result() for p in _dkg(suite, sid, [1, 2, 4])]
    assert [kp.signing_share for kp, _ in first] == [kp.signing_share for kp, _ in again]
    assert first[0][1].group_public_key == again[0][1].group_public_key
    assert first[0][1].group_public_key != other[0][1].group_public_key


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_dealer_split_is_a_function_of_its_rng(suite: Ciphersuite) -> None:
    secret = suite.group.random_scalar()
    a, pa = trusted_dealer_keygen(suite, secret, 3, 4, rng=SeededRng(7))
    b, pb = trusted_dealer_keygen(suite, secret, 3, 4, rng=SeededRng(7))
    c, _ = trusted_dealer_keygen(suite, secret, 3, 4, rng=SeededRng(8))
    assert [k.signing_share for k in a] == [k.signing_share for k in b]
    assert pa.verifying_shares == pb.verifying_shares
    assert [k.signing_share for k in a] != [k.signing_share for k in c]
    assert pa.group_public_key == suite.group.mul_base(secret)


def test_nonce_generate_draws_32_bytes_and_hashes_in_the_secret() -> None:
    suite = FROST_ED25519
    rng = ReplayRng(byte_strings=[CONSTANT, CONSTANT, CONSTANT])
    n1 = nonce_generate(suite, 5, rng=rng)
    n2 = nonce_generate(suite, 6, rng=rng)
    n3 = nonce_generate(suite, 5, rng=rng, extra=b"request")
    assert rng.exhausted
    assert n1 == suite.h3(CONSTANT + suite.group.encode_scalar(5))
    assert len({n1, n2, n3}) == 3


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_commit_takes_the_hiding_then_the_binding_randomness(suite: Ciphersuite) -> None:
    kps, _ = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    hiding, binding = os.urandom(32), os.urandom(32)
    rng = ReplayRng(byte_strings=[hiding, binding])
    nonces, commitment = commit(kps[0], rng=rng)
    assert rng.exhausted
    g = suite.group
    share = g.encode_scalar(kps[0].signing_share)
    assert commitment.hiding == g.mul_base(suite.h3(hiding + share))
    assert commitment.binding == g.mul_base(suite.h3(binding + share))
    assert nonces.commitment == commitment


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_signing_nonces_are_hedged_with_the_request(suite: Ciphersuite) -> None:
    """A source that always returns the same bytes still gives distinct nonces for
    another message or another session, so a stuck RNG does not reuse a nonce across
    requests."""
    kps, _ = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)

    def first_commitment(sid: bytes, msg: bytes) -> bytes:
        rng = ReplayRng(byte_strings=[CONSTANT, CONSTANT])
        signer = FrostSigner(kps[0], sid, msg, InMemorySessionRegistry(), rng=rng)
        assert rng.exhausted
        return signer.messages()[0].payload

    sid, other_sid = os.urandom(32), os.urandom(32)
    same = first_commitment(sid, b"message")
    assert first_commitment(sid, b"message") == same  # nothing but rng and request
    assert first_commitment(sid, b"other message") != same
    assert first_commitment(other_sid, b"message") != same


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_signing_with_seeded_rngs_verifies(suite: Ciphersuite) -> None:
    kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    sid, msg = os.urandom(32), b"signed with passed-in randomness"
    coordinator = FrostCoordinator(public, sid, [1, 3], msg, InMemorySessionRegistry())
    signers = [
        FrostSigner(kps[i - 1], sid, msg, InMemorySessionRegistry(), rng=SeededRng(i))
        for i in (1, 3)
    ]
    deliver([coordinator, *signers])
    assert suite.verify(public.group_public_key, msg, coordinator.result())
