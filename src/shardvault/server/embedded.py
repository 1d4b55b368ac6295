"""The embedded vault: a coordinator and N signer nodes in one process, joined by
the in-memory transport. Files under ``<data-dir>``::

    cluster.json                   cluster id and signer ids (public)
    roster.json                    the cluster roster, signed by every signer (public)
    coordinator.key                the coordinator's identity key, sealed under the KEK
    epochs.json                    the refresh epochs' log (public; resumes a commit)
    signers/<n>/signer-id          each signer's id
    signers/<n>/store.sqlite3      each signer's store (0600, secrets sealed under its KEK)
    signers/<n>/presignatures.sqlite3  its CGGMP24 presignature pool (0600, sealed)

``ecdsa_primes`` says where the signers' Paillier primes come from: "generate"
(searched in the background at first start, the default), "off" (no ECDSA), or a
TEST-ONLY list of one pregenerated pair per signer.

The roster (``transport.roster``) is formed at the first start, when every signer
signs it, and written to ``roster.json`` before the API serves; at every later start
it is read back (its signatures checked), pinned by the coordinator and handed to
each signer, which confirms it. It lives here, beside ``cluster.json`` and the
signers' files it describes, rather than in the API database: the database can be
replaced (``--database-url``) without touching the signers, and the pins must not
be lost with it.

Signers can be stopped and started (tests, failure drills); a stopped signer is
unreachable exactly as a crashed remote one would be.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from nacl.signing import SigningKey

from shardvault.coordinator.backend import EcdsaStatus, EpochResult, ExportedShare, KeyRecord
from shardvault.coordinator.coordinator import Coordinator
from shardvault.errors import DecryptionError, InvalidParameters, InvalidRoster
from shardvault.protocols.key_import import ImportContext
from shardvault.protocols.key_transfer import min_signers_problem
from shardvault.signer.ecdsa import PrimeSource
from shardvault.signer.kek import derive_store_key
from shardvault.signer.node import SignerNode, new_signer_id
from shardvault.transport.identity import SignerDescriptor
from shardvault.transport.memory import InMemoryTransport
from shardvault.transport.roster import Roster

__all__ = ["ROSTER_FILE", "EmbeddedVault"]

#: The cluster roster in the data directory.
ROSTER_FILE = "roster.json"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (0600), durable before it is in place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_roster(data_dir: Path) -> Roster | None:
    """The roster stored in ``data_dir`` (None before the first start); a file that
    does not parse raises ``InvalidRoster`` (its signatures are checked by the
    coordinator)."""
    path = data_dir / ROSTER_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidRoster(f"{path} is not a readable roster") from exc
    return Roster.from_json(data)


def save_roster(data_dir: Path, roster: Roster) -> None:
    _write_atomically(
        data_dir / ROSTER_FILE, (json.dumps(roster.to_json(), indent=2) + "\n").encode()
    )


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
        problem = min_signers_problem(threshold, signers)
        if problem is not None:
            raise InvalidParameters(f"threshold: {problem}", code="InvalidMinSigners")
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
        stored = load_roster(self.data_dir)
        if stored is not None and stored.threshold != self.threshold:
            raise InvalidParameters(
                f"{self.data_dir} holds a {stored.threshold}-of-{len(stored.signers)} vault; "
                f"it cannot be started with threshold {self.threshold}"
            )
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
        # The roster: formed and signed by every signer at the first start, else read
        # back; pinned here and by every signer before anything else runs.
        try:
            await self._coordinator.establish_roster(
                self.threshold, stored, lambda r: save_roster(self.data_dir, r)
            )
        except BaseException:
            await self.stop()
            raise
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
            await self._coordinator.epochs.stop()
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

    @property
    def roster(self) -> Roster | None:
        return self.coordinator.roster

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
        context: ImportContext,
    ) -> KeyRecord:
        return await self.coordinator.import_key(
            key_id, protocol, curve, min_signers, encrypted_shares, context
        )

    async def reconcile_imports(self, live_key_ids: Collection[str]) -> dict[str, list[str]]:
        return await self.coordinator.reconcile_imports(live_key_ids)

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
