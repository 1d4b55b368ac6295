"""A signer's side of a refresh EPOCH (docs/security.md item 28): new aux info and
new shares of every key of the group, committed in one transaction, the old
material erased durably.

Operations (coordinator requests, all signed; see ``SignerNode.handle``):

``epoch.begin``    start epoch ``n`` (greater than the committed one): finish any
                   erasure still due, drop the pending material of an unfinished
                   epoch, record and report the Active keys held
``epoch.aux``      a new aux-info session among exactly the pinned roster's signers
                   with NEW primes (the in-memory spare stock, or generated now);
                   the result is kept pending beside the active aux info
``epoch.refresh``  re-deal one key (CGGMP24 ``KeyRefresh``, FROST ``FrostRefresh``);
                   the new share is kept pending beside the old one
``epoch.commit``   in ONE SQLite transaction: the pending aux info becomes active
                   (and the prime record holds its primes), every pending share
                   replaces its old one, the epoch number is recorded and an erasure
                   marker is set; then the erasure (presignature pool emptied, WAL
                   checkpointed) and the marker cleared. Idempotent: a commit of an
                   epoch already committed answers ``already``. The signer itself
                   refuses a commit that renews nothing: without the agreed new aux
                   info while it holds aux info (``AuxNotRenewed``), or without a
                   new share of a key Active at the begin and still live
                   (``KeyNotRefreshed``); a hostile coordinator cannot make it
                   report an epoch while it keeps its old p, q and shares.
``epoch.abort``    drop the pending material of an uncommitted epoch
``epoch.status``   the committed epoch, whether material is pending, whether an
                   erasure is due

Crash safety: before the commit the old epoch is untouched (pending material is
inert; it is dropped by the next ``epoch.begin`` or ``epoch.abort``, never at start,
since a coordinator that decided to commit resumes the commit on every signer). A
crash between the commit and the erasure leaves the marker, and the erasure runs
again when the node starts (:func:`erase_old_epoch`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from shardvault.errors import Conflict, InvalidParameters, NotFound
from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoGeneration
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.cggmp.refresh import KeyRefresh
from shardvault.protocols.frost.ciphersuites import suite_for
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage
from shardvault.protocols.frost.refresh import FrostRefresh
from shardvault.protocols.registry import ECDSA_PROTOCOL, REFRESH_PROTOCOLS
from shardvault.signer.aux_primes import RECORD_NAME, encode_primes
from shardvault.signer.context import Operation, SignerContext
from shardvault.signer.ecdsa import (
    AUX_ACTIVE,
    AUX_PENDING,
    aux_digest,
    aux_from_record,
    aux_to_record,
    share_from_record,
    share_to_record,
)
from shardvault.signer.frost_keys import key_from_record, key_to_record
from shardvault.signer.sessions import SessionHost
from shardvault.transport.rpc import encode_ok, hex_arg

__all__ = [
    "EPOCH_BEGUN",
    "EPOCH_ERASE",
    "EPOCH_NUMBER",
    "KEY_EXPORTED",
    "EpochHandlers",
    "erase_old_epoch",
    "require_no_epoch",
]

log = logging.getLogger("shardvault.signer")

#: Meta rows: the committed epoch number, the erasure still due, the epoch begun,
#: the pending aux info and the pending shares (one row per key).
EPOCH_NUMBER = "epoch_number"
EPOCH_ERASE = "epoch_erase_due"
EPOCH_BEGUN = "epoch_pending:begun"
EPOCH_AUX = "epoch_pending:aux"
EPOCH_SHARE = "epoch_pending:share:"
_PENDING = "epoch_pending:"
#: Meta row per key this signer exported its share of (the key's secret is out: an
#: epoch does not re-deal it, as the API does not).
KEY_EXPORTED = "key_exported:"

_PRIME_BITS = 1536


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def committed_epoch(ctx: SignerContext) -> int:
    raw = ctx.store.get_secret(EPOCH_NUMBER)
    return 0 if raw is None else int(json.loads(raw)["epoch"])


def erase_old_epoch(ctx: SignerContext) -> int:
    """The erasure after a commit: every presignature (all made under the old aux
    info) deleted and overwritten, the store's WAL checkpointed (the old records'
    pages overwritten by ``secure_delete`` in the commit leave the WAL), then the
    marker cleared. Returns how many available presignatures went. Idempotent."""
    discarded = ctx.ecdsa.pool.discard_all().presignatures
    ctx.store.checkpoint()
    ctx.store.delete_secret(EPOCH_ERASE)  # deleted and checkpointed
    return discarded


def require_no_epoch(ctx: SignerContext, what: str) -> None:
    """Refuse (409 ``RefreshInProgress``) a key change between ``epoch.begin`` and the
    epoch's commit or abort: the epoch re-deals the keys Active at its begin."""
    if ctx.store.get_secret(EPOCH_BEGUN) is not None:
        raise Conflict(
            f"signer {ctx.signer_id}: a refresh epoch is running; {what} waits for it",
            code="RefreshInProgress",
        )


