"""A signer node's FROST operations (coordinator requests, all signed):

``dkg.start``   (protocols FROST, FROST_BITCOIN) distributed key generation; the
                share is stored when the session finishes
``sign.start``  one signing session on an Active key; the nonces live only in the
                session's state machine and are erased after round 2
"""

from __future__ import annotations

from typing import Any

from shardvault.errors import Conflict
from shardvault.protocols.frost.ciphersuites import suite_for
from shardvault.protocols.frost.dkg import FrostDkg
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage
from shardvault.protocols.frost.session import FrostSigner
from shardvault.signer.context import Operation, SignerContext
from shardvault.signer.frost_keys import key_from_record, key_to_record
from shardvault.signer.sessions import SessionHost
from shardvault.transport.rpc import hex_arg

__all__ = ["FrostHandlers"]


class FrostHandlers:
    def __init__(self, ctx: SignerContext, sessions: SessionHost) -> None:
        self._ctx = ctx
        self._sessions = sessions

    def ops(self) -> dict[str, Operation]:
        """The operations handled here (``dkg.start`` is dispatched by protocol)."""
        return {"sign.start": self.sign_start}

    def dkg_start(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        key_id = str(body["keyId"])
        protocol, curve = str(body["protocol"]), str(body["curve"])
        suite = suite_for(protocol, curve)
        ctx.check_new_key(key_id)
        parties = self._sessions.parties(body)
        sid = hex_arg(body["sessionId"])
        ids = parties.signer_ids
        machine = FrostDkg(suite, sid, parties.me, int(body["minSigners"]), len(ids), ctx.store)

        def finish(result: tuple[KeyPackage, PublicKeyPackage]) -> dict[str, Any]:
            kp, public = result
            ctx.store.put_share(
                key_id,
                protocol,
                curve,
                key_to_record(kp, public, ids),
                public_key=public.group_public_key.encode(),
            )
            return {
                "publicKey": public.group_public_key.encode().hex(),
                "verifyingShares": {
                    str(i): y.encode().hex() for i, y in public.verifying_shares.items()
                },
            }

        return self._sessions.open(body, machine, parties, finish)

    def sign_start(self, body: dict[str, Any]) -> bytes:
        ctx = self._ctx
        key_id = str(body["keyId"])
        row = ctx.store.get_share(key_id)
        if row.status != "Active":
            raise Conflict(
                f"key {key_id} is {row.status} on signer {ctx.signer_id}; it does not sign"
            )
        kp, _public, signer_ids = key_from_record(suite_for(row.protocol, row.curve), row.record)
        parties = self._sessions.key_parties(body, signer_ids, kp.identifier)
        root = body.get("merkleRoot")
        machine = FrostSigner(
            kp,
            hex_arg(body["sessionId"]),
            hex_arg(body["message"]),
            ctx.store,
            merkle_root=None if root is None else hex_arg(root),
        )
        return self._sessions.open(body, machine, parties, lambda _share: {})
