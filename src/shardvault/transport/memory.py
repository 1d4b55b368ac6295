"""In-process transport for the embedded vault and tests.

Requests and replies are the same bytes the network transport carries (signed
requests, signed and encrypted envelopes); only the hop is a function call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from shardvault.errors import SignersUnavailable

__all__ = ["InMemoryTransport"]

Handler = Callable[[bytes], bytes]


class InMemoryTransport:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, node_id: str, handler: Handler) -> None:
        self._handlers[node_id] = handler

    def unregister(self, node_id: str) -> None:
        self._handlers.pop(node_id, None)

    def is_registered(self, node_id: str) -> bool:
        return node_id in self._handlers

    async def request(self, node_id: str, body: bytes, *, timeout: float) -> bytes:
        handler = self._handlers.get(node_id)
        if handler is None:
            raise SignersUnavailable(f"signer {node_id} is not reachable", signers=(node_id,))
        await asyncio.sleep(0)  # let other tasks run between hops, as a network would
        return handler(bytes(body))
