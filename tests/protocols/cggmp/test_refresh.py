"""CGGMP24 key-share refresh: honest runs give new shares of the same key (old and
new never mix), every fault aborts with the right party blamed and a named check,
and nobody finishes unless every party confirmed the same new public shares
(docs/security.md items 2, 3, 4, 10)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
from typing import Any

import coincurve
import pytest
from cggmp_helpers import deliver, flip_byte

from shardvault.crypto import hpke
from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.rng import OS_RNG
from shardvault.crypto.shamir import feldman_commit, interpolate_secret
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError, SessionReused
from shardvault.protocols.cggmp.keyshare import KeyShare, trusted_dealer_key_shares
from shardvault.protocols.cggmp.refresh import PROTOCOL, SPEC, KeyRefresh
from shardvault.protocols.cggmp.refresh_messages import RefreshDecommitment, commitment
from shardvault.protocols.messages import InMemorySessionRegistry, ProtocolMessage
from shardvault.protocols.refresh_core import dealt_image, open_dealing, seal_dealing

G = SECP256K1
Q = G.order
HASH = 32


def dealt(t: int, n: int) -> tuple[int, list[KeyShare]]:
    x = G.random_scalar()
    return x, trusted_dealer_key_shares(x, t, n)


#: Every party made by ``make``, by (session id, index): round-3 tampering opens and
#: reseals a dealing with its recipient's ephemeral key.
_LIVE: dict[tuple[bytes, int], KeyRefresh] = {}


def make(shares: list[KeyShare], sid: bytes | None = None) -> list[KeyRefresh]:
    sid = os.urandom(32) if sid is None else sid
    parties = [KeyRefresh(sid, s, InMemorySessionRegistry()) for s in shares]
    _LIVE.update({(sid, p.me): p for p in parties})
    return parties


def in_the_clear(m: ProtocolMessage, target: int, mutate: Any) -> ProtocolMessage:
    """A round-3 dealing whose PLAINTEXT ``mutate`` changed, resealed as its sender
    would (the sender cheats: the box opens, the content is wrong)."""
    recipient = _LIVE[(m.session_id, target)]
    assert recipient._ephemeral is not None
    plain = open_dealing(SPEC, recipient._ephemeral, m.payload, m)
    sealed = seal_dealing(
        SPEC,
        recipient._ephemeral.public_key,
        mutate(plain),
        protocol=m.protocol,
        session_id=m.session_id,
        sender=m.sender,
        recipient=target,
        rng=OS_RNG,
    )
    return dataclasses.replace(m, payload=sealed)


def run(t: int, n: int, tamper: Any = None) -> tuple[int, list[KeyShare], list[KeyRefresh]]:
    x, old = dealt(t, n)
    parties = make(old)
    deliver(parties, tamper)
    return x, old, parties


def replace(m: ProtocolMessage, payload: bytes) -> ProtocolMessage:
    return dataclasses.replace(m, payload=payload)


def add_one(encoded: bytes) -> bytes:
    return G.encode_scalar(G.decode_scalar(encoded) + 1)


def assert_erased(p: KeyRefresh) -> None:
    assert p._coefficients == [] and p._nonces == [] and p._own_share == 0 and p._new is None
    assert p._ephemeral is None


def assert_blamed(
    parties: list[KeyRefresh], culprits: tuple[int, ...], check: str, victims: Any = None
) -> None:
    """Every party in ``victims`` (default: all but the culprits) aborted, blaming
    exactly ``culprits`` with ``check``, sent nothing more and dropped its secrets."""
    targets = [p for p in parties if p.me not in culprits] if victims is None else victims
    assert targets
    for p in targets:
        with pytest.raises(ProtocolError) as err:
            p.result()
        assert err.value.blame == culprits, (p.me, err.value)
        assert err.value.check == check, (p.me, err.value)
        assert p.messages() == []
        assert_erased(p)


def assert_nobody_finished(parties: list[KeyRefresh]) -> None:
    assert all(p.done and p.failed is not None for p in parties)


# -- honest runs --------------------------------------------------------------------


@pytest.mark.parametrize(("t", "n"), [(2, 2), (2, 3), (3, 3), (2, 4), (3, 5)])
def test_refresh_keeps_the_key_and_changes_every_share(t: int, n: int) -> None:
    x, old, parties = run(t, n)
    new = [p.result() for p in parties]
    first = new[0]
    for o, s in zip(old, new, strict=True):
        assert isinstance(s, KeyShare)
        assert (s.index, s.threshold, s.public_key) == (o.index, o.threshold, o.public_key)
        assert dict(s.public_shares) == dict(first.public_shares)
        assert sorted(s.public_shares) == list(range(1, n + 1))
        assert s.secret != o.secret
        assert s.public_shares[s.index] != o.public_shares[o.index]
        assert G.mul_base(s.secret) == s.public_shares[s.index]
        s.check_consistent()
    for subset in itertools.combinations(new, t):
        assert interpolate_secret(G, {s.index: s.secret for s in subset}) == x
    # Old and new shares do not mix: every set with at least one of each is useless.
    for positions in itertools.combinations(range(n), t):
        for pick in itertools.product((0, 1), repeat=t):
            if 0 < sum(pick) < t:
                mixed = {
                    i + 1: (new if b else old)[i].secret
                    for i, b in zip(positions, pick, strict=True)
                }
                assert interpolate_secret(G, mixed) != x
    assert all(p._own_share == 0 and p._coefficients == [] and p._new is None for p in parties)
    assert all(p._ephemeral is None for p in parties)  # dropped once round 3 is processed


@pytest.mark.parametrize(("t", "n", "signers"), [(2, 3, (1, 3)), (3, 5, (2, 4, 5))])
def test_ecdsa_with_the_refreshed_key_verifies_under_the_unchanged_public_key(
    t: int, n: int, signers: tuple[int, ...]
) -> None:
    _, old, parties = run(t, n)
    shares = {s.index: s for s in (p.result() for p in parties)}
    x = interpolate_secret(G, {i: shares[i].secret for i in signers})
    public = old[0].public_key.encode()
    sk = coincurve.PrivateKey(x.to_bytes(32, "big"))
    assert sk.public_key.format(compressed=True) == public
    digest = hashlib.sha256(b"shardvault cggmp24 refresh end to end").digest()
    sig = sk.sign(digest, hasher=None)
    assert coincurve.PublicKey(public).verify(sig, digest, hasher=None)
    recoverable = sk.sign_recoverable(digest, hasher=None)
    recovered = coincurve.PublicKey.from_signature_and_message(recoverable, digest, hasher=None)
    assert recovered.format(compressed=True) == public


def test_repeated_refreshes_keep_the_key() -> None:
    x, shares = dealt(2, 3)
    for _ in range(3):
        parties = make(shares)
        deliver(parties)
        fresh = [p.result() for p in parties]
        assert all(a.secret != b.secret for a, b in zip(shares, fresh, strict=True))
        shares = fresh
    assert interpolate_secret(G, {s.index: s.secret for s in shares[1:]}) == x


def test_message_shapes_and_secret_flags() -> None:
    seen: list[ProtocolMessage] = []

    def record(m: ProtocolMessage, target: int) -> ProtocolMessage:
        seen.append(m)
        return m

    _, _, parties = run(3, 4, record)
    assert all(p.failed is None for p in parties)
    assert KeyRefresh.broadcast_rounds == frozenset({1, 2, 4})
    for m in seen:
        assert m.protocol == PROTOCOL
        if m.round == 3:
            assert m.secret and m.recipient is not None and m.recipient != m.sender
        else:
            assert m.round in (1, 2, 4)
            assert not m.secret and m.recipient is None
    round3 = {(m.sender, m.recipient) for m in seen if m.round == 3}
    assert round3 == {(i, j) for i in range(1, 5) for j in range(1, 5) if i != j}


def test_zero_constant_term_is_implicit_and_the_commitments_are_exact() -> None:
    _, old = dealt(3, 4)
    (p,) = make(old[:1])
    assert p._coefficients[0] == 0
    d = p._mine
    assert list(d.feldman) == feldman_commit(G, p._coefficients[1:])
    assert len(d.feldman) == 2 and len(d.sch_commitments) == 4
    for k in range(1, 5):
        f_k = sum(a * k**m for m, a in enumerate(p._coefficients)) % Q
        assert dealt_image(G, d.feldman, k) == G.mul_base(f_k)
    assert RefreshDecommitment.from_bytes(d.to_bytes(), 3, 4, G) == d
    with pytest.raises(InvalidEncoding):
        RefreshDecommitment.from_bytes(d.to_bytes()[:-1], 3, 4, G)
    with pytest.raises(InvalidEncoding):  # the identity has no encoding
        RefreshDecommitment.from_bytes(d.to_bytes()[:-33] + bytes(33), 3, 4, G)
    with pytest.raises(InvalidEncoding):  # a small-order X25519 key
        RefreshDecommitment.from_bytes(d.to_bytes()[:64] + bytes(32) + d.to_bytes()[96:], 3, 4, G)


def test_secrets_stay_out_of_reprs() -> None:
    _, old = dealt(2, 3)
    parties = make(old)
    coefficients = [c for p in parties for c in p._coefficients if c]
    texts = [repr(p) for p in parties]
    deliver(parties)
    new = [p.result() for p in parties]
    texts += [repr(p) for p in parties] + [repr(s) for s in new] + [str(s) for s in new]
    for text in texts:
        for secret in coefficients + [s.secret for s in new + old]:
            assert str(secret) not in text
            assert G.encode_scalar(secret).hex() not in text


# -- parameters and sessions ----------------------------------------------------------


def test_bad_parameters_are_refused() -> None:
    _, one = dealt(1, 3)
    with pytest.raises(InvalidParameters):
        KeyRefresh(os.urandom(32), one[0], InMemorySessionRegistry())
    _, old = dealt(2, 3)
    with pytest.raises(InvalidParameters):
        KeyRefresh(b"short", old[0], InMemorySessionRegistry())
    with pytest.raises(InvalidParameters):
        KeyRefresh(os.urandom(32), "share", InMemorySessionRegistry())  # type: ignore[arg-type]
    s = old[0]
    bad = dict(s.public_shares)
    bad[2], bad[3] = bad[3], bad[2]
    inconsistent = KeyShare(s.index, s.secret, s.public_key, bad, s.threshold)
    with pytest.raises(InvalidParameters):
        KeyRefresh(os.urandom(32), inconsistent, InMemorySessionRegistry())


def test_reused_session_id_is_refused() -> None:
    _, old = dealt(2, 3)
    registry = InMemorySessionRegistry()
    sid = os.urandom(32)
    KeyRefresh(sid, old[0], registry)
    with pytest.raises(SessionReused) as err:
        KeyRefresh(sid, old[0], registry)
    assert err.value.check == "session-id"
    KeyRefresh(os.urandom(32), old[0], registry)


def test_message_of_another_session_is_rejected() -> None:
    _, old = dealt(2, 3)
    ours, theirs = make(old), make(old)
    target = ours[0]
    foreign = theirs[1].messages()[0]
    for msg in (foreign, dataclasses.replace(ours[1].messages()[0], session_id=os.urandom(32))):
        with pytest.raises(ProtocolError) as err:
            target.receive(msg)
        assert err.value.check == "session-id"
        assert err.value.blame == (2,)
        assert not target.done and target.round == 1 and target.waiting_for() == {2, 3}


def test_keygen_message_is_rejected() -> None:
    _, old = dealt(2, 3)
    parties = make(old)
    msg = dataclasses.replace(parties[1].messages()[0], protocol="cggmp24/keygen")
    with pytest.raises(ProtocolError) as err:
        parties[0].receive(msg)
    assert err.value.check == "protocol"


def test_proof_bound_to_other_randomness_is_blamed() -> None:
    """Party 2's Π_sch challenges bind a wrong rid: every other party rejects its
    proofs, blames 2 with the proof's check, and nobody finishes."""

    class WrongRid(KeyRefresh):
        def _schnorr_responses(self) -> list[int]:
            rid, self._rid = self._rid, os.urandom(32)
            try:
                return super()._schnorr_responses()
            finally:
                self._rid = rid

    _, old = dealt(2, 3)
    sid = os.urandom(32)
    parties = [
        (WrongRid if s.index == 2 else KeyRefresh)(sid, s, InMemorySessionRegistry()) for s in old
    ]
    deliver(parties)
    assert_blamed(parties, (2,), "pi-sch: z g = A + e X")
    assert_blamed(parties, (1, 3), "refresh-complaint", victims=[parties[1]])


