from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from shardvault.coordinator.backend import KeyRecord
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.protocols import key_export
from shardvault.server.embedded import EmbeddedVault


class VaultRunner:
    """A started EmbeddedVault plus an event loop to drive it from sync tests."""

    def __init__(self, data_dir: Path, kek: bytes, **options: Any) -> None:
        #: EmbeddedVault options; ECDSA is off unless a test asks for it.
        self.options = {"ecdsa_primes": "off", **options}
        self.data_dir = data_dir
        self.kek = kek
        self.loop = asyncio.new_event_loop()
        self.vault = self.open()

    def open(self) -> EmbeddedVault:
        vault = EmbeddedVault(self.data_dir, signers=3, threshold=2, kek=self.kek, **self.options)
        self.run(vault.start())
        return vault

    def restart(self) -> EmbeddedVault:
        self.run(self.vault.stop())
        self.vault = self.open()
        return self.vault

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self._stop_or_report())
        self.loop.close()

    async def _stop_or_report(self) -> None:
        """Stop the vault; a stop that hangs fails with the pending tasks named."""
        import asyncio

        task = asyncio.ensure_future(self.vault.stop())
        done, _ = await asyncio.wait({task}, timeout=60)
        if not done:
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in pending:
                t.print_stack()
            raise TimeoutError(f"the vault did not stop; pending: {pending}")
        task.result()

    def export_secret(self, key: KeyRecord, *, curve: str, protocol: str, min_signers: int) -> int:
        """Export ``key`` to a fresh requester key pair and recombine it the way the SDK
        does: every share checked against the signers' identity keys and bound to the
        curve, protocol and threshold the caller expects."""
        requester = HpkeKeyPair.generate()
        shares = self.run(self.vault.export_key(key, requester.public_key))
        identities = {d.signer_id: d.identity_key for d in self.run(self.vault.list_signers())}
        return key_export.open_export_shares(
            [(s.signer_id, s.encrypted_key_share) for s in shares],
            signer_identity_keys=identities,
            key_pair=requester,
            key_id=key.key_id,
            curve=curve,
            protocol=protocol,
            group_public_key=key.public_key,
            min_signers=min_signers,
            signer_ids=key.signer_ids,
            verifying_shares=key.verifying_shares,
        )
