"""In-process transport for the embedded vault and tests.

Requests and replies are the same bytes the network transport carries (signed
requests, signed and encrypted envelopes); only the hop is a function call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from shardvault.cpu import background_thread
from shardvault.errors import SignersUnavailable

__all__ = ["InMemoryTransport"]

Handler = Callable[[bytes], bytes]


class InMemoryTransport:
    """Each request runs in a worker thread (as on a separate node, the caller's event
    loop never waits on a signer's CPU work); ``background`` requests run in threads
    of lowered priority (``shardvault.cpu``)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._background = ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="signer-bg", initializer=background_thread
        )

    def close(self) -> None:
        self._background.shutdown(wait=False, cancel_futures=True)

    def register(self, node_id: str, handler: Handler) -> None:
        self._handlers[node_id] = handler

    def unregister(self, node_id: str) -> None:
        self._handlers.pop(node_id, None)

    async def request(
        self, node_id: str, body: bytes, *, timeout: float, background: bool = False
    ) -> bytes:
        handler = self._handlers.get(node_id)
        if handler is None:
            raise SignersUnavailable(f"signer {node_id} is not reachable", signers=(node_id,))
        if background:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._background, handler, bytes(body))
        return await asyncio.to_thread(handler, bytes(body))