def test_party_refreshing_another_key_is_blamed() -> None:
    _, a = dealt(2, 3)
    _, b = dealt(2, 3)
    parties = make([a[0], a[1], b[2]])
    deliver(parties)
    assert_blamed(parties, (3,), "refresh-commitment", victims=parties[:2])
    assert_blamed(parties, (1, 2), "refresh-commitment", victims=parties[2:])


# -- faults: blamed with a named check; nobody finishes --------------------------------


def test_tampered_feldman_share_to_one_party() -> None:
    """Party 3 deals party 1 a share off its committed polynomial: 1 blames 3
    (refresh-feldman), its complaint reaches everyone, party 2 names both 1 and 3,
    party 3 names the complainer, and nobody finishes."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 3 and target == 1:
            return in_the_clear(m, target, lambda p: add_one(p[:32]) + p[32:])
        return m

    _, _, parties = run(2, 3, tamper)
    assert_nobody_finished(parties)
    assert_blamed(parties, (3,), "refresh-feldman", victims=[parties[0]])
    assert_blamed(parties, (1, 3), "refresh-complaint", victims=[parties[1]])
    assert_blamed(parties, (1,), "refresh-complaint", victims=[parties[2]])


def test_tampered_feldman_shares_to_everyone() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 4 and m.round == 3:
            return in_the_clear(m, target, lambda p: add_one(p[:32]) + p[32:])
        return m

    _, _, parties = run(3, 5, tamper)
    assert_nobody_finished(parties)
    assert_blamed(parties, (4,), "refresh-feldman")


def test_tampered_schnorr_response_is_blamed() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 3:
            return in_the_clear(m, target, lambda p: p[:64] + add_one(p[64:96]) + p[96:])
        return m

    _, _, parties = run(2, 3, tamper)
    assert_nobody_finished(parties)
    assert_blamed(parties, (2,), "pi-sch: z g = A + e X")


def _opening(m: ProtocolMessage, t: int, n: int) -> tuple[bytes, RefreshDecommitment]:
    return m.payload[: n * HASH], RefreshDecommitment.from_bytes(m.payload[n * HASH :], t, n, G)


@pytest.mark.parametrize("field_", ["rid", "u", "ephemeral_key", "feldman", "sch_commitments"])
def test_tampered_decommitment_is_blamed(field_: str) -> None:
    t, n = 3, 4

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 2:
            echo, d = _opening(m, t, n)
            if field_ == "rid":
                bad = dataclasses.replace(d, rid=flip_byte(d.rid, 0))
            elif field_ == "u":
                bad = dataclasses.replace(d, u=flip_byte(d.u, 31))
            elif field_ == "ephemeral_key":
                other = hpke.HpkeKeyPair.generate().public_key
                bad = dataclasses.replace(d, ephemeral_key=other)
            elif field_ == "feldman":
                bad = dataclasses.replace(d, feldman=(d.feldman[0], G.generator))
            else:
                bad = dataclasses.replace(d, sch_commitments=(G.generator, *d.sch_commitments[1:]))
            return replace(m, echo + bad.to_bytes())
        return m

    _, _, parties = run(t, n, tamper)
    assert_blamed(parties, (2,), "refresh-commitment")


def test_committed_zero_share_is_blamed() -> None:
    """Party 2 commits to a polynomial with f(3) = 0 (3-of-4: a_1 = -3 a_2), which
    would leave party 3's share unrefreshed by it: caught in round 2 by everyone."""

    class ZeroAtThree(KeyRefresh):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.messages()
            a2 = G.random_scalar()
            self._coefficients = [0, (-3 * a2) % Q, a2]
            self._mine = dataclasses.replace(
                self._mine, feldman=tuple(feldman_commit(G, self._coefficients[1:]))
            )
            self._commits.openings[self.me] = self._mine
            v = commitment(self.session_id, self.me, self._key, self._mine)
            self._commits.commitments[self.me] = v
            self.send(1, None, v)

    _, old = dealt(3, 4)
    sid = os.urandom(32)
    parties = [
        (ZeroAtThree if s.index == 2 else KeyRefresh)(sid, s, InMemorySessionRegistry())
        for s in old
    ]
    deliver(parties)
    assert_blamed(parties, (2,), "refresh-zero-share")


