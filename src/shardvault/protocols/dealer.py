"""Key import (split + encrypt, then open + verify) and key export (seal, then verify +
recombine): the exact byte formats of ``docs/import-export-format.md`` as pure functions.

Import
    The client splits a private scalar with Shamir over the curve order (threshold
    ``min_signers``), commits to the polynomial with Feldman commitments and seals each
    share to one signer's X25519 key with HPKE (:func:`seal_import_shares`). Each signer
    opens and checks its own share (:func:`open_import_share`); the signers then compare
    :func:`import_commitments_digest` so the key only goes Active when all of them saw the
    same commitments, threshold and signer set.

Export
    Each signer seals ``index || share`` to the requester's one-time HPKE key and signs,
    with its Ed25519 identity key, a statement naming the key, its index, its public
    share, the requester's key and the sealed box (:func:`seal_export_share`). The client
    checks every share, names any signer at fault, recombines and checks the result
    against the group public key (:func:`open_export_shares`).

Party indices: the signer ids are sorted (by code point, which for the printable ASCII
ids allowed here is byte order) and the signer at position ``j`` (0-based) holds
``f(j + 1)``.

Nothing here does I/O; secrets come only from the OS CSPRNG (via
:meth:`Group.random_scalar` and HPKE); no secret is put in a ``repr`` or an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import Final, NoReturn

import nacl.exceptions
import nacl.signing

from shardvault.crypto import hpke
from shardvault.crypto.groups import Group, Point, group_by_name
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.crypto.shamir import (
    MAX_PARTICIPANTS,
    SecretShare,
    derive_public_share,
    interpolate_secret,
    predict_public_share,
    public_shares_consistent,
    split_secret,
    verify_share,
)
from shardvault.errors import (
    DecryptionError,
    InvalidEncoding,
    InvalidImport,
    InvalidParameters,
    ShardvaultError,
    SignerMisbehaved,
    SignersUnavailable,
)

__all__ = [
    "COMMITMENTS_DIGEST_MAGIC",
    "EXPORT_INFO",
    "EXPORT_MAGIC",
    "EXPORT_STATEMENT_TAG",
    "FORMAT_VERSION",
    "IMPORT_INFO",
    "IMPORT_MAGIC",
    "SUPPORTED_PROTOCOLS",
    "ImportedShare",
    "b64url_decode",
    "b64url_encode",
    "commitments_hash",
    "export_blob_size",
    "export_signed_message",
    "export_statement",
    "import_aad",
    "import_blob_size",
    "import_commitments_digest",
    "import_verifying_shares",
    "match_import_shares",
    "open_export_shares",
    "open_import_share",
    "party_indices",
    "seal_export_share",
    "seal_import_shares",
]

IMPORT_INFO: Final = b"shardvault/import/v1"
"""HPKE ``info`` of every import share."""

EXPORT_INFO: Final = b"shardvault/export/v1"
"""HPKE ``info`` of every export share."""

FORMAT_VERSION: Final = 1
IMPORT_MAGIC: Final = b"SVKI"
"""First 4 bytes of an import blob and of its AAD."""
EXPORT_MAGIC: Final = b"SVKE"
"""First 4 bytes of an export blob."""
COMMITMENTS_DIGEST_MAGIC: Final = b"SVKC"
"""First 4 bytes of the input of :func:`import_commitments_digest`."""
EXPORT_STATEMENT_TAG: Final = b"shardvault/export-statement/v1"
"""First bytes of the export statement (domain separation of the identity key's signature)."""

SUPPORTED_PROTOCOLS: Final[frozenset[tuple[str, str]]] = frozenset(
    {("FROST", "ed25519"), ("FROST_BITCOIN", "secp256k1"), ("CGGMP24", "secp256k1")}
)
"""(protocol, curve) pairs whose keys these formats carry (Shamir/Feldman over the order)."""

_SCALAR_SIZE: Final = 32
_SIGNATURE_SIZE: Final = 64
_IDENTITY_KEY_SIZE: Final = 32
_TAG_SIZE: Final = 16
_MAX_ID_BYTES: Final = 255
_IMPORT_HEADER_FIXED: Final = 7  # magic 4, version 1, index 1, count 1
_EXPORT_HEADER_FIXED: Final = 6  # magic 4, version 1, index 1
_DECODE_BUDGET: Final = 5000  # max candidate polynomials tried when naming an off share


# ---------------------------------------------------------------------------
# Encodings shared by both directions
# ---------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    """base64url (RFC 4648 section 5) without ``=`` padding.

    The JSON encoding of ``encryptedKeyShare`` and ``encryptionKey``.
    """
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url_encode`.

    Rejects, with :class:`InvalidEncoding`: padding, characters outside the base64url
    alphabet, an impossible length (``len % 4 == 1``) and non-zero unused trailing bits
    (so each byte string has exactly one accepted text).
    """
    if not isinstance(text, str):
        raise InvalidEncoding("base64url value must be a string")
    if len(text) % 4 == 1 or any(not (c.isascii() and (c.isalnum() or c in "-_")) for c in text):
        raise InvalidEncoding("not base64url without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - excluded by the checks above
        raise InvalidEncoding("not base64url without padding") from None
    if b64url_encode(data) != text:
        raise InvalidEncoding("non-canonical base64url (unused bits set)")
    return data


def _lp(value: bytes) -> bytes:
    """1-byte length prefix; every prefixed field here is at most 255 bytes."""
    if len(value) > 255:  # pragma: no cover - callers validate lengths first
        raise InvalidParameters("field too long for a 1-byte length prefix")
    return bytes([len(value)]) + value


def _fail(
    error: type[ShardvaultError], code: str, message: str, signers: tuple[str, ...] = ()
) -> NoReturn:
    if error is InvalidImport:
        raise InvalidImport(message, code=code, signers=signers)
    raise error(message, code=code)


def _check_protocol(curve: object, protocol: object, error: type[ShardvaultError]) -> Group:
    if (
        not isinstance(curve, str)
        or not isinstance(protocol, str)
        or (protocol, curve) not in SUPPORTED_PROTOCOLS
    ):
        _fail(
            error,
            "UnsupportedProtocol",
            f"unsupported (protocol, curve) pair ({protocol!r}, {curve!r}); expected one of "
            f"{sorted(SUPPORTED_PROTOCOLS)}",
        )
    return group_by_name(curve)


def _check_id(value: object, what: str, code: str, error: type[ShardvaultError]) -> bytes:
    """Ids are 1..255 printable ASCII characters (0x21-0x7E, no spaces)."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= _MAX_ID_BYTES
        or any(not 0x21 <= ord(c) <= 0x7E for c in value)
    ):
        _fail(error, code, f"{what} must be 1-255 printable ASCII characters without spaces")
    return value.encode("ascii")


def _check_signer_ids(signer_ids: Sequence[str], error: type[ShardvaultError]) -> tuple[str, ...]:
    """Validate the signer set and return it sorted (position + 1 = party index)."""
    if isinstance(signer_ids, str | bytes):
        _fail(error, "InvalidSignerId", "signer ids must be a sequence of strings")
    ids = list(signer_ids)
    for sid in ids:
        _check_id(sid, "signer id", "InvalidSignerId", error)
    seen: set[str] = set()
    for sid in ids:
        if sid in seen:
            _fail(error, "DuplicateSigner", f"signer {sid} appears twice", (sid,))
        seen.add(sid)
    return tuple(sorted(ids))


def _check_min_signers(min_signers: object, n: int, error: type[ShardvaultError]) -> int:
    if (
        isinstance(min_signers, bool)
        or not isinstance(min_signers, int)
        or not 1 <= min_signers <= n <= MAX_PARTICIPANTS
    ):
        _fail(
            error,
            "InvalidMinSigners",
            f"need 1 <= minSigners <= signers <= {MAX_PARTICIPANTS}, got "
            f"minSigners={min_signers!r}, signers={n}",
        )
    return min_signers


def party_indices(signer_ids: Sequence[str]) -> dict[str, int]:
    """signer id -> party index (1 + position in ``sorted(signer_ids)``)."""
    ordered = _check_signer_ids(signer_ids, InvalidImport)
    return {sid: j + 1 for j, sid in enumerate(ordered)}


# ---------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------


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
    curve: str, protocol: str, min_signers: int, ordered_ids: Sequence[str]
) -> bytes:
    return b"".join(
        (
            bytes([FORMAT_VERSION]),
            _lp(curve.encode("ascii")),
            _lp(protocol.encode("ascii")),
            bytes([min_signers, len(ordered_ids)]),
            *(_lp(sid.encode("ascii")) for sid in ordered_ids),
        )
    )


def import_aad(
    *,
    curve: str,
    protocol: str,
    min_signers: int,
    signer_ids: Sequence[str],
    index: int,
    group_public_key: bytes,
    commitments_hash: bytes,
) -> bytes:
    """The HPKE AAD of import share ``index`` (layout in docs/import-export-format.md)::

        "SVKI" || version(1) || lp(curve) || lp(protocol) || min_signers(1) || n(1)
        || lp(id_1) .. lp(id_n)   (sorted) || index(1) || lp(group public key)
        || commitments_hash(32)

    ``lp(x)`` is a 1-byte length followed by ``x``.
    """
    _check_protocol(curve, protocol, InvalidImport)
    ordered = _check_signer_ids(signer_ids, InvalidImport)
    t = _check_min_signers(min_signers, len(ordered), InvalidImport)
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= len(ordered):
        raise InvalidImport(f"index must be in 1..{len(ordered)}", code="InvalidIndex")
    return b"".join(
        (
            IMPORT_MAGIC,
            _context_fields(curve, protocol, t, ordered),
            bytes([index]),
            _lp(bytes(group_public_key)),
            bytes(commitments_hash),
        )
    )


def import_commitments_digest(
    *,
    curve: str,
    protocol: str,
    min_signers: int,
    signer_ids: Sequence[str],
    commitments: Sequence[bytes],
) -> bytes:
    """What the signers of one import compare before the key goes Active (32 bytes).

    ``SHA-256("SVKC" || version || lp(curve) || lp(protocol) || min_signers || n
    || lp(id_1) .. lp(id_n) || lp(C_0) || SHA-256(C_0 || .. || C_{t-1}))``. It is the
    import AAD without the index, so it is the same for every signer exactly when they
    all saw the same curve, protocol, threshold, signer set and commitments. Signers
    compute it from their :class:`ImportedShare` (``share.commitments``).
    """
    _check_protocol(curve, protocol, InvalidImport)
    ordered = _check_signer_ids(signer_ids, InvalidImport)
    t = _check_min_signers(min_signers, len(ordered), InvalidImport)
    points = [bytes(c) for c in commitments]
    if len(points) != t:
        raise InvalidImport(
            f"expected {t} commitments, got {len(points)}", code="CommitmentCountMismatch"
        )
    return hashlib.sha256(
        b"".join(
            (
                COMMITMENTS_DIGEST_MAGIC,
                _context_fields(curve, protocol, t, ordered),
                _lp(points[0]),
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
    return 1 + _SCALAR_SIZE + element_size + t * element_size


def match_import_shares(
    shares: Sequence[tuple[str, bytes]], signer_ids: Sequence[str]
) -> dict[str, bytes]:
    """Match an import request's ``encryptedKeyShares`` to the expected signer set.

    Raises :class:`InvalidImport` with code ``DuplicateSigner`` (an id twice),
    ``UnknownSigner`` (an id not in ``signer_ids``) or ``MissingSigner`` (a signer with no
    share), naming the signers concerned. Returns signer id -> blob.
    """
    expected = set(_check_signer_ids(signer_ids, InvalidImport))
    out: dict[str, bytes] = {}
    for sid, blob in shares:
        _check_id(sid, "signer id", "InvalidSignerId", InvalidImport)
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
    curve: str,
    protocol: str,
    min_signers: int,
    signers: Sequence[tuple[str, bytes]],
    coefficients: Sequence[int] | None = None,
    ephemeral_keys: Sequence[HpkeKeyPair] | None = None,
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Split ``secret`` and seal one share to each signer (the client half of an import).

    ``signers``: (signer id, 32-byte X25519 encryption key), in any order. The signer
    at position ``j`` of the sorted ids gets ``f(j + 1)``.

    ``coefficients`` (a_1..a_{t-1}, each in [1, q)) and ``ephemeral_keys`` (one per
    signer, in sorted-id order, all distinct) are for published test vectors ONLY;
    normally both are fresh from the OS CSPRNG.

    Returns ``(encoded group public key, [(signer id, import blob)])`` in sorted-id order.
    Raises :class:`InvalidImport` (codes ``UnsupportedProtocol``, ``InvalidSignerId``,
    ``DuplicateSigner``, ``InvalidMinSigners``, ``InvalidEncryptionKey``,
    ``InvalidSecret``, ``InvalidCoefficients``, ``InvalidEphemeralKeys``).
    """
    group = _check_protocol(curve, protocol, InvalidImport)
    if isinstance(signers, str | bytes):
        raise InvalidImport("signers must be (signer id, key) pairs", code="InvalidSignerId")
    pairs = list(signers)
    if any(not isinstance(p, tuple | list) or len(p) != 2 for p in pairs):
        raise InvalidImport("signers must be (signer id, key) pairs", code="InvalidSignerId")
    ordered = _check_signer_ids([sid for sid, _ in pairs], InvalidImport)
    n = len(ordered)
    t = _check_min_signers(min_signers, n, InvalidImport)
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
        coeffs = [group.random_scalar() for _ in range(t - 1)]
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
    curve: str,
    protocol: str,
    min_signers: int,
    signer_ids: Sequence[str],
) -> ImportedShare:
    """Open and fully check this signer's import share (the signer half of an import).

    The context (curve, protocol, min_signers, signer_ids) is the import request's; the
    share only opens if the client sealed it for exactly that context and this index.
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
    group = _check_protocol(curve, protocol, InvalidImport)
    ordered = _check_signer_ids(signer_ids, InvalidImport)
    t = _check_min_signers(min_signers, len(ordered), InvalidImport)
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
    if len(data) < _IMPORT_HEADER_FIXED or data[:4] != IMPORT_MAGIC:
        raise InvalidImport("not a shardvault import share", code="MalformedShare", signers=me)
    if data[4] != FORMAT_VERSION:
        raise InvalidImport(
            f"unsupported import share version {data[4]}", code="UnsupportedVersion", signers=me
        )
    if data[5] != index:
        raise InvalidImport(
            f"share is for index {data[5]}, signer {my_signer_id} has index {index}",
            code="ShareIndexMismatch",
            signers=me,
        )
    if data[6] != t:
        raise InvalidImport(
            f"share carries {data[6]} commitments, minSigners is {t}",
            code="CommitmentCountMismatch",
            signers=me,
        )
    if len(data) != import_blob_size(curve, t):
        raise InvalidImport(
            f"import share must be {import_blob_size(curve, t)} bytes, got {len(data)}",
            code="MalformedShare",
            signers=me,
        )
    header_end = _IMPORT_HEADER_FIXED + t * e
    header_points = data[_IMPORT_HEADER_FIXED:header_end]
    commitments = tuple(header_points[k * e : (k + 1) * e] for k in range(t))
    points = _decode_commitments(group, commitments, me)
    group_public_key = commitments[0]
    c_hash = commitments_hash(commitments)
    aad = import_aad(
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signer_ids=ordered,
        index=index,
        group_public_key=group_public_key,
        commitments_hash=c_hash,
    )
    try:
        plaintext = hpke.open_sealed(key_pair, data[header_end:], info=IMPORT_INFO, aad=aad)
    except DecryptionError:
        raise InvalidImport(
            "import share could not be decrypted (tampered, or sealed for another signer, "
            "index or import)",
            code="ShareDecryptionFailed",
            signers=me,
        ) from None
    if len(plaintext) != _import_plaintext_size(e, t):  # pragma: no cover - fixed by size check
        raise InvalidImport("import share plaintext has the wrong size", code="MalformedShare")
    if plaintext[0] != index:
        raise InvalidImport(
            "decrypted share index is not this signer's", code="ShareIndexMismatch", signers=me
        )
    scalar_bytes = plaintext[1 : 1 + _SCALAR_SIZE]
    inner_key = plaintext[1 + _SCALAR_SIZE : 1 + _SCALAR_SIZE + e]
    inner_points = plaintext[1 + _SCALAR_SIZE + e :]
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


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------


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
            _lp(key_id.encode("ascii")),
            _lp(curve.encode("ascii")),
            _lp(protocol.encode("ascii")),
            _lp(bytes(group_public_key)),
            bytes([min_signers]),
            _lp(signer_id.encode("ascii")),
            bytes([index]),
            _lp(bytes(public_share)),
            _lp(bytes(requester_encryption_key)),
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
    return _EXPORT_HEADER_FIXED + e + _SIGNATURE_SIZE + hpke.ENC_SIZE + 1 + _SCALAR_SIZE + _TAG_SIZE


def _check_export_context(
    key_id: object,
    curve: str,
    protocol: str,
    group_public_key: bytes,
    min_signers: object,
    n: int,
) -> tuple[Group, Point, int]:
    group = _check_protocol(curve, protocol, InvalidParameters)
    _check_id(key_id, "key id", "InvalidKeyId", InvalidParameters)
    t = _check_min_signers(min_signers, n, InvalidParameters)
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
    _check_id(signer_id, "signer id", "InvalidSignerId", InvalidParameters)
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
    if len(data) != export_blob_size(group.name) or data[:4] != EXPORT_MAGIC:
        raise _Bad("malformed", "not a shardvault export share of the right size")
    if data[4] != FORMAT_VERSION:
        raise _Bad("malformed", f"unsupported export share version {data[4]}")
    if data[5] != index:
        raise _Bad("index", f"share claims index {data[5]}, expected {index}")
    public_share = data[6 : 6 + e]
    signature = data[6 + e : 6 + e + _SIGNATURE_SIZE]
    sealed = data[6 + e + _SIGNATURE_SIZE :]
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
    if len(plaintext) != 1 + _SCALAR_SIZE:  # pragma: no cover - fixed by the size check
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
    ordered = _check_signer_ids(signer_ids, InvalidParameters)
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
