"""The transport interface: the coordinator sends a signer node a request and gets
its answer. Protocol messages travel inside as signed envelopes, so an
implementation only moves bytes (in memory here; NATS for separate processes)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Transport"]


class Transport(Protocol):
    async def request(
        self, node_id: str, body: bytes, *, timeout: float, background: bool = False
    ) -> bytes:
        """Deliver ``body`` to ``node_id`` and return its reply. ``background`` marks
        work nobody waits for (presignature refills, aux info): the node runs it at
        lower priority than requests in flight.

        Raises ``SignersUnavailable`` (naming the node) when it cannot be reached or
        does not answer within ``timeout`` seconds.
        """
