"""Helpers for the REST API tests.

``FakeVault`` is a TEST-ONLY ``SigningBackend``: real FROST key generation (DKG) and
signing in-process with ``shardvault.protocols.frost``, so every signature the API
returns is checked by PyNaCl / coincurve. It is not the embedded vault (no signer
nodes, no transport, shares in plain memory) and its import/export blobs use a
trivial test format, NOT the dealer format of docs/import-export-format.md.

ECDSA (``CGGMP24``) is NOT threshold ECDSA here: the fake deals Shamir shares of a
random secret itself (trusted dealer), and signs by recombining the secret and
calling libsecp256k1 (coincurve); refresh re-deals shares of the same secret. It
stands in for the CGGMP24 back end at the API layer only; readiness (aux info) is
simulated by ``ecdsa_ready`` / ``ecdsa_progress``.

Blob formats:

* import: ``index (1 byte) || share scalar (32 bytes, big-endian)``, unencrypted;
* export: ``HPKE-seal(requester key, info=b"shardvault-test-export",
  aad=signer id, plaintext = index || share scalar)``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import coincurve
import httpx
import signinghelpers
from coincurve.ecdsa import cdata_to_der, der_to_cdata
from fastapi import FastAPI
from fastapi.testclient import TestClient
from nacl.signing import SigningKey
from signinghelpers import register_admin

from shardvault.api.audit import AuditContext
from shardvault.api.auth import issue_token
from shardvault.api.bootstrap import create_org, new_credential_key
from shardvault.api.identity import IdentityRepository
from shardvault.api.permission_repository import PermissionRepository
from shardvault.coordinator.backend import EcdsaStatus, EpochResult, ExportedShare, KeyRecord
from shardvault.crypto import hpke
from shardvault.crypto.groups import SECP256K1, Group
from shardvault.crypto.shamir import evaluate_polynomial, lagrange_coefficient
from shardvault.db.engine import make_engine, write_sessionmaker
from shardvault.db.ids import new_id
from shardvault.db.models import ServiceAccount, utcnow
from shardvault.errors import (
    AuxInfoNotReady,
    InvalidImport,
    InvalidParameters,
    NotFound,
    SignersUnavailable,
)
from shardvault.protocols.frost.ciphersuites import (
    FROST_ED25519,
    FROST_SECP256K1_TR,
    Ciphersuite,
)
from shardvault.protocols.frost.dkg import FrostDkg
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage
from shardvault.protocols.frost.session import FrostCoordinator, FrostSigner
from shardvault.protocols.key_import import ImportContext
from shardvault.protocols.messages import InMemorySessionRegistry, run_locally
from shardvault.transport.identity import SignerDescriptor, encryption_key_statement
from shardvault.transport.roster import Roster, RosterEntry, sign_roster

SUITES: dict[tuple[str, str], Ciphersuite] = {
    ("FROST", "ed25519"): FROST_ED25519,
    ("FROST_BITCOIN", "secp256k1"): FROST_SECP256K1_TR,
}
EXPORT_INFO = b"shardvault-test-export"
BASE_URL = "http://testserver"


#: The shapes of a key id and of an API date.
KEY_ID = re.compile(r"key-[0-7][0-9a-hjkmnp-tv-z]{25}")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def b64u(data: bytes) -> str:
    """base64url without padding, written independently of the code under test."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_strict(value: str) -> bytes:
    """``unb64u``, asserting first that the API wrote the unpadded URL alphabet."""
    assert "=" not in value and "+" not in value and "/" not in value
    return unb64u(value)


@dataclass
class _Key:
    suite: Ciphersuite
    packages: list[KeyPackage]
    public: PublicKeyPackage


@dataclass
class _EcdsaKey:
    """A CGGMP24 stand-in: Shamir shares (index -> scalar) dealt by the fake itself."""

    shares: dict[int, int]
    min_signers: int

    def secret(self) -> int:
        base = sorted(self.shares)[: self.min_signers]
        q = SECP256K1.order
        return sum(lagrange_coefficient(i, base, q) * self.shares[i] for i in base) % q

    @property
    def public_key(self) -> bytes:
        return SECP256K1.mul_base(self.secret()).encode()


def _deal(secret: int, t: int, n: int) -> dict[int, int]:
    coefficients = [secret, *(SECP256K1.random_scalar() for _ in range(t - 1))]
    return {i: evaluate_polynomial(coefficients, i, SECP256K1.order) for i in range(1, n + 1)}


