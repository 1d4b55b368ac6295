"""The epoch lock: an asyncio reader/writer lock between key changes and refresh
epochs (docs/security.md item 33).

Key generation, import, export and deletion hold it SHARED for their whole run on
the signers; an epoch holds it EXCLUSIVELY from ``epoch.begin`` to the end of its
commit. An epoch waits for the key changes already in flight to finish before it
begins, so none lands on a signer between the re-deal and the commit. A key change
that arrives while an epoch runs or waits to begin is refused at once with 409
``RefreshInProgress`` (retry later) rather than queued behind an epoch that may take
minutes with fresh primes; a second epoch is refused the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shardvault.errors import Conflict

__all__ = ["EpochLock"]


def _refused() -> Conflict:
    return Conflict(
        "a refresh epoch is running; retry when it has finished", code="RefreshInProgress"
    )


class EpochLock:
    def __init__(self) -> None:
        self._changes = 0
        self._epoch = False
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def epoch_held(self) -> bool:
        """An epoch holds the lock or waits for it."""
        return self._epoch

    @property
    def changes_in_flight(self) -> int:
        return self._changes

    @asynccontextmanager
    async def key_change(self) -> AsyncIterator[None]:
        """Shared: refused (RefreshInProgress) while an epoch holds or awaits it."""
        if self._epoch:
            raise _refused()
        self._changes += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._changes -= 1
            if self._changes == 0:
                self._idle.set()

    @asynccontextmanager
    async def epoch(self) -> AsyncIterator[None]:
        """Exclusive: new key changes are refused from now on; waits for those in
        flight to finish, then holds the lock until the block ends."""
        if self._epoch:
            raise _refused()
        self._epoch = True
        try:
            await self._idle.wait()
            yield
        finally:
            self._epoch = False
