"""The client-side halves of key import and export (docs/architecture.md, "Key
import" and "Key export"): the private key is split and sealed to the signers, or
opened and recombined, here in the caller's process; the server sees only sealed
shares. Python cannot wipe memory; these drop their references to secrets as soon
as they can.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.errors import ShardvaultError
from shardvault.protocols.key_export import open_export_shares
from shardvault.protocols.key_import import ImportContext, seal_import_shares
from shardvault.protocols.key_transfer import MIN_THRESHOLD
from shardvault.protocols.registry import canonical_protocol, scheme_for_protocol
from shardvault.sdk._http import Requester, parse, require_bytes, segment
from shardvault.sdk._keymaterial import (
    Ed25519Format,
    private_key_to_scalar,
    scalar_to_private_key,
)
from shardvault.sdk._signers import list_clusters, select_cluster, verify_signers
from shardvault.sdk.encoding import b64url_decode, b64url_encode
from shardvault.sdk.errors import InvalidArgument, InvalidResponse
from shardvault.sdk.models import ExportedKey, Key

__all__ = ["export_private_key", "fetch_import_context", "import_private_key"]


def import_private_key(
    client: Requester,
    private_key: bytes,
    *,
    curve: str,
    protocol: str,
    min_signers: int,
    name: str | None = None,
    ed25519_format: Ed25519Format | None = None,
    cluster_id: str | None = None,
) -> Key:
    """Import ``private_key`` (``POST /keys/import``): check the signers' published
    keys, split the signing scalar ``min_signers``-of-n with Feldman commitments,
    seal each share to its signer with HPKE, post the sealed shares and check that
    the server reports the imported public key. See :meth:`KeysApi.import_key`."""
    if isinstance(protocol, str):
        protocol = canonical_protocol(protocol)
    if scheme_for_protocol(protocol, curve) is None:
        raise InvalidArgument(f"unsupported protocol/curve combination {protocol}/{curve}")
    if isinstance(min_signers, bool) or not isinstance(min_signers, int):
        raise InvalidArgument("min_signers must be an int")
    if min_signers < MIN_THRESHOLD:
        raise InvalidArgument(
            f"min_signers must be at least {MIN_THRESHOLD}: with {min_signers} every signer "
            "would hold the whole key"
        )
    clusters = list_clusters(client)
    cluster = select_cluster(clusters, cluster_id)
    signers = verify_signers(cluster.signers, client.pinned_identity_keys)
    if min_signers > len(signers):
        raise InvalidArgument(
            f"min_signers {min_signers} exceeds the {len(signers)} signers of the cluster"
        )
    raw = require_bytes(private_key, "private_key")
    secret = private_key_to_scalar(raw, curve=curve, ed25519_format=ed25519_format)
    del raw
    try:
        # A fresh one-time context per import (bad arguments are refused before this).
        context = fetch_import_context(client)
        group_public_key, sealed = seal_import_shares(
            secret,
            context=context,
            curve=curve,
            protocol=protocol,
            min_signers=min_signers,
            signers=[(s.signer_id, s.encryption_key) for s in signers],
        )
    finally:
        del secret
    body: dict[str, Any] = {
        "curve": curve,
        "protocol": protocol,
        "minSigners": min_signers,
        "encryptedKeyShares": [
            {"signerId": sid, "encryptedKeyShare": b64url_encode(blob)} for sid, blob in sealed
        ],
        "importId": b64url_encode(context.import_id),
    }
    if name is not None:
        body["name"] = name
    key = parse(Key, client.request("POST", "/keys/import", json_body=body), "key")
    if key.public_key_bytes != bytes(group_public_key):
        raise InvalidResponse(
            f"the server reports public key {key.public_key} for imported key {key.id}, "
            f"but the imported key's public key is {bytes(group_public_key).hex()}"
        )
    return key


def fetch_import_context(client: Requester) -> ImportContext:
    """``POST /keys/import/context``: the one-time context to seal one import under."""
    data = client.request("POST", "/keys/import/context", json_body={})
    if not isinstance(data, dict):
        raise InvalidResponse("POST /keys/import/context: expected an object")
    try:
        import_id = b64url_decode(str(data["importId"]), what="importId")
        issued = datetime.fromisoformat(str(data["issuedAt"]).replace("Z", "+00:00"))
        if issued.tzinfo is None or issued.microsecond:
            raise ValueError("issuedAt must be whole seconds, UTC")
        return ImportContext(import_id, int(issued.timestamp()))
    except (KeyError, ValueError, ShardvaultError) as exc:
        raise InvalidResponse(f"POST /keys/import/context: bad context ({exc})") from None


def export_private_key(client: Requester, key: Key) -> bytes:
    """Export ``key`` (``POST /keys/{keyId}/export``) to a one-time HPKE key, check
    every share against its signer's signed public share, recombine and check the
    result against the key's public key. See :meth:`KeysApi.export_key`."""
    clusters = list_clusters(client)
    by_id = {s.signer_id: s for c in clusters for s in c.signers}
    missing = [sid for sid in key.signers if sid not in by_id]
    if missing:
        raise InvalidResponse(
            f"key {key.id} is held by signers not listed in GET /signers: " + ", ".join(missing)
        )
    verified = verify_signers([by_id[sid] for sid in key.signers], client.pinned_identity_keys)
    key_pair = HpkeKeyPair.generate()
    body = {
        "encryptionKey": b64url_encode(key_pair.public_key),
        "supportedSchemes": [{"protocol": key.protocol, "curve": key.curve}],
    }
    data = client.request("POST", f"/keys/{segment(key.id, 'key_id')}/export", json_body=body)
    exported = parse(ExportedKey, data, "export")
    if (
        exported.public_key_bytes != key.public_key_bytes
        or exported.curve != key.curve
        or exported.protocol != key.protocol
        or exported.min_signers != key.min_signers
    ):
        raise InvalidResponse(
            f"the export of {key.id} describes another key than GET /keys/{key.id}"
        )
    try:
        shares = [(s.signer_id, s.encrypted_key_share_bytes) for s in exported.encrypted_key_shares]
    except InvalidArgument as exc:
        raise InvalidResponse(exc.message) from None
    secret = open_export_shares(
        shares,
        signer_identity_keys={s.signer_id: s.identity_key for s in verified},
        key_pair=key_pair,
        key_id=key.id,
        curve=key.curve,
        protocol=key.protocol,
        group_public_key=key.public_key_bytes,
        min_signers=key.min_signers,
        signer_ids=list(key.signers),
    )
    del key_pair
    try:
        return scalar_to_private_key(key.curve, secret)
    finally:
        del secret
