"""The two back ends the contract suite (``test_api_contract_*.py``) runs the same API
tests against, so the test-only ``FakeVault`` cannot drift from the real vault:

* ``fake``: :class:`~apihelpers.FakeVault` (in-process FROST, a trusted-dealer
  stand-in for CGGMP24, trivial import/export formats);
* ``embedded``: the real :class:`~shardvault.server.embedded.EmbeddedVault` (3 signer
  nodes, 2-of-3, the transport, the import/export formats, CGGMP24 with the
  TEST-ONLY pregenerated Paillier primes of tests/fixtures/cggmp_primes.json).

A test sees a back end through :class:`BackendUnderTest`: the calls the API made to it
(:class:`CallRecorder` wraps either), how to seal an import and open an export in its
format, which signers hold a key, and how to take signers offline.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apihelpers import EXPORT_INFO, Api, FakeVault, b64u, unb64u

from shardvault.coordinator.backend import (
    EcdsaStatus,
    EpochResult,
    ExportedShare,
    KeyRecord,
    SigningBackend,
)
from shardvault.crypto import hpke
from shardvault.crypto.groups import ED25519, SECP256K1
from shardvault.crypto.shamir import interpolate_secret, split_secret
from shardvault.protocols import key_export, key_import
from shardvault.protocols.key_import import ImportContext
from shardvault.protocols.registry import canonical_protocol
from shardvault.server.embedded import EmbeddedVault
from shardvault.transport.identity import SignerDescriptor
from shardvault.transport.roster import Roster

FIXTURE_PRIMES = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
_GROUPS = {"ed25519": ED25519, "secp256k1": SECP256K1}


def fixture_prime_pairs() -> list[tuple[int, int]]:
    """TEST ONLY: three pairs of pregenerated 1536-bit safe primes (public!)."""
    primes = [int(p, 16) for p in json.loads(FIXTURE_PRIMES.read_text())["safe_primes_1536"]]
    return [(primes[0], primes[1]), (primes[2], primes[3]), (primes[4], primes[5])]


class CallRecorder:
    """A ``SigningBackend`` that passes every call to ``inner`` and records it: how
    many calls of each method, the key ids the API asked to generate or import, and
    what was signed (key id, payload, Taproot root)."""

    def __init__(self, inner: SigningBackend) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}
        self.new_key_ids: list[str] = []
        self.sign_log: list[tuple[str, bytes, bytes | None]] = []

    def reset(self) -> None:
        self.calls.clear()
        self.new_key_ids.clear()
        self.sign_log.clear()

    def _count(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1

    @property
    def cluster_id(self) -> str:
        return self.inner.cluster_id

    @property
    def roster(self) -> Roster | None:
        return self.inner.roster

    async def list_signers(self) -> Sequence[SignerDescriptor]:
        self._count("list_signers")
        return await self.inner.list_signers()

    async def generate_key(
        self, key_id: str, protocol: str, curve: str, min_signers: int
    ) -> KeyRecord:
        self._count("generate_key")
        self.new_key_ids.append(key_id)
        return await self.inner.generate_key(key_id, protocol, curve, min_signers)

    async def import_key(
        self,
        key_id: str,
        protocol: str,
        curve: str,
        min_signers: int,
        encrypted_shares: Mapping[str, bytes],
        context: ImportContext,
    ) -> KeyRecord:
        self._count("import_key")
        self.new_key_ids.append(key_id)
        return await self.inner.import_key(
            key_id, protocol, curve, min_signers, encrypted_shares, context
        )

    async def reconcile_imports(self, live_key_ids: Collection[str]) -> dict[str, list[str]]:
        self._count("reconcile_imports")
        return await self.inner.reconcile_imports(live_key_ids)

    async def sign(
        self, key: KeyRecord, message: bytes, *, taproot_merkle_root: bytes | None = None
    ) -> bytes:
        self._count("sign")
        self.sign_log.append((key.key_id, message, taproot_merkle_root))
        return await self.inner.sign(key, message, taproot_merkle_root=taproot_merkle_root)

    async def ecdsa_status(self) -> EcdsaStatus:
        self._count("ecdsa_status")
        return await self.inner.ecdsa_status()

    async def run_epoch(self, keys: Sequence[KeyRecord], *, fresh_primes: bool) -> EpochResult:
        self._count("run_epoch")
        return await self.inner.run_epoch(keys, fresh_primes=fresh_primes)

    async def epochs(self) -> Sequence[EpochResult]:
        return await self.inner.epochs()

    async def export_key(
        self, key: KeyRecord, requester_encryption_key: bytes
    ) -> Sequence[ExportedShare]:
        self._count("export_key")
        return await self.inner.export_key(key, requester_encryption_key)

    async def delete_key(self, key: KeyRecord) -> None:
        self._count("delete_key")
        await self.inner.delete_key(key)


class BackendUnderTest(ABC):
    """What a contract test knows of the back end behind the API (see the module doc).
    ``run`` calls a function on the event loop the app (and the vault) runs on (the
    test client's portal, set once the client is started); a coroutine is awaited."""

    name: str

    def __init__(self, inner: SigningBackend) -> None:
        self.recorder = CallRecorder(inner)
        self.run: Callable[[Callable[[], Any]], Any] = _not_started

    @property
    def calls(self) -> dict[str, int]:
        return self.recorder.calls

    @property
    def sign_log(self) -> list[tuple[str, bytes, bytes | None]]:
        return self.recorder.sign_log

    @property
    def new_key_ids(self) -> list[str]:
        return self.recorder.new_key_ids

    @property
    def cluster_id(self) -> str:
        return self.recorder.cluster_id

    @property
    def roster(self) -> Roster | None:
        return self.recorder.roster

    @property
    @abstractmethod
    def signer_ids(self) -> tuple[str, ...]: ...

    def reset(self) -> None:
        """Between tests: every signer online, nothing recorded."""
        self.recorder.reset()

    @abstractmethod
    def import_shares(
        self,
        secret: int,
        *,
        curve: str,
        protocol: str,
        context: ImportContext,
        min_signers: int = 2,
    ) -> list[dict[str, str]]:
        """``encryptedKeyShares`` of an import of ``secret`` under ``context``, in this
        back end's format."""

    @abstractmethod
    def export_secret(self, key: Mapping[str, Any], out: Mapping[str, Any], requester: Any) -> int:
        """The secret recombined from an export response ``out`` of ``key`` (the API's
        key object), sealed to ``requester``, in this back end's format."""

    @abstractmethod
    def holders(self, key_id: str) -> set[str]:
        """The signers that hold a share of ``key_id``."""

    @abstractmethod
    def take_offline(self, *signer_ids: str) -> None:
        """Signers that stop answering (they keep what they hold)."""

    @abstractmethod
    def bring_online(self, *signer_ids: str) -> None:
        """Signers that answer again."""

    def wait_ecdsa_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.run(self.recorder.inner.ecdsa_status).ready:
            assert time.monotonic() < deadline, "ECDSA aux info did not finish"
            time.sleep(0.2)


def _not_started(fn: Callable[[], Any]) -> Any:
    raise RuntimeError("the test client is not started")


class FakeBackend(BackendUnderTest):
    """The FakeVault (its ``offline`` signers answer as the coordinator's do)."""

    name = "fake"

    def __init__(self, vault: FakeVault) -> None:
        super().__init__(vault)
        self.vault = vault

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return self.vault.signer_ids

    def reset(self) -> None:
        super().reset()
        self.vault.reset()

    def import_shares(
        self,
        secret: int,
        *,
        curve: str,
        protocol: str,
        context: ImportContext,
        min_signers: int = 2,
    ) -> list[dict[str, str]]:
        shares, _ = split_secret(_GROUPS[curve], secret, min_signers, len(self.signer_ids))
        return [
            {
                "signerId": sid,
                "encryptedKeyShare": b64u(bytes([s.index]) + s.value.to_bytes(32, "big")),
            }
            for sid, s in zip(self.signer_ids, shares, strict=True)
        ]

    def export_secret(self, key: Mapping[str, Any], out: Mapping[str, Any], requester: Any) -> int:
        shares: dict[int, int] = {}
        for item in out["encryptedKeyShares"]:
            plain = hpke.open_sealed(
                requester,
                unb64u(item["encryptedKeyShare"]),
                info=EXPORT_INFO,
                aad=item["signerId"].encode(),
            )
            shares[plain[0]] = int.from_bytes(plain[1:], "big")
        return interpolate_secret(_GROUPS[out["curve"]], shares)

    def holders(self, key_id: str) -> set[str]:
        held = key_id in self.vault.keys or key_id in self.vault.ecdsa_keys
        return set(self.signer_ids) if held else set()

    def take_offline(self, *signer_ids: str) -> None:
        self.vault.offline.update(signer_ids)

    def bring_online(self, *signer_ids: str) -> None:
        self.vault.offline.difference_update(signer_ids)


class EmbeddedBackend(BackendUnderTest):
    """The real embedded vault, started on the app's event loop."""

    name = "embedded"

    def __init__(self, vault: EmbeddedVault) -> None:
        super().__init__(vault)
        self.vault = vault

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return self.vault.signer_ids

    def reset(self) -> None:
        super().reset()
        self.bring_online(*self.signer_ids)

    def _descriptors(self) -> Sequence[SignerDescriptor]:
        return self.run(self.vault.list_signers)  # type: ignore[no-any-return]

    def import_shares(
        self,
        secret: int,
        *,
        curve: str,
        protocol: str,
        context: ImportContext,
        min_signers: int = 2,
    ) -> list[dict[str, str]]:
        signers = [(d.signer_id, d.encryption_key) for d in self._descriptors()]
        _, blobs = key_import.seal_import_shares(
            secret,
            context=context,
            curve=curve,
            protocol=canonical_protocol(protocol),
            min_signers=min_signers,
            signers=signers,
        )
        return [{"signerId": sid, "encryptedKeyShare": b64u(blob)} for sid, blob in blobs]

    def export_secret(self, key: Mapping[str, Any], out: Mapping[str, Any], requester: Any) -> int:
        return key_export.open_export_shares(
            [(s["signerId"], unb64u(s["encryptedKeyShare"])) for s in out["encryptedKeyShares"]],
            signer_identity_keys={d.signer_id: d.identity_key for d in self._descriptors()},
            key_pair=requester,
            key_id=key["id"],
            curve=out["curve"],
            protocol=out["protocol"],
            group_public_key=bytes.fromhex(out["publicKey"]),
            min_signers=out["minSigners"],
            signer_ids=key["signers"],
        )

    def holders(self, key_id: str) -> set[str]:
        return {sid for sid, node in self.vault.nodes.items() if key_id in node.store.key_ids()}

    def take_offline(self, *signer_ids: str) -> None:
        for sid in signer_ids:
            self.run(lambda sid=sid: self.vault.stop_signer(sid))

    def bring_online(self, *signer_ids: str) -> None:
        for sid in signer_ids:
            self.run(lambda sid=sid: self.vault.start_signer(sid))


@dataclass
class ContractApi(Api):
    """An :class:`~apihelpers.Api` (a fresh org on a shared app) over either back end;
    ``vault`` is the back end's own object, ``backend`` what the tests may rely on."""

    backend: BackendUnderTest

    def import_body(
        self,
        secret: int,
        curve: str,
        protocol: str,
        *,
        min_signers: int = 2,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A complete ``POST /keys/import`` body of ``secret``, sealed under a fresh
        context of this org (or of the org whose auth ``headers`` are given)."""
        context = self.import_context(headers)
        return {
            "curve": curve,
            "protocol": protocol,
            "minSigners": min_signers,
            "encryptedKeyShares": self.backend.import_shares(
                secret, curve=curve, protocol=protocol, context=context, min_signers=min_signers
            ),
            "importId": b64u(context.import_id),
        }
