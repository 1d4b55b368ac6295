"""The embedded vault: a coordinator and N signer nodes in one process, joined by
the in-memory transport. Files under ``<data-dir>``::

    cluster.json                   cluster id and signer ids (public)
    coordinator.key                the coordinator's identity key, sealed under the KEK
    epochs.json                    the refresh epochs' log (public; resumes a commit)
    signers/<n>/signer-id          each signer's id
    signers/<n>/store.sqlite3      each signer's store (0600, secrets sealed under its KEK)
    signers/<n>/presignatures.sqlite3  its CGGMP24 presignature pool (0600, sealed)

``ecdsa_primes`` says where the signers' Paillier primes come from: "generate"
(searched in the background at first start, the default), "off" (no ECDSA), or a
TEST-ONLY list of one pregenerated pair per signer.

Signers can be stopped and started (tests, failure drills); a stopped signer is
unreachable exactly as a crashed remote one would be.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from nacl.signing import SigningKey

from shardvault.coordinator.backend import EcdsaStatus, EpochResult, ExportedShare, KeyRecord
from shardvault.coordinator.coordinator import Coordinator
from shardvault.errors import DecryptionError, InvalidParameters
from shardvault.signer.ecdsa import PrimeSource
from shardvault.signer.kek import derive_store_key
from shardvault.signer.node import SignerNode, new_signer_id
from shardvault.transport.identity import SignerDescriptor
from shardvault.transport.memory import InMemoryTransport

__all__ = ["EmbeddedVault"]


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class EmbeddedVault:
    """Implements ``SigningBackend`` by delegating to its ``Coordinator``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        signers: int = 3,
        threshold: int = 2,
        kek: bytes,
        ecdsa_primes: Literal["generate", "off"] | Sequence[tuple[int, ...]] = "generate",
        presig_pool_target: int = 8,
    ) -> None:
        if not (1 <= threshold <= signers <= 255):
            raise InvalidParameters("need 1 <= threshold <= signers <= 255")
        if not isinstance(ecdsa_primes, str) and len(ecdsa_primes) != signers:
            raise InvalidParameters("ecdsa_primes needs one pair of primes per signer")
        self._ecdsa_primes = ecdsa_primes
        self._presig_pool_target = presig_pool_target
        self.data_dir = Path(data_dir)
        self.threshold = threshold
        self._count = signers
        self._kek = kek
        self.transport = InMemoryTransport()
        self.nodes: dict[str, SignerNode] = {}
        self._dirs: dict[str, Path] = {}
        self._primes: dict[str, PrimeSource] = {}
        self._coordinator: Coordinator | None = None

    # -- lifecycle -------------------------------------------------------------------
    def _coordinator_identity(self) -> SigningKey:
        path = self.data_dir / "coordinator.key"
        aead = ChaCha20Poly1305(derive_store_key(self._kek, "coordinator"))
        aad = b"shardvault/coordinator-key/v1"
        if path.exists():
            blob = path.read_bytes()
            try:
                return SigningKey(aead.decrypt(blob[:12], blob[12:], aad))
            except (InvalidTag, ValueError) as exc:
                raise DecryptionError("coordinator key does not open: wrong KEK?") from exc
        key = SigningKey.generate()
        nonce = secrets.token_bytes(12)
        _write_private(path, nonce + aead.encrypt(nonce, bytes(key), aad))
        return key

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        cluster_file = self.data_dir / "cluster.json"
        if cluster_file.exists():
            cluster = json.loads(cluster_file.read_text())
            if len(cluster["signers"]) != self._count:
                raise InvalidParameters(
                    f"{self.data_dir} holds a {len(cluster['signers'])}-signer vault; "
                    f"it cannot be started with {self._count}"
                )
        else:
            cluster = {
                "clusterId": "cl-" + secrets.token_hex(8),
                "signers": [new_signer_id() for _ in range(self._count)],
            }
            cluster_file.write_text(json.dumps(cluster, indent=2) + "\n")
        identity = self._coordinator_identity()
        coordinator_key = bytes(identity.verify_key)
        for n, signer_id in enumerate(cluster["signers"], start=1):
            directory = self.data_dir / "signers" / str(n)
            self._dirs[signer_id] = directory
            self._primes[signer_id] = (
                self._ecdsa_primes
                if isinstance(self._ecdsa_primes, str)
                else tuple(self._ecdsa_primes[n - 1])
            )
            self._open_node(signer_id, directory, coordinator_key)
        self._coordinator = Coordinator(
            self.transport,
            list(cluster["signers"]),
            identity,
            cluster_id=cluster["clusterId"],
            presig_pool_target=self._presig_pool_target,
            epoch_log=self.data_dir / "epochs.json",
        )
        await self._coordinator.list_signers()  # pin every signer's identity now
        # An epoch the coordinator had decided but not committed everywhere is
        # finished now (and one it had not decided is aborted on every signer).
        await self._coordinator.epochs.resume()
        if self._ecdsa_primes != "off":
            self._coordinator.ecdsa.start()
        else:
            self._coordinator.ecdsa.disable()

    def _open_node(self, signer_id: str, directory: Path, coordinator_key: bytes) -> None:
        node = SignerNode.open(
            directory, self._kek, coordinator_key, signer_id, primes=self._primes[signer_id]
        )
        if node.signer_id != signer_id:
            raise InvalidParameters(
                f"{directory} holds signer {node.signer_id}, expected {signer_id}"
            )
        self.nodes[signer_id] = node
        self.transport.register(signer_id, node.handle)

    async def stop(self) -> None:
        if self._coordinator is not None:
            await self._coordinator.ecdsa.stop()
        for signer_id in list(self.nodes):
            self.stop_signer(signer_id)
        self.transport.close()

    def stop_signer(self, signer_id: str) -> None:
        """Take a signer offline (it keeps its files)."""
        self.transport.unregister(signer_id)
        node = self.nodes.pop(signer_id, None)
        if node is not None:
            node.close()

    def start_signer(self, signer_id: str) -> None:
        if signer_id in self.nodes:
            return
        self._open_node(signer_id, self._dirs[signer_id], self.coordinator.identity_key)

    @property
    def coordinator(self) -> Coordinator:
        if self._coordinator is None:
            raise InvalidParameters("the vault is not started")
        return self._coordinator

    # -- SigningBackend -----------------------------------------------------------------
    @property
    def cluster_id(self) -> str:
        return self.coordinator.cluster_id

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return self.coordinator.signer_ids

    async def list_signers(self) -> Sequence[SignerDescriptor]:
        return await self.coordinator.list_signers()

    async def generate_key(
        self, key_id: str, protocol: str, curve: str, min_signers: int
    ) -> KeyRecord:
        return await self.coordinator.generate_key(key_id, protocol, curve, min_signers)

    async def import_key(
        self,
        key_id: str,
        protocol: str,
        curve: str,
        min_signers: int,
        encrypted_shares: Mapping[str, bytes],
    ) -> KeyRecord:
        return await self.coordinator.import_key(
            key_id, protocol, curve, min_signers, encrypted_shares
        )

    async def sign(
        self, key: KeyRecord, message: bytes, *, taproot_merkle_root: bytes | None = None
    ) -> bytes:
        return await self.coordinator.sign(key, message, taproot_merkle_root=taproot_merkle_root)

    async def export_key(
        self, key: KeyRecord, requester_encryption_key: bytes
    ) -> Sequence[ExportedShare]:
        return await self.coordinator.export_key(key, requester_encryption_key)

    async def delete_key(self, key: KeyRecord) -> None:
        await self.coordinator.delete_key(key)

    async def ecdsa_status(self) -> EcdsaStatus:
        return await self.coordinator.ecdsa_status()

    async def run_epoch(self, keys: Sequence[KeyRecord], *, fresh_primes: bool) -> EpochResult:
        return await self.coordinator.run_epoch(keys, fresh_primes=fresh_primes)

    async def epochs(self) -> Sequence[EpochResult]:
        if self._coordinator is None:
            return []
        return await self._coordinator.epochs_log()
