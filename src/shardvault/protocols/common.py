"""Pieces the CGGMP24 state machines and the share refresh (CGGMP24 and FROST) share:
staged checks that name every failing
sender, the turning of decoding and proof failures into blame, echo broadcast (the
record of what each party broadcast, its echo vector and the check of the others'),
and the XOR of the parties' random contributions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from shardvault.crypto.hashing import Transcript
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.errors import InvalidEncoding, ProtocolError

__all__ = [
    "HASH",
    "EchoBroadcast",
    "check_echo_vectors",
    "decode_errors",
    "echo_entry_hash",
    "proof_errors",
    "stage",
    "xor_all",
]

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


@contextmanager
def decode_errors(sender: int, round_: int, check: str) -> Iterator[None]:
    """A malformed round-``round_`` message of ``sender`` -> ProtocolError blaming it
    with ``check`` (``"presign-round1-decode"``)."""
    try:
        yield
    except InvalidEncoding as exc:
        raise ProtocolError(
            f"round-{round_} payload of party {sender} is malformed: {exc.message}",
            blame=(sender,),
            check=check,
        ) from None


@contextmanager
def proof_errors(sender: int, name: str, prefix: str) -> Iterator[None]:
    """A failed or malformed proof of ``sender`` -> ProtocolError blaming it, with the
    proof's own check (``"pi-mod: z_i^N = y_i"``) or ``"<prefix>: encoding"``."""
    try:
        yield
    except InvalidProof as exc:
        raise ProtocolError(
            f"party {sender}'s {name} does not verify: {exc.message}",
            blame=(sender,),
            check=exc.check,
        ) from None
    except InvalidEncoding as exc:
        raise ProtocolError(
            f"party {sender}'s {name} is malformed: {exc.message}",
            blame=(sender,),
            check=f"{prefix}: encoding",
        ) from None


def xor_all(parts: Iterable[bytes], size: int) -> bytes:
    """``part_1 xor ... xor part_n`` (each ``size`` bytes): the joint randomness
    (``rid``, ``rho``) every party contributed to."""
    out = bytearray(size)
    for part in parts:
        for k, b in enumerate(part):
            out[k] ^= b
    return bytes(out)


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


class EchoBroadcast:
    """What every party broadcast in each round, as this party received it, and the
    echo vectors over it.

    Echo broadcast (the paper's "broadcast" rounds, done as in Lockness ``cggmp21``'s
    reliable broadcast): in the next round every party sends the vector of hashes of
    the broadcasts it received (:meth:`vector`); a receiver compares each vector with
    its own (:meth:`check`, :func:`check_echo_vectors`), so a party that sent different
    broadcasts to different parties is caught before anything depends on them.
    """

    __slots__ = ("_check", "_domain", "_me", "_order", "_session_id", "payloads")

    def __init__(
        self, *, domain: str, session_id: bytes, me: int, order: Sequence[int], check: str
    ) -> None:
        self._domain = domain
        self._session_id = session_id
        self._me = me
        self._order = list(order)
        self._check = check
        #: ``payloads[round][party]``: the bytes ``party`` broadcast in ``round``.
        self.payloads: dict[int, dict[int, bytes]] = {}

    def record(self, round_: int, sender: int, payload: bytes) -> None:
        self.payloads.setdefault(round_, {})[sender] = payload

    def vector(self, round_: int) -> bytes:
        """This party's echo vector of ``round_``: one hash per party, in order."""
        box = self.payloads[round_]
        return b"".join(
            echo_entry_hash(self._domain, self._session_id, round_, j, box[j]) for j in self._order
        )

    def check(self, round_: int, claims: Mapping[int, bytes]) -> None:
        """Compare every other party's echo vector of ``round_`` with ours; see
        :func:`check_echo_vectors` for who is blamed."""
        check_echo_vectors(
            me=self._me,
            order=self._order,
            mine=self.vector(round_),
            claims=claims,
            round_=round_,
            check=self._check,
        )
