"""Misbehaviour is caught and blamed; malformed input is rejected with typed errors;
session ids and nonces are single-use (docs/security.md items 2, 4, 5, 6, 8, 17, 19)."""

from __future__ import annotations

import dataclasses
import os

import pytest
from helpers import deliver, flip_last_bit, run_dkg, run_signing

from shardvault.errors import (
    InvalidParameters,
    InvalidScalar,
    NonceReused,
    ProtocolError,
    SessionReused,
)
from shardvault.protocols.common import HASH, echo_entry_hash
from shardvault.protocols.frost.ciphersuites import (
    FROST_ED25519,
    FROST_SECP256K1,
    FROST_SECP256K1_TR,
    Ciphersuite,
)
from shardvault.protocols.frost.dkg import FrostDkg, Opening, package_commitment
from shardvault.protocols.frost.keys import KeyPackage, trusted_dealer_keygen
from shardvault.protocols.frost.session import FrostCoordinator, FrostSigner
from shardvault.protocols.frost.signing import commit, sign
from shardvault.protocols.messages import (
    COORDINATOR,
    InMemorySessionRegistry,
    ProtocolMessage,
)

SUITES = [FROST_ED25519, FROST_SECP256K1, FROST_SECP256K1_TR]
suites = pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)


def _add_one(suite: Ciphersuite, encoded: bytes) -> bytes:
    g = suite.group
    return g.encode_scalar(g.decode_scalar(encoded) + 1)


# -- signing ---------------------------------------------------------------------


@suites
@pytest.mark.parametrize("bad", [1, 3])
def test_tampered_signature_share_is_blamed(suite: Ciphersuite, bad: int) -> None:
    kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == bad and m.round == 2:
            return dataclasses.replace(m, payload=_add_one(suite, m.payload))
        return m

    coordinator = run_signing(public, [kps[0], kps[2]], b"msg", tamper=tamper)
    with pytest.raises(ProtocolError) as err:
        coordinator.result()
    assert err.value.blame == (bad,)
    assert err.value.check == "signature-share"


@suites
def test_two_bad_shares_are_both_named(suite: Ciphersuite) -> None:
    kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 3, 4)

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender in (2, 4) and m.round == 2:
            return dataclasses.replace(m, payload=_add_one(suite, m.payload))
        return m

    coordinator = run_signing(public, kps[1:], b"msg", tamper=tamper)
    with pytest.raises(ProtocolError) as err:
        coordinator.result()
    assert set(err.value.blame) == {2, 4}


@suites
def test_malformed_share_and_commitment_are_blamed(suite: Ciphersuite) -> None:
    kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    for round_, check in ((1, "commitment"), (2, "signature-share")):

        def tamper(m: ProtocolMessage, target: int, round_: int = round_) -> ProtocolMessage:
            if m.sender == 2 and m.round == round_:
                return dataclasses.replace(m, payload=b"\xff" * len(m.payload))
            return m

        coordinator = run_signing(public, kps[:2], b"msg", tamper=tamper)
        with pytest.raises(ProtocolError) as err:
            coordinator.result()
        assert err.value.blame == (2,)
        assert err.value.check == check


@suites
def test_signer_refuses_a_package_without_its_commitment(suite: Ciphersuite) -> None:
    kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    sid = os.urandom(32)
    signer = FrostSigner(kps[0], sid, b"msg", InMemorySessionRegistry())
    other = FrostSigner(kps[1], sid, b"msg", InMemorySessionRegistry())
    coordinator = FrostCoordinator(public, sid, [1, 2], b"msg", InMemorySessionRegistry())
    for m in signer.messages() + other.messages():
        coordinator.receive(m)
    (package,) = coordinator.messages()
    # Swap signer 1's commitment for signer 2's: the package no longer carries signer 1's.
    size = 1 + 2 * suite.group.element_size
    forged = package.payload[:1] + bytes([1]) + package.payload[2 + size :] * 2
    forged = package.payload[:1] + bytes([1]) + package.payload[1 + size + 1 : 1 + 2 * size]
    forged += package.payload[1 + size :]
    signer.receive(dataclasses.replace(package, payload=forged))
    with pytest.raises(ProtocolError) as err:
        signer.result()
    assert err.value.blame == (COORDINATOR,)
    assert signer.messages() == []  # nothing leaves an aborted party


