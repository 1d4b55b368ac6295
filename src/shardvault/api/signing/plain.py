"""The plain signature kinds: ``Hash`` (every key, a 32-byte digest, for Schnorr with
an optional Taproot merkle root; an EdDSA key signs the 32 bytes as its message) and
``Message`` (EdDSA keys, any bytes). Chain-specific kinds are ``chains.py``'s.
"""

from __future__ import annotations

from typing import Any

from shardvault.api.encoding import hex0x, parse_hex0x
from shardvault.api.errors import ApiError
from shardvault.api.schemas import SignatureRequest
from shardvault.api.signing.jobs import SigningJob, plain_result
from shardvault.chains.networks import Network, check_scheme

__all__ = ["prepare_plain_job"]

#: Which plain signature kinds each scheme takes (Dfns: every scheme signs a Hash;
#: EdDSA also a Message, its bytes as they are).
_KINDS = {"EdDSA": ("Message", "Hash"), "Schnorr": ("Hash",), "ECDSA": ("Hash",)}


def prepare_plain_job(
    scheme: str, curve: str, body: SignatureRequest, network: Network | None
) -> SigningJob:
    """Validate a ``Hash`` or ``Message`` request for a key of ``scheme``/``curve``
    (on ``network``, if named); raises :class:`ApiError` (400)."""
    if network is not None:
        check_scheme(network, scheme, curve)
    wanted = _KINDS.get(scheme, ())
    if body.kind not in wanted:
        raise ApiError(
            400,
            "InvalidSignatureKind",
            f"{scheme} keys sign kind {' or '.join(wanted)}, not {body.kind}",
            details={"scheme": scheme, "kind": body.kind},
        )
    normalized: dict[str, Any] = {"kind": body.kind}
    if network is not None:
        normalized["network"] = network.name
    if body.blockchain_kind is not None:
        normalized["blockchainKind"] = body.blockchain_kind
    root: bytes | None = None
    if body.kind == "Hash":
        assert body.hash is not None
        payload = parse_hex0x(body.hash, "hash", size=32)
        normalized["hash"] = hex0x(payload)
        if body.taproot_merkle_root is not None:
            if scheme != "Schnorr":
                raise ApiError(
                    400,
                    "InvalidRequest",
                    "taprootMerkleRoot only applies to Schnorr keys",
                    details={"field": "taprootMerkleRoot"},
                )
            if body.taproot_merkle_root == "":
                root = b""  # BIP 86: key-path only, no script tree
            else:
                root = parse_hex0x(body.taproot_merkle_root, "taprootMerkleRoot", size=32)
            normalized["taprootMerkleRoot"] = hex0x(root) if root else ""
    else:
        assert isinstance(body.message, str)
        payload = parse_hex0x(body.message, "message")
        normalized["message"] = hex0x(payload)
    if body.external_id is not None:
        normalized["externalId"] = body.external_id
    job = SigningJob(normalized)
    job.single(payload, plain_result, root)
    return job
