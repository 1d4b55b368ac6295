"""FROST refresh: honest runs give new shares of the same group key that sign
(verified by PyNaCl and by libsecp256k1 through coincurve, BIP 340 keys with odd or
even y and every tweak kind); every fault aborts with the culprit blamed and a named
check, and nobody finishes; a session id is never run twice."""

from __future__ import annotations

import dataclasses
import itertools
import os
from typing import Any

import coincurve
import pytest
from helpers import deliver, run_dkg, run_signing
from nacl.signing import VerifyKey

from shardvault.crypto import bip340, hpke
from shardvault.crypto.rng import OS_RNG
from shardvault.errors import InvalidParameters, ProtocolError, SessionReused
from shardvault.protocols.cggmp.refresh import PROTOCOL as CGGMP_REFRESH
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
from shardvault.protocols.frost.refresh import PROTOCOL, FrostRefresh, refresh_spec
from shardvault.protocols.messages import InMemorySessionRegistry, ProtocolMessage
from shardvault.protocols.refresh_core import open_dealing, seal_dealing
from shardvault.protocols.refresh_messages import RefreshDecommitment
from shardvault.protocols.registry import REFRESH_PROTOCOLS

SUITES = [FROST_ED25519, FROST_SECP256K1, FROST_SECP256K1_TR]
HASH = 32
_LIVE: dict[tuple[bytes, int], FrostRefresh] = {}


def make(
    kps: list[KeyPackage], public: PublicKeyPackage, sid: bytes | None = None
) -> list[FrostRefresh]:
    sid = os.urandom(32) if sid is None else sid
    parties = [FrostRefresh(sid, kp, public, InMemorySessionRegistry()) for kp in kps]
    _LIVE.update({(sid, p.me): p for p in parties})
    return parties


def run(
    suite: Ciphersuite, t: int, n: int, tamper: Any = None
) -> tuple[int, list[KeyPackage], PublicKeyPackage, list[FrostRefresh]]:
    secret = suite.group.random_scalar()
    kps, public = trusted_dealer_keygen(suite, secret, t, n)
    parties = make(kps, public)
    deliver(parties, tamper)
    return secret, kps, public, parties


def replace(m: ProtocolMessage, payload: bytes) -> ProtocolMessage:
    return dataclasses.replace(m, payload=payload)


def in_the_clear(m: ProtocolMessage, target: int, mutate: Any) -> ProtocolMessage:
    """The sender seals a dealing whose plaintext ``mutate`` changed."""
    party = _LIVE[(m.session_id, target)]
    assert party._ephemeral is not None
    spec = refresh_spec(party.suite)
    plain = open_dealing(spec, party._ephemeral, m.payload, m)
    sealed = seal_dealing(
        spec,
        party._ephemeral.public_key,
        mutate(plain),
        protocol=m.protocol,
        session_id=m.session_id,
        sender=m.sender,
        recipient=target,
        rng=OS_RNG,
    )
    return replace(m, sealed)


def verify_independently(
    suite: Ciphersuite, public: PublicKeyPackage, msg: bytes, sig: bytes, root: bytes | None
) -> None:
    key = public.group_public_key.encode()
    if suite is FROST_ED25519:
        VerifyKey(key).verify(msg, sig)  # PyNaCl (libsodium); raises if bad
    elif suite is FROST_SECP256K1_TR:
        xonly = key[1:]
        if root is not None:
            xonly = bip340.tweak_public_key(xonly, root)[0].data[1:]
        assert coincurve.PublicKeyXOnly(xonly).verify(sig, msg)
    else:  # RFC 9591 secp256k1: z G = R + c Y with libsecp256k1's arithmetic
        c = suite.challenge(suite.group.decode_point(sig[:33]), public.group_public_key, msg)
        lhs = coincurve.PublicKey.from_secret(sig[33:])
        rhs = coincurve.PublicKey.combine_keys(
            [
                coincurve.PublicKey(sig[:33]),
                coincurve.PublicKey(key).multiply(c.to_bytes(32, "big")),
            ]
        )
        assert lhs.format() == rhs.format()


def assert_erased(p: FrostRefresh) -> None:
    assert p._coefficients == [] and p._nonces == [] and p._own_share == 0 and p._new is None
    assert p._ephemeral is None


def assert_blamed(
    parties: list[FrostRefresh], culprits: tuple[int, ...], check: str, victims: Any = None
) -> None:
    targets = [p for p in parties if p.me not in culprits] if victims is None else victims
    assert targets
    for p in targets:
        with pytest.raises(ProtocolError) as err:
            p.result()
        assert err.value.blame == culprits, (p.me, err.value)
        assert err.value.check == check, (p.me, err.value)
        assert p.messages() == []
        assert_erased(p)