@suites
def test_signer_refuses_a_truncated_package(suite: Ciphersuite) -> None:
    kps, _ = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    sid = os.urandom(32)
    signer = FrostSigner(kps[0], sid, b"msg", InMemorySessionRegistry())
    signer.messages()
    msg = ProtocolMessage(sid, signer.protocol, 1, COORDINATOR, None, b"\x02" + bytes(10))
    signer.receive(msg)
    with pytest.raises(ProtocolError) as err:
        signer.result()
    assert err.value.check == "signing-package"


def test_nonces_are_single_use() -> None:
    suite = FROST_ED25519
    kps, _ = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    n1, c1 = commit(kps[0])
    _, c2 = commit(kps[1])
    sign(kps[0], n1, b"m", [c1, c2])
    assert n1.used
    with pytest.raises(NonceReused):
        sign(kps[0], n1, b"m", [c1, c2])
    with pytest.raises(NonceReused):
        n1.take()


def test_hedged_nonces_differ_each_time() -> None:
    suite = FROST_SECP256K1
    kps, _ = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    commitments = {commit(kps[0])[1].hiding for _ in range(20)}
    assert len(commitments) == 20


def test_commitment_list_must_be_sorted_and_distinct() -> None:
    suite = FROST_ED25519
    kps, _ = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    n1, c1 = commit(kps[0])
    _, c2 = commit(kps[1])
    with pytest.raises(InvalidParameters):
        sign(kps[0], n1, b"m", [c2, c1])
    with pytest.raises(InvalidParameters):
        sign(kps[0], n1, b"m", [c1, c1])
    with pytest.raises(InvalidParameters):
        sign(kps[0], n1, b"m", [c1])  # below the threshold
    assert not n1.used  # nothing consumed by a refused request


# -- sessions -------------------------------------------------------------------


def test_reused_session_ids_are_refused() -> None:
    suite = FROST_ED25519
    kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    registry = InMemorySessionRegistry()
    sid = os.urandom(32)
    FrostSigner(kps[0], sid, b"m", registry)
    with pytest.raises(SessionReused):
        FrostSigner(kps[0], sid, b"other", registry)
    with pytest.raises(SessionReused):
        FrostCoordinator(public, sid, [1, 2], b"m", registry)
    with pytest.raises(SessionReused):
        FrostDkg(suite, sid, 1, 2, 3, registry)


@pytest.mark.parametrize("bad_sid", [b"", b"short", bytes(15), bytes(65)])
def test_session_ids_must_be_long_enough(bad_sid: bytes) -> None:
    with pytest.raises(InvalidParameters):
        FrostDkg(FROST_ED25519, bad_sid, 1, 2, 3, InMemorySessionRegistry())


def test_messages_for_other_sessions_rounds_or_parties_are_rejected() -> None:
    suite = FROST_SECP256K1
    sid = os.urandom(32)
    parties = [FrostDkg(suite, sid, i, 2, 3, InMemorySessionRegistry()) for i in (1, 2, 3)]
    m = parties[1].messages()[0]
    target = parties[0]
    bad = [
        dataclasses.replace(m, session_id=os.urandom(32)),
        dataclasses.replace(m, protocol="frost-dkg/other"),
        dataclasses.replace(m, round=0),
        dataclasses.replace(m, round=7),
        dataclasses.replace(m, recipient=3),
        dataclasses.replace(m, sender=9),
        dataclasses.replace(m, sender=1),  # a party's own index
    ]
    for msg in bad:
        with pytest.raises(ProtocolError):
            target.receive(msg)
        assert not target.done and target.round == 1
    target.receive(m)
    with pytest.raises(ProtocolError) as err:
        target.receive(m)  # a second message from the same sender in a round
    assert err.value.check == "duplicate"
    assert not target.done
    # Once round 1 is complete, a (replayed) round-1 message is refused.
    target.receive(parties[2].messages()[0])
    assert target.round == 2
    with pytest.raises(ProtocolError) as err:
        target.receive(m)
    assert err.value.check == "round"
    assert not target.done


