"""Fuzzed protocol payloads (docs/security.md item 7): whatever bytes arrive, a party either
accepts them or fails with a typed error; it never crashes with anything else."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.errors import InvalidEncoding, ProtocolError
from shardvault.protocols.frost.ciphersuites import (
    FROST_ED25519,
    FROST_SECP256K1,
    FROST_SECP256K1_TR,
    Ciphersuite,
)
from shardvault.protocols.frost.dkg import FrostDkg
from shardvault.protocols.frost.keys import trusted_dealer_keygen
from shardvault.protocols.frost.session import (
    FrostCoordinator,
    FrostSigner,
    decode_signing_package,
)
from shardvault.protocols.frost.signing import SigningCommitment
from shardvault.protocols.messages import COORDINATOR, InMemorySessionRegistry, ProtocolMessage

SUITES = [FROST_ED25519, FROST_SECP256K1, FROST_SECP256K1_TR]
suites = pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)


@suites
@settings(max_examples=200)
@given(data=st.binary(max_size=200))
def test_decoders_raise_only_typed_errors(suite: Ciphersuite, data: bytes) -> None:
    for decode in (
        lambda: SigningCommitment.decode(suite, 1, data),
        lambda: decode_signing_package(suite, data),
        lambda: suite.decode_signature(data),
    ):
        try:
            decode()
        except InvalidEncoding:
            pass


@suites
@settings(max_examples=40)
@given(payload=st.binary(max_size=300), round_=st.integers(min_value=1, max_value=5))
def test_dkg_party_survives_garbage(suite: Ciphersuite, payload: bytes, round_: int) -> None:
    sid = os.urandom(32)
    party = FrostDkg(suite, sid, 1, 2, 3, InMemorySessionRegistry())
    msg = ProtocolMessage(sid, party.protocol, round_, 2, None, payload)
    try:
        party.receive(msg)
    except ProtocolError:
        pass
    # Complete round 1 with the honest third party so garbage gets processed.
    honest = FrostDkg(suite, sid, 3, 2, 3, InMemorySessionRegistry())
    for m in honest.messages():
        party.receive(m)
    if round_ == 1 and len(payload) != 32 and party.failed is None:
        pytest.fail("garbage round-1 payload was accepted")  # any 32 bytes are a commitment
    if party.failed is not None:
        assert party.failed.blame == (2,)


@suites
@settings(max_examples=40)
@given(payload=st.binary(max_size=200))
def test_signing_parties_survive_garbage(suite: Ciphersuite, payload: bytes) -> None:
    kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 2)
    sid = os.urandom(32)
    signer = FrostSigner(kps[0], sid, b"m", InMemorySessionRegistry())
    signer.receive(ProtocolMessage(sid, signer.protocol, 1, COORDINATOR, None, payload))
    assert signer.failed is not None  # random bytes never form a package with our commitment
    assert signer.failed.blame == (COORDINATOR,)
    assert signer.messages()[1:] == []  # only the round-1 commitment ever left

    coordinator = FrostCoordinator(public, sid, [1, 2], b"m", InMemorySessionRegistry())
    coordinator.receive(ProtocolMessage(sid, coordinator.protocol, 1, 1, COORDINATOR, payload))
    other = FrostSigner(kps[1], sid, b"m", InMemorySessionRegistry())
    for m in other.messages():
        coordinator.receive(m)
    if coordinator.failed is not None:
        assert coordinator.failed.blame == (1,)
