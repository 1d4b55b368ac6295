"""A signer node's key-custody operations, for keys of every protocol
(coordinator requests, all signed):

``import.prepare``   open this signer's HPKE-sealed import share (sealed by the
                     client, docs/import-export-format.md) under the request's import
                     context, check it against the Feldman commitments and the group
                     key; refuse a context too old by this signer's clock, one already
                     used (recorded durably here before the share is accepted) and a
                     public key this signer already holds a live share of; keep the
                     share pending and report the commitments' digest
``import.commit``    store the pending share as Pending (inert) if every signer
                     saw the same commitments (the digest)
``import.activate``  Pending -> Active
``import.abort``     forget a pending import
``keys.statuses``    the key ids held, with status and age (for reconciliation)
``import.erase_stray`` erase a share left Pending by an import that never
                     activated, only if it is still Pending and older than
                     ``STRAY_GRACE_SECONDS`` (an Active share is never erased this way)
``export``           seal this signer's share to the requester's key
``delete``           erase the key's share, its presignatures and refresh state

The node never sees another signer's share: import shares arrive sealed by the
client and export shares leave sealed to the requester.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.shamir import derive_public_share
from shardvault.errors import Conflict, InvalidImport, NotFound, ProtocolError
from shardvault.protocols import key_export, key_import
from shardvault.protocols.frost.ciphersuites import suite_for
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage
from shardvault.protocols.registry import ECDSA_PROTOCOL
from shardvault.signer.context import Operation, SignerContext
from shardvault.signer.ecdsa import drop_refresh_state, imported_share_record, share_from_record
from shardvault.signer.epoch import KEY_EXPORTED, require_no_epoch
from shardvault.signer.frost_keys import key_from_record, key_to_record
from shardvault.signer.sessions import SESSION_TTL_SECONDS
from shardvault.transport.rpc import encode_ok, hex_arg

__all__ = ["STRAY_GRACE_SECONDS", "CustodyHandlers"]

STRAY_GRACE_SECONDS = 600.0
"""How long a Pending (committed, never activated) import share is left alone before
``import.erase_stray`` may erase it: an import activates within seconds of its commit."""


@dataclass
class _PendingImport:
    protocol: str
    curve: str
    digest: bytes
    record: bytes
    public_key: bytes
    started: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        return f"_PendingImport({self.protocol}, {self.curve}, <sealed>)"


class CustodyHandlers:
    def __init__(self, ctx: SignerContext) -> None:
        self._ctx = ctx
        self._pending: dict[str, _PendingImport] = {}

    def ops(self) -> dict[str, Operation]:
        return {
            "import.prepare": self.import_prepare,
            "import.commit": self.import_commit,
            "import.activate": self.import_activate,
            "import.abort": self.import_abort,
            "import.erase_stray": self.import_erase_stray,
            "keys.statuses": self.key_statuses,
            "export": self.export,
            "delete": self.delete,
        }

    def clear(self) -> None:
        self._pending.clear()

    def expire(self, now: float) -> None:
        """Forget pending imports older than ``SESSION_TTL_SECONDS`` (``now``: monotonic)."""
        for kid in [k for k, v in self._pending.items() if now - v.started > SESSION_TTL_SECONDS]:
            del self._pending[kid]

    # -- import -------------------------------------------------------------------
    def import_prepare(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        key_id = str(body["keyId"])
        protocol, curve = str(body["protocol"]), str(body["curve"])
        ecdsa = (protocol, curve) == (ECDSA_PROTOCOL, "secp256k1")
        suite = None if ecdsa else suite_for(protocol, curve)
        ctx.check_new_key(key_id)
        signer_ids = [str(s) for s in body["signerIds"]]
        min_signers = int(body["minSigners"])
        me = (ctx.signer_id,)
        try:
            context = key_import.ImportContext(hex_arg(body["importId"]), int(body["issuedAt"]))
            now = time.time()
            key_import.check_import_context_fresh(context, now)
        except InvalidImport as exc:
            raise InvalidImport(
                f"signer {ctx.signer_id}: {exc.message}", code=exc.code, signers=me
            ) from None
        # Opens only under this context's AAD: the API cannot pass another issue time.
        share = key_import.open_import_share(
            hex_arg(body["blob"]),
            key_pair=ctx.hpke,
            my_signer_id=ctx.signer_id,
            context=context,
            curve=curve,
            protocol=protocol,
            min_signers=min_signers,
            signer_ids=signer_ids,
        )
        # Durable before the share is accepted: a replay is refused even after a crash.
        ctx.store.consume_import_id(
            context.import_id,
            context.issued_at,
            forget_before=int(now) - key_import.IMPORT_CONTEXT_MAX_AGE_SECONDS - 60,
        )
        if ctx.store.holds_public_key(share.group_public_key) is not None:
            raise InvalidImport(
                f"signer {ctx.signer_id} already holds a live share of this public key",
                code="DuplicateKey",
                signers=me,
            )
        g = SECP256K1 if suite is None else suite.group
        commitments = [g.decode_point(c) for c in share.commitments]
        ordered = sorted(signer_ids)
        verifying = {i: derive_public_share(g, commitments, i) for i in range(1, len(ordered) + 1)}
        group_key = g.decode_point(share.group_public_key)
        if suite is None:
            record = imported_share_record(
                share.index,
                share.value,
                share.group_public_key,
                {i: y.encode() for i, y in verifying.items()},
                min_signers,
                ordered,
            )
        else:
            public = PublicKeyPackage(suite, group_key, verifying, min_signers)
            kp = KeyPackage(
                suite, share.index, share.value, verifying[share.index], group_key, min_signers
            )
            record = key_to_record(kp, public, ordered)
        digest = key_import.import_commitments_digest(
            context=context,
            curve=curve,
            protocol=protocol,
            min_signers=min_signers,
            signer_ids=signer_ids,
            commitments=share.commitments,
        )
        self._pending[key_id] = _PendingImport(
            protocol, curve, digest, record, share.group_public_key
        )
        return encode_ok(
            digest=digest.hex(),
            publicKey=share.group_public_key.hex(),
            verifyingShares={str(i): y.encode().hex() for i, y in verifying.items()},
        )

    def import_commit(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        pending = self._pending.pop(key_id, None)
        if pending is None:
            raise NotFound(f"signer {self._ctx.signer_id} has no pending import of {key_id}")
        if not secrets.compare_digest(pending.digest, hex_arg(body["digest"])):
            raise ProtocolError("signers saw different commitments", check="import-commitments")
        self._ctx.store.put_share(
            key_id,
            pending.protocol,
            pending.curve,
            pending.record,
            public_key=pending.public_key,
            status="Pending",
        )
        return encode_ok()

    def import_activate(self, body: dict[str, Any]) -> bytes:
        self._ctx.store.activate(str(body["keyId"]))
        return encode_ok()

    def import_abort(self, body: dict[str, Any]) -> bytes:
        self._pending.pop(str(body["keyId"]), None)
        return encode_ok()

    def key_statuses(self, body: dict[str, Any]) -> bytes:
        now = time.time()
        return encode_ok(
            keys=[
                {"keyId": row.key_id, "status": row.status, "ageSeconds": now - row.created}
                for row in self._ctx.store.share_statuses()
            ]
        )

    def import_erase_stray(self, body: dict[str, Any]) -> bytes:
        """Erase a stray import share. The coordinator (maybe hostile) only names the key:
        this signer itself checks the share is still Pending and older than the grace
        period, so an Active key can never be erased through this operation."""
        key_id = str(body["keyId"])
        row = next((r for r in self._ctx.store.share_statuses() if r.key_id == key_id), None)
        if row is None:
            raise NotFound(f"signer {self._ctx.signer_id} holds no share of key {key_id}")
        if row.status != "Pending":
            raise Conflict(
                f"signer {self._ctx.signer_id}: key {key_id} is {row.status}; only a Pending "
                "import share is erased as a stray",
                code="NotAStray",
            )
        cutoff = time.time() - STRAY_GRACE_SECONDS
        if not self._ctx.store.erase_share(key_id, only_pending_before=cutoff):
            raise Conflict(
                f"signer {self._ctx.signer_id}: pending key {key_id} is younger than the "
                f"{STRAY_GRACE_SECONDS:.0f} s grace period",
                code="NotAStray",
            )
        self._ctx.ecdsa.pool.discard_key(key_id)
        return encode_ok(erased=True)

    # -- export and delete -----------------------------------------------------------
    def export(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        key_id = str(body["keyId"])
        require_no_epoch(ctx, "an export")
        row = ctx.store.get_share(key_id)
        if row.status != "Active":
            raise Conflict(f"key {key_id} is {row.status}")
        if row.protocol == ECDSA_PROTOCOL:
            share, _ids = share_from_record(row.record)
            group_key, min_signers = share.public_key.encode(), share.threshold
            index, value = share.index, share.secret
        else:
            kp, public, _ = key_from_record(suite_for(row.protocol, row.curve), row.record)
            group_key, min_signers = public.group_public_key.encode(), public.min_signers
            index, value = kp.identifier, kp.signing_share
        blob = key_export.seal_export_share(
            identity_key=ctx.identity,
            signer_id=ctx.signer_id,
            key_id=key_id,
            curve=row.curve,
            protocol=row.protocol,
            group_public_key=group_key,
            min_signers=min_signers,
            index=index,
            share_value=value,
            requester_encryption_key=hex_arg(body["requesterKey"]),
        )
        # The key's secret is out: refresh epochs no longer have to re-deal it.
        ctx.store.put_secret(KEY_EXPORTED + key_id, b"1")
        return encode_ok(blob=blob.hex())

    def delete(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        require_no_epoch(self._ctx, "a delete")
        self._ctx.ecdsa.pool.discard_key(key_id)
        drop_refresh_state(self._ctx.store, key_id)
        self._ctx.store.delete_secret(KEY_EXPORTED + key_id)
        return encode_ok(erased=self._ctx.store.erase_share(key_id))
