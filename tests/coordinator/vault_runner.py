from __future__ import annotations

import asyncio
from pathlib import Path

from shardvault.coordinator.embedded import EmbeddedVault


class VaultRunner:
    """A started EmbeddedVault plus an event loop to drive it from sync tests."""

    def __init__(self, data_dir: Path, kek: bytes) -> None:
        self.data_dir = data_dir
        self.kek = kek
        self.loop = asyncio.new_event_loop()
        self.vault = self.open()

    def open(self) -> EmbeddedVault:
        vault = EmbeddedVault(self.data_dir, signers=3, threshold=2, kek=self.kek)
        self.run(vault.start())
        return vault

    def restart(self) -> EmbeddedVault:
        self.run(self.vault.stop())
        self.vault = self.open()
        return self.vault

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.vault.stop())
        self.loop.close()
