"""A signer node's CGGMP24 (threshold ECDSA) operations (coordinator requests, all
signed; see ``SignerNode.handle``):

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

A key's shares are refreshed only by a group epoch (``signer.epoch``): a share-only
refresh would leave the Paillier keys, and so the key, to an attacker across time.
"""

from __future__ import annotations

from typing import Any

from shardvault.errors import Conflict, Forbidden, InvalidParameters, NotFound
from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoGeneration
from shardvault.protocols.cggmp.binding import NO_DERIVATION, presignature_binding
from shardvault.protocols.cggmp.keygen import KeyGeneration
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.cggmp.presign import Presigning
from shardvault.protocols.cggmp.presignature import Presignature
from shardvault.protocols.cggmp.presignature_codec import public_to_bytes
from shardvault.protocols.cggmp.sign import sign_share
from shardvault.protocols.registry import ECDSA_PROTOCOL
from shardvault.signer.context import Operation, SignerContext
from shardvault.signer.ecdsa import share_from_record, share_to_record
from shardvault.signer.sessions import SessionHost
from shardvault.transport.rpc import encode_ok, hex_arg

__all__ = ["EcdsaHandlers"]

_CURVE = "secp256k1"


def _verifying(share: KeyShare) -> dict[str, str]:
    return {str(i): p.encode().hex() for i, p in sorted(share.public_shares.items())}


class EcdsaHandlers:
    def __init__(self, ctx: SignerContext, sessions: SessionHost) -> None:
        self._ctx = ctx
        self._sessions = sessions

    def ops(self) -> dict[str, Operation]:
        """The operations handled here (``dkg.start`` for CGGMP24 is dispatched by
        protocol to ``keygen_start``)."""
        return {
            "ecdsa.status": self.status,
            "aux.start": self.aux_start,
            "aux.activate": self.aux_activate,
            "presign.start": self.presign_start,
            "presign.inventory": self.presign_inventory,
            "sign.ecdsa": self.sign,
        }

    # -- aux info ----------------------------------------------------------------------
    def status(self, body: dict[str, Any]) -> bytes:
        return encode_ok(**self._ctx.ecdsa.status())

    def aux_start(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        parties = self._sessions.parties(body)
        ids = parties.signer_ids
        if ids != sorted(ids) or len(ids) < 2:
            raise InvalidParameters("aux info runs among all signers, in signer-id order")
        primes = ctx.ecdsa.primes()
        sid = hex_arg(body["sessionId"])
        machine = AuxInfoGeneration(sid, parties.me, len(ids), ctx.store, primes=primes)

        def finish(aux: AuxInfo) -> dict[str, Any]:
            return {"auxDigest": ctx.ecdsa.put_pending(aux, ids).hex()}

        return self._sessions.open(body, machine, parties, finish)

    def aux_activate(self, body: dict[str, Any]) -> bytes:
        self._ctx.ecdsa.activate(hex_arg(body["digest"]))
        return encode_ok()

    # -- keys --------------------------------------------------------------------------
    def keygen_start(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        key_id = str(body["keyId"])
        ctx.check_new_key(key_id)
        parties = self._sessions.parties(body)
        ids = parties.signer_ids
        ctx.ecdsa.aux(ids)  # keys exist only once the group's aux info does
        sid = hex_arg(body["sessionId"])
        machine = KeyGeneration(sid, parties.me, int(body["minSigners"]), len(ids), ctx.store)

        def finish(share: KeyShare) -> dict[str, Any]:
            ctx.store.put_share(
                key_id,
                ECDSA_PROTOCOL,
                _CURVE,
                share_to_record(share, ids),
                public_key=share.public_key.encode(),
            )
            return {
                "publicKey": share.public_key.encode().hex(),
                "verifyingShares": _verifying(share),
            }

        return self._sessions.open(body, machine, parties, finish)

    def _active_share(self, key_id: str) -> tuple[KeyShare, list[str]]:
        """The key's Active CGGMP24 share and signer ids."""
        row = self._ctx.store.get_share(key_id)
        if row.protocol != ECDSA_PROTOCOL:
            raise InvalidParameters(f"key {key_id} is not a {ECDSA_PROTOCOL} key")
        if row.status != "Active":
            raise Conflict(
                f"key {key_id} is {row.status} on signer {self._ctx.signer_id}; it does not sign"
            )
        return share_from_record(row.record)

    # -- presigning and signing --------------------------------------------------------
    def presign_start(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        key_id = str(body["keyId"])
        share, key_signers = self._active_share(key_id)
        parties = self._sessions.key_parties(body, key_signers, share.index)
        indices = parties.indices
        aux = ctx.ecdsa.aux(sorted(key_signers))
        binding = presignature_binding(key_id, share.public_key.encode(), indices, NO_DERIVATION)
        sid = hex_arg(body["sessionId"])
        machine = Presigning(sid, parties.me, indices, share, aux, ctx.store)

        def finish(presig: Presignature) -> dict[str, Any]:
            presig_id = ctx.ecdsa.file_presignature(
                key_id, binding, presig, sid.hex(), sorted(key_signers), aux
            )
            return {"presigId": presig_id}

        return self._sessions.open(body, machine, parties, finish)

    def presign_inventory(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        keys: dict[str, dict[str, Any]] = {}
        for key_id in ctx.store.key_ids():
            row = ctx.store.get_share(key_id)
            if row.protocol != ECDSA_PROTOCOL or row.status != "Active":
                continue
            share, signer_ids = share_from_record(row.record)
            available = ctx.ecdsa.pool.available(key_id)
            keys[key_id] = {
                "publicKey": share.public_key.encode().hex(),
                "threshold": share.threshold,
                "signerIds": signer_ids,
                "presigs": {b.hex(): ids for b, ids in available.items()},
            }
        return encode_ok(keys=keys)

    def sign(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        key_id = str(body["keyId"])
        share, _key_signers = self._active_share(key_id)
        indices = sorted(int(i) for i in body["signers"])
        if share.index not in indices:
            raise Forbidden("this signer is not in the signing set")
        message_hash = hex_arg(body["hash"])
        if len(message_hash) != 32:
            raise InvalidParameters("ECDSA signs a 32-byte hash")
        binding = presignature_binding(key_id, share.public_key.encode(), indices, NO_DERIVATION)
        # Durably consumed (fsynced) before the partial signature is computed or sent.
        taken = ctx.ecdsa.pool.take(key_id, binding, str(body["presigId"]))
        if taken is None:
            raise NotFound(
                f"signer {ctx.signer_id} has no available presignature {body['presigId']} "
                f"for key {key_id} and these signers"
            )
        _presig_id, presig = taken
        sigma = sign_share(presig, message_hash)
        return encode_ok(
            sigma=sigma.to_bytes(32, "big").hex(), public=public_to_bytes(presig.public).hex()
        )
