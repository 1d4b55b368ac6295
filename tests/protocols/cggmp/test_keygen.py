"""CGGMP24 threshold key generation: honest runs agree and give a working ECDSA key;
every fault aborts with the right party blamed and a named check (docs/security.md items
2, 3, 4, 8, 21)."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
from typing import Any

import coincurve
import pytest
from cggmp_helpers import deliver, flip_byte

from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.shamir import interpolate_secret
from shardvault.crypto.zk import sch
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError, SessionReused
from shardvault.protocols.cggmp.keygen import PROTOCOL, KeyGeneration, proof_session_id
from shardvault.protocols.cggmp.keygen_messages import Decommitment, commitment
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.messages import InMemorySessionRegistry, ProtocolMessage

G = SECP256K1
Q = G.order
HASH = 32

SIZES = [(t, n) for n in range(1, 6) for t in range(1, n + 1) if t <= 3]


def make(t: int, n: int, sid: bytes | None = None) -> list[KeyGeneration]:
    sid = os.urandom(32) if sid is None else sid
    return [KeyGeneration(sid, i, t, n, InMemorySessionRegistry()) for i in range(1, n + 1)]


def run(t: int, n: int, tamper: Any = None) -> list[KeyGeneration]:
    parties = make(t, n)
    deliver(parties, tamper)
    return parties


def replace(m: ProtocolMessage, payload: bytes) -> ProtocolMessage:
    return dataclasses.replace(m, payload=payload)


def add_one(encoded: bytes) -> bytes:
    return G.encode_scalar(G.decode_scalar(encoded) + 1)


def assert_blamed(
    parties: list[KeyGeneration], culprits: tuple[int, ...], check: str, victims: Any = None
) -> None:
    """Every party in ``victims`` (default: all but the culprits) aborted, blaming
    exactly ``culprits`` with ``check``."""
    targets = [p for p in parties if p.me not in culprits] if victims is None else victims
    assert targets
    for p in targets:
        with pytest.raises(ProtocolError) as err:
            p.result()
        assert err.value.blame == culprits, (p.me, err.value)
        assert err.value.check == check, (p.me, err.value)
        assert p.messages() == []  # nothing leaves an aborted party
        assert p._coefficients == [] and p._nonce is None and p._own_share == 0  # erased


# -- honest runs --------------------------------------------------------------------


@pytest.mark.parametrize(("t", "n"), SIZES)
def test_honest_run_agrees_and_any_t_shares_give_the_key(t: int, n: int) -> None:
    parties = run(t, n)
    shares = [p.result() for p in parties]
    first = shares[0]
    for i, s in enumerate(shares, start=1):
        assert isinstance(s, KeyShare)
        assert s.index == i and s.threshold == t
        assert s.public_key == first.public_key
        assert dict(s.public_shares) == dict(first.public_shares)
        assert sorted(s.public_shares) == list(range(1, n + 1))
        assert G.mul_base(s.secret) == s.public_shares[i]
        s.check_consistent()
    for subset in itertools.combinations(shares, t):
        x = interpolate_secret(G, {s.index: s.secret for s in subset})
        assert G.mul_base(x) == first.public_key
    if t > 1:  # fewer than t shares say nothing about the key
        x = interpolate_secret(G, {s.index: s.secret for s in shares[: t - 1]})
        assert G.mul_base(x) != first.public_key


def test_one_of_one_finishes_at_once() -> None:
    (party,) = make(1, 1)
    assert party.done and party.failed is None
    share = party.result()
    assert G.mul_base(share.secret) == share.public_key
    assert dict(share.public_shares) == {1: share.public_key}


@pytest.mark.parametrize(("t", "n", "signers"), [(2, 3, (2, 3)), (3, 5, (1, 3, 5)), (1, 1, (1,))])
def test_ecdsa_with_the_generated_key(t: int, n: int, signers: tuple[int, ...]) -> None:
    shares = {s.index: s for s in (p.result() for p in run(t, n))}
    x = interpolate_secret(G, {i: shares[i].secret for i in signers})
    public = shares[signers[0]].public_key
    sk = coincurve.PrivateKey(x.to_bytes(32, "big"))
    assert sk.public_key.format(compressed=True) == public.encode()
    digest = hashlib.sha256(b"shardvault cggmp24 keygen end to end").digest()
    sig = sk.sign(digest, hasher=None)
    assert coincurve.PublicKey(public.encode()).verify(sig, digest, hasher=None)
    recoverable = sk.sign_recoverable(digest, hasher=None)
    recovered = coincurve.PublicKey.from_signature_and_message(recoverable, digest, hasher=None)
    assert recovered.format(compressed=True) == public.encode()
    other = hashlib.sha256(b"another message").digest()
    assert not coincurve.PublicKey(public.encode()).verify(sig, other, hasher=None)


def test_runs_give_independent_keys() -> None:
    keys = {run(2, 3)[0].result().public_key for _ in range(5)}
    assert len(keys) == 5


def test_message_shapes_and_secret_flags() -> None:
    """Rounds 1 and 2 are broadcasts without secrets; round 3 (the shares) goes to
    each party alone with ``secret=True`` so the transport encrypts it."""
    seen: list[ProtocolMessage] = []

    def record(m: ProtocolMessage, target: int) -> ProtocolMessage:
        seen.append(m)
        return m

    parties = run(3, 5, record)
    assert all(p.failed is None for p in parties)
    assert KeyGeneration.broadcast_rounds == frozenset({1, 2})
    for m in seen:
        assert m.protocol == PROTOCOL
        if m.round == 3:
            assert m.secret and m.recipient is not None and m.recipient != m.sender
        else:
            assert m.round in (1, 2)
            assert not m.secret and m.recipient is None
    round3 = {(m.sender, m.recipient) for m in seen if m.round == 3}
    assert round3 == {(i, j) for i in range(1, 6) for j in range(1, 6) if i != j}


def test_secrets_stay_out_of_reprs() -> None:
    parties = make(2, 3)
    coefficients = [c for p in parties for c in p._coefficients]
    texts = [repr(p) for p in parties]
    deliver(parties)
    shares = [p.result() for p in parties]
    texts += [repr(p) for p in parties] + [repr(s) for s in shares] + [str(s) for s in shares]
    secrets_ = coefficients + [s.secret for s in shares]
    for text in texts:
        for secret in secrets_:
            assert str(secret) not in text
            assert G.encode_scalar(secret).hex() not in text
    for p in parties:  # the polynomial is erased once the shares are out
        assert p._coefficients == []
        assert p._own_share == 0
        assert p._nonce is None


# -- sessions ------------------------------------------------------------------------


def test_reused_session_id_is_refused() -> None:
    registry = InMemorySessionRegistry()
    sid = os.urandom(32)
    KeyGeneration(sid, 1, 2, 3, registry)
    with pytest.raises(SessionReused) as err:
        KeyGeneration(sid, 1, 2, 3, registry)
    assert err.value.check == "session-id"
    KeyGeneration(os.urandom(32), 1, 2, 3, registry)  # a fresh id is fine


def test_message_of_another_session_is_rejected() -> None:
    ours = make(2, 3)
    theirs = make(2, 3)
    target = ours[0]
    foreign = theirs[1].messages()[0]
    for msg in (foreign, dataclasses.replace(ours[1].messages()[0], session_id=os.urandom(32))):
        with pytest.raises(ProtocolError) as err:
            target.receive(msg)
        assert err.value.check == "session-id"
        assert err.value.blame == (2,)
        assert not target.done and target.round == 1 and target.waiting_for() == {2, 3}


def test_proof_bound_to_another_session_is_blamed() -> None:
    """A Π_sch response whose challenge binds another session id (here the bare sid,
    without rid) does not verify: the prover is blamed."""

    class WrongSid(KeyGeneration):
        def _schnorr_response(self, fs_sid: bytes) -> sch.SchResponse:
            return super()._schnorr_response(proof_session_id(os.urandom(32), self._rid))

    sid = os.urandom(32)
    parties = [KeyGeneration(sid, i, 2, 3, InMemorySessionRegistry()) for i in (1, 3)]
    parties.insert(1, WrongSid(sid, 2, 2, 3, InMemorySessionRegistry()))
    deliver(parties)
    assert_blamed(parties, (2,), "pi-sch: z g = A + e X")


def test_bad_parameters_are_refused() -> None:
    reg = InMemorySessionRegistry
    for me, t, n in ((0, 2, 3), (4, 2, 3), (1, 0, 3), (1, 4, 3), (1, 2, 256), (1, True, 3)):
        with pytest.raises(InvalidParameters):
            KeyGeneration(os.urandom(32), me, t, n, reg())
    with pytest.raises(InvalidParameters):
        KeyGeneration(b"short", 1, 2, 3, reg())


def test_round3_broadcast_is_refused() -> None:
    parties = make(2, 2)
    deliver(parties, lambda m, t: None if m.round == 3 else m)  # shares dropped
    assert parties[0].round == 3
    forged = ProtocolMessage(parties[0].session_id, PROTOCOL, 3, 2, None, bytes(64), True)
    with pytest.raises(ProtocolError) as err:
        parties[0].receive(forged)
    assert err.value.check == "broadcast"
    assert not parties[0].done


# -- faults: blamed with a named check ----------------------------------------------


def _decommitment_of(m: ProtocolMessage, n: int, t: int) -> tuple[bytes, Decommitment]:
    return m.payload[: n * HASH], Decommitment.from_bytes(m.payload[n * HASH :], t)


@pytest.mark.parametrize("field_", ["rid", "u", "sch_commitment", "feldman"])
def test_tampered_decommitment_is_blamed(field_: str) -> None:
    t, n = 2, 4

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 2:
            echo, d = _decommitment_of(m, n, t)
            if field_ == "rid":
                bad = dataclasses.replace(d, rid=flip_byte(d.rid, 0))
            elif field_ == "u":
                bad = dataclasses.replace(d, u=flip_byte(d.u, 31))
            elif field_ == "sch_commitment":
                bad = dataclasses.replace(d, sch_commitment=G.generator)
            else:
                bad = dataclasses.replace(d, feldman=(d.feldman[0], G.generator))
            return replace(m, echo + bad.to_bytes())
        return m

    assert_blamed(run(t, n, tamper), (2,), "keygen-commitment")


def test_consistent_cheater_is_caught_by_feldman() -> None:
    """Party 3 commits to a polynomial and deals party 1 a share off it: only party 1
    sees it, and blames 3 (the others, as in the paper, finish)."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 3 and target == 1:
            return replace(m, add_one(m.payload[:32]) + m.payload[32:])
        return m

    parties = run(2, 3, tamper)
    assert_blamed(parties, (3,), "keygen-feldman", victims=[parties[0]])
    assert parties[1].failed is None and parties[1].done