def assert_nobody_finished(parties: list[FrostRefresh]) -> None:
    assert all(p.done and p.failed is not None for p in parties)


# -- honest runs --------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize(("t", "n"), [(2, 2), (2, 3), (3, 5)])
def test_refresh_keeps_the_group_key_and_the_new_shares_sign(
    suite: Ciphersuite, t: int, n: int
) -> None:
    secret, old, public, parties = run(suite, t, n)
    results = [p.result() for p in parties]
    new_public = results[0][1]
    assert new_public.group_public_key == public.group_public_key
    assert new_public.min_signers == t and sorted(new_public.verifying_shares) == list(
        range(1, n + 1)
    )
    new_public.check_consistent()
    for (kp, pub), o in zip(results, old, strict=True):
        assert pub == new_public
        assert (kp.identifier, kp.group_public_key, kp.min_signers) == (
            o.identifier,
            o.group_public_key,
            o.min_signers,
        )
        assert kp.signing_share != o.signing_share
        assert kp.verifying_share == new_public.verifying_shares[kp.identifier]
        assert kp.verifying_share != public.verifying_shares[kp.identifier]
    new = [kp for kp, _ in results]
    for subset in itertools.combinations(new, t):
        assert reconstruct_secret(list(subset)) == secret
    roots: list[bytes | None] = [None, b"", os.urandom(32)] if suite.bip340 else [None]
    for root in roots:
        msg = os.urandom(32)
        sig = run_signing(new_public, new[-t:], msg, merkle_root=root).result()
        verify_independently(suite, new_public, msg, sig, root)
    assert all(p._ephemeral is None and p._own_share == 0 for p in parties)


def test_bip340_key_with_odd_y_still_signs_after_refresh() -> None:
    """The stored group key keeps its odd y (normalised at signing, as before): the
    refreshed shares sign for the same BIP 340 key, every tweak kind verifies."""
    suite = FROST_SECP256K1_TR
    while True:
        kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
        if public.group_public_key.data[0] == 3:
            break
    parties = make(kps, public)
    deliver(parties)
    new_kps = [p.result()[0] for p in parties]
    new_public = parties[0].result()[1]
    assert new_public.group_public_key == public.group_public_key  # odd y, unchanged
    for root in (None, b"", os.urandom(32)):
        msg = os.urandom(32)
        sig = run_signing(new_public, [new_kps[0], new_kps[2]], msg, merkle_root=root).result()
        verify_independently(suite, new_public, msg, sig, root)
        old_sig = run_signing(public, kps[:2], msg, merkle_root=root).result()
        assert old_sig[:32] != sig[:32]  # both valid for the same key (fresh nonces)
        verify_independently(suite, public, msg, old_sig, root)


@pytest.mark.parametrize("suite", [FROST_ED25519, FROST_SECP256K1_TR], ids=lambda s: s.name)
def test_dkg_key_refreshed_twice_still_signs(suite: Ciphersuite) -> None:
    results = [p.result() for p in run_dkg(suite, 2, 3)]
    kps, public = [kp for kp, _ in results], results[0][1]
    for _ in range(2):
        parties = make(kps, public)
        deliver(parties)
        fresh = [p.result() for p in parties]
        assert all(a.signing_share != b[0].signing_share for a, b in zip(kps, fresh, strict=True))
        kps, public = [kp for kp, _ in fresh], fresh[0][1]
    msg = b"refreshed twice"
    sig = run_signing(public, kps[1:], msg).result()
    verify_independently(suite, public, msg, sig, None)


def test_messages_shapes_and_protocol_name() -> None:
    seen: list[ProtocolMessage] = []

    def record(m: ProtocolMessage, target: int) -> ProtocolMessage:
        seen.append(m)
        return m

    run(FROST_ED25519, 2, 3, record)
    assert FrostRefresh.broadcast_rounds == frozenset({1, 2, 4})
    assert REFRESH_PROTOCOLS == {
        "CGGMP24": CGGMP_REFRESH,
        "FROST": PROTOCOL,
        "FROST_BITCOIN": PROTOCOL,
    }
    for m in seen:
        assert m.protocol == PROTOCOL == "frost/refresh"
        if m.round == 3:
            assert m.secret and m.recipient not in (None, m.sender)
            # a box: enc (32) || (share + 3 responses, 32 bytes each) || tag (16)
            assert len(m.payload) == 32 + 4 * 32 + 16
        else:
            assert not m.secret and m.recipient is None


def test_secrets_stay_out_of_reprs() -> None:
    _, _, _, parties = run(FROST_ED25519, 2, 3)
    texts = [repr(p) for p in parties]
    for kp, pub in (p.result() for p in parties):
        texts += [repr(kp), str(kp), repr(pub)]
        for text in texts:
            assert str(kp.signing_share) not in text
            assert FROST_ED25519.group.encode_scalar(kp.signing_share).hex() not in text


