"""A mobile adversary against CGGMP24 refresh (issue 12, part 1): it steals signer
A's store BEFORE a refresh and corrupts signer B AFTER it. A refresh must leave
nothing from before useful. Both attacks run real protocol messages through the
state machines (and, for the broker's recording, through signed envelopes).

1. Paillier keys kept across the refresh (aux info not renewed): B receives
   ``K_A = enc_A(k_A)`` in presigning round 1, the stolen ``p_A, q_A`` decrypt it,
   the public signature gives ``sigma_A = s - sigma_B``, hence
   ``chi_A = (sigma_A - k_A m) / r`` and ``x = (chi_A + chi_B) / (k_A + k_B)``.
   This test documents that a share refresh WITHOUT fresh aux info is broken, and
   that it holds once the refresh comes with new Paillier keys (AuxInfoGeneration
   with new primes).
2. The broker's recording of the refresh: A's long-term encryption key (in A's
   store) opens the dealt shares sent to A, B's (in B's store, later) the share A
   dealt to B; with A's old share they give A's new share and, with B's new share,
   the key. Round-3 dealings sealed to per-session ephemeral keys close it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest
from cggmp_helpers import deliver, pair
from nacl.signing import SigningKey

from shardvault.crypto import hpke
from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.paillier import PaillierSecretKey
from shardvault.crypto.shamir import interpolate_secret
from shardvault.crypto.zk import DEFAULT_LEVEL
from shardvault.errors import DecryptionError, InvalidEncoding
from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoGeneration
from shardvault.protocols.cggmp.keyshare import KeyShare, trusted_dealer_key_shares
from shardvault.protocols.cggmp.presign import Presigning
from shardvault.protocols.cggmp.presign_messages import MsgRound1
from shardvault.protocols.cggmp.presignature import Presignature
from shardvault.protocols.cggmp.refresh import PROTOCOL, SPEC, KeyRefresh
from shardvault.protocols.cggmp.sign import EcdsaSignature, Signing, message_scalar
from shardvault.protocols.messages import InMemorySessionRegistry, ProtocolMessage
from shardvault.protocols.refresh_core import open_dealing
from shardvault.transport.envelope import Envelope, open_envelope, seal_envelope
from shardvault.transport.identity import PartyKeys

G = SECP256K1
Q = G.order
A, B = 1, 2
MESSAGE = hashlib.sha256(b"one signature after the refresh").digest()


def refresh(shares: Sequence[KeyShare]) -> list[KeyShare]:
    sid = os.urandom(32)
    parties = [KeyRefresh(sid, s, InMemorySessionRegistry()) for s in shares]
    deliver(parties)
    return [p.result() for p in parties]


def aux_info(primes: Mapping[int, tuple[int, int]]) -> dict[int, AuxInfo]:
    """Aux info (Paillier + ring-Pedersen, proved) of parties A and B from ``primes``."""
    sid = os.urandom(32)
    parties = [
        AuxInfoGeneration(sid, i, 2, InMemorySessionRegistry(), primes=primes[i]) for i in (A, B)
    ]
    deliver(parties)
    return {p.me: p.result() for p in parties}


@pytest.fixture(scope="module")
def old_aux() -> dict[int, AuxInfo]:
    return aux_info({A: pair(1), B: pair(2)})


@dataclass
class SigningRun:
    """What corrupted B holds after one presigning + signing with honest A."""

    K_A: int  # presigning round 1, A -> B (B must receive it)
    mine: Presignature  # B's own presignature (k_B, chi_B)
    signature: EcdsaSignature  # public


def presign_and_sign(shares: Mapping[int, KeyShare], aux: Mapping[int, AuxInfo]) -> SigningRun:
    sid = os.urandom(32)
    seen: dict[int, int] = {}

    def record(m: ProtocolMessage, target: int) -> ProtocolMessage:
        if m.round == 1 and m.sender == A and target == B:
            msg = MsgRound1.decode(
                m.payload,
                sender=A,
                n_sender=aux[B].public.parties[A].n,
                n_receiver=aux[B].public.parties[B].n,
                level=DEFAULT_LEVEL,
            )
            seen[A] = msg.broadcast.K
        return m

    presign = [
        Presigning(sid, i, [A, B], shares[i], aux[i], InMemorySessionRegistry()) for i in (A, B)
    ]
    deliver(presign, record)
    presigs = {p.me: p.result() for p in presign}
    # B (the adversary) copies its secrets before signing consumes them.
    mine = Presignature(B, presigs[B].k_i, presigs[B].chi_i, presigs[B].public)
    sign_sid = os.urandom(32)
    signing = [Signing(sign_sid, presigs[i], MESSAGE, InMemorySessionRegistry()) for i in (A, B)]
    deliver(signing)
    return SigningRun(seen[A], mine, signing[0].result())


def recover_key(stolen_p: int, stolen_q: int, run: SigningRun) -> int | None:
    """The issue's attack: decrypt K_A with A's stolen primes, peel B's partial
    signature off the public s (either sign: s is low-s normalised), solve for x."""
    try:
        k_a = PaillierSecretKey(stolen_p, stolen_q, check_primes=False).decrypt(run.K_A) % Q
    except InvalidEncoding:
        return None
    m = message_scalar(MESSAGE)
    r = run.signature.r
    k_b, chi_b = run.mine.k_i, run.mine.chi_i
    sigma_b = (k_b * m + r * chi_b) % Q
    for s in (run.signature.s, Q - run.signature.s):
        chi_a = (s - sigma_b - k_a * m) * pow(r, -1, Q) % Q
        if (k_a + k_b) % Q == 0:
            continue
        x = (chi_a + chi_b) * pow(k_a + k_b, -1, Q) % Q
        if x and G.mul_base(x) == run.mine.public.public_key:
            return x
    return None


def test_refresh_without_new_aux_info_leaks_the_key_to_a_mobile_adversary(
    old_aux: dict[int, AuxInfo],
) -> None:
    """Shares refreshed, Paillier keys kept (what a share-only refresh leaves): A's
    stolen p_A, q_A plus B after the refresh recover x from ONE signature. This
    combination is broken; a refresh must renew the aux info too."""
    x = G.random_scalar()
    old = trusted_dealer_key_shares(x, 2, 3)
    stolen = old_aux[A].paillier_key  # A's store, before the refresh
    new = {s.index: s for s in refresh(old)}
    assert new[A].secret != old[0].secret
    run = presign_and_sign(new, old_aux)
    assert recover_key(stolen.p, stolen.q, run) == x


def test_refresh_with_new_aux_info_defeats_the_mobile_adversary(
    old_aux: dict[int, AuxInfo],
) -> None:
    """The same attack when the refresh comes with fresh aux info (new safe primes,
    proved by AuxInfoGeneration): K_A is under A's NEW modulus and A's stolen primes
    decrypt nothing. (B's new modulus re-uses fixture pair 1, the fixture holding three
    pairs: what the thief knows of it does not matter, B is the adversary's anyway.)"""
    x = G.random_scalar()
    old = trusted_dealer_key_shares(x, 2, 3)
    stolen = old_aux[A].paillier_key
    new = {s.index: s for s in refresh(old)}
    fresh = aux_info({A: pair(3), B: pair(1)})
    assert fresh[A].paillier_key.public_key.n != stolen.public_key.n
    run = presign_and_sign(new, fresh)
    assert recover_key(stolen.p, stolen.q, run) is None
    # Control: the attack itself is sound; with A's CURRENT primes it would work.
    current = fresh[A].paillier_key
    assert recover_key(current.p, current.q, run) == x


# -- the broker's recording of the refresh -------------------------------------------


@dataclass
class Signer:
    identity: SigningKey
    encryption: hpke.HpkeKeyPair

    @property
    def keys(self) -> PartyKeys:
        return PartyKeys(bytes(self.identity.verify_key), self.encryption.public_key)


def refresh_through_the_broker(
    shares: Sequence[KeyShare], signers: Mapping[int, Signer], capture: dict[int, bytes]
) -> tuple[list[KeyShare], list[Envelope]]:
    """Run a refresh whose every message travels as a signed (and, for secrets,
    sealed) envelope through the broker, which records them all. ``capture`` receives
    each party's round-3 ephemeral secret, if the protocol has one, just before the
    party processes round 3 (to show the attack itself works with it)."""
    sid = os.urandom(32)
    parties = {s.index: KeyRefresh(sid, s, InMemorySessionRegistry()) for s in shares}
    table = {i: s.keys for i, s in signers.items()}
    recording: list[Envelope] = []

    def via_broker(m: ProtocolMessage, target: int) -> ProtocolMessage:
        env = seal_envelope(m, signers[m.sender].identity, table)
        recording.append(env)
        p = parties[target]
        if p.round == 3 and m.round == 3 and target not in capture:
            eph = getattr(p, "_ephemeral", None)
            if eph is not None:
                capture[target] = eph.private_bytes()
        return open_envelope(
            Envelope.from_bytes(env.to_bytes()),
            me=target,
            session_id=sid,
            parties=table,
            key_pair=signers[target].encryption,
            relayer=0,
        )

    deliver(list(parties.values()), via_broker)
    return [p.result() for p in parties.values()], recording


def dealt_share(payload: bytes, keys: Sequence[bytes], m: ProtocolMessage) -> int | None:
    """The dealt share ``f_i(j)`` in a round-3 plaintext, as a thief would try it:
    opened (as the protocol seals it) with each key held, else the payload as is."""
    candidates = []
    for sk in keys:
        try:
            candidates.append(
                open_dealing(SPEC, hpke.HpkeKeyPair.from_private_bytes(sk), payload, m)
            )
        except DecryptionError:
            pass
    candidates.append(payload)  # v1: the transport's envelope was the only seal
    for plain in candidates:
        try:
            return G.decode_scalar(plain[:32])
        except InvalidEncoding:
            continue
    return None


def steal_from_recording(
    recording: Sequence[Envelope],
    signers: Mapping[int, Signer],
    old_a: KeyShare,
    new_b: KeyShare,
    extra_keys: Mapping[int, bytes],
) -> int | None:
    """A's store before the refresh (old share, long-term encryption key) + B's store
    after it (new share, long-term encryption key) + the broker's recording -> x.

    With t = 2, ``f_A(k) = a k``: B's copy of ``f_A(B)`` gives ``a``, so ``f_A(A)``;
    every ``f_j(A)`` is in the envelopes to A. ``x_A' = x_A + sum_j f_j(A)``."""
    keys = {A: signers[A].encryption, B: signers[B].encryption}
    table = {i: s.keys for i, s in signers.items()}
    dealt_to_a: dict[int, int] = {}
    f_a_at_b: int | None = None
    for env in recording:
        m = env.fields
        if m.protocol != PROTOCOL or m.round != 3 or m.recipient not in keys:
            continue
        opened = open_envelope(
            env,
            me=m.recipient,
            session_id=m.session_id,
            parties=table,
            key_pair=keys[m.recipient],
            relayer=0,
        )
        held = [keys[m.recipient].private_bytes()]
        if m.recipient in extra_keys:
            held.append(extra_keys[m.recipient])
        share = dealt_share(opened.payload, held, opened)
        if share is None:
            return None
        if m.recipient == A:
            dealt_to_a[m.sender] = share
        elif m.sender == A:
            f_a_at_b = share
    if f_a_at_b is None or len(dealt_to_a) != 2:
        return None
    f_a_at_a = f_a_at_b * pow(B, -1, Q) * A % Q
    x_a = (old_a.secret + f_a_at_a + sum(dealt_to_a.values())) % Q
    if G.mul_base(x_a) != new_b.public_shares[A]:
        return None
    x = interpolate_secret(G, {A: x_a, B: new_b.secret})
    return x if G.mul_base(x) == new_b.public_key else None


def _signers() -> dict[int, Signer]:
    return {i: Signer(SigningKey.generate(), hpke.HpkeKeyPair.generate()) for i in (1, 2, 3)}


def test_recorded_refresh_traffic_does_not_give_the_new_share_to_a_thief() -> None:
    """A's and B's long-term encryption keys open the envelopes of the recording, but
    the dealt shares inside are sealed to ephemeral keys erased after round 3: the
    thief learns no new share."""
    x = G.random_scalar()
    old = trusted_dealer_key_shares(x, 2, 3)
    signers = _signers()
    new, recording = refresh_through_the_broker(old, signers, {})
    assert steal_from_recording(recording, signers, old[0], new[1], {}) is None


def test_recorded_refresh_traffic_control_with_the_ephemeral_keys() -> None:
    """Control for the test above: the attack code is sound; a thief who also held
    the ephemeral secrets (had the parties kept them) recovers the key."""
    x = G.random_scalar()
    old = trusted_dealer_key_shares(x, 2, 3)
    signers = _signers()
    capture: dict[int, bytes] = {}
    new, recording = refresh_through_the_broker(old, signers, capture)
    assert steal_from_recording(recording, signers, old[0], new[1], capture) == x