def test_equivocating_round1_broadcast_is_caught_by_echo() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 1 and target == 1:
            return replace(m, os.urandom(32))
        return m

    _, _, parties = run(2, 4, tamper)
    assert_nobody_finished(parties)
    assert all(p.failed is not None and p.failed.check == "refresh-echo-broadcast" for p in parties)
    assert parties[0].failed is not None and parties[0].failed.blame == (3,)
    for p in (parties[1], parties[3]):
        assert p.failed is not None and p.failed.blame == (1, 3)
    assert all(m.round < 3 for p in parties for m in p.messages())


def test_misreported_echo_is_blamed() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 2:
            return replace(m, flip_byte(m.payload, 0))
        return m

    _, _, parties = run(2, 3, tamper)
    assert_blamed(parties, (2,), "refresh-echo-broadcast", victims=[parties[0]])
    assert_blamed(parties, (1, 2), "refresh-echo-broadcast", victims=[parties[2]])


def test_mismatched_confirmation_is_blamed() -> None:
    """Party 2 confirms other new public shares: every other party refuses to
    finish and names 2."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 4:
            return replace(m, flip_byte(m.payload, 5))
        return m

    _, _, parties = run(3, 5, tamper)
    assert_blamed(parties, (2,), "refresh-confirmation")


def test_confirmation_to_one_party_only_is_mismatched() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 4 and target == 1:
            return replace(m, flip_byte(m.payload, 32))
        return m

    _, _, parties = run(2, 3, tamper)
    assert_blamed(parties, (3,), "refresh-confirmation", victims=[parties[0]])


def test_false_complaint_is_blamed() -> None:
    """Party 2 complains about party 1 although 1's share was good: 1 names 2, party
    3 cannot tell and names both; nobody finishes."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 4:
            return replace(m, b"\x01\x01")
        return m

    _, _, parties = run(2, 3, tamper)
    assert_blamed(parties, (2,), "refresh-complaint", victims=[parties[0]])
    assert_blamed(parties, (1, 2), "refresh-complaint", victims=[parties[2]])
    assert parties[1].done and parties[1].failed is None  # the liar itself got confirmations