# -- parameters and sessions ---------------------------------------------------------


def test_reused_session_id_is_refused() -> None:
    kps, public = trusted_dealer_keygen(FROST_ED25519, FROST_ED25519.group.random_scalar(), 2, 3)
    registry = InMemorySessionRegistry()
    sid = os.urandom(32)
    FrostRefresh(sid, kps[0], public, registry)
    with pytest.raises(SessionReused) as err:
        FrostRefresh(sid, kps[0], public, registry)
    assert err.value.check == "session-id"
    FrostRefresh(os.urandom(32), kps[0], public, registry)


def test_bad_parameters_are_refused() -> None:
    suite = FROST_ED25519
    kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    one, one_public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 1, 2)
    other, other_public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    s_kps, _ = trusted_dealer_keygen(FROST_SECP256K1, FROST_SECP256K1.group.random_scalar(), 2, 3)
    bad = dict(public.verifying_shares)
    bad[2], bad[3] = bad[3], bad[2]
    swapped = PublicKeyPackage(suite, public.group_public_key, bad, 2)
    for key, pub in (
        (one[0], one_public),  # 1-of-n: every share is the key
        (kps[0], other_public),  # another key's package
        (other[0], public),
        (s_kps[0], public),  # another ciphersuite
        (kps[0], swapped),  # verifying shares that do not interpolate
    ):
        with pytest.raises(InvalidParameters):
            FrostRefresh(os.urandom(32), key, pub, InMemorySessionRegistry())
    with pytest.raises(InvalidParameters):
        FrostRefresh(b"short", kps[0], public, InMemorySessionRegistry())
    with pytest.raises(InvalidParameters):
        FrostRefresh(os.urandom(32), "key", public, InMemorySessionRegistry())  # type: ignore[arg-type]


def test_cggmp_refresh_message_is_rejected() -> None:
    fresh = make(*trusted_dealer_keygen(FROST_ED25519, FROST_ED25519.group.random_scalar(), 2, 3))
    msg = dataclasses.replace(fresh[1].messages()[0], protocol=CGGMP_REFRESH)
    with pytest.raises(ProtocolError) as err:
        fresh[0].receive(msg)
    assert err.value.check == "protocol"


# -- faults: blamed with a named check; nobody finishes --------------------------------


def add_one(suite: Ciphersuite, encoded: bytes) -> bytes:
    g = suite.group
    return g.encode_scalar(g.decode_scalar(encoded) + 1)


@pytest.mark.parametrize("suite", [FROST_ED25519, FROST_SECP256K1_TR], ids=lambda s: s.name)
def test_tampered_share_is_blamed_by_its_recipient(suite: Ciphersuite) -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 3 and target == 1:
            return in_the_clear(m, target, lambda p: add_one(suite, p[:32]) + p[32:])
        return m

    _, _, _, parties = run(suite, 2, 3, tamper)
    assert_nobody_finished(parties)
    assert_blamed(parties, (3,), "frost-refresh-feldman", victims=[parties[0]])
    assert_blamed(parties, (1, 3), "frost-refresh-complaint", victims=[parties[1]])
    assert_blamed(parties, (1,), "frost-refresh-complaint", victims=[parties[2]])


@pytest.mark.parametrize("suite", [FROST_ED25519, FROST_SECP256K1], ids=lambda s: s.name)
def test_bad_proof_of_knowledge_is_blamed(suite: Ciphersuite) -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 3:
            return in_the_clear(m, target, lambda p: p[:64] + add_one(suite, p[64:96]) + p[96:])
        return m

    _, _, _, parties = run(suite, 2, 3, tamper)
    assert_nobody_finished(parties)
    assert_blamed(parties, (2,), "frost-refresh-pok: z G = A + e X")


def test_party_refreshing_another_key_is_blamed() -> None:
    suite = FROST_ED25519
    a, a_public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    b, b_public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    sid = os.urandom(32)
    parties = [
        FrostRefresh(sid, a[0], a_public, InMemorySessionRegistry()),
        FrostRefresh(sid, a[1], a_public, InMemorySessionRegistry()),
        FrostRefresh(sid, b[2], b_public, InMemorySessionRegistry()),
    ]
    deliver(parties)
    assert_blamed(parties, (3,), "frost-refresh-commitment", victims=parties[:2])