@dataclass
class FakeVault:
    """Test-only SigningBackend doing real FROST in one process (see module doc)."""

    n: int = 3
    signer_ids: tuple[str, ...] = ()
    keys: dict[str, _Key] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    sign_log: list[tuple[str, bytes, bytes | None]] = field(default_factory=list)
    #: method name -> exception to raise (every call) instead of working.
    fail: dict[str, BaseException] = field(default_factory=dict)
    sign_delay: float = 0.0
    #: CGGMP24 keys (trusted-dealer stand-in, see the module doc).
    ecdsa_keys: dict[str, _EcdsaKey] = field(default_factory=dict)
    #: What ecdsa_status() reports; while not ready, CGGMP24 calls raise AuxInfoNotReady.
    ecdsa_ready: bool = True
    ecdsa_progress: float = 1.0
    #: Faults: refresh returns another public key / sign returns another key's signature.
    refresh_changes_public_key: bool = False
    ecdsa_sign_with_wrong_key: bool = False
    #: Signers that do not answer. As the coordinator: generation, import, refresh and
    #: deletion need every signer, signing and export a key's min_signers; short of
    #: that they raise SignersUnavailable naming the offline signers. An export
    #: returns the shares of the signers online.
    offline: set[str] = field(default_factory=set)
    #: refresh epochs run (newest first)
    epoch_log: list[EpochResult] = field(default_factory=list)
    epoch_count: int = 0
    _identities: list[SigningKey] = field(default_factory=list)
    _encryption: list[hpke.HpkeKeyPair] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.signer_ids:
            self.signer_ids = tuple(f"sgn-test{i}" for i in range(1, self.n + 1))
        self._identities = [SigningKey.generate() for _ in self.signer_ids]
        self._encryption = [hpke.HpkeKeyPair.generate() for _ in self.signer_ids]

    def reset(self) -> None:
        """Forget keys, counters and injected faults (the signer identities stay)."""
        self.keys.clear()
        self.calls.clear()
        self.sign_log.clear()
        self.fail.clear()
        self.sign_delay = 0.0
        self.ecdsa_keys.clear()
        self.ecdsa_ready = True
        self.ecdsa_progress = 1.0
        self.refresh_changes_public_key = False
        self.ecdsa_sign_with_wrong_key = False
        self.offline.clear()
        self.epoch_log.clear()

    @property
    def cluster_id(self) -> str:
        return "cl-test"

    @property
    def roster(self) -> Roster:
        """A real roster of the fake signers' keys, signed by each of them."""
        unsigned = Roster.of(
            self.cluster_id,
            2,
            [
                RosterEntry(sid, bytes(k.verify_key), e.public_key)
                for sid, k, e in zip(
                    self.signer_ids, self._identities, self._encryption, strict=True
                )
            ],
        )
        return unsigned.with_signatures(
            {
                sid: sign_roster(unsigned, k)
                for sid, k in zip(self.signer_ids, self._identities, strict=True)
            }
        )

    def _enter(self, method: str) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        if method in self.fail:
            raise self.fail[method]

    def _unreachable(self) -> tuple[str, ...]:
        return tuple(sid for sid in self.signer_ids if sid in self.offline)

    def _require_signers(self, needed: int | None = None) -> None:
        """SignersUnavailable unless every signer (``needed`` None) or ``needed`` of
        them are online."""
        down = self._unreachable()
        if needed is None and down:
            raise SignersUnavailable(
                f"signers {', '.join(down)} are not reachable; this operation needs all "
                f"of {len(self.signer_ids)}",
                signers=down,
            )
        if needed is not None and len(self.signer_ids) - len(down) < needed:
            raise SignersUnavailable(
                f"{needed} signers needed; unreachable: {', '.join(down)}", signers=down
            )

    def _record(self, key_id: str, protocol: str, curve: str, key: _Key) -> KeyRecord:
        return KeyRecord(
            key_id=key_id,
            protocol=protocol,
            curve=curve,
            public_key=key.public.group_public_key.encode(),
            min_signers=key.public.min_signers,
            signer_ids=self.signer_ids,
            verifying_shares={
                sid: key.public.verifying_shares[i + 1].encode()
                for i, sid in enumerate(self.signer_ids)
            },
        )

    def _ecdsa_record(self, key_id: str, key: _EcdsaKey) -> KeyRecord:
        return KeyRecord(
            key_id=key_id,
            protocol="CGGMP24",
            curve="secp256k1",
            public_key=key.public_key,
            min_signers=key.min_signers,
            signer_ids=self.signer_ids,
            verifying_shares={
                sid: SECP256K1.mul_base(key.shares[i]).encode()
                for i, sid in enumerate(self.signer_ids, start=1)
            },
        )

    def _check_ecdsa(self, protocol: str, curve: str) -> bool:
        """Whether this is a CGGMP24 request (raising AuxInfoNotReady before ready)."""
        if protocol != "CGGMP24":
            return False
        if curve != "secp256k1":
            raise InvalidParameters(f"unsupported {protocol}/{curve}")
        if not self.ecdsa_ready:
            raise AuxInfoNotReady("the signers' ECDSA aux info does not exist yet")
        return True

    async def ecdsa_status(self) -> EcdsaStatus:
        self._enter("ecdsa_status")
        if self.ecdsa_ready:
            return EcdsaStatus(ready=True, progress=1.0, detail="ready")
        return EcdsaStatus(ready=False, progress=self.ecdsa_progress, detail="aux info")

    async def run_epoch(self, keys: Sequence[KeyRecord], *, fresh_primes: bool) -> EpochResult:
        """A refresh epoch: every key re-dealt (the aux info is not modelled here)."""
        self._enter("run_epoch")
        self._require_signers()
        if not self.ecdsa_ready:
            raise AuxInfoNotReady("the signers' ECDSA aux info does not exist yet")
        self.epoch_count += 1
        shares = {}
        for key in keys:
            # (keys an earlier test left in the shared API database are not re-dealt)
            # (FROST keys are not re-dealt by this stand-in)
            new = await self._redeal(key) if key.key_id in self.ecdsa_keys else key
            shares[key.key_id] = dict(new.verifying_shares)
        result = EpochResult(
            epoch=self.epoch_count,
            state="committed",
            started_at=_iso_now(-1.0),
            finished_at=_iso_now(),
            duration_ms=1000,
            ecdsa_keys=len(keys),
            frost_keys=0,
            primes="fresh" if fresh_primes else "stock",
            verifying_shares=shares,
        )
        self.epoch_log.insert(0, result)
        return result

    async def epochs(self) -> Sequence[EpochResult]:
        return list(self.epoch_log)

    async def _redeal(self, key: KeyRecord) -> KeyRecord:
        self._check_ecdsa(key.protocol, key.curve)
        stored = self.ecdsa_keys.get(key.key_id)
        if stored is None:
            raise NotFound(f"unknown key {key.key_id}")
        secret = stored.secret()
        if self.refresh_changes_public_key:
            secret = SECP256K1.random_scalar()
        fresh = _EcdsaKey(_deal(secret, stored.min_signers, self.n), stored.min_signers)
        if not self.refresh_changes_public_key:
            self.ecdsa_keys[key.key_id] = fresh
        return self._ecdsa_record(key.key_id, fresh)

    @staticmethod
    def _suite(protocol: str, curve: str) -> Ciphersuite:
        suite = SUITES.get((protocol, curve))
        if suite is None:
            raise InvalidParameters(f"unsupported {protocol}/{curve}")
        return suite

    async def list_signers(self) -> Sequence[SignerDescriptor]:
        self._enter("list_signers")
        out = []
        for sid, ident, enc in zip(
            self.signer_ids, self._identities, self._encryption, strict=True
        ):
            statement = encryption_key_statement(sid, enc.public_key)
            out.append(
                SignerDescriptor(
                    signer_id=sid,
                    identity_key=bytes(ident.verify_key),
                    encryption_key=enc.public_key,
                    encryption_key_signature=ident.sign(statement).signature,
                )
            )
        return out

    async def generate_key(
        self, key_id: str, protocol: str, curve: str, min_signers: int
    ) -> KeyRecord:
        self._enter("generate_key")
        self._require_signers()
        if self._check_ecdsa(protocol, curve):
            ecdsa = _EcdsaKey(_deal(SECP256K1.random_scalar(), min_signers, self.n), min_signers)
            self.ecdsa_keys[key_id] = ecdsa
            return self._ecdsa_record(key_id, ecdsa)
        suite = self._suite(protocol, curve)
        sid = os.urandom(32)
        parties = [
            FrostDkg(suite, sid, i, min_signers, self.n, InMemorySessionRegistry())
            for i in range(1, self.n + 1)
        ]
        run_locally(parties)
        results = [p.result() for p in parties]
        key = _Key(suite, [r[0] for r in results], results[0][1])
        self.keys[key_id] = key
        return self._record(key_id, protocol, curve, key)

    async def import_key(
        self,
        key_id: str,
        protocol: str,
        curve: str,
        min_signers: int,
        encrypted_shares: Mapping[str, bytes],
        context: ImportContext,
    ) -> KeyRecord:
        """The test share format carries no context: the API's own checks of the
        context (org, expiry, one use) and of duplicate public keys are what the
        contract suite exercises here."""
        self._enter("import_key")
        self._require_signers()
        ecdsa = self._check_ecdsa(protocol, curve)
        suite = self._suite("FROST_BITCOIN", curve) if ecdsa else self._suite(protocol, curve)
        g: Group = suite.group
        if set(encrypted_shares) != set(self.signer_ids):
            raise InvalidImport(
                "shares must be given for exactly the cluster's signers",
                code="SignerMismatch",
                signers=tuple(sorted(set(encrypted_shares) ^ set(self.signer_ids))),
            )
        shares: dict[int, int] = {}
        for i, signer in enumerate(self.signer_ids, start=1):
            blob = encrypted_shares[signer]
            if len(blob) != 33 or blob[0] != i:
                raise InvalidImport("malformed share", code="InvalidShare", signers=(signer,))
            value = int.from_bytes(blob[1:], "big")
            if not 0 < value < g.order:
                raise InvalidImport("share out of range", code="InvalidShare", signers=(signer,))
            shares[i] = value
        base = list(range(1, min_signers + 1))
        for j in shares:  # every share lies on the polynomial through the first t
            expected = (
                sum(lagrange_coefficient(i, base, g.order, at=j) * shares[i] for i in base)
                % g.order
            )
            if expected != shares[j]:
                raise InvalidImport(
                    "shares are inconsistent",
                    code="InconsistentShares",
                    signers=(self.signer_ids[j - 1],),
                )
        secret = sum(lagrange_coefficient(i, base, g.order) * shares[i] for i in base) % g.order
        if ecdsa:
            self.ecdsa_keys[key_id] = _EcdsaKey(shares, min_signers)
            return self._ecdsa_record(key_id, self.ecdsa_keys[key_id])
        group_key = g.mul_base(secret)
        verifying = {i: g.mul_base(v) for i, v in shares.items()}
        public = PublicKeyPackage(suite, group_key, verifying, min_signers)
        packages = [
            KeyPackage(suite, i, v, verifying[i], group_key, min_signers) for i, v in shares.items()
        ]
        key = _Key(suite, packages, public)
        self.keys[key_id] = key
        return self._record(key_id, protocol, curve, key)

    async def sign(
        self, key: KeyRecord, message: bytes, *, taproot_merkle_root: bytes | None = None
    ) -> bytes:
        self._enter("sign")
        self._require_signers(key.min_signers)
        self.sign_log.append((key.key_id, message, taproot_merkle_root))
        if self.sign_delay:
            await asyncio.sleep(self.sign_delay)
        if self._check_ecdsa(key.protocol, key.curve):
            ecdsa = self.ecdsa_keys.get(key.key_id)
            if ecdsa is None:
                raise NotFound(f"unknown key {key.key_id}")
            if taproot_merkle_root is not None or len(message) != 32:
                raise InvalidParameters("ECDSA signs a 32-byte hash, without taproot root")
            secret = ecdsa.secret()
            if self.ecdsa_sign_with_wrong_key:
                secret = SECP256K1.random_scalar()
            # r || s || recid, low-s (libsecp256k1 normalises s)
            return bytes(
                coincurve.PrivateKey(secret.to_bytes(32, "big")).sign_recoverable(
                    message, hasher=None
                )
            )
        stored = self.keys.get(key.key_id)
        if stored is None:
            raise NotFound(f"unknown key {key.key_id}")
        if taproot_merkle_root is not None and not stored.suite.bip340:
            raise InvalidParameters("no taproot merkle root for this suite")
        signers = stored.packages[: stored.public.min_signers]
        sid = os.urandom(32)
        coordinator = FrostCoordinator(
            stored.public,
            sid,
            [kp.identifier for kp in signers],
            message,
            InMemorySessionRegistry(),
            merkle_root=taproot_merkle_root,
        )
        root = taproot_merkle_root
        parties = [
            FrostSigner(kp, sid, message, InMemorySessionRegistry(), merkle_root=root)
            for kp in signers
        ]
        run_locally([coordinator, *parties])
        return coordinator.result()

    async def export_key(
        self, key: KeyRecord, requester_encryption_key: bytes
    ) -> Sequence[ExportedShare]:
        self._enter("export_key")
        self._require_signers(key.min_signers)
        # (share index, share) per signer, in signer order
        held: list[tuple[int, int]]
        if key.key_id in self.ecdsa_keys:
            ecdsa = self.ecdsa_keys[key.key_id]
            held = [(i, ecdsa.shares[i]) for i in range(1, len(self.signer_ids) + 1)]
        else:
            held = [(kp.identifier, kp.signing_share) for kp in self.keys[key.key_id].packages]
        return [
            ExportedShare(
                signer_id=sid,
                encrypted_key_share=hpke.seal(
                    requester_encryption_key,
                    bytes([i]) + share.to_bytes(32, "big"),
                    info=EXPORT_INFO,
                    aad=sid.encode(),
                ),
            )
            for sid, (i, share) in zip(self.signer_ids, held, strict=True)
            if sid not in self.offline
        ]

    async def reconcile_imports(self, live_key_ids: Collection[str]) -> dict[str, list[str]]:
        return {}  # the fake keeps no half-imported keys

    async def delete_key(self, key: KeyRecord) -> None:
        self._enter("delete_key")
        self._require_signers()
        found = self.keys.pop(key.key_id, None) or self.ecdsa_keys.pop(key.key_id, None)
        if found is None:
            raise NotFound(f"unknown key {key.key_id}")


