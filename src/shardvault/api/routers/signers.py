"""``GET /signers``: the cluster's signers with their identity and encryption keys
(what a client seals import shares to and checks export shares against), and the
fingerprint of the cluster roster they signed (docs/security.md item 30)."""

from __future__ import annotations

from fastapi import APIRouter

from shardvault.api.dependencies import AUTHENTICATED, ERROR_RESPONSES, Backend
from shardvault.api.encoding import b64url_encode
from shardvault.api.permissions import require_permission
from shardvault.api.schemas import ClusterOut, SignerOut, SignersOut

__all__ = ["router"]

router = APIRouter(
    prefix="/signers", tags=["signers"], dependencies=AUTHENTICATED, responses=ERROR_RESPONSES
)


@router.get("", response_model=SignersOut, dependencies=[require_permission("Signers:ListSigners")])
async def list_signers(backend: Backend) -> SignersOut:
    signers = await backend.list_signers()
    roster = backend.roster
    return SignersOut(
        clusters=[
            ClusterOut(
                cluster_id=backend.cluster_id,
                signers=[
                    SignerOut(
                        signer_id=s.signer_id,
                        encryption_key=b64url_encode(s.encryption_key),
                        identity_key=b64url_encode(s.identity_key),
                        encryption_key_signature=b64url_encode(s.encryption_key_signature),
                    )
                    for s in signers
                ],
                roster_fingerprint=None if roster is None else roster.fingerprint,
            )
        ]
    )
