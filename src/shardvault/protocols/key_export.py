"""Key export: the format of docs/import-export-format.md section 4, as pure functions.

Each signer seals ``index || share`` to the requester's one-time HPKE key and signs,
with its Ed25519 identity key, a statement naming the key, its index, its public
share, the requester's key and the sealed box (:func:`seal_export_share`, sections 4.2
to 4.4). The requester checks every share, names any signer at fault, recombines and
checks the result against the group public key (:func:`open_export_shares`, section
4.5).

Nothing here does I/O; the HPKE ephemeral keys come from HPKE itself; no secret is put
in a ``repr`` or an error.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb
from typing import Final

import nacl.exceptions
import nacl.signing

from shardvault.crypto import hpke
from shardvault.crypto.codec import ByteReader
from shardvault.crypto.groups import Group, Point, group_by_name
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.crypto.shamir import (
    MAX_PARTICIPANTS,
    interpolate_secret,
    predict_public_share,
    public_shares_consistent,
)
from shardvault.errors import (
    DecryptionError,
    InvalidEncoding,
    InvalidParameters,
    SignerMisbehaved,
    SignersUnavailable,
)
from shardvault.protocols.key_transfer import (
    FORMAT_VERSION,
    SCALAR_SIZE,
    check_id,
    check_min_signers,
    check_protocol,
    check_signer_ids,
    length_prefixed,
)

__all__ = [
    "EXPORT_INFO",
    "EXPORT_MAGIC",
    "EXPORT_STATEMENT_TAG",
    "export_blob_size",
    "export_signed_message",
    "export_statement",
    "open_export_shares",
    "seal_export_share",
]

EXPORT_INFO: Final = b"shardvault/export/v1"
"""HPKE ``info`` of every export share."""

EXPORT_MAGIC: Final = b"SVKE"
"""First 4 bytes of an export blob."""
EXPORT_STATEMENT_TAG: Final = b"shardvault/export-statement/v1"
"""First bytes of the export statement (domain separation of the identity key's signature)."""

_SIGNATURE_SIZE: Final = 64
_IDENTITY_KEY_SIZE: Final = 32
_TAG_SIZE: Final = 16
_EXPORT_HEADER_FIXED: Final = 6  # magic 4, version 1, index 1
_DECODE_BUDGET: Final = 5000  # max candidate polynomials tried when naming an off share


def export_statement(
    *,
    key_id: str,
    curve: str,
    protocol: str,
    group_public_key: bytes,
    min_signers: int,
    signer_id: str,
    index: int,
    public_share: bytes,
    requester_encryption_key: bytes,
) -> bytes:
    """The export statement: HPKE AAD of the sealed share, and the start of what is signed::

        "shardvault/export-statement/v1" || version(1) || lp(key_id) || lp(curve)
        || lp(protocol) || lp(group public key) || min_signers(1) || lp(signer_id)
        || index(1) || lp(public share) || lp(requester encryption key)

    Inputs are not validated here: :func:`seal_export_share` and
    :func:`open_export_shares` validate them first.
    """
    return b"".join(
        (
            EXPORT_STATEMENT_TAG,
            bytes([FORMAT_VERSION]),
            length_prefixed(key_id.encode("ascii")),
            length_prefixed(curve.encode("ascii")),
            length_prefixed(protocol.encode("ascii")),
            length_prefixed(bytes(group_public_key)),
            bytes([min_signers]),
            length_prefixed(signer_id.encode("ascii")),
            bytes([index]),
            length_prefixed(bytes(public_share)),
            length_prefixed(bytes(requester_encryption_key)),
        )
    )


def export_signed_message(statement: bytes, sealed: bytes) -> bytes:
    """What the identity key signs: ``statement || SHA-256(enc || ciphertext)``.

    Covering the sealed box means nobody but the signer can swap the ciphertext (HPKE
    base mode lets anyone encrypt to the requester), so a bad scalar is provably the
    signer's and blame is never misplaced.
    """
    return bytes(statement) + hashlib.sha256(bytes(sealed)).digest()


def export_blob_size(curve: str) -> int:
    """Exact size of an export blob: 6 + E + 64 header, 32 enc, 33 + 16 ciphertext."""
    e = group_by_name(curve).element_size
    return _EXPORT_HEADER_FIXED + e + _SIGNATURE_SIZE + hpke.ENC_SIZE + 1 + SCALAR_SIZE + _TAG_SIZE


def _check_export_context(
    key_id: object,
    curve: str,
    protocol: str,
    group_public_key: bytes,
    min_signers: object,
    n: int,
) -> tuple[Group, Point, int]:
    group = check_protocol(curve, protocol, InvalidParameters)
    check_id(key_id, "key id", "InvalidKeyId", InvalidParameters)
    t = check_min_signers(min_signers, n, InvalidParameters, minimum=1)
    try:
        gpk = group.decode_point(bytes(group_public_key))
    except (InvalidEncoding, TypeError):
        raise InvalidParameters(
            f"group public key is not a valid {curve} point", code="InvalidPublicKey"
        ) from None
    return group, gpk, t


def seal_export_share(
    *,
    identity_key: nacl.signing.SigningKey,
    signer_id: str,
    key_id: str,
    curve: str,
    protocol: str,
    group_public_key: bytes,
    min_signers: int,
    index: int,
    share_value: int,
    requester_encryption_key: bytes,
    ephemeral_key: HpkeKeyPair | None = None,
) -> bytes:
    """Seal this signer's share to the requester (the signer half of an export).

    ``ephemeral_key`` is for published test vectors ONLY. Raises
    :class:`InvalidParameters` (codes ``UnsupportedProtocol``, ``InvalidKeyId``,
    ``InvalidSignerId``, ``InvalidMinSigners``, ``InvalidPublicKey``, ``InvalidIndex``,
    ``InvalidShareScalar``, ``InvalidEncryptionKey``, ``InvalidIdentityKey``).
    """
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= 255:
        raise InvalidParameters("index must be in 1..255", code="InvalidIndex")
    group, _, t = _check_export_context(
        key_id, curve, protocol, group_public_key, min_signers, MAX_PARTICIPANTS
    )
    check_id(signer_id, "signer id", "InvalidSignerId", InvalidParameters)
    if not isinstance(identity_key, nacl.signing.SigningKey):
        raise InvalidParameters(
            "identity key must be a nacl.signing.SigningKey", code="InvalidIdentityKey"
        )
    if (
        isinstance(share_value, bool)
        or not isinstance(share_value, int)
        or not 0 < share_value < group.order
    ):
        raise InvalidParameters(
            "share must be a nonzero scalar below the order", code="InvalidShareScalar"
        )
    try:
        requester_key = hpke.validate_public_key(requester_encryption_key)
    except (InvalidEncoding, TypeError):
        raise InvalidParameters(
            "requester encryption key is not a valid X25519 public key",
            code="InvalidEncryptionKey",
        ) from None
    public_share = group.mul_base(share_value).encode()
    statement = export_statement(
        key_id=key_id,
        curve=curve,
        protocol=protocol,
        group_public_key=group_public_key,
        min_signers=t,
        signer_id=signer_id,
        index=index,
        public_share=public_share,
        requester_encryption_key=requester_key,
    )
    plaintext = bytes([index]) + group.encode_scalar(share_value)
    if ephemeral_key is None:
        sealed = hpke.seal(requester_key, plaintext, info=EXPORT_INFO, aad=statement)
    else:
        sealed = hpke.seal_with_ephemeral(
            requester_key, plaintext, info=EXPORT_INFO, aad=statement, ephemeral=ephemeral_key
        )
    signature = identity_key.sign(export_signed_message(statement, sealed)).signature
    return EXPORT_MAGIC + bytes([FORMAT_VERSION, index]) + public_share + signature + sealed


class _Bad(Exception):
    """Internal: one signer's share failed ``check``."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(detail)
        self.check = check
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _ExportContext:
    key_id: str
    curve: str
    protocol: str
    group_public_key: bytes
    min_signers: int
    requester_encryption_key: bytes


def _open_one_export_share(
    blob: object,
    *,
    group: Group,
    verify_key: nacl.signing.VerifyKey,
    key_pair: HpkeKeyPair,
    ctx: _ExportContext,
    signer_id: str,
    index: int,
    expected_public_share: bytes | None,
) -> tuple[int, Point]:
    e = group.element_size
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise _Bad("malformed", "share is not bytes")
    data = bytes(blob)
    fields = ByteReader(data)
    if len(data) != export_blob_size(group.name) or fields.take(4) != EXPORT_MAGIC:
        raise _Bad("malformed", "not a shardvault export share of the right size")
    version = fields.byte()
    if version != FORMAT_VERSION:
        raise _Bad("malformed", f"unsupported export share version {version}")
    claimed_index = fields.byte()
    if claimed_index != index:
        raise _Bad("index", f"share claims index {claimed_index}, expected {index}")
    public_share = fields.take(e)
    signature = fields.take(_SIGNATURE_SIZE)
    sealed = fields.rest()
    try:
        public_point = group.decode_point(public_share)
    except InvalidEncoding:
        raise _Bad("public-share", "public share is not a valid point") from None
    statement = export_statement(
        key_id=ctx.key_id,
        curve=ctx.curve,
        protocol=ctx.protocol,
        group_public_key=ctx.group_public_key,
        min_signers=ctx.min_signers,
        signer_id=signer_id,
        index=index,
        public_share=public_share,
        requester_encryption_key=ctx.requester_encryption_key,
    )
    try:
        verify_key.verify(export_signed_message(statement, sealed), signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        raise _Bad("signature", "identity-key signature does not verify") from None
    if expected_public_share is not None and not hmac.compare_digest(
        public_share, expected_public_share
    ):
        raise _Bad("public-share", "public share differs from the key's recorded share")
    try:
        plaintext = hpke.open_sealed(key_pair, sealed, info=EXPORT_INFO, aad=statement)
    except DecryptionError:
        raise _Bad("decryption", "sealed share does not open") from None
    if len(plaintext) != 1 + SCALAR_SIZE:  # pragma: no cover - fixed by the size check
        raise _Bad("malformed", "plaintext has the wrong size")
    if plaintext[0] != index:
        raise _Bad("index", "decrypted index differs")
    try:
        value = group.decode_nonzero_scalar(plaintext[1:])
    except InvalidEncoding:
        raise _Bad("share", "decrypted share is not a canonical nonzero scalar") from None
    if group.mul_base(value) != public_point:
        raise _Bad("share", "decrypted share does not match the signed public share")
    return value, public_point


def _inconsistent_indices(
    group: Group, gpk: Point, shares: Mapping[int, Point], t: int
) -> tuple[int, ...]:
    """Indices whose public share is off the degree-(t-1) polynomial through gpk.

    () when all shares lie on one polynomial with ``f(0)·G = gpk``. Otherwise the shares
    off the unique polynomial that agrees with all but at most (k - t + 1) // 2 of the
    k shares (unique decoding: two such polynomials would agree on t - 1 nonzero points
    plus 0, hence be equal); when there is no such polynomial, or the search would be too
    long, every index (blame cannot be narrowed down).
    """
    if public_shares_consistent(group, gpk, shares, t):
        return ()
    idx = sorted(shares)
    k = len(idx)
    max_errors = (k - t + 1) // 2
    if max_errors == 0 or comb(k, t - 1) > _DECODE_BUDGET:
        return tuple(idx)
    for subset in combinations(idx, t - 1):
        sub = {i: shares[i] for i in subset}
        off = [
            j for j in idx if j not in sub and predict_public_share(group, gpk, sub, j) != shares[j]
        ]
        if len(off) <= max_errors:
            return tuple(off)
    return tuple(idx)


def open_export_shares(
    shares: Sequence[tuple[str, bytes]],
    *,
    signer_identity_keys: Mapping[str, bytes],
    key_pair: HpkeKeyPair,
    key_id: str,
    curve: str,
    protocol: str,
    group_public_key: bytes,
    min_signers: int,
    signer_ids: Sequence[str],
    verifying_shares: Mapping[str, bytes] | None = None,
) -> int:
    """Verify every returned share, name any bad signer, recombine, return the private scalar.

    ``signer_ids`` is the key's whole signer set (it fixes the indices); ``shares`` the
    (signer id, export blob) pairs returned, at least ``min_signers`` of them.
    ``verifying_shares`` (signer id -> encoded public share, e.g. ``KeyRecord.
    verifying_shares``), when given, must match each signer's signed public share.

    Raises :class:`InvalidParameters` for a bad context (codes ``UnsupportedProtocol``,
    ``InvalidKeyId``, ``InvalidSignerId``, ``DuplicateSigner``, ``InvalidMinSigners``,
    ``InvalidPublicKey``, ``MissingIdentityKey``, ``InvalidIdentityKey``,
    ``MissingVerifyingShare``); :class:`SignerMisbehaved` naming every signer at fault,
    with ``check`` one of ``unknown-signer``, ``duplicate-signer``, ``malformed``,
    ``index``, ``public-share``, ``signature``, ``decryption``, ``share``,
    ``consistency``, ``recombination`` (``multiple`` when several checks failed);
    :class:`SignersUnavailable` (code ``NotEnoughShares``) naming the silent signers
    when fewer than ``min_signers`` shares came back.
    """
    ordered = check_signer_ids(signer_ids, InvalidParameters)
    group, gpk, t = _check_export_context(
        key_id, curve, protocol, group_public_key, min_signers, len(ordered)
    )
    index_of = {sid: j + 1 for j, sid in enumerate(ordered)}
    ctx = _ExportContext(key_id, curve, protocol, gpk.encode(), t, key_pair.public_key)

    failures: dict[str, _Bad] = {}
    received: dict[str, bytes] = {}
    for sid, blob in shares:
        if not isinstance(sid, str) or sid not in index_of:
            name = sid if isinstance(sid, str) else repr(sid)
            failures[name] = _Bad("unknown-signer", "not a signer of this key")
        elif sid in received or sid in failures:
            received.pop(sid, None)
            failures[sid] = _Bad("duplicate-signer", "returned more than one share")
        else:
            received[sid] = blob

    good: dict[str, tuple[int, Point]] = {}
    for sid in sorted(received):
        identity = signer_identity_keys.get(sid)
        if identity is None:
            raise InvalidParameters(f"no identity key for signer {sid}", code="MissingIdentityKey")
        try:
            if len(bytes(identity)) != _IDENTITY_KEY_SIZE:
                raise ValueError("wrong length")
            verify_key = nacl.signing.VerifyKey(bytes(identity))
        except (ValueError, TypeError, nacl.exceptions.CryptoError):
            raise InvalidParameters(
                f"identity key of signer {sid} is not a 32-byte Ed25519 key",
                code="InvalidIdentityKey",
            ) from None
        expected: bytes | None = None
        if verifying_shares is not None:
            if sid not in verifying_shares:
                raise InvalidParameters(
                    f"no verifying share for signer {sid}", code="MissingVerifyingShare"
                )
            expected = bytes(verifying_shares[sid])
        try:
            good[sid] = _open_one_export_share(
                received[sid],
                group=group,
                verify_key=verify_key,
                key_pair=key_pair,
                ctx=ctx,
                signer_id=sid,
                index=index_of[sid],
                expected_public_share=expected,
            )
        except _Bad as bad:
            failures[sid] = bad

    if failures:
        named = tuple(sorted(failures))
        checks = {failures[s].check for s in named}
        raise SignerMisbehaved(
            "export share rejected: "
            + "; ".join(f"{s}: {failures[s].check} ({failures[s].detail})" for s in named),
            signers=named,
            check=checks.pop() if len(checks) == 1 else "multiple",
        )

    if len(good) < t:
        silent = tuple(s for s in ordered if s not in good)
        raise SignersUnavailable(
            f"need {t} valid export shares, got {len(good)}",
            signers=silent,
            code="NotEnoughShares",
        )

    by_index = {index_of[sid]: point for sid, (_, point) in good.items()}
    off = _inconsistent_indices(group, gpk, by_index, t)
    if off:
        named = tuple(ordered[i - 1] for i in off)
        raise SignerMisbehaved(
            "public shares are inconsistent with the group public key; off: " + ", ".join(named),
            signers=named,
            check="consistency",
        )

    used = sorted(good, key=index_of.__getitem__)[:t]
    secret = interpolate_secret(group, {index_of[s]: good[s][0] for s in used})
    if group.mul_base(secret) != gpk:  # pragma: no cover - implied by the checks above
        raise SignerMisbehaved(
            "recombined key does not match the group public key",
            signers=tuple(used),
            check="recombination",
        )
    return secret