def test_wrong_feldman_shares_to_everyone_are_blamed_by_everyone() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 4 and m.round == 3:
            return replace(m, add_one(m.payload[:32]) + m.payload[32:])
        return m

    assert_blamed(run(3, 5, tamper), (4,), "keygen-feldman")


def test_bad_schnorr_response_is_blamed() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 3:
            return replace(m, m.payload[:32] + add_one(m.payload[32:]))
        return m

    assert_blamed(run(2, 3, tamper), (2,), "pi-sch: z g = A + e X")


def test_two_cheaters_are_both_named() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender in (2, 4) and m.round == 3:
            return replace(m, add_one(m.payload[:32]) + m.payload[32:])
        return m

    parties = run(2, 4, tamper)
    assert_blamed(parties, (2, 4), "keygen-feldman", victims=[parties[0], parties[2]])


def test_equivocating_round1_broadcast_is_caught_by_echo() -> None:
    """Party 3 sends party 1 a different round-1 commitment than everyone else."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 1 and target == 1:
            return replace(m, os.urandom(32))
        return m

    parties = run(2, 4, tamper)
    assert all(p.failed is not None for p in parties), "equivocation went unnoticed"
    assert all(p.failed.check == "keygen-echo-broadcast" for p in parties if p.failed)
    # Party 1 sees 3's own echo disagree with what 3 sent it: 3 alone is named.
    assert parties[0].failed is not None and parties[0].failed.blame == (3,)
    # The others see 1 and 3 disagree about 3's broadcast: both are named.
    for p in (parties[1], parties[3]):
        assert p.failed is not None and p.failed.blame == (1, 3)
    assert all(m.round < 3 for p in parties for m in p.messages())


def test_misreported_echo_is_blamed() -> None:
    """Party 2 lies in its echo about party 1's broadcast."""

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 2:
            return replace(m, flip_byte(m.payload, 0))
        return m

    parties = run(2, 3, tamper)
    assert_blamed(parties, (2,), "keygen-echo-broadcast", victims=[parties[0]])
    assert_blamed(parties, (1, 2), "keygen-echo-broadcast", victims=[parties[2]])