@pytest.mark.parametrize(
    ("round_", "mutate", "check"),
    [
        (1, lambda p: p + b"\x00", "refresh-round1-decode"),
        (1, lambda p: p[:-1], "refresh-round1-decode"),
        (2, lambda p: p + b"\x00", "refresh-round2-decode"),
        (2, lambda p: p[:-1], "refresh-round2-decode"),
        # First Feldman commitment: 05 is no point prefix.
        (2, lambda p: p[: 3 * HASH + 96] + b"\x05" + p[3 * HASH + 97 :], "refresh-round2-decode"),
        # E_i = 0: a small-order X25519 key.
        (2, lambda p: p[: 3 * HASH + 64] + bytes(32) + p[3 * HASH + 96 :], "refresh-round2-decode"),
        # Round 3 on the wire: a sealed box that does not open (tampered, or not sealed).
        (3, lambda p: flip_byte(p, 40), "refresh-dealing-decrypt"),
        (3, lambda p: p[:-1], "refresh-dealing-decrypt"),
        # Round 3 inside the box (the sender seals a malformed dealing).
        (-3, lambda p: p + b"\x00", "refresh-round3-decode"),
        (-3, lambda p: b"\xff" * 32 + p[32:], "refresh-round3-decode"),  # share >= q
        (-3, lambda p: bytes(32) + p[32:], "refresh-feldman"),  # share 0: off the commitments
        (-3, lambda p: p[:32] + b"\xff" * 32 + p[64:], "refresh-round3-decode"),  # z >= q
        (4, lambda p: p + b"\x00", "refresh-round4-decode"),
        (4, lambda p: b"\x02" + p[1:], "refresh-round4-decode"),
        (4, lambda p: b"\x01", "refresh-round4-decode"),  # complaint naming nobody
        (4, lambda p: b"\x01\x01", "refresh-round4-decode"),  # complaint about itself
        (4, lambda p: b"\x01\x03\x02", "refresh-round4-decode"),  # not ascending
        (4, lambda p: b"\x01\x09", "refresh-round4-decode"),  # unknown party
    ],
)
def test_malformed_payloads_are_blamed(round_: int, mutate: Any, check: str) -> None:
    """Round ``-3``: the plaintext inside the sealed dealing is malformed."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 1 and m.round == abs(round_):
            if round_ < 0:
                return in_the_clear(m, target, mutate)
            return replace(m, mutate(m.payload))
        return m

    _, _, parties = run(2, 3, tamper)
    assert_blamed(parties, (1,), check)
    if abs(round_) == 3:
        assert_nobody_finished(parties)


def test_round3_broadcast_is_refused() -> None:
    _, old = dealt(2, 2)
    parties = make(old)
    deliver(parties, lambda m, t: None if m.round == 3 else m)
    assert parties[0].round == 3
    forged = ProtocolMessage(parties[0].session_id, PROTOCOL, 3, 2, None, bytes(96), True)
    with pytest.raises(ProtocolError) as err:
        parties[0].receive(forged)
    assert err.value.check == "broadcast"
    assert not parties[0].done


def test_dealing_sealed_for_another_pair_is_blamed_on_its_sender() -> None:
    """Party 3 seals its dealing for party 1 under the AAD of (3 -> 2) (or of another
    session): the box is bound to (protocol, sid, sender, recipient), so it does not
    open at 1, which blames 3 with refresh-dealing-decrypt; nobody finishes."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 3 and target == 1:
            recipient = _LIVE[(m.session_id, 1)]
            assert recipient._ephemeral is not None
            plain = open_dealing(SPEC, recipient._ephemeral, m.payload, m)
            sealed = seal_dealing(
                SPEC,
                recipient._ephemeral.public_key,
                plain,
                protocol=m.protocol,
                session_id=m.session_id,
                sender=3,
                recipient=2,
                rng=OS_RNG,
            )
            return replace(m, sealed)
        return m

    _, _, parties = run(2, 3, tamper)
    assert_nobody_finished(parties)
    assert_blamed(parties, (3,), "refresh-dealing-decrypt", victims=[parties[0]])
    assert_blamed(parties, (1, 3), "refresh-complaint", victims=[parties[1]])


def test_ephemeral_key_is_committed_fresh_and_dropped_after_round_3() -> None:
    """E_i is in the round-1 commitment, differs per party and per session, and the
    secret is gone once round 3 is processed."""
    _, old = dealt(2, 3)
    first, second = make(old), make(old)
    keys = {p._mine.ephemeral_key for p in first + second}
    assert len(keys) == 6
    p = first[0]
    assert commitment(p.session_id, p.me, p._key, p._mine) == p._commits.commitments[p.me]
    other = dataclasses.replace(p._mine, ephemeral_key=second[0]._mine.ephemeral_key)
    assert commitment(p.session_id, p.me, p._key, other) != p._commits.commitments[p.me]
    deliver(first, lambda m, t: None if m.round == 4 else m)
    assert all(q.round == 4 and q._ephemeral is None for q in first)