def test_rejects_bad_parameters() -> None:
    suite = FROST_ED25519
    reg = InMemorySessionRegistry
    for me, t, n in ((0, 2, 3), (4, 2, 3), (1, 0, 3), (1, 4, 3), (1, 2, 256)):
        with pytest.raises(InvalidParameters):
            FrostDkg(suite, os.urandom(32), me, t, n, reg())
    kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    for signers in ([1], [1, 1], [1, 4], []):
        with pytest.raises(InvalidParameters):
            FrostCoordinator(public, os.urandom(32), signers, b"m", reg())
    with pytest.raises(InvalidParameters):  # a merkle root only makes sense for BIP 340
        FrostSigner(kps[0], os.urandom(32), b"m", reg(), merkle_root=b"")
    with pytest.raises(InvalidParameters):
        KeyPackage(
            suite, 1, kps[0].signing_share, kps[1].verifying_share, public.group_public_key, 2
        )
    with pytest.raises(InvalidScalar):
        trusted_dealer_keygen(suite, 0, 2, 3)


def test_secrets_stay_out_of_reprs() -> None:
    suite = FROST_ED25519
    kps, _ = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    nonces, _ = commit(kps[0])
    share = kps[0].signing_share
    hiding, binding = nonces._hiding, nonces._binding
    for text in (repr(kps[0]), str(kps[0]), repr(nonces)):
        for secret in (share, hiding, binding):
            assert secret is not None
            assert str(secret) not in text
            assert suite.group.encode_scalar(secret).hex() not in text


# -- DKG ------------------------------------------------------------------------


@suites
def test_dkg_bad_proof_of_knowledge_is_blamed(suite: Ciphersuite) -> None:
    """Party 2 commits to, then opens, a package whose proof of knowledge fails."""
    sid = os.urandom(32)
    parties = [FrostDkg(suite, sid, i, 2, 3, InMemorySessionRegistry()) for i in (1, 2, 3)]
    opening = parties[1]._reveal.openings[2]
    bad = Opening(flip_last_bit(opening.package), opening.salt)
    commitment = package_commitment(suite, sid, 2, 2, 3, bad)

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 1:
            return dataclasses.replace(m, payload=commitment)
        if m.sender == 2 and m.round == 2:  # its echo of its own commitment, then the opening
            own = echo_entry_hash("shardvault/frost-dkg/echo/v1", sid, 1, 2, commitment)
            payload = m.payload[:HASH] + own + m.payload[2 * HASH : -len(bad.encode())]
            return dataclasses.replace(m, payload=payload + bad.encode())
        return m

    deliver(parties, tamper)
    for p in parties:
        if p.me == 2:
            continue
        with pytest.raises(ProtocolError) as err:
            p.result()
        assert err.value.blame == (2,)
        assert err.value.check in ("dkg-proof-of-knowledge", "dkg-round1-decode")


def _bump_share(suite: Ciphersuite, m: ProtocolMessage, offset: int = 0) -> ProtocolMessage:
    g = suite.group
    enc = m.payload[offset : offset + g.scalar_size]
    bad = g.encode_scalar(g.decode_scalar(enc) + 1)
    return dataclasses.replace(
        m, payload=m.payload[:offset] + bad + m.payload[offset + g.scalar_size :]
    )


