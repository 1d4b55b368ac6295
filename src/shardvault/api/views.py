"""The API's answers built from database rows: keys, signatures, wallets and the
network table, in the response models of ``schemas.py``."""

from __future__ import annotations

import base64

from shardvault.api.encoding import hex0x, iso_utc
from shardvault.api.schemas import (
    KeyDetailOut,
    KeyOut,
    KeyWalletOut,
    NetworkList,
    NetworkOut,
    RequesterOut,
    SchemeCurveOut,
    SignatureOut,
    SignatureStatus,
    SignatureValue,
    WalletOut,
    WalletSigningKeyOut,
)
from shardvault.chains.networks import NETWORKS
from shardvault.db.models import (
    KEY_ARCHIVED,
    SIG_EXECUTING,
    SIG_FAILED,
    SIG_PENDING,
    SIG_REJECTED,
    SIG_SIGNED,
    KeyRow,
    SignatureRow,
    WalletRow,
)

__all__ = ["key_detail_out", "key_out", "networks_out", "signature_out", "wallet_out"]

_SIGNATURE_STATUSES: dict[str, SignatureStatus] = {
    SIG_PENDING: "Pending",
    SIG_EXECUTING: "Executing",
    SIG_SIGNED: "Signed",
    SIG_FAILED: "Failed",
    SIG_REJECTED: "Rejected",
}

#: Kinds whose ``signedData`` is base64 (the BIP 322 simple signature's own encoding);
#: others, the PSBT included (as Dfns returns it), are 0x-hex.
_BASE64_SIGNED_DATA = frozenset({"Bip322"})


def key_detail_out(key: KeyRow, wallets: list[WalletRow]) -> KeyDetailOut:
    """``GET /keys/{keyId}``: the key with its wallets ``[{id, network}]``."""
    return KeyDetailOut(
        **key_out(key).model_dump(),
        wallets=[KeyWalletOut(id=w.id, network=w.network) for w in wallets],
    )


def key_out(key: KeyRow) -> KeyOut:
    return KeyOut(
        id=key.id,
        scheme=key.scheme,
        curve=key.curve,
        public_key=key.public_key,
        name=key.name,
        status="Archived" if key.status == KEY_ARCHIVED else "Active",
        imported=key.imported,
        exported=key.exported,
        date_exported=iso_utc(key.date_exported) if key.date_exported else None,
        exportable=key.exportable,
        date_created=iso_utc(key.date_created),
        protocol=key.protocol,
        min_signers=key.min_signers,
        signers=list(key.signer_ids),
    )


def signature_out(sig: SignatureRow) -> SignatureOut:
    value = None
    if sig.status == SIG_SIGNED and sig.sig_encoded is not None:
        value = SignatureValue(
            r=hex0x(sig.sig_r or b""),
            s=hex0x(sig.sig_s or b""),
            recid=sig.sig_recid,
            encoded=hex0x(sig.sig_encoded),
        )
    reason = None
    if sig.status == SIG_FAILED:
        reason = f"{sig.error_code}: {sig.error_message}" if sig.error_code else "failed"
    elif sig.status == SIG_REJECTED:
        reason = f"{sig.error_code}: {sig.error_message}" if sig.error_code else "rejected"
    status = _SIGNATURE_STATUSES.get(sig.status, "Executing")
    kind = sig.request_body.get("kind")
    signed_data = None
    if sig.status == SIG_SIGNED and sig.signed_data is not None:
        signed_data = (
            base64.b64encode(sig.signed_data).decode("ascii")
            if kind in _BASE64_SIGNED_DATA
            else hex0x(sig.signed_data)
        )
    details = sig.result_details or {}
    requester = None
    if sig.requester_user_id is not None:
        requester = RequesterOut(user_id=sig.requester_user_id, token_id=sig.requester_token_id)
    # Without approval policies every request is resolved when it is made; a row that
    # records its own resolution (policies) says when.
    resolved = sig.date_policy_resolved or sig.date_requested
    return SignatureOut(
        id=sig.id,
        key_id=sig.key_id,
        wallet_id=sig.wallet_id,
        network=sig.request_body.get("network"),
        requester=requester,
        status=status,
        approval_id=sig.approval_id,
        request_body=dict(sig.request_body),
        signature=value,
        signed_data=signed_data,
        signatures=[SignatureValue(**v) for v in details["signatures"]]
        if sig.status == SIG_SIGNED and details.get("signatures")
        else None,
        signed_inputs=details.get("signedInputs"),
        skipped_inputs=details.get("skippedInputs"),
        reason=reason,
        external_id=sig.request_body.get("externalId"),
        date_requested=iso_utc(sig.date_requested),
        date_policy_resolved=iso_utc(resolved) if status != "Pending" else None,
        date_signed=iso_utc(sig.date_signed) if sig.date_signed else None,
    )


def wallet_out(wallet: WalletRow, key: KeyRow) -> WalletOut:
    return WalletOut(
        id=wallet.id,
        network=wallet.network,
        address=wallet.address,
        signing_key=WalletSigningKeyOut(
            id=key.id, scheme=key.scheme, curve=key.curve, public_key=key.public_key
        ),
        status="Archived" if key.status == KEY_ARCHIVED else "Active",
        name=wallet.name,
        tags=list(wallet.tags),
        external_id=wallet.external_id,
        date_created=iso_utc(wallet.date_created),
    )


def networks_out() -> NetworkList:
    return NetworkList(
        items=[
            NetworkOut(
                network=n.name,
                family=n.family,
                chain_id=n.chain_id,
                allowed_schemes=[
                    SchemeCurveOut(scheme=a.scheme, curve=a.curve) for a in n.allowed_schemes
                ],
                default_scheme=SchemeCurveOut(
                    scheme=n.default_scheme.scheme, curve=n.default_scheme.curve
                ),
            )
            for n in NETWORKS.values()
        ]
    )
