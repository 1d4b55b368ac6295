"""A key as the API keeps it: the row (:class:`KeyRow`, public metadata) and the
record the back end works on (:class:`KeyRecord`), and the steps the keys and wallets
routes share: a new key by DKG, checked and turned into a row; discarding the shares
of a key that could not be stored; refusing archived or exported keys; checking what
a refresh returned before it is stored.
"""

from __future__ import annotations

import logging

import anyio

from shardvault.api.audit import AuditContext
from shardvault.api.errors import ApiError
from shardvault.api.repository import ApiRepository, in_thread
from shardvault.coordinator.backend import KeyRecord, SigningBackend
from shardvault.crypto.groups import ED25519, SECP256K1, Group, Point
from shardvault.crypto.shamir import public_shares_consistent
from shardvault.db.ids import new_id
from shardvault.db.models import KEY_ACTIVE, KeyRow, utcnow
from shardvault.errors import InvalidEncoding, NotFound
from shardvault.protocols.key_transfer import MIN_THRESHOLD
from shardvault.protocols.registry import PROTOCOLS, protocol_for_scheme

__all__ = [
    "discard_key",
    "erase_shares",
    "generate_key",
    "key_record",
    "refreshed_record_is_consistent",
    "require_usable",
    "row_from_record",
    "supported_pairs",
]

logger = logging.getLogger("shardvault.api")

#: Public key sizes per curve (Ed25519: 32 bytes; secp256k1: 33-byte compressed).
_PUBLIC_KEY_SIZES = {"ed25519": 32, "secp256k1": 33}
_GROUPS: dict[str, Group] = {"ed25519": ED25519, "secp256k1": SECP256K1}


def supported_pairs() -> list[dict[str, str]]:
    """Every (protocol, curve, scheme) the vault has keys of, for error details."""
    return [{"protocol": p, "curve": c, "scheme": s} for (p, c), s in PROTOCOLS.items()]


def key_record(key: KeyRow) -> KeyRecord:
    """What the back end needs to know of a stored key."""
    return KeyRecord(
        key_id=key.id,
        protocol=key.protocol,
        curve=key.curve,
        public_key=bytes.fromhex(key.public_key),
        min_signers=key.min_signers,
        signer_ids=tuple(key.signer_ids),
        verifying_shares={sid: bytes.fromhex(v) for sid, v in key.verifying_shares.items()},
    )


def row_from_record(
    record: KeyRecord,
    *,
    expected: tuple[str, str, str, int],
    org_id: str,
    scheme: str,
    name: str | None,
    imported: bool,
    exportable: bool = True,
) -> KeyRow:
    """The row to store for what the back end created; refuses inconsistent records."""
    got = (record.key_id, record.protocol, record.curve, record.min_signers)
    size = _PUBLIC_KEY_SIZES.get(record.curve)
    if got != expected or size is None or len(record.public_key) != size:
        raise RuntimeError("signing back end returned a key record that does not match")
    if len(set(record.signer_ids)) != len(record.signer_ids) or not (
        1 <= record.min_signers <= len(record.signer_ids)
    ):
        raise RuntimeError("signing back end returned an inconsistent signer set")
    return KeyRow(
        id=record.key_id,
        org_id=org_id,
        scheme=scheme,
        curve=record.curve,
        protocol=record.protocol,
        public_key=record.public_key.hex(),
        name=name,
        status=KEY_ACTIVE,
        imported=imported,
        exported=False,
        exportable=exportable,
        date_created=utcnow(),
        shares_erased=False,
        min_signers=record.min_signers,
        signer_ids=list(record.signer_ids),
        verifying_shares={sid: v.hex() for sid, v in record.verifying_shares.items()},
    )


