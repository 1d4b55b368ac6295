"""Aux-info test helpers: TEST-ONLY fixture primes, in-process delivery with a tamper
hook, and a white-box cheater that commits to a corrupted reveal."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from shardvault.crypto.zk import SecurityLevel
from shardvault.protocols.cggmp.aux_info import AuxInfoGeneration
from shardvault.protocols.cggmp.aux_info_messages import AuxInfoDecommitment, commitment
from shardvault.protocols.messages import InMemorySessionRegistry, ProtocolMessage, StateMachine

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "cggmp_primes.json"
_PRIMES = json.loads(FIXTURE.read_text())
#: TEST ONLY (public): three pairs of 1536-bit safe primes -> three 3072-bit moduli.
P1536 = [int(x, 16) for x in _PRIMES["safe_primes_1536"]]
#: TEST ONLY (public): four pairs of 512-bit safe primes -> 1024-bit moduli.
P512 = [int(x, 16) for x in _PRIMES["safe_primes_512"]]


def pair(i: int) -> tuple[int, int]:
    """Party ``i``'s (1-based) 1536-bit fixture pair."""
    return P1536[2 * i - 2], P1536[2 * i - 1]


def small_pair(i: int) -> tuple[int, int]:
    """Party ``i``'s (1-based) 512-bit fixture pair (a 1024-bit modulus)."""
    return P512[2 * i - 2], P512[2 * i - 1]


Tamper = Callable[[ProtocolMessage, int], ProtocolMessage | None]


def deliver(parties: Iterable[StateMachine[Any]], tamper: Tamper | None = None) -> None:
    """Like run_locally, but every (message, target) pair goes through ``tamper``,
    which returns the message to deliver (possibly changed) or None to drop it."""
    by_id = {p.me: p for p in parties}
    progress = True
    while progress:
        progress = False
        for p in list(by_id.values()):
            for m in p.messages():
                progress = True
                targets = (
                    [m.recipient]
                    if m.recipient is not None
                    else [i for i in by_id if i != m.sender]
                )
                for t in targets:
                    target = by_id.get(t)
                    if target is None or target.done:
                        continue
                    out = tamper(m, t) if tamper else m
                    if out is not None:
                        target.receive(out)


def new_sid() -> bytes:
    return os.urandom(32)


def make_parties(
    n: int,
    sid: bytes | None = None,
    primes: Sequence[tuple[int, int]] | None = None,
) -> list[AuxInfoGeneration]:
    sid = new_sid() if sid is None else sid
    prs = list(primes) if primes is not None else [pair(i) for i in range(1, n + 1)]
    return [
        AuxInfoGeneration(sid, i, n, InMemorySessionRegistry(), primes=prs[i - 1])
        for i in range(1, n + 1)
    ]


def min_bits(bits: int) -> SecurityLevel:
    """TEST ONLY: the paper's level, accepting moduli of ``bits`` bits."""
    return SecurityLevel(min_modulus_bits=bits)


class CommittedCheater(AuxInfoGeneration):
    """A party that commits (round 1) to a reveal changed by ``corrupt`` and reveals
    exactly that, so only the check after the commitment can catch it."""

    def __init__(
        self,
        *args: Any,
        corrupt: Callable[[AuxInfoDecommitment], AuxInfoDecommitment],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.messages()  # drop the honest commitment
        bad = corrupt(self._mine)
        self._mine = bad
        self._commits.openings[self.me] = bad
        v = commitment(self.session_id, self.me, bad.params, bad.prm_bytes, bad.rho, bad.u)
        self._commits.commitments[self.me] = v
        self.send(1, None, v)


def flip_byte(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 1]) + data[pos + 1 :]
