"""Pieces every CGGMP24 state machine shares: staged checks that name every failing
sender, and the echo-broadcast hash and check."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from shardvault.crypto.hashing import Transcript
from shardvault.errors import ProtocolError

__all__ = ["HASH", "check_echo_vectors", "echo_entry_hash", "stage"]

#: SHA-256 output size: commitments and echo entries.
HASH = 32


def stage(senders: Iterable[int], check: Callable[[int], None]) -> None:
    """Run ``check`` for every sender (ascending) and raise one ProtocolError naming
    every sender that failed (``check`` name of the lowest-indexed failure)."""
    failures: list[ProtocolError] = []
    for j in sorted(senders):
        try:
            check(j)
        except ProtocolError as exc:
            failures.append(exc)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise ProtocolError(
            "; ".join(f.message for f in failures),
            blame=tuple(sorted({b for f in failures for b in f.blame})),
            check=failures[0].check,
        )


def echo_entry_hash(
    domain: str, session_id: bytes, round_: int, sender: int, payload: bytes
) -> bytes:
    """One entry of an echo vector: what ``sender`` broadcast in ``round_``."""
    tr = Transcript(domain)
    tr.append("session-id", session_id)
    tr.append_int("round", round_)
    tr.append_int("sender", sender)
    tr.append("payload", payload)
    return hashlib.sha256(tr.encode()).digest()


def check_echo_vectors(
    *,
    me: int,
    order: Sequence[int],
    mine: bytes,
    claims: Mapping[int, bytes],
    round_: int,
    check: str,
) -> None:
    """``claims[k]``: party k's echo vector of ``round_`` (one HASH per party, in
    ``order``). A party whose claim about its own broadcast differs from what we
    received from it equivocated; one whose claim about OUR broadcast differs
    misreports. Any other disagreement is between the broadcaster and the reporter:
    both are named (the transport's signed messages tell which of the two lied)."""

    def entry(vec: bytes, j: int) -> bytes:
        k = order.index(j)
        return vec[k * HASH : (k + 1) * HASH]

    for k in sorted(claims):
        if entry(claims[k], k) != entry(mine, k):
            raise ProtocolError(
                f"party {k} sent different round-{round_} broadcasts to different parties",
                blame=(k,),
                check=check,
            )
    for k in sorted(claims):
        if entry(claims[k], me) != entry(mine, me):
            raise ProtocolError(
                f"party {k} misreports our round-{round_} broadcast", blame=(k,), check=check
            )
    for k in sorted(claims):
        for j in order:
            if j not in (k, me) and entry(claims[k], j) != entry(mine, j):
                raise ProtocolError(
                    f"party {k} received a different round-{round_} broadcast from party "
                    f"{j}: one of them equivocated or misreports",
                    blame=tuple(sorted((j, k))),
                    check=check,
                )