def test_party_with_another_threshold_is_refused() -> None:
    """A party running with another threshold is caught by the size check."""
    sid = os.urandom(32)
    parties = [KeyGeneration(sid, i, 2, 3, InMemorySessionRegistry()) for i in (1, 2)]
    parties.append(KeyGeneration(sid, 3, 3, 3, InMemorySessionRegistry()))
    deliver(parties)
    assert_blamed(parties, (3,), "keygen-round2-decode", victims=parties[:2])


def test_commitment_binds_threshold_and_party() -> None:
    (p,) = make(1, 1)
    d = p._commits.openings[1]
    sid = p.session_id
    base = commitment(sid, 1, 1, 1, d)
    assert base == p._commits.commitments[1]
    assert commitment(sid, 2, 1, 1, d) != base
    assert commitment(sid, 1, 1, 2, d) != base
    assert commitment(os.urandom(32), 1, 1, 1, d) != base


@pytest.mark.parametrize(
    ("round_", "mutate", "check"),
    [
        (1, lambda p: p + b"\x00", "keygen-round1-decode"),
        (1, lambda p: p[:-1], "keygen-round1-decode"),
        (2, lambda p: p + b"\x00", "keygen-round2-decode"),
        (2, lambda p: p[:-1], "keygen-round2-decode"),
        # A off the curve / not a point encoding (first byte of A: prefix 02/03).
        (2, lambda p: p[: 3 * HASH + 64] + b"\x05" + p[3 * HASH + 65 :], "keygen-round2-decode"),
        (3, lambda p: p + b"\x00", "keygen-round3-decode"),
        (3, lambda p: b"\xff" * 32 + p[32:], "keygen-round3-decode"),  # share >= q
        (3, lambda p: p[:32] + b"\xff" * 32, "keygen-round3-decode"),  # z >= q
    ],
)
def test_malformed_payloads_are_blamed(round_: int, mutate: Any, check: str) -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 1 and m.round == round_:
            return replace(m, mutate(m.payload))
        return m

    assert_blamed(run(2, 3, tamper), (1,), check)


def test_decommitment_roundtrip_and_rejects_the_identity_encoding() -> None:
    (p,) = make(2, 2)[:1]
    d = p._mine
    assert Decommitment.from_bytes(d.to_bytes(), 2) == d
    with pytest.raises(InvalidEncoding):
        Decommitment.from_bytes(d.to_bytes()[:-33] + bytes(33), 2)
    with pytest.raises(InvalidEncoding):
        Decommitment.from_bytes(d.to_bytes()[:-1], 2)
