"""The CGGMP24 wire formats, byte for byte: every message of an aux-info, key
generation, refresh, presigning (with its identification round) and signing run,
and the stored presignature encodings, hash to the values recorded in
``golden_wire.json``.

The runs are deterministic: every party draws its randomness from one seeded
source (the refresh, run last, from its own), in the same order as when the values
were recorded. So a change to any
encoder, to the order of the fields, or to what the protocols draw and when, shows
up here as a different digest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cggmp_helpers import deliver, pair, small_pair
from rnghelpers import SeededRng

from shardvault.crypto.paillier import keypair_from_primes
from shardvault.crypto.ring_pedersen import generate_ring_pedersen
from shardvault.crypto.zk import SecurityLevel
from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoGeneration, AuxInfoPublic
from shardvault.protocols.cggmp.keygen import KeyGeneration
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.cggmp.presign import Presigning
from shardvault.protocols.cggmp.presignature_codec import presignature_to_bytes, public_to_bytes
from shardvault.protocols.cggmp.refresh import KeyRefresh
from shardvault.protocols.cggmp.sign import Signing
from shardvault.protocols.messages import InMemorySessionRegistry, ProtocolMessage, StateMachine

GOLDEN = Path(__file__).with_name("golden_wire.json")
MESSAGE_HASH = hashlib.sha256(b"shardvault golden wire").digest()
#: Two repetitions of Π_aff-g* and Π_dec keep the identification round fast.
FAST = SecurityLevel(m=2)
Q = 2**256 - 0x14551231950B75FC4402DA1732FC9BEBF


def sid(tag: str) -> bytes:
    return hashlib.sha256(tag.encode()).digest()


class Recorder:
    def __init__(self) -> None:
        self.entries: list[list[Any]] = []
        self._seen: set[tuple[str, int, int, int | None]] = set()

    def __call__(self, m: ProtocolMessage, target: int) -> ProtocolMessage:
        key = (m.protocol, m.round, m.sender, m.recipient)
        if key not in self._seen:
            self._seen.add(key)
            to = "*" if m.recipient is None else str(m.recipient)
            self.add(f"{m.protocol} r{m.round} {m.sender}->{to}", m.payload)
        return m

    def add(self, label: str, data: bytes) -> None:
        self.entries.append([label, len(data), hashlib.sha256(data).hexdigest()])


def run(parties: Sequence[StateMachine[Any]], recorder: Recorder) -> None:
    deliver(parties, recorder)
    for p in parties:
        assert p.failed is None, p.failed


class WrongDelta(Presigning):
    """Broadcasts delta_i + 1 in round 3 (and believes it): the others start the
    identification round."""

    def _round2(self, messages: dict[int, ProtocolMessage]) -> None:
        super()._round2(messages)
        msg = self._outbox[-1]
        start = len(self.signers) * 32
        bad = (self._deltas[self.me] + 1) % Q
        payload = msg.payload[:start] + bad.to_bytes(32, "big") + msg.payload[start + 32 :]
        self._deltas[self.me] = bad
        self._echo.record(3, self.me, payload)
        self._outbox[-1] = dataclasses.replace(msg, payload=payload)


def fixed_aux(primes: dict[int, tuple[int, int]], rng: SeededRng) -> dict[int, AuxInfo]:
    keys = {i: keypair_from_primes(p, q, check_primes=False)[1] for i, (p, q) in primes.items()}
    rps = {
        i: generate_ring_pedersen(sk.p, sk.q, check_safe=False, rng=rng) for i, sk in keys.items()
    }
    public = AuxInfoPublic({i: rp.params for i, rp in rps.items()})
    return {i: AuxInfo(i, keys[i], rps[i], public) for i in primes}


def record_all() -> list[list[Any]]:
    rng = SeededRng(2024)
    out = Recorder()

    aux_parties = [
        AuxInfoGeneration(
            sid("aux"),
            i,
            2,
            InMemorySessionRegistry(),
            primes=small_pair(i),
            level=SecurityLevel(min_modulus_bits=1024),
            rng=rng,
        )
        for i in (1, 2)
    ]
    run(aux_parties, out)
    out.add("aux-info public", aux_parties[0].result().public.to_bytes())

    keygen = [
        KeyGeneration(sid("keygen"), i, 2, 3, InMemorySessionRegistry(), rng=rng) for i in (1, 2, 3)
    ]
    run(keygen, out)
    shares: dict[int, KeyShare] = {p.me: p.result() for p in keygen}

    aux = fixed_aux({1: pair(1), 2: pair(2)}, rng)
    presign = [
        Presigning(sid("presign"), i, [1, 2], shares[i], aux[i], InMemorySessionRegistry(), rng=rng)
        for i in (1, 2)
    ]
    run(presign, out)
    presigs = [p.result() for p in presign]
    out.add("presignature 1", presignature_to_bytes(presigs[0]))
    out.add("presignature public", public_to_bytes(presigs[0].public))

    signing = [Signing(sid("sign"), p, MESSAGE_HASH, InMemorySessionRegistry()) for p in presigs]
    run(signing, out)

    cheating = [
        (WrongDelta if i == 2 else Presigning)(
            sid("identify"),
            i,
            [1, 2],
            shares[i],
            aux[i],
            InMemorySessionRegistry(),
            level=FAST,
            rng=rng,
        )
        for i in (1, 2)
    ]
    deliver(cheating, out)
    err = cheating[0].failed
    assert err is not None and err.blame == (2,) and err.check == "presign: delta G = Delta"

    # Last, from its own seeded source, so that a change to the refresh changes the
    # refresh's entries only.
    refresh_rng = SeededRng(2012)
    refresh = [
        KeyRefresh(sid("refresh"), shares[i], InMemorySessionRegistry(), rng=refresh_rng)
        for i in shares
    ]
    run(refresh, out)
    return out.entries


def test_wire_formats_are_unchanged() -> None:
    assert record_all() == json.loads(GOLDEN.read_text())
