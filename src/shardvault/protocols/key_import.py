"""Key import: the format of docs/import-export-format.md section 3, as pure functions.

The client splits a private scalar with Shamir over the curve order (threshold
``min_signers``), commits to the polynomial with Feldman commitments and seals each
share to one signer's X25519 key with HPKE (:func:`seal_import_shares`, sections 3.2 to
3.5). Each signer opens and checks its own share (:func:`open_import_share`, section
3.7); the signers then compare :func:`import_commitments_digest` (section 3.8) so the key
only goes Active when all of them saw the same commitments, threshold and signer set.
The coordinator matches the request's ``encryptedKeyShares`` to the signer set with
:func:`match_import_shares` (section 3.6).

Nothing here does I/O; the polynomial's coefficients come from the ``rng`` the client
passes (default the OS CSPRNG) and the HPKE ephemeral keys from HPKE itself; no secret
is put in a ``repr`` or an error.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from shardvault.crypto import hpke
from shardvault.crypto.codec import ByteReader
from shardvault.crypto.groups import Group, Point, group_by_name
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.shamir import (
    SecretShare,
    derive_public_share,
    split_secret,
    verify_share,
)
from shardvault.errors import DecryptionError, InvalidEncoding, InvalidImport
from shardvault.protocols.key_transfer import (
    FORMAT_VERSION,
    SCALAR_SIZE,
    check_id,
    check_min_signers,
    check_protocol,
    check_signer_ids,
    length_prefixed,
    party_indices,
)

__all__ = [
    "COMMITMENTS_DIGEST_MAGIC",
    "IMPORT_CONTEXT_LIFETIME_SECONDS",
    "IMPORT_CONTEXT_MAX_AGE_SECONDS",
    "IMPORT_CONTEXT_MAX_SKEW_SECONDS",
    "IMPORT_ID_SIZE",
    "IMPORT_INFO",
    "IMPORT_MAGIC",
    "ImportContext",
    "ImportedShare",
    "check_import_context_fresh",
    "commitments_hash",
    "import_aad",
    "import_blob_size",
    "import_commitments_digest",
    "import_verifying_shares",
    "match_import_shares",
    "open_import_share",
    "seal_import_shares",
]

IMPORT_INFO: Final = b"shardvault/import/v1"
"""HPKE ``info`` of every import share."""

IMPORT_MAGIC: Final = b"SVKI"
"""First 4 bytes of an import blob and of its AAD."""
COMMITMENTS_DIGEST_MAGIC: Final = b"SVKC"
"""First 4 bytes of the input of :func:`import_commitments_digest`."""

IMPORT_ID_SIZE: Final = 16
"""Bytes of a server-issued import id (random, from the API's CSPRNG)."""
IMPORT_CONTEXT_LIFETIME_SECONDS: Final = 600
"""How long the API accepts an import context after issuing it (10 minutes)."""
IMPORT_CONTEXT_MAX_AGE_SECONDS: Final = IMPORT_CONTEXT_LIFETIME_SECONDS + 300
"""How old (by its own clock) a context a signer still accepts: the API's lifetime plus
5 minutes of margin for clock drift. A signer forgets used import ids older than this."""
IMPORT_CONTEXT_MAX_SKEW_SECONDS: Final = 120
"""How far in the future (by its own clock) a signer accepts an issue time."""

_TAG_SIZE: Final = 16
_IMPORT_HEADER_FIXED: Final = 7  # magic 4, version 1, index 1, count 1


@dataclass(frozen=True, slots=True)
class ImportContext:
    """The one-time context the API issues before a client seals an import
    (``POST /keys/import/context``); bound into every share's AAD and into the
    commitments digest, so a sealed share opens for this import only.

    ``import_id``: 16 random bytes from the server; ``issued_at``: Unix seconds."""

    import_id: bytes
    issued_at: int

    def __post_init__(self) -> None:
        if not isinstance(self.import_id, bytes) or len(self.import_id) != IMPORT_ID_SIZE:
            raise InvalidImport(
                f"an import id is {IMPORT_ID_SIZE} bytes", code="InvalidImportContext"
            )
        if (
            isinstance(self.issued_at, bool)
            or not isinstance(self.issued_at, int)
            or not 0 <= self.issued_at < 2**63
        ):
            raise InvalidImport(
                "an import context's issue time is Unix seconds", code="InvalidImportContext"
            )

    @classmethod
    def issue(cls, now: float | None = None) -> ImportContext:
        """A fresh context: 16 bytes from the OS CSPRNG, issued now (whole seconds)."""
        return cls(secrets.token_bytes(IMPORT_ID_SIZE), int(time.time() if now is None else now))

    def encode(self) -> bytes:
        """``import_id (16) || issued_at (8, big-endian)`` as bound into AAD and digest."""
        return self.import_id + self.issued_at.to_bytes(8, "big")


def check_import_context_fresh(context: ImportContext, now: float) -> None:
    """A signer's own check (its clock ``now``, Unix seconds): the context was issued at
    most :data:`IMPORT_CONTEXT_MAX_AGE_SECONDS` ago and not more than
    :data:`IMPORT_CONTEXT_MAX_SKEW_SECONDS` ahead. Code ``ImportContextExpired``."""
    age = now - context.issued_at
    if age > IMPORT_CONTEXT_MAX_AGE_SECONDS:
        raise InvalidImport(
            f"the import context was issued {int(age)} s ago; a signer accepts at most "
            f"{IMPORT_CONTEXT_MAX_AGE_SECONDS} s",
            code="ImportContextExpired",
        )
    if -age > IMPORT_CONTEXT_MAX_SKEW_SECONDS:
        raise InvalidImport(
            f"the import context is dated {int(-age)} s in the future", code="ImportContextExpired"
        )


@dataclass(frozen=True, slots=True)
class ImportedShare:
    """What a signer keeps after checking its import share. ``repr`` hides ``value``."""

    index: int
    value: int = field(repr=False)
    #: Encoded group public key (= commitments[0]).
    group_public_key: bytes
    #: Encoded Feldman commitments C_0..C_{t-1}.
    commitments: tuple[bytes, ...]
    #: SHA-256(C_0 || ... || C_{t-1}), as bound into the AAD.
    commitments_hash: bytes

    def __repr__(self) -> str:
        return (
            f"ImportedShare(index={self.index}, value=<redacted>, "
            f"group_public_key={self.group_public_key.hex()}, "
            f"commitments_hash={self.commitments_hash.hex()})"
        )


def commitments_hash(commitments: Sequence[bytes]) -> bytes:
    """SHA-256 of the concatenated encoded commitments (fixed-size points, in order)."""
    return hashlib.sha256(b"".join(bytes(c) for c in commitments)).digest()


def _context_fields(
    context: ImportContext,
    curve: str,
    protocol: str,
    min_signers: int,
    ordered_ids: Sequence[str],
) -> bytes:
    if not isinstance(context, ImportContext):
        raise InvalidImport("an import needs its import context", code="InvalidImportContext")
    return b"".join(
        (
            bytes([FORMAT_VERSION]),
            context.encode(),
            length_prefixed(curve.encode("ascii")),
            length_prefixed(protocol.encode("ascii")),
            bytes([min_signers, len(ordered_ids)]),
            *(length_prefixed(sid.encode("ascii")) for sid in ordered_ids),
        )
    )


def import_aad(
    *,
    context: ImportContext,
    curve: str,
    protocol: str,
    min_signers: int,
    signer_ids: Sequence[str],
    index: int,
    group_public_key: bytes,
    commitments_hash: bytes,
) -> bytes:
    """The HPKE AAD of import share ``index`` (layout in docs/import-export-format.md)::

        "SVKI" || version(1) || import_id(16) || issued_at(8)
        || lp(curve) || lp(protocol) || min_signers(1) || n(1)
        || lp(id_1) .. lp(id_n)   (sorted) || index(1) || lp(group public key)
        || commitments_hash(32)

    ``lp(x)`` is a 1-byte length followed by ``x``.
    """
    check_protocol(curve, protocol, InvalidImport)
    ordered = check_signer_ids(signer_ids, InvalidImport)
    t = check_min_signers(min_signers, len(ordered), InvalidImport)
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= len(ordered):
        raise InvalidImport(f"index must be in 1..{len(ordered)}", code="InvalidIndex")
    return b"".join(
        (
            IMPORT_MAGIC,
            _context_fields(context, curve, protocol, t, ordered),
            bytes([index]),
            length_prefixed(bytes(group_public_key)),
            bytes(commitments_hash),
        )
    )


def import_commitments_digest(
    *,
    context: ImportContext,
    curve: str,
    protocol: str,
    min_signers: int,
    signer_ids: Sequence[str],
    commitments: Sequence[bytes],
) -> bytes:
    """What the signers of one import compare before the key goes Active (32 bytes).

    ``SHA-256("SVKC" || version || import_id || issued_at || lp(curve) || lp(protocol)
    || min_signers || n || lp(id_1) .. lp(id_n) || lp(C_0)
    || SHA-256(C_0 || .. || C_{t-1}))``. It is the import AAD without the index, so it
    is the same for every signer exactly when they all saw the same import context,
    curve, protocol, threshold, signer set and commitments. Signers compute it from
    their :class:`ImportedShare` (``share.commitments``).
    """
    check_protocol(curve, protocol, InvalidImport)
    ordered = check_signer_ids(signer_ids, InvalidImport)
    t = check_min_signers(min_signers, len(ordered), InvalidImport)
    points = [bytes(c) for c in commitments]
    if len(points) != t:
        raise InvalidImport(
            f"expected {t} commitments, got {len(points)}", code="CommitmentCountMismatch"
        )
    return hashlib.sha256(
        b"".join(
            (
                COMMITMENTS_DIGEST_MAGIC,
                _context_fields(context, curve, protocol, t, ordered),
                length_prefixed(points[0]),
                commitments_hash(points),
            )
        )
    ).digest()


def import_verifying_shares(
    *, curve: str, commitments: Sequence[bytes], signer_ids: Sequence[str]
) -> dict[str, bytes]:
    """signer id -> encoded public share ``f(i)·G = sum_k C_k i^k`` (for the KeyRecord)."""
    group = group_by_name(curve)
    points = _decode_commitments(group, commitments, ())
    return {
        sid: derive_public_share(group, points, i).encode()
        for sid, i in party_indices(signer_ids).items()
    }


def import_blob_size(curve: str, min_signers: int) -> int:
    """Exact size of an import blob: 7 + t·E header, 32 enc, (33 + E + t·E) + 16 ciphertext."""
    e = group_by_name(curve).element_size
    return (
        _IMPORT_HEADER_FIXED
        + min_signers * e
        + hpke.ENC_SIZE
        + _import_plaintext_size(e, min_signers)
        + _TAG_SIZE
    )


def _import_plaintext_size(element_size: int, t: int) -> int:
    return 1 + SCALAR_SIZE + element_size + t * element_size


def match_import_shares(
    shares: Sequence[tuple[str, bytes]], signer_ids: Sequence[str]
) -> dict[str, bytes]:
    """Match an import request's ``encryptedKeyShares`` to the expected signer set.

    Raises :class:`InvalidImport` with code ``DuplicateSigner`` (an id twice),
    ``UnknownSigner`` (an id not in ``signer_ids``) or ``MissingSigner`` (a signer with no
    share), naming the signers concerned. Returns signer id -> blob.
    """
    expected = set(check_signer_ids(signer_ids, InvalidImport))
    out: dict[str, bytes] = {}
    for sid, blob in shares:
        check_id(sid, "signer id", "InvalidSignerId", InvalidImport)
        if sid in out:
            raise InvalidImport(
                f"signer {sid} has two shares", code="DuplicateSigner", signers=(sid,)
            )
        out[sid] = bytes(blob)
    unknown = tuple(sorted(set(out) - expected))
    if unknown:
        raise InvalidImport(
            f"shares for unknown signers: {', '.join(unknown)}",
            code="UnknownSigner",
            signers=unknown,
        )
    missing = tuple(sorted(expected - set(out)))
    if missing:
        raise InvalidImport(
            f"no share for signers: {', '.join(missing)}", code="MissingSigner", signers=missing
        )
    return out


def _decode_commitments(
    group: Group, commitments: Sequence[bytes], signers: tuple[str, ...]
) -> list[Point]:
    points = []
    for k, c in enumerate(commitments):
        try:
            points.append(group.decode_point(bytes(c)))
        except InvalidEncoding:
            raise InvalidImport(
                f"commitment C_{k} is not a valid {group.name} point",
                code="InvalidCommitment",
                signers=signers,
            ) from None
    return points


def seal_import_shares(
    secret: int,
    *,
    context: ImportContext,
    curve: str,
    protocol: str,
    min_signers: int,
    signers: Sequence[tuple[str, bytes]],
    coefficients: Sequence[int] | None = None,
    ephemeral_keys: Sequence[HpkeKeyPair] | None = None,
    rng: Rng = OS_RNG,
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Split ``secret`` and seal one share to each signer (the client half of an import).

    ``context``: the one-time context the API issued for this import (bound into every
    AAD). ``signers``: (signer id, 32-byte X25519 encryption key), in any order. The signer
    at position ``j`` of the sorted ids gets ``f(j + 1)``.

    The coefficients a_1..a_{t-1} are drawn from ``rng`` and each HPKE ephemeral key is
    fresh from HPKE. ``coefficients`` (each in [1, q)) and ``ephemeral_keys`` (one per
    signer, in sorted-id order, all distinct) replace them for published test vectors
    ONLY.

    Returns ``(encoded group public key, [(signer id, import blob)])`` in sorted-id order.
    Raises :class:`InvalidImport` (codes ``UnsupportedProtocol``, ``InvalidSignerId``,
    ``DuplicateSigner``, ``InvalidMinSigners``, ``InvalidEncryptionKey``,
    ``InvalidSecret``, ``InvalidCoefficients``, ``InvalidEphemeralKeys``,
    ``InvalidImportContext``).
    """
    if not isinstance(context, ImportContext):
        raise InvalidImport("an import needs its import context", code="InvalidImportContext")
    group = check_protocol(curve, protocol, InvalidImport)
    if isinstance(signers, str | bytes):
        raise InvalidImport("signers must be (signer id, key) pairs", code="InvalidSignerId")
    pairs = list(signers)
    if any(not isinstance(p, tuple | list) or len(p) != 2 for p in pairs):
        raise InvalidImport("signers must be (signer id, key) pairs", code="InvalidSignerId")
    ordered = check_signer_ids([sid for sid, _ in pairs], InvalidImport)
    n = len(ordered)
    t = check_min_signers(min_signers, n, InvalidImport)
    keys: dict[str, bytes] = {}
    for sid, key in pairs:
        try:
            keys[sid] = hpke.validate_public_key(key)
        except (InvalidEncoding, TypeError):
            raise InvalidImport(
                f"encryption key of signer {sid} is not a valid X25519 public key",
                code="InvalidEncryptionKey",
                signers=(sid,),
            ) from None
    if isinstance(secret, bool) or not isinstance(secret, int) or not 0 < secret < group.order:
        raise InvalidImport(
            f"the private key must be a scalar in [1, {curve} order)", code="InvalidSecret"
        )
    if coefficients is not None:
        coeffs = list(coefficients)
        if len(coeffs) != t - 1 or any(
            isinstance(a, bool) or not isinstance(a, int) or not 0 < a < group.order for a in coeffs
        ):
            raise InvalidImport(
                "need exactly minSigners - 1 coefficients, each in [1, order)",
                code="InvalidCoefficients",
            )
    else:
        coeffs = [group.random_scalar(rng) for _ in range(t - 1)]
    if ephemeral_keys is not None:
        ephemerals: list[HpkeKeyPair | None] = list(ephemeral_keys)
        if len(ephemerals) != n or len({e.public_key for e in ephemeral_keys}) != n:
            raise InvalidImport(
                "need one distinct ephemeral key per signer", code="InvalidEphemeralKeys"
            )
    else:
        ephemerals = [None] * n

    shares, commitment_points = split_secret(group, secret, t, n, coeffs)
    commitments = [c.encode() for c in commitment_points]
    group_public_key = commitments[0]
    c_hash = commitments_hash(commitments)
    header_points = b"".join(commitments)
    out: list[tuple[str, bytes]] = []
    for sid, share, ephemeral in zip(ordered, shares, ephemerals, strict=True):
        plaintext = b"".join(
            (
                bytes([share.index]),
                group.encode_scalar(share.value),
                group_public_key,
                header_points,
            )
        )
        aad = import_aad(
            context=context,
            curve=curve,
            protocol=protocol,
            min_signers=t,
            signer_ids=ordered,
            index=share.index,
            group_public_key=group_public_key,
            commitments_hash=c_hash,
        )
        if ephemeral is None:
            sealed = hpke.seal(keys[sid], plaintext, info=IMPORT_INFO, aad=aad)
        else:
            sealed = hpke.seal_with_ephemeral(
                keys[sid], plaintext, info=IMPORT_INFO, aad=aad, ephemeral=ephemeral
            )
        header = IMPORT_MAGIC + bytes([FORMAT_VERSION, share.index, t]) + header_points
        out.append((sid, header + sealed))
    return group_public_key, out


def open_import_share(
    blob: bytes,
    *,
    key_pair: HpkeKeyPair,
    my_signer_id: str,
    context: ImportContext,
    curve: str,
    protocol: str,
    min_signers: int,
    signer_ids: Sequence[str],
) -> ImportedShare:
    """Open and fully check this signer's import share (the signer half of an import).

    The context (import context, curve, protocol, min_signers, signer_ids) is the import
    request's; the share only opens if the client sealed it for exactly that context and
    this index. Whether the import context is fresh and unused is the caller's check
    (:func:`check_import_context_fresh`, the signer's store).
    Raises :class:`InvalidImport` naming ``my_signer_id``, with code:

    ``UnsupportedProtocol``, ``InvalidSignerId``, ``DuplicateSigner``,
    ``InvalidMinSigners``, ``UnknownSigner`` (bad context); ``MalformedShare`` (size,
    magic); ``UnsupportedVersion``; ``ShareIndexMismatch`` (header or plaintext index is
    not this signer's); ``CommitmentCountMismatch`` (not min_signers commitments);
    ``InvalidCommitment`` (a point that does not decode); ``ShareDecryptionFailed``
    (tampered, another signer's, another index's or another import's share);
    ``CommitmentMismatch`` (plaintext commitments differ from the header);
    ``InvalidShareScalar`` (zero or non-canonical); ``ShareVerificationFailed``
    (Feldman check).
    """
    if not isinstance(context, ImportContext):
        raise InvalidImport("an import needs its import context", code="InvalidImportContext")
    group = check_protocol(curve, protocol, InvalidImport)
    ordered = check_signer_ids(signer_ids, InvalidImport)
    t = check_min_signers(min_signers, len(ordered), InvalidImport)
    if my_signer_id not in ordered:
        raise InvalidImport(
            f"signer {my_signer_id!r} is not among the import's signers",
            code="UnknownSigner",
            signers=(str(my_signer_id),),
        )
    me = (my_signer_id,)
    index = ordered.index(my_signer_id) + 1
    e = group.element_size

    if not isinstance(blob, bytes | bytearray | memoryview):
        raise InvalidImport("import share must be bytes", code="MalformedShare", signers=me)
    data = bytes(blob)
    fields = ByteReader(data)
    if len(data) < _IMPORT_HEADER_FIXED or fields.take(4) != IMPORT_MAGIC:
        raise InvalidImport("not a shardvault import share", code="MalformedShare", signers=me)
    version, claimed_index, count = fields.byte(), fields.byte(), fields.byte()
    if version != FORMAT_VERSION:
        raise InvalidImport(
            f"unsupported import share version {version}", code="UnsupportedVersion", signers=me
        )
    if claimed_index != index:
        raise InvalidImport(
            f"share is for index {claimed_index}, signer {my_signer_id} has index {index}",
            code="ShareIndexMismatch",
            signers=me,
        )
    if count != t:
        raise InvalidImport(
            f"share carries {count} commitments, minSigners is {t}",
            code="CommitmentCountMismatch",
            signers=me,
        )
    if len(data) != import_blob_size(curve, t):
        raise InvalidImport(
            f"import share must be {import_blob_size(curve, t)} bytes, got {len(data)}",
            code="MalformedShare",
            signers=me,
        )
    commitments = tuple(fields.take(e) for _ in range(t))
    header_points = b"".join(commitments)
    points = _decode_commitments(group, commitments, me)
    group_public_key = commitments[0]
    c_hash = commitments_hash(commitments)
    aad = import_aad(
        context=context,
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signer_ids=ordered,
        index=index,
        group_public_key=group_public_key,
        commitments_hash=c_hash,
    )
    try:
        plaintext = hpke.open_sealed(key_pair, fields.rest(), info=IMPORT_INFO, aad=aad)
    except DecryptionError:
        raise InvalidImport(
            "import share could not be decrypted (tampered, or sealed for another signer, "
            "index or import)",
            code="ShareDecryptionFailed",
            signers=me,
        ) from None
    if len(plaintext) != _import_plaintext_size(e, t):  # pragma: no cover - fixed by size check
        raise InvalidImport("import share plaintext has the wrong size", code="MalformedShare")
    inner = ByteReader(plaintext)
    if inner.byte() != index:
        raise InvalidImport(
            "decrypted share index is not this signer's", code="ShareIndexMismatch", signers=me
        )
    scalar_bytes = inner.take(SCALAR_SIZE)
    inner_key = inner.take(e)
    inner_points = inner.rest()
    if not (
        hmac.compare_digest(inner_key, group_public_key)
        and hmac.compare_digest(inner_points, header_points)
    ):
        raise InvalidImport(
            "decrypted group key or commitments differ from the share header",
            code="CommitmentMismatch",
            signers=me,
        )
    try:
        value = group.decode_nonzero_scalar(scalar_bytes)
    except InvalidEncoding:
        raise InvalidImport(
            "decrypted share is not a canonical nonzero scalar",
            code="InvalidShareScalar",
            signers=me,
        ) from None
    if not verify_share(group, SecretShare(index, value), points):
        raise InvalidImport(
            "share does not match the Feldman commitments",
            code="ShareVerificationFailed",
            signers=me,
        )
    return ImportedShare(index, value, group_public_key, commitments, c_hash)
