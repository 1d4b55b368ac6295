"""One signer node: its identity, its encrypted share store, and the operations it
performs on the coordinator's signed requests.

``SignerNode.handle(request) -> reply`` is what a transport calls. The node checks
the request (signed by the coordinator, addressed to this signer, fresh, not a
replay) and dispatches it by operation to the handlers composed here:

* ``roster.sign`` / ``roster.pin``: the cluster roster, signed and pinned at first
  start (``signer.roster``); peers' keys come from it only;
* ``SessionHost`` (``signer.sessions``): open protocol sessions and ``deliver``;
* ``FrostHandlers`` (``signer.frost_ops``): FROST key generation and signing;
* ``EcdsaHandlers`` (``signer.ecdsa_ops``): CGGMP24 aux info, key generation,
  presigning, signing and refresh;
* ``CustodyHandlers`` (``signer.custody_ops``): import, export and erasure;
* ``EpochHandlers`` (``signer.epoch``): refresh epochs (new aux info and shares).

The node never sees another signer's share: DKG shares arrive HPKE-sealed to it
inside signed envelopes, import shares arrive sealed by the client, and export
shares leave sealed to the requester.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from shardvault.cpu import release_gil_for_bigints
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.errors import InvalidParameters, ShardvaultError
from shardvault.protocols.registry import ECDSA_PROTOCOL
from shardvault.signer.context import Operation, SignerContext
from shardvault.signer.custody_ops import CustodyHandlers
from shardvault.signer.ecdsa import EcdsaState, PrimeSource
from shardvault.signer.ecdsa_ops import EcdsaHandlers
from shardvault.signer.epoch import EpochHandlers
from shardvault.signer.frost_ops import FrostHandlers
from shardvault.signer.roster import PinnedRoster
from shardvault.signer.sessions import SessionHost
from shardvault.signer.store import SignerStore
from shardvault.transport.identity import SignerDescriptor, encryption_key_statement
from shardvault.transport.roster import Roster, sign_roster
from shardvault.transport.rpc import ReplayGuard, decode_request, encode_error, encode_ok

__all__ = ["SignerNode", "new_signer_id"]

log = logging.getLogger("shardvault.signer")


def new_signer_id() -> str:
    return "sgn-" + secrets.token_hex(10)


class SignerNode:
    """A signer: call ``handle(request_bytes) -> reply_bytes`` (what the transport does).
    Thread-safe: the transport may run requests concurrently (one session's messages
    are processed one at a time)."""

    def __init__(
        self, store: SignerStore, coordinator_key: bytes, ecdsa: EcdsaState | None = None
    ) -> None:
        identity = store.get_secret("identity_key")
        if identity is None:
            identity = bytes(SigningKey.generate())
            store.put_secret("identity_key", identity)
        encryption = store.get_secret("encryption_key")
        if encryption is None:
            encryption = HpkeKeyPair.generate().private_bytes()
            store.put_secret("encryption_key", encryption)
        signing_key = SigningKey(identity)
        hpke = HpkeKeyPair.from_private_bytes(encryption)
        self._ctx = SignerContext(
            store.signer_id,
            signing_key,
            hpke,
            store,
            ecdsa or EcdsaState(store, store.path.parent / "presignatures.sqlite3", "off"),
            PinnedRoster(store, bytes(signing_key.verify_key), hpke.public_key),
        )
        self._coordinator_key = coordinator_key
        self._descriptor: SignerDescriptor | None = None
        self._replays = ReplayGuard()
        self._sessions = SessionHost(self._ctx, coordinator_key)
        self._frost = FrostHandlers(self._ctx, self._sessions)
        self._ecdsa = EcdsaHandlers(self._ctx, self._sessions)
        self._custody = CustodyHandlers(self._ctx)
        # Finishes an epoch's erasure that a crash interrupted, before any request.
        self._epoch = EpochHandlers(self._ctx, self._sessions)
        self._ops: dict[str, Operation] = {
            "info": self._info,
            "dkg.start": self._dkg_start,
            "roster.sign": self._roster_sign,
            "roster.pin": self._roster_pin,
            "deliver": self._sessions.deliver,
            **self._frost.ops(),
            **self._ecdsa.ops(),
            **self._custody.ops(),
            **self._epoch.ops(),
        }

    @classmethod
    def open(
        cls,
        directory: Path,
        kek: bytes,
        coordinator_key: bytes,
        signer_id: str | None = None,
        *,
        primes: PrimeSource = "off",
    ) -> SignerNode:
        """Open (or create, with a fresh id) the signer whose files live in ``directory``.
        ``primes``: where its Paillier primes come from (``signer.ecdsa.PrimeSource``)."""
        id_file = directory / "signer-id"
        if id_file.exists():
            signer_id = id_file.read_text().strip()
        else:
            signer_id = signer_id or new_signer_id()
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            id_file.write_text(signer_id + "\n")
        store = SignerStore(directory / "store.sqlite3", signer_id, kek)
        ecdsa = EcdsaState(store, directory / "presignatures.sqlite3", primes)
        return cls(store, coordinator_key, ecdsa)

    def close(self) -> None:
        self._sessions.clear()
        self._custody.clear()
        self._ctx.ecdsa.close()
        self._ctx.store.close()

    def __repr__(self) -> str:
        return f"SignerNode({self.signer_id})"

    @property
    def signer_id(self) -> str:
        return self._ctx.signer_id

    @property
    def store(self) -> SignerStore:
        return self._ctx.store

    @property
    def ecdsa(self) -> EcdsaState:
        return self._ctx.ecdsa

    @property
    def roster(self) -> Roster | None:
        """The roster this signer pinned (None before the cluster's first start)."""
        return self._ctx.roster.current

    @property
    def descriptor(self) -> SignerDescriptor:
        if self._descriptor is None:
            ctx = self._ctx
            enc = ctx.hpke.public_key
            self._descriptor = SignerDescriptor(
                ctx.signer_id,
                ctx.identity_key,
                enc,
                ctx.identity.sign(encryption_key_statement(ctx.signer_id, enc)).signature,
            )
        return self._descriptor

    # -- dispatch -----------------------------------------------------------------
    def handle(self, request: bytes) -> bytes:
        release_gil_for_bigints()
        try:
            body = decode_request(request, self._coordinator_key, self.signer_id, self._replays)
            op = self._ops.get(str(body.get("op")))
            if op is None:
                raise InvalidParameters(f"unknown operation {body.get('op')!r}")
            now = time.monotonic()
            self._sessions.expire(now)
            self._custody.expire(now)
            return op(body)
        except ShardvaultError as exc:
            return encode_error(exc)
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            log.warning("signer %s: malformed request (%s)", self.signer_id, type(exc).__name__)
            return encode_error(InvalidParameters(f"malformed request: {type(exc).__name__}"))
        except sqlite3.Error as exc:
            log.error("signer %s: store error (%s)", self.signer_id, type(exc).__name__)
            return encode_error(ShardvaultError("signer store error", code="SignerStoreError"))

    def _info(self, body: dict[str, Any]) -> bytes:
        d = self.descriptor
        return encode_ok(
            signerId=d.signer_id,
            identityKey=d.identity_key.hex(),
            encryptionKey=d.encryption_key.hex(),
            encryptionKeySignature=d.encryption_key_signature.hex(),
            rosterFingerprint=self._ctx.roster.fingerprint,
        )

    def _roster_sign(self, body: dict[str, Any]) -> bytes:
        """Sign a roster that lists this signer under its own keys, if no other roster
        is pinned here (the cluster's first start; docs/security.md item 30)."""
        roster = Roster.from_json(body["roster"])
        pinned = self._ctx.roster
        pinned.check_own_entry(roster)
        pinned.check_replaceable(roster)
        return encode_ok(signature=sign_roster(roster, self._ctx.identity).hex())

    def _roster_pin(self, body: dict[str, Any]) -> bytes:
        """Pin the complete roster (or confirm the one pinned)."""
        roster = Roster.from_json(body["roster"])
        self._ctx.roster.pin(roster)
        return encode_ok(fingerprint=roster.fingerprint)

    def _dkg_start(self, body: dict[str, Any]) -> bytes:
        if body.get("protocol") == ECDSA_PROTOCOL:
            return self._ecdsa.keygen_start(body)
        return self._frost.dkg_start(body)