# -- independent verification ----------------------------------------------------------
def tagged_hash(tag: str, data: bytes) -> bytes:
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + data).digest()


def taproot_output_key(internal_key33: bytes, merkle_root: bytes | None) -> bytes:
    """BIP 341 output key (x-only) computed with coincurve, independent of shardvault."""
    xonly = internal_key33[1:]
    if merkle_root is None:
        return xonly
    tweak = tagged_hash("TapTweak", xonly + merkle_root)
    return coincurve.PublicKey(b"\x02" + xonly).add(tweak).format()[1:]


def parse_der(der: bytes) -> tuple[int, int]:
    """(r, s) of a strict DER ECDSA signature (asserts minimal encodings)."""
    assert der[0] == 0x30 and der[1] == len(der) - 2
    out, pos = [], 2
    for _ in range(2):
        assert der[pos] == 0x02
        size = der[pos + 1]
        body = der[pos + 2 : pos + 2 + size]
        assert len(body) == size and size >= 1 and not body[0] & 0x80
        assert not (size > 1 and body[0] == 0 and not body[1] & 0x80), "not minimal"
        out.append(int.from_bytes(body, "big"))
        pos += 2 + size
    assert pos == len(der)
    return out[0], out[1]


def verify_ecdsa_signature(public_key33: bytes, digest: bytes, value: dict[str, Any]) -> None:
    """Checks an API ECDSA signature object ``{r, s, recid, encoded}`` with coincurve:
    low-s, the recoverable form recovers ``public_key33``, and ``encoded`` is the DER
    of (r, s) that verifies against the public key."""
    assert set(value) == {"r", "s", "recid", "encoded"}, value
    r = bytes.fromhex(value["r"].removeprefix("0x"))
    s = bytes.fromhex(value["s"].removeprefix("0x"))
    assert len(r) == 32 and len(s) == 32
    n = SECP256K1.order
    assert 0 < int.from_bytes(s, "big") <= n // 2, "not low-s"
    recid = value["recid"]
    assert isinstance(recid, int) and 0 <= recid <= 3
    recovered = coincurve.PublicKey.from_signature_and_message(
        r + s + bytes([recid]), digest, hasher=None
    )
    assert recovered.format(compressed=True) == public_key33
    der = bytes.fromhex(value["encoded"].removeprefix("0x"))
    assert parse_der(der) == (int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    assert der == cdata_to_der(der_to_cdata(der))  # libsecp256k1's own (canonical) DER
    assert coincurve.PublicKey(public_key33).verify(der, digest, hasher=None)


def verify_bip340(internal_key33: bytes, msg: bytes, sig: bytes, root: bytes | None) -> bool:
    return bool(coincurve.PublicKeyXOnly(taproot_output_key(internal_key33, root)).verify(sig, msg))


@dataclass
class Api:
    client: TestClient
    app: FastAPI
    vault: FakeVault
    database_url: str
    data_dir: Path
    token: str
    org_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _headers(self, kw: dict[str, Any]) -> dict[str, str]:
        return {**self.auth, **kw.pop("headers", {})}

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, headers=self._headers(kw), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.post(path, json=json, headers=self._headers(kw), **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.put(path, json=json, headers=self._headers(kw), **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.delete(path, headers=self._headers(kw), **kw)

    def create_key(self, scheme: str = "EdDSA", curve: str = "ed25519", **extra: Any) -> Any:
        r = self.post("/keys", {"scheme": scheme, "curve": curve, **extra})
        assert r.status_code == 200, r.text
        return r.json()

    def import_context(self, headers: dict[str, str] | None = None) -> ImportContext:
        """A fresh one-time import context (``POST /keys/import/context``) of this org
        (or of the org whose auth ``headers`` are given)."""
        r = self.client.post("/keys/import/context", json={}, headers=headers or self.auth)
        assert r.status_code == 200, r.text
        out = r.json()
        issued = datetime.fromisoformat(out["issuedAt"].replace("Z", "+00:00"))
        return ImportContext(unb64u(out["importId"]), int(issued.timestamp()))

    def with_context(self, body: dict[str, Any], context: ImportContext | None = None) -> Any:
        """``body`` with the ``importId`` of ``context`` (default: a fresh one)."""
        context = context or self.import_context()
        return {**body, "importId": b64u(context.import_id)}

    def other_org(self) -> tuple[str, dict[str, str]]:
        """A second org: its id and its admin's auth headers."""
        admin = create_org(self.database_url, "other")
        register_admin(admin)
        return admin.org_id, {"Authorization": f"Bearer {admin.token}"}

    def account(self, *operations: str) -> tuple[str, dict[str, str]]:
        """A non-admin service account of this org holding ``operations``: its id and
        its auth headers."""
        account_id, token = create_service_account(self.database_url, self.org_id, operations)
        return account_id, {"Authorization": f"Bearer {token}"}


def signed_token(s: Any, org_id: str, account_id: str, name: str = "test credential") -> str:
    """In session ``s``: an Ed25519 credential and a token for the account, registered
    with tests/signinghelpers.py (the token's writes are signed user actions)."""
    private, public = new_credential_key()
    credential = IdentityRepository.add_credential(s, org_id, account_id, public, name)
    token = issue_token(
        s, org_id, account_id, credential_id=credential.id, audit=AuditContext.operator(org_id)
    )
    signinghelpers.register(token, credential.id, private)
    return token


def create_service_account(
    database_url: str, org_id: str, operations: Collection[str] = (), *, name: str = "robot"
) -> tuple[str, str]:
    """A non-admin service account in the org, with an Ed25519 credential (registered
    with tests/signinghelpers.py, so its writes are signed), a token and (when ``operations``
    is not empty) a permission listing them assigned to it, written to the database
    directly; returns ``(account_id, token)``."""
    engine = make_engine(database_url)
    try:
        with write_sessionmaker(engine).begin() as s:
            account_id = new_id("sa")
            s.add(
                ServiceAccount(
                    id=account_id,
                    org_id=org_id,
                    name=name,
                    is_admin=False,
                    is_active=True,
                    date_created=utcnow(),
                )
            )
            s.flush()
            token = signed_token(s, org_id, account_id, name)
        if operations:
            PermissionRepository(engine).grant(org_id, account_id, operations, f"{name}-role")
    finally:
        engine.dispose()
    return account_id, token


def _iso_now(offset: float = 0.0) -> str:
    """Now (plus ``offset`` seconds) as the coordinator stamps epochs."""
    when = datetime.now(UTC) + timedelta(seconds=offset)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class AsyncApi:
    client: httpx.AsyncClient
    vault: FakeVault
    auth: dict[str, str]


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The envelope's ``error`` object without its ``status`` (asserts the envelope
    shape, and that ``status`` is the response's HTTP status)."""
    body = response.json()
    assert set(body) == {"error"}, body
    err = dict(body["error"])
    assert isinstance(err["code"], str) and isinstance(err["message"], str)
    assert err.pop("status") == response.status_code, body
    assert set(err) <= {"code", "message", "details"}
    return err
