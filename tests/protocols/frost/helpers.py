"""In-process delivery with a hook to tamper with, drop or inspect messages."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from shardvault.protocols.frost.ciphersuites import Ciphersuite
from shardvault.protocols.frost.dkg import FrostDkg
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage
from shardvault.protocols.frost.session import FrostCoordinator, FrostSigner
from shardvault.protocols.messages import (
    COORDINATOR,
    InMemorySessionRegistry,
    ProtocolMessage,
    StateMachine,
)

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


def run_dkg(suite: Ciphersuite, t: int, n: int, tamper: Tamper | None = None) -> list[FrostDkg]:
    sid = os.urandom(32)
    parties = [FrostDkg(suite, sid, i, t, n, InMemorySessionRegistry()) for i in range(1, n + 1)]
    deliver(parties, tamper)
    return parties


def run_signing(
    public: PublicKeyPackage,
    key_packages: Sequence[KeyPackage],
    message: bytes,
    *,
    merkle_root: bytes | None = None,
    tamper: Tamper | None = None,
) -> FrostCoordinator:
    sid = os.urandom(32)
    ids = [kp.identifier for kp in key_packages]
    coordinator = FrostCoordinator(
        public, sid, ids, message, InMemorySessionRegistry(), merkle_root=merkle_root
    )
    signers = [
        FrostSigner(kp, sid, message, InMemorySessionRegistry(), merkle_root=merkle_root)
        for kp in key_packages
    ]
    deliver([coordinator, *signers], tamper)
    assert coordinator.me == COORDINATOR
    return coordinator


def flip_last_bit(payload: bytes) -> bytes:
    return payload[:-1] + bytes([payload[-1] ^ 1])
