"""FROST key generation commits before it reveals (docs/security.md item 8,
docs/frost.md "Bias of the group key").

The attack: a rushing participant waits for every other participant's round-1
package, then grinds its own polynomial until the group key lands in a set of its
choosing (here: the key's second encoded byte is zero, a 1-in-256 "vanity" key), and
sends the package that does it with a valid proof of knowledge. Against the DKG
without a commitment round every honest participant finished with the chosen key
(seen before the round was added). Now the packages are opened only after every
hash commitment is in, so the ground package does not match the attacker's
commitment and every honest participant aborts, blaming it.
"""

from __future__ import annotations

import dataclasses
import os

import pytest
from helpers import deliver, run_dkg, run_signing

from shardvault.crypto.groups import Point
from shardvault.crypto.shamir import feldman_commit
from shardvault.errors import ProtocolError
from shardvault.protocols.common import HASH
from shardvault.protocols.frost.ciphersuites import (
    FROST_ED25519,
    FROST_SECP256K1,
    FROST_SECP256K1_TR,
    Ciphersuite,
)
from shardvault.protocols.frost.dkg import (
    SALT_SIZE,
    FrostDkg,
    Opening,
    package_commitment,
    pok_challenge,
)
from shardvault.protocols.messages import InMemorySessionRegistry, ProtocolMessage

SUITES = [FROST_ED25519, FROST_SECP256K1, FROST_SECP256K1_TR]
suites = pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)


def _vanity(key: Point) -> bool:
    return key.encode()[1] == 0


def _ground_package(
    suite: Ciphersuite, sid: bytes, me: int, t: int, n: int, others_c0: list[Point]
) -> tuple[bytes, Point]:
    """A valid package of party ``me`` (proof of knowledge included) whose constant
    term makes the group key vanity, found by trying fresh polynomials."""
    g = suite.group
    base = g.sum(others_c0)
    for _ in range(100_000):
        coefficients = [g.random_scalar() for _ in range(t)]
        if _vanity(base + g.mul_base(coefficients[0])):
            break
    else:  # pragma: no cover - probability (255/256)^100000
        raise AssertionError("no vanity key found")
    commitments = feldman_commit(g, coefficients)
    k = g.random_scalar()
    r = g.mul_base(k)
    mu = (k + coefficients[0] * pok_challenge(suite, sid, me, t, n, commitments[0], r)) % g.order
    package = b"".join(c.encode() for c in commitments) + r.encode() + g.encode_scalar(mu)
    return package, base + commitments[0]


@suites
def test_rushing_party_cannot_bias_the_group_key(suite: Ciphersuite) -> None:
    """Party 3 sees the honest openings of round 2 before sending its own, grinds a
    package that makes the key vanity and opens it: 1 and 2 blame 3, nobody
    finishes."""
    t, n, bad = 2, 3, 3
    sid = os.urandom(32)
    parties = {i: FrostDkg(suite, sid, i, t, n, InMemorySessionRegistry()) for i in (1, 2, 3)}
    round1 = {i: p.messages() for i, p in parties.items()}
    for i, p in parties.items():
        for j in parties:
            if j != i:
                p.receive(round1[j][0])
    round2 = {i: p.messages()[0] for i, p in parties.items()}
    # The rushing attacker reads the honest packages (their constant terms) first.
    g = suite.group
    opening_start = n * HASH
    honest_c0 = [
        g.decode_point(round2[i].payload[opening_start : opening_start + g.element_size])
        for i in (1, 2)
    ]
    package, biased_key = _ground_package(suite, sid, bad, t, n, honest_c0)
    assert _vanity(biased_key)
    salt = round2[bad].payload[-SALT_SIZE:]
    forged = dataclasses.replace(
        round2[bad], payload=round2[bad].payload[:opening_start] + package + salt
    )
    for i in (1, 2):
        parties[i].receive(round2[3 - i])
        parties[i].receive(forged)
        with pytest.raises(ProtocolError) as err:
            parties[i].result()
        assert err.value.blame == (bad,)
        assert err.value.check == "dkg-commitment"
        assert parties[i].messages() == []  # no share of an honest party left it


@suites
def test_opening_that_does_not_match_its_commitment_is_blamed(suite: Ciphersuite) -> None:
    """Any change to an opening (package or salt) after the commitment is blamed."""
    for offset in (0, -1):  # first byte of the package, last byte of the salt

        def tamper(m: ProtocolMessage, target: int, offset: int = offset) -> ProtocolMessage:
            if m.sender == 2 and m.round == 2:
                data = bytearray(m.payload)
                data[offset if offset < 0 else 3 * HASH] ^= 1
                return dataclasses.replace(m, payload=bytes(data))
            return m

        parties = run_dkg(suite, 2, 3, tamper)
        for p in parties:
            if p.me == 2:
                continue
            with pytest.raises(ProtocolError) as err:
                p.result()
            assert err.value.blame == (2,)
            assert err.value.check == "dkg-commitment"


@suites
def test_commitment_binds_session_party_and_parameters(suite: Ciphersuite) -> None:
    opening = Opening(os.urandom(100), os.urandom(SALT_SIZE))
    sid = os.urandom(32)
    base = package_commitment(suite, sid, 1, 2, 3, opening)
    assert len(base) == HASH
    others = {
        package_commitment(suite, os.urandom(32), 1, 2, 3, opening),
        package_commitment(suite, sid, 2, 2, 3, opening),
        package_commitment(suite, sid, 1, 3, 3, opening),
        package_commitment(suite, sid, 1, 2, 4, opening),
        package_commitment(
            FROST_ED25519 if suite is not FROST_ED25519 else FROST_SECP256K1, sid, 1, 2, 3, opening
        ),
        package_commitment(suite, sid, 1, 2, 3, Opening(opening.package, os.urandom(SALT_SIZE))),
        package_commitment(suite, sid, 1, 2, 3, Opening(opening.package[:-1], opening.salt)),
    }
    assert base not in others and len(others) == 7


@suites
def test_withheld_opening_leaves_no_key(suite: Ciphersuite) -> None:
    """Selective abort: a party that commits and then does not open (having seen the
    others' openings) stops the run; the others wait for it by name and hold no key."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage | None:
        return None if (m.sender == 3 and m.round == 2) else m

    parties = run_dkg(suite, 2, 3, tamper)
    for p in parties[:2]:
        assert not p.done
        assert p.waiting_for() == {3}


@suites
def test_committed_dkg_output_signs_with_rfc9591(suite: Ciphersuite) -> None:
    parties = run_dkg(suite, 2, 3)
    results = [p.result() for p in parties]
    public = results[0][1]
    assert all(r[1] == public for r in results)
    public.check_consistent()
    sig = run_signing(public, [results[0][0], results[2][0]], b"committed dkg").result()
    assert suite.verify(public.group_public_key, b"committed dkg", sig)


def test_equivocated_commitment_is_caught_before_any_opening_is_used() -> None:
    suite = FROST_SECP256K1
    sid = os.urandom(32)
    parties = [FrostDkg(suite, sid, i, 2, 3, InMemorySessionRegistry()) for i in (1, 2, 3)]

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 1 and target == 1:
            return dataclasses.replace(m, payload=os.urandom(HASH))
        return m

    deliver(parties, tamper)
    assert all(not (p.done and p.failed is None) for p in parties)
    failures = [p.failed for p in parties if p.failed is not None]
    assert failures and all(f.check == "dkg-echo-broadcast" for f in failures)