def _drop_pending(ctx: SignerContext) -> None:
    for name in ctx.store.secret_names(_PENDING):
        ctx.store.delete_secret(name)


class EpochHandlers:
    def __init__(self, ctx: SignerContext, sessions: SessionHost) -> None:
        self._ctx = ctx
        self._sessions = sessions
        if ctx.store.get_secret(EPOCH_ERASE) is not None:
            # A crash came between an epoch's commit and its erasure: finish it now.
            n = erase_old_epoch(ctx)
            log.warning(
                "signer %s: finished the erasure of the epoch before %d (%d presignatures)",
                ctx.signer_id,
                committed_epoch(ctx),
                n,
            )

    def ops(self) -> dict[str, Operation]:
        return {
            "epoch.begin": self.begin,
            "epoch.aux": self.aux,
            "epoch.refresh": self.refresh,
            "epoch.commit": self.commit,
            "epoch.abort": self.abort,
            "epoch.status": self.status,
        }

    # -- helpers -----------------------------------------------------------------------
    def _epoch_arg(self, body: dict[str, Any]) -> int:
        epoch = body["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise InvalidParameters("epoch must be a positive integer")
        return epoch

    def _require_begun(self, epoch: int) -> dict[str, Any]:
        """The ``EPOCH_BEGUN`` record of ``epoch`` (its number and the keys Active at
        its begin)."""
        raw = self._ctx.store.get_secret(EPOCH_BEGUN)
        begun: dict[str, Any] | None = None if raw is None else json.loads(raw)
        if begun is None or int(begun["epoch"]) != epoch:
            raise Conflict(f"signer {self._ctx.signer_id} has not begun epoch {epoch}")
        return begun

    def _active_keys(self) -> dict[str, str]:
        store = self._ctx.store
        out: dict[str, str] = {}
        for key_id in store.key_ids():
            row = store.get_share(key_id)
            if row.status == "Active":
                out[key_id] = row.protocol
        return out

    def _keys_to_redeal(self) -> list[str]:
        """The keys an epoch must re-deal: Active, of a refreshable protocol, at least
        2-of-n, never exported (what the coordinator re-deals; docs/security.md 28)."""
        store = self._ctx.store
        out = []
        for key_id in store.key_ids():
            row = store.get_share(key_id)
            if row.status != "Active" or row.protocol not in REFRESH_PROTOCOLS:
                continue
            data = json.loads(row.record)
            threshold = data["threshold"] if row.protocol == ECDSA_PROTOCOL else data["minSigners"]
            if int(threshold) >= 2 and store.get_secret(KEY_EXPORTED + key_id) is None:
                out.append(key_id)
        return out

    # -- operations --------------------------------------------------------------------
    def status(self, body: dict[str, Any]) -> bytes:
        store = self._ctx.store
        return encode_ok(
            epoch=committed_epoch(self._ctx),
            pending=bool(store.secret_names(_PENDING)),
            eraseDue=store.get_secret(EPOCH_ERASE) is not None,
        )

    def begin(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        epoch = self._epoch_arg(body)
        current = committed_epoch(ctx)
        if epoch <= current:
            raise Conflict(
                f"signer {ctx.signer_id} is at epoch {current}; epoch {epoch} is not newer"
            )
        if ctx.store.get_secret(EPOCH_ERASE) is not None:
            erase_old_epoch(ctx)
        _drop_pending(ctx)  # an unfinished earlier epoch's material never becomes active
        # The keys to re-deal now: the commit must re-deal every one still live then.
        redeal = self._keys_to_redeal()
        ctx.store.put_secret(EPOCH_BEGUN, _json({"epoch": epoch, "keys": redeal}))
        # ``redeal``: what this signer's commit will require (a coordinator checks
        # it covers them before it decides, or the decided commit is refused here).
        return encode_ok(epoch=current, keys=self._active_keys(), redeal=redeal)

    def aux(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        epoch = self._epoch_arg(body)
        self._require_begun(epoch)
        parties = self._sessions.parties(body)
        ids = parties.signer_ids
        roster_ids = list(ctx.roster.require().signer_ids)
        if ids != roster_ids:
            # A subset would leave a signer out of the group's new aux info.
            raise InvalidParameters(
                f"signer {ctx.signer_id}: an epoch's aux info runs among exactly the pinned "
                "roster's signers, in signer-id order",
                code="NotTheRoster",
            )
        fresh = bool(body.get("freshPrimes", False))
        primes = None if fresh else ctx.ecdsa.take_spare_primes()
        source = "stock" if primes is not None else "fresh"
        if primes is None:
            log.info("signer %s: epoch %d generates fresh primes", ctx.signer_id, epoch)
        sid = hex_arg(body["sessionId"])
        # primes=None: two new safe primes are generated here (seconds to minutes).
        machine = AuxInfoGeneration(sid, parties.me, len(ids), ctx.store, primes=primes)

        def finish(aux: AuxInfo) -> dict[str, Any]:
            record = aux_to_record(aux, ids)
            ctx.store.put_secret(EPOCH_AUX, _json({"epoch": epoch, "record": record.hex()}))
            return {"auxDigest": aux_digest(ids, aux.public).hex(), "primes": source}

        return self._sessions.open(body, machine, parties, finish)

    def refresh(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        epoch = self._epoch_arg(body)
        self._require_begun(epoch)
        key_id = str(body["keyId"])
        row = ctx.store.get_share(key_id)
        if row.status != "Active":
            raise Conflict(f"key {key_id} is {row.status} on signer {ctx.signer_id}")
        if row.protocol != ECDSA_PROTOCOL:
            return self._refresh_frost(body, epoch, key_id, row.protocol, row.curve, row.record)
        share, key_signers = share_from_record(row.record)
        parties = self._sessions.key_parties(body, key_signers, share.index)
        if parties.indices != sorted(share.public_shares):
            raise InvalidParameters("a refresh needs every signer of the key")
        sid = hex_arg(body["sessionId"])
        machine = KeyRefresh(sid, share, ctx.store)

        def finish(new: KeyShare) -> dict[str, Any]:
            record = share_to_record(new, key_signers)
            self._keep_share(epoch, key_id, sid, record)
            return {
                "publicKey": new.public_key.encode().hex(),
                "verifyingShares": {
                    str(i): p.encode().hex() for i, p in sorted(new.public_shares.items())
                },
            }

        return self._sessions.open(body, machine, parties, finish)

    def _refresh_frost(
        self,
        body: dict[str, Any],
        epoch: int,
        key_id: str,
        protocol: str,
        curve: str,
        record: bytes,
    ) -> bytes:
        """A FROST key's zero-constant re-deal (``FrostRefresh``, as ZF frost's)."""
        ctx = self._ctx
        kp, public, key_signers = key_from_record(suite_for(protocol, curve), record)
        parties = self._sessions.key_parties(body, key_signers, kp.identifier)
        if parties.indices != sorted(public.verifying_shares):
            raise InvalidParameters("a refresh needs every signer of the key")
        sid = hex_arg(body["sessionId"])
        machine = FrostRefresh(sid, kp, public, ctx.store)

        def finish(result: tuple[KeyPackage, PublicKeyPackage]) -> dict[str, Any]:
            new_kp, new_public = result
            self._keep_share(epoch, key_id, sid, key_to_record(new_kp, new_public, key_signers))
            return {
                "publicKey": new_public.group_public_key.encode().hex(),
                "verifyingShares": {
                    str(i): y.encode().hex() for i, y in sorted(new_public.verifying_shares.items())
                },
            }

        return self._sessions.open(body, machine, parties, finish)

    def _keep_share(self, epoch: int, key_id: str, sid: bytes, record: bytes) -> None:
        self._ctx.store.put_secret(
            EPOCH_SHARE + key_id,
            _json({"epoch": epoch, "sessionId": sid.hex(), "record": record.hex()}),
        )

    def commit(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        store = ctx.store
        epoch = self._epoch_arg(body)
        current = committed_epoch(ctx)
        if current >= epoch:
            if current == epoch and store.get_secret(EPOCH_ERASE) is not None:
                erase_old_epoch(ctx)
            return encode_ok(epoch=current, already=True, discardedPresignatures=0)
        begun = self._require_begun(epoch)
        digest = body.get("auxDigest")
        keys = {str(k): str(v) for k, v in dict(body["keys"]).items()}
        meta: dict[str, bytes | None] = {}
        if digest is not None:
            meta.update(self._aux_commit(epoch, str(digest)))
        elif store.get_secret(AUX_ACTIVE) is not None:
            # None only suits a vault without ECDSA: an epoch always renews aux info.
            raise Conflict(
                f"signer {ctx.signer_id} refuses to commit epoch {epoch}: it does not renew "
                "the active aux info (check aux-renewed)",
                code="AuxNotRenewed",
            )
        live = self._active_keys()
        omitted = sorted(k for k in begun.get("keys", []) if k in live and k not in keys)
        if omitted:
            raise Conflict(
                f"signer {ctx.signer_id} refuses to commit epoch {epoch}: it does not re-deal "
                f"key(s) {', '.join(omitted)}, Active since its begin (check every-key)",
                code="KeyNotRefreshed",
            )
        shares: dict[str, bytes] = {}
        for key_id, sid in keys.items():
            if store.was_erased(key_id):
                # Deleted since the begin (a delete already past its check): nothing
                # to replace; its pending share goes with the other pending rows.
                log.info("signer %s: epoch %d skips erased key %s", ctx.signer_id, epoch, key_id)
                continue
            raw_share = store.get_secret(EPOCH_SHARE + key_id)
            if raw_share is None:
                raise NotFound(f"signer {ctx.signer_id} holds no new share of key {key_id}")
            kept = json.loads(raw_share)
            if kept["epoch"] != epoch or kept["sessionId"] != sid:
                raise Conflict(f"the new share of key {key_id} comes from another session")
            shares[key_id] = bytes.fromhex(kept["record"])
        meta[EPOCH_NUMBER] = _json({"epoch": epoch})
        meta[EPOCH_ERASE] = _json({"epoch": epoch})
        for name in store.secret_names(_PENDING):
            meta[name] = None
        # One lock with the filing of finished presignatures (EcdsaState.epoch_lock):
        # none made under the old aux info is filed after the erasure.
        with ctx.ecdsa.epoch_lock:
            store.commit_batch(meta, shares)
            ctx.ecdsa.epoch_committed()
            log.info("signer %s: epoch %d committed (%d keys)", ctx.signer_id, epoch, len(shares))
            discarded = erase_old_epoch(ctx)
        return encode_ok(epoch=epoch, already=False, discardedPresignatures=discarded)

    def _aux_commit(self, epoch: int, digest: str) -> dict[str, bytes | None]:
        """The meta rows the commit sets for the pending aux info, checked agreed."""
        ctx = self._ctx
        raw = ctx.store.get_secret(EPOCH_AUX)
        if raw is None:
            raise NotFound(f"signer {ctx.signer_id} holds no pending aux info of epoch {epoch}")
        pending = json.loads(raw)
        aux_record = bytes.fromhex(pending["record"])
        aux, ids = aux_from_record(aux_record)  # re-checked before it becomes active
        if pending["epoch"] != epoch or aux_digest(ids, aux.public).hex() != digest:
            raise Conflict(f"signer {ctx.signer_id}: the pending aux info is not the agreed one")
        key = aux.paillier_key
        return {
            AUX_ACTIVE: aux_record,
            # The prime record holds the new primes (the old ones are overwritten):
            # a restart finds them ready instead of searching again.
            RECORD_NAME: encode_primes([key.p, key.q], _PRIME_BITS),
            AUX_PENDING: None,
        }

    def abort(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        epoch = self._epoch_arg(body)
        if committed_epoch(ctx) >= epoch:
            raise Conflict(f"signer {ctx.signer_id} already committed epoch {epoch}")
        _drop_pending(ctx)
        return encode_ok()