def test_committed_zero_share_is_blamed() -> None:
    """Party 2 commits to f with f(3) = 0 (3-of-4, a_1 = -3 a_2): caught in round 2."""
    suite = FROST_ED25519
    g = suite.group
    kps, public = trusted_dealer_keygen(suite, g.random_scalar(), 3, 4)
    sid = os.urandom(32)

    class ZeroAtThree(FrostRefresh):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.messages()
            a2 = g.random_scalar()
            self._coefficients = [0, (-3 * a2) % g.order, a2]
            self._mine = dataclasses.replace(
                self._mine, feldman=(g.mul_base(self._coefficients[1]), g.mul_base(a2))
            )
            self._commits.openings[self.me] = self._mine
            v = self._commits._commit(self.me, self._mine)
            self._commits.commitments[self.me] = v
            self.send(1, None, v)

    parties = [
        (ZeroAtThree if kp.identifier == 2 else FrostRefresh)(
            sid, kp, public, InMemorySessionRegistry()
        )
        for kp in kps
    ]
    deliver(parties)
    assert_blamed(parties, (2,), "frost-refresh-zero-share")


def test_equivocating_round1_broadcast_is_caught_by_echo() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 3 and m.round == 1 and target == 1:
            return replace(m, os.urandom(32))
        return m

    _, _, _, parties = run(FROST_ED25519, 2, 3, tamper)
    assert_nobody_finished(parties)
    assert all(
        p.failed is not None and p.failed.check == "frost-refresh-echo-broadcast" for p in parties
    )
    assert parties[0].failed is not None and parties[0].failed.blame == (3,)


def test_mismatched_confirmation_is_blamed() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 4:
            return replace(m, m.payload[:5] + bytes([m.payload[5] ^ 1]) + m.payload[6:])
        return m

    _, _, _, parties = run(FROST_SECP256K1_TR, 2, 3, tamper)
    assert_blamed(parties, (2,), "frost-refresh-confirmation")


def test_false_complaint_is_blamed() -> None:
    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.sender == 2 and m.round == 4:
            return replace(m, b"\x01\x01")
        return m

    _, _, _, parties = run(FROST_ED25519, 2, 3, tamper)
    assert_blamed(parties, (2,), "frost-refresh-complaint", victims=[parties[0]])
    assert_blamed(parties, (1, 2), "frost-refresh-complaint", victims=[parties[2]])


@pytest.mark.parametrize(
    ("round_", "mutate", "check"),
    [
        (1, lambda p: p + b"\x00", "frost-refresh-round1-decode"),
        (2, lambda p: p[:-1], "frost-refresh-round2-decode"),
        # E_i = 0: a small-order X25519 key.
        (
            2,
            lambda p: p[: 3 * HASH + 64] + bytes(32) + p[3 * HASH + 96 :],
            "frost-refresh-round2-decode",
        ),
        # The first Feldman commitment: not a prime-order-subgroup point.
        (
            2,
            lambda p: p[: 3 * HASH + 96] + bytes(32) + p[3 * HASH + 128 :],
            "frost-refresh-round2-decode",
        ),
        # An opening that does not match V_i (rid changed).
        (
            2,
            lambda p: p[: 3 * HASH] + bytes([p[3 * HASH] ^ 1]) + p[3 * HASH + 1 :],
            "frost-refresh-commitment",
        ),
        # Echo of round 1 misreported.
        (2, lambda p: bytes([p[0] ^ 1]) + p[1:], "frost-refresh-echo-broadcast"),
        (3, lambda p: p[:-1], "frost-refresh-dealing-decrypt"),
        (3, lambda p: p[:40] + bytes([p[40] ^ 1]) + p[41:], "frost-refresh-dealing-decrypt"),
        (-3, lambda p: p + b"\x00", "frost-refresh-round3-decode"),
        (-3, lambda p: b"\xff" * 32 + p[32:], "frost-refresh-round3-decode"),  # share >= q
        (4, lambda p: p + b"\x00", "frost-refresh-round4-decode"),
        (4, lambda p: b"\x01\x09", "frost-refresh-round4-decode"),
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

    _, _, _, parties = run(FROST_ED25519, 2, 3, tamper)
    if check == "frost-refresh-echo-broadcast":
        assert_blamed(parties, (1,), check, victims=[parties[1]])
        assert_blamed(parties, (1,), check, victims=[parties[2]])
    else:
        assert_blamed(parties, (1,), check)
    if abs(round_) == 3:
        assert_nobody_finished(parties)


def test_decommitment_round_trips() -> None:
    suite = FROST_ED25519
    kps, public = trusted_dealer_keygen(suite, suite.group.random_scalar(), 3, 4)
    (p,) = make(kps[:1], public)
    d = p._mine
    assert len(d.feldman) == 2 and len(d.sch_commitments) == 4
    assert RefreshDecommitment.from_bytes(d.to_bytes(), 3, 4, suite.group) == d
    assert hpke.validate_public_key(d.ephemeral_key) == d.ephemeral_key
