"""The signer node's CGGMP24 (threshold ECDSA) operations, mixed into ``SignerNode``.

Operations (coordinator requests, all signed; see ``SignerNode.handle``):

``ecdsa.status``       primes progress, active aux-info digest
``aux.start``          join an aux-info session (all signers of the cluster)
``aux.activate``       make the pending aux info active once all signers agree
``dkg.start``          (protocol CGGMP24) threshold key generation
``presign.start``      presign for a key and a signer set; the result goes into the
                       pool under the session id, bound to key, signers, derivation
``presign.inventory``  available presignature ids of every active CGGMP24 key
``sign.ecdsa``         take one presignature (durably consumed first) and return
                       this signer's partial signature and the presignature's
                       public part
``refresh.start``      proactive refresh; the new share is kept beside the old one
``refresh.commit``     swap in the new share (the old one is kept for rollback)
``refresh.rollback``   restore the old share (a commit failed elsewhere)
``refresh.finalize``   erase the old share
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shardvault.crypto.groups import SECP256K1
from shardvault.errors import Conflict, Forbidden, InvalidParameters, NotFound
from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoGeneration
from shardvault.protocols.cggmp.binding import NO_DERIVATION, presignature_binding
from shardvault.protocols.cggmp.keygen import KeyGeneration
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.cggmp.presign import Presigning
from shardvault.protocols.cggmp.presignature import Presignature
from shardvault.protocols.cggmp.presignature_codec import public_to_bytes
from shardvault.protocols.cggmp.refresh import KeyRefresh
from shardvault.protocols.cggmp.sign import sign_share
from shardvault.protocols.registry import ECDSA_PROTOCOL
from shardvault.signer.ecdsa import EcdsaState, share_from_record, share_to_record
from shardvault.transport.identity import PartyKeys
from shardvault.transport.rpc import encode_ok

if TYPE_CHECKING:
    from shardvault.protocols.messages import StateMachine
    from shardvault.signer.store import SignerStore

__all__ = ["EcdsaOps"]

_CURVE = "secp256k1"
#: Meta rows of a refresh in progress: the new share, then the old one (rollback).
_NEXT = "refresh_next:"
_PREVIOUS = "refresh_previous:"


def _b(s: Any) -> bytes:
    if not isinstance(s, str):
        raise InvalidParameters("expected a hex string")
    try:
        return bytes.fromhex(s)
    except ValueError as exc:
        raise InvalidParameters("malformed hex") from exc


def _verifying(share: KeyShare) -> dict[str, str]:
    return {str(i): p.encode().hex() for i, p in sorted(share.public_shares.items())}


class EcdsaOps:
    """CGGMP24 operations; needs the ``SignerNode`` attributes declared below."""

    signer_id: str
    store: SignerStore
    ecdsa: EcdsaState

    if TYPE_CHECKING:

        def _parties(self, body: dict[str, Any]) -> tuple[dict[int, PartyKeys], list[str], int]:
            raise NotImplementedError

        def _check_new_key(self, key_id: str) -> None:
            raise NotImplementedError

        def _open_session(
            self,
            body: dict[str, Any],
            kind: str,
            key_id: str,
            machine: StateMachine[Any],
            parties: dict[int, PartyKeys],
            me: int,
            ids: list[str],
            finish: Callable[[Any], dict[str, Any]],
        ) -> bytes:
            raise NotImplementedError

    def _ecdsa_ops(self) -> dict[str, Callable[[dict[str, Any]], bytes]]:
        return {
            "ecdsa.status": self._ecdsa_status,
            "aux.start": self._aux_start,
            "aux.activate": self._aux_activate,
            "presign.start": self._presign_start,
            "presign.inventory": self._presign_inventory,
            "sign.ecdsa": self._sign_ecdsa,
            "refresh.start": self._refresh_start,
            "refresh.commit": self._refresh_commit,
            "refresh.rollback": self._refresh_rollback,
            "refresh.finalize": self._refresh_finalize,
        }

    # -- aux info ----------------------------------------------------------------------
    def _ecdsa_status(self, body: dict[str, Any]) -> bytes:
        return encode_ok(**self.ecdsa.status())

    def _aux_start(self, body: dict[str, Any]) -> bytes:
        parties, ids, me = self._parties(body)
        if ids != sorted(ids) or len(ids) < 2:
            raise InvalidParameters("aux info runs among all signers, in signer-id order")
        primes = self.ecdsa.primes()
        sid = _b(body["sessionId"])
        machine = AuxInfoGeneration(sid, me, len(ids), self.store, primes=primes)

        def finish(aux: AuxInfo) -> dict[str, Any]:
            return {"auxDigest": self.ecdsa.put_pending(aux, ids).hex()}

        return self._open_session(body, "aux", "", machine, parties, me, ids, finish)

    def _aux_activate(self, body: dict[str, Any]) -> bytes:
        self.ecdsa.activate(_b(body["digest"]))
        return encode_ok()

    # -- keys --------------------------------------------------------------------------
    def _ecdsa_keygen(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        self._check_new_key(key_id)
        parties, ids, me = self._parties(body)
        self.ecdsa.aux(ids)  # keys exist only once the group's aux info does
        sid = _b(body["sessionId"])
        machine = KeyGeneration(sid, me, int(body["minSigners"]), len(ids), self.store)

        def finish(share: KeyShare) -> dict[str, Any]:
            self.store.put_share(key_id, ECDSA_PROTOCOL, _CURVE, share_to_record(share, ids))
            return {
                "publicKey": share.public_key.encode().hex(),
                "verifyingShares": _verifying(share),
            }

        return self._open_session(body, "dkg", key_id, machine, parties, me, ids, finish)

    def _ecdsa_share(self, key_id: str) -> tuple[KeyShare, list[str]]:
        """The key's Active CGGMP24 share and signer ids."""
        row = self.store.get_share(key_id)
        if row.protocol != ECDSA_PROTOCOL:
            raise InvalidParameters(f"key {key_id} is not a {ECDSA_PROTOCOL} key")
        if row.status != "Active":
            raise Conflict(
                f"key {key_id} is {row.status} on signer {self.signer_id}; it does not sign"
            )
        return share_from_record(row.record)

    def _session_signers(
        self, body: dict[str, Any], share: KeyShare, key_signers: list[str]
    ) -> tuple[dict[int, PartyKeys], list[int], int]:
        parties, _ids, me = self._parties(body)
        for p in body["parties"]:
            index = int(p["index"])
            if index > len(key_signers) or key_signers[index - 1] != p["signerId"]:
                raise Forbidden("session parties do not match the key's signers")
        if me != share.index:
            raise Forbidden("this signer's index in the session is not its share index")
        return parties, sorted(i for i in parties if i != 0), me

    # -- presigning and signing --------------------------------------------------------
    def _presign_start(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        share, key_signers = self._ecdsa_share(key_id)
        parties, indices, me = self._session_signers(body, share, key_signers)
        aux = self.ecdsa.aux(sorted(key_signers))
        binding = presignature_binding(key_id, share.public_key.encode(), indices, NO_DERIVATION)
        sid = _b(body["sessionId"])
        machine = Presigning(sid, me, indices, share, aux, self.store)

        def finish(presig: Presignature) -> dict[str, Any]:
            presig_id = self.ecdsa.pool.add(key_id, binding, presig, presig_id=sid.hex())
            return {"presigId": presig_id}

        ids = [key_signers[i - 1] for i in indices]
        return self._open_session(body, "presign", key_id, machine, parties, me, ids, finish)

    def _presign_inventory(self, body: dict[str, Any]) -> bytes:
        keys: dict[str, dict[str, Any]] = {}
        for key_id in self.store.key_ids():
            row = self.store.get_share(key_id)
            if row.protocol != ECDSA_PROTOCOL or row.status != "Active":
                continue
            share, signer_ids = share_from_record(row.record)
            available = self.ecdsa.pool.available(key_id)
            keys[key_id] = {
                "publicKey": share.public_key.encode().hex(),
                "threshold": share.threshold,
                "signerIds": signer_ids,
                "presigs": {b.hex(): ids for b, ids in available.items()},
            }
        return encode_ok(keys=keys)

    def _sign_ecdsa(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        share, _key_signers = self._ecdsa_share(key_id)
        indices = sorted(int(i) for i in body["signers"])
        if share.index not in indices:
            raise Forbidden("this signer is not in the signing set")
        message_hash = _b(body["hash"])
        if len(message_hash) != 32:
            raise InvalidParameters("ECDSA signs a 32-byte hash")
        binding = presignature_binding(key_id, share.public_key.encode(), indices, NO_DERIVATION)
        # Durably consumed (fsynced) before the partial signature is computed or sent.
        taken = self.ecdsa.pool.take(key_id, binding, str(body["presigId"]))
        if taken is None:
            raise NotFound(
                f"signer {self.signer_id} has no available presignature {body['presigId']} "
                f"for key {key_id} and these signers"
            )
        _presig_id, presig = taken
        sigma = sign_share(presig, message_hash)
        return encode_ok(
            sigma=sigma.to_bytes(32, "big").hex(), public=public_to_bytes(presig.public).hex()
        )

    # -- refresh -----------------------------------------------------------------------
    def _refresh_start(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        share, key_signers = self._ecdsa_share(key_id)
        parties, indices, me = self._session_signers(body, share, key_signers)
        if indices != sorted(share.public_shares):
            raise InvalidParameters("a refresh needs every signer of the key")
        sid = _b(body["sessionId"])
        machine = KeyRefresh(sid, share, self.store)

        def finish(new: KeyShare) -> dict[str, Any]:
            payload = json.dumps(
                {"sessionId": sid.hex(), "record": share_to_record(new, key_signers).hex()}
            ).encode()
            self.store.put_secret(_NEXT + key_id, payload)
            return {"publicKey": new.public_key.encode().hex(), "verifyingShares": _verifying(new)}

        return self._open_session(
            body, "refresh", key_id, machine, parties, me, key_signers, finish
        )

    def _refresh_commit(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        sid = str(body["sessionId"])
        raw = self.store.get_secret(_NEXT + key_id)
        if raw is None:
            raise NotFound(f"signer {self.signer_id} has no refreshed share of {key_id}")
        pending = json.loads(raw)
        if pending["sessionId"] != sid:
            raise Conflict("the refreshed share comes from another session")
        current = self.store.get_share(key_id)
        new_record = bytes.fromhex(pending["record"])
        share_from_record(new_record)  # re-checked before it replaces the old share
        self.store.put_secret(_PREVIOUS + key_id, current.record)
        self.store.replace_share(key_id, new_record)
        self.store.delete_secret(_NEXT + key_id)
        # Presignatures of the old shares are dropped: nothing made before the
        # refresh outlives it.
        self.ecdsa.pool.discard_key(key_id)
        return encode_ok()

    def _refresh_rollback(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        previous = self.store.get_secret(_PREVIOUS + key_id)
        if previous is not None:
            self.store.replace_share(key_id, previous)
            self.store.delete_secret(_PREVIOUS + key_id)
            self.ecdsa.pool.discard_key(key_id)
        self.store.delete_secret(_NEXT + key_id)
        return encode_ok(restored=previous is not None)

    def _refresh_finalize(self, body: dict[str, Any]) -> bytes:
        self._drop_refresh_state(str(body["keyId"]))
        return encode_ok()

    def _drop_refresh_state(self, key_id: str) -> None:
        """Erase a refresh's kept shares of the key (the previous and the next)."""
        self.store.delete_secret(_PREVIOUS + key_id)
        self.store.delete_secret(_NEXT + key_id)

    # -- import / export helpers ---------------------------------------------------------
    @staticmethod
    def _ecdsa_import_record(
        index: int,
        value: int,
        public_key: bytes,
        public_shares: dict[int, bytes],
        threshold: int,
        signer_ids: list[str],
    ) -> bytes:
        g = SECP256K1
        share = KeyShare(
            index,
            value,
            g.decode_point(public_key),
            {i: g.decode_point(p) for i, p in public_shares.items()},
            threshold,
        )
        share.check_consistent()
        return share_to_record(share, signer_ids)
