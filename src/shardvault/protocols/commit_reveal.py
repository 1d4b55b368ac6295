"""Rounds 1 and 2 shared by CGGMP24 key generation (Fig. 6) and by aux info and key
refresh (Fig. 7; the FROST refresh reuses them): commit, then echo and open.

1. Every party broadcasts ``V_i``, a hash commitment to its opening
   (:class:`MsgCommitment`, 32 bytes).
2. Every party broadcasts the echo vector of round 1 (one hash per party of the
   ``V_j`` it received) together with its opening. A receiver checks the echo vectors
   first (an equivocated commitment is named before anything depends on it), then
   each opening against the ``V_j`` it received.

:class:`CommitReveal` holds the commitments and openings and runs these steps; the
protocol supplies the opening type, the commitment function and the check names
(``<protocol>-round1-decode``, ``<protocol>-echo-broadcast``,
``<protocol>-commitment``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from shardvault.errors import ProtocolError
from shardvault.protocols.common import HASH, EchoBroadcast, stage
from shardvault.protocols.messages import ProtocolMessage

__all__ = ["CommitReveal", "MsgCommitment"]

OpeningT = TypeVar("OpeningT")


@dataclass(frozen=True, slots=True)
class MsgCommitment:
    """Round 1: ``V_i``, the hash commitment to the sender's opening."""

    V: bytes

    def encode(self) -> bytes:
        return self.V

    @classmethod
    def decode(cls, data: bytes, *, sender: int, check: str) -> MsgCommitment:
        """Exactly 32 bytes, else ``ProtocolError`` blaming ``sender`` with ``check``."""
        if len(data) != HASH:
            raise ProtocolError(
                f"round-1 commitment of party {sender} has the wrong size",
                blame=(sender,),
                check=check,
            )
        return cls(data)


class CommitReveal(Generic[OpeningT]):
    """The commitments ``V_j`` and the openings of one party's run (rounds 1-2).

    ``commit(j, opening)`` recomputes ``V_j``; ``opening`` is this party's own, whose
    commitment is :attr:`own_commitment`.
    """

    __slots__ = ("_commit", "_me", "_prefix", "echo", "openings")

    def __init__(
        self,
        *,
        protocol: str,
        echo_domain: str,
        session_id: bytes,
        me: int,
        order: Sequence[int],
        opening: OpeningT,
        commit: Callable[[int, OpeningT], bytes],
    ) -> None:
        self._prefix = protocol
        self._commit = commit
        self._me = me
        self.echo = EchoBroadcast(
            domain=echo_domain,
            session_id=session_id,
            me=me,
            order=order,
            check=f"{protocol}-echo-broadcast",
        )
        self.echo.record(1, me, commit(me, opening))
        #: ``openings[j]``: party ``j``'s opening, once checked (our own from the start).
        self.openings: dict[int, OpeningT] = {me: opening}

    @property
    def commitments(self) -> dict[int, bytes]:
        """``V_j`` of every party heard from so far (ours included)."""
        return self.echo.payloads[1]

    def own_commitment(self) -> MsgCommitment:
        """Round 1 (Figs. 6 and 7, round 1): our ``V_i``."""
        return MsgCommitment(self.commitments[self._me])

    def commitments_received(self, messages: Mapping[int, ProtocolMessage]) -> None:
        """Round 1 received: decode every ``V_j`` (all senders, one error naming each
        malformed one) and keep them for the echo and the openings."""
        check = f"{self._prefix}-round1-decode"
        decoded: dict[int, MsgCommitment] = {}

        def decode(sender: int) -> None:
            decoded[sender] = MsgCommitment.decode(
                messages[sender].payload, sender=sender, check=check
            )

        stage(messages, decode)
        for sender, msg in decoded.items():
            self.echo.record(1, sender, msg.V)

    def echo_vector(self) -> bytes:
        """Our echo vector of round 1, sent with our opening in round 2."""
        return self.echo.vector(1)

    def check_openings(
        self, echoes: Mapping[int, bytes], openings: Mapping[int, OpeningT], mismatch: str
    ) -> None:
        """Round 2 received (Figs. 6 and 7, round 2 checks): the echo vectors of round 1
        agree with ours (``<protocol>-echo-broadcast``), then every opening matches
        its sender's ``V_j`` (``<protocol>-commitment``; ``mismatch`` is the message,
        with ``{sender}``). The openings are kept by :meth:`accept`, once the protocol's
        own checks of them pass."""
        self.echo.check(1, echoes)

        def check_commitment(sender: int) -> None:
            if self._commit(sender, openings[sender]) != self.commitments[sender]:
                raise ProtocolError(
                    mismatch.format(sender=sender),
                    blame=(sender,),
                    check=f"{self._prefix}-commitment",
                )

        stage(openings, check_commitment)

    def accept(self, openings: Mapping[int, OpeningT]) -> None:
        self.openings.update(openings)