async def erase_shares(
    backend: SigningBackend, repository: ApiRepository, key: KeyRow, audit: AuditContext
) -> KeyRow:
    """Erase an Archived key's shares on the signers (a signer that no longer holds
    them counts as done) and record that they are erased (audited ``Keys:Delete``
    Success). Any other failure is raised and the key stays Archived with
    ``shares_erased`` false, to be retried."""
    try:
        await backend.delete_key(key_record(key))
    except NotFound:
        pass  # the signers no longer hold it
    return await in_thread(repository.mark_shares_erased, key.org_id, key.id, audit=audit)


async def discard_key(backend: SigningBackend, record: KeyRecord) -> None:
    """Best effort: the API could not store a key the signers created."""
    with anyio.CancelScope(shield=True):
        try:
            await backend.delete_key(record)
        except Exception:
            logger.warning("could not erase the shares of unstored key %s", record.key_id)


async def generate_key(
    backend: SigningBackend,
    org_id: str,
    scheme: str,
    curve: str,
    name: str | None,
    *,
    min_signers: int,
) -> tuple[KeyRecord, KeyRow]:
    """A new key by DKG and the row to store for it (not stored yet: on any failure to
    store it the caller must :func:`discard_key` the record)."""
    protocol = protocol_for_scheme(scheme, curve)
    if protocol is None:
        raise ApiError(
            400,
            "UnsupportedScheme",
            f"unsupported scheme/curve combination {scheme}/{curve}",
            details={"supported": supported_pairs()},
        )
    if min_signers < MIN_THRESHOLD:
        raise ApiError(
            400,
            "InvalidMinSigners",
            f"minSigners must be at least {MIN_THRESHOLD}: with minSigners={min_signers} "
            "every signer would hold the whole key (the server's threshold setting)",
            details={"field": "minSigners"},
        )
    key_id = new_id("key")
    expected = (key_id, protocol, curve, min_signers)
    record = await backend.generate_key(key_id, protocol, curve, min_signers)
    try:
        row = row_from_record(
            record, expected=expected, org_id=org_id, scheme=scheme, name=name, imported=False
        )
    except BaseException:
        await discard_key(backend, record)
        raise
    logger.info("key %s generated (%s/%s)", key_id, protocol, curve)
    return record, row


def require_usable(key: KeyRow, *, sign_after_export: bool = False) -> None:
    """409 for a key that is archived or was exported (unless the org setting
    ``signAfterExport`` lets exported keys sign on)."""
    if key.status != KEY_ACTIVE:
        raise ApiError(409, "KeyArchived", f"key {key.id} is archived")
    if key.exported and not sign_after_export:
        raise ApiError(409, "KeyExported", f"key {key.id} was exported")


def _verifying_shares_consistent(
    curve: str,
    public_key: bytes,
    min_signers: int,
    signer_ids: tuple[str, ...],
    shares: dict[str, bytes],
) -> bool:
    """Whether verifying shares (signer ``signer_ids[i]`` holds index i + 1) lie on one
    polynomial of degree ``min_signers - 1`` through the public key."""
    group = _GROUPS.get(curve)
    if group is None:
        return False
    try:
        points: dict[int, Point] = {
            signer_ids.index(sid) + 1: group.decode_point(v) for sid, v in shares.items()
        }
        group_key = group.decode_point(public_key)
    except (ValueError, InvalidEncoding):
        return False
    if len(points) < min_signers:
        return False
    return public_shares_consistent(group, group_key, points, min_signers)


def refreshed_record_is_consistent(record: KeyRecord, refreshed: KeyRecord) -> bool:
    """Whether a refresh of ``record`` kept the key's identity (id, protocol, curve,
    threshold, signers, the set of verifying shares) and its new verifying shares lie
    on one polynomial through the (unchanged) public key."""
    shares = dict(refreshed.verifying_shares)
    return (
        (refreshed.key_id, refreshed.protocol, refreshed.curve, refreshed.min_signers)
        == (record.key_id, record.protocol, record.curve, record.min_signers)
        and tuple(refreshed.signer_ids) == record.signer_ids
        and set(shares) == set(record.verifying_shares)
        and _verifying_shares_consistent(
            record.curve, record.public_key, record.min_signers, record.signer_ids, shares
        )
    )