@suites
def test_dkg_dealer_of_a_bad_share_is_blamed(suite: Ciphersuite) -> None:
    """Party 3 deals party 1 a share that fails the Feldman check and, challenged,
    reveals a bad one again: every party aborts, blaming 3."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 3 and target == 1:
            return _bump_share(suite, m)
        if m.sender == 3 and m.round == 5:
            return _bump_share(suite, m, offset=2)  # count, complainer id, share
        return m

    parties = run_dkg(suite, 2, 4, tamper)
    for p in parties:
        if p.me == 3:
            continue
        with pytest.raises(ProtocolError) as err:
            p.result()
        assert err.value.blame == (3,), p.me
        assert err.value.check == "dkg-complaint"


@suites
def test_dkg_garbled_reveal_is_blamed(suite: Ciphersuite) -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 3 and target == 4:
            return _bump_share(suite, m)
        if m.sender == 2 and m.round == 5:
            return dataclasses.replace(m, payload=b"\x00")
        return m

    parties = run_dkg(suite, 3, 4, tamper)
    for p in parties:
        if p.me == 2:
            continue
        with pytest.raises(ProtocolError) as err:
            p.result()
        assert err.value.blame == (2,)


@suites
def test_dkg_complaint_resolved_by_a_good_reveal(suite: Ciphersuite) -> None:
    """Shares corrupted in transit (from the accused's side indistinguishable from a
    false complaint) are resolved GJKR-style: each accused reveals the disputed share
    publicly, it checks out, the complainer adopts it and the key is usable."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 3 and target == 1:
            return _bump_share(suite, m)
        if m.sender == 2 and m.round == 3 and target == 4:
            return _bump_share(suite, m)
        return m

    parties = run_dkg(suite, 2, 4, tamper)
    results = [p.result() for p in parties]
    public = results[0][1]
    assert all(r[1] == public for r in results)
    sig = run_signing(public, [results[0][0], results[3][0]], b"after complaints").result()
    assert suite.verify(public.group_public_key, b"after complaints", sig)


@suites
def test_dkg_complaint_about_an_unknown_party_is_blamed(suite: Ciphersuite) -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 4:
            return dataclasses.replace(m, payload=bytes([1]) + m.payload[1:33] + bytes([1, 9]))
        return m

    parties = run_dkg(suite, 2, 3, tamper)
    for p in (parties[0], parties[2]):
        with pytest.raises(ProtocolError) as err:
            p.result()
        assert err.value.blame == (2,)


@suites
def test_dkg_equivocating_broadcast_is_caught_by_echo(suite: Ciphersuite) -> None:
    sid = os.urandom(32)
    parties = [FrostDkg(suite, sid, i, 2, 3, InMemorySessionRegistry()) for i in (1, 2, 3)]
    # Party 3 sends party 1 a different (well-formed) round-1 commitment.
    twin = FrostDkg(suite, sid, 3, 2, 3, InMemorySessionRegistry())
    (other_payload,) = [m.payload for m in twin.messages()]

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 1 and target == 1:
            return dataclasses.replace(m, payload=other_payload)
        return m

    deliver(parties, tamper)
    failures = [p.failed for p in parties if p.failed is not None]
    assert failures, "equivocation went unnoticed"
    assert all(f.check == "dkg-echo-broadcast" for f in failures)
    assert not any(p.done and p.failed is None for p in parties)


@suites
def test_dkg_wrong_size_payloads_are_blamed(suite: Ciphersuite) -> None:
    for round_ in (1, 2, 3):

        def tamper(m: ProtocolMessage, target: int, round_: int = round_) -> ProtocolMessage:
            if m.sender == 1 and m.round == round_:
                return dataclasses.replace(m, payload=m.payload + b"\x00")
            return m

        parties = run_dkg(suite, 2, 3, tamper)
        for p in parties[1:]:
            with pytest.raises(ProtocolError) as err:
                p.result()
            assert err.value.blame == (1,)
