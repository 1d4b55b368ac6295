"""What the key import and key export formats share: docs/import-export-format.md
section 1 ("Conventions").

* The supported (protocol, curve) pairs: keys shared with Shamir/Feldman over the
  group order (:data:`SUPPORTED_PROTOCOLS`).
* The format version (:data:`FORMAT_VERSION`) and the 1-byte length prefix
  ``lp(x)`` of every variable-size field (:func:`length_prefixed`).
* Ids: 1..255 printable ASCII characters without spaces; party indices: the signer at
  position ``j`` (0-based) of the ids sorted by code point (for these ids, byte
  order) holds ``f(j + 1)`` (:func:`party_indices`).

The ``check_*`` functions validate the context both directions bind (curve, protocol,
ids, threshold) and raise the caller's error type (:class:`InvalidImport` on import,
:class:`InvalidParameters` on export) with the codes of section 5 of that document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NoReturn, cast

from shardvault.crypto.groups import Group, group_by_name
from shardvault.crypto.shamir import MAX_PARTICIPANTS
from shardvault.errors import InvalidImport, InvalidParameters, ShardvaultError

__all__ = [
    "FORMAT_VERSION",
    "MIN_THRESHOLD",
    "SCALAR_SIZE",
    "SUPPORTED_PROTOCOLS",
    "check_id",
    "check_min_signers",
    "check_protocol",
    "check_signer_ids",
    "fail",
    "length_prefixed",
    "min_signers_problem",
    "party_indices",
]

FORMAT_VERSION: Final = 2
"""The version byte of every blob, AAD, digest input and statement."""

SUPPORTED_PROTOCOLS: Final[frozenset[tuple[str, str]]] = frozenset(
    {("FROST", "ed25519"), ("FROST_BITCOIN", "secp256k1"), ("CGGMP24", "secp256k1")}
)
"""(protocol, curve) pairs whose keys these formats carry (Shamir/Feldman over the order)."""

SCALAR_SIZE: Final = 32
"""Size of an encoded share scalar on both curves."""

_MAX_ID_BYTES: Final = 255


def length_prefixed(value: bytes) -> bytes:
    """``lp(value)``: a 1-byte length, then ``value``; every prefixed field is at most
    255 bytes."""
    if len(value) > 255:  # pragma: no cover - callers validate lengths first
        raise InvalidParameters("field too long for a 1-byte length prefix")
    return bytes([len(value)]) + value


def fail(
    error: type[ShardvaultError], code: str, message: str, signers: tuple[str, ...] = ()
) -> NoReturn:
    """Raise ``error`` with ``code`` (and, for :class:`InvalidImport`, the signers named)."""
    if error is InvalidImport:
        raise InvalidImport(message, code=code, signers=signers)
    raise error(message, code=code)


def check_protocol(curve: object, protocol: object, error: type[ShardvaultError]) -> Group:
    """The group of a supported (protocol, curve) pair; code ``UnsupportedProtocol``."""
    if (
        not isinstance(curve, str)
        or not isinstance(protocol, str)
        or (protocol, curve) not in SUPPORTED_PROTOCOLS
    ):
        fail(
            error,
            "UnsupportedProtocol",
            f"unsupported (protocol, curve) pair ({protocol!r}, {curve!r}); expected one of "
            f"{sorted(SUPPORTED_PROTOCOLS)}",
        )
    return group_by_name(curve)


def check_id(value: object, what: str, code: str, error: type[ShardvaultError]) -> bytes:
    """Ids are 1..255 printable ASCII characters (0x21-0x7E, no spaces)."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= _MAX_ID_BYTES
        or any(not 0x21 <= ord(c) <= 0x7E for c in value)
    ):
        fail(error, code, f"{what} must be 1-255 printable ASCII characters without spaces")
    return value.encode("ascii")


def check_signer_ids(signer_ids: Sequence[str], error: type[ShardvaultError]) -> tuple[str, ...]:
    """Validate the signer set and return it sorted (position + 1 = party index)."""
    if isinstance(signer_ids, str | bytes):
        fail(error, "InvalidSignerId", "signer ids must be a sequence of strings")
    ids = list(signer_ids)
    for sid in ids:
        check_id(sid, "signer id", "InvalidSignerId", error)
    seen: set[str] = set()
    for sid in ids:
        if sid in seen:
            fail(error, "DuplicateSigner", f"signer {sid} appears twice", (sid,))
        seen.add(sid)
    return tuple(sorted(ids))


MIN_THRESHOLD: Final = 2
"""The smallest ``minSigners``: with 1, every signer would hold the whole key."""


def min_signers_problem(min_signers: object, n: int, *, minimum: int = MIN_THRESHOLD) -> str | None:
    """Why ``min_signers`` of ``n`` signers is refused (None if it is fine):
    ``2 <= min_signers <= n <= 255``. One rule for import and key generation; an
    export (``minimum=1``) still opens a key made before the rule."""
    if isinstance(min_signers, bool) or not isinstance(min_signers, int):
        return f"minSigners must be an integer, got {min_signers!r}"
    if min_signers < minimum:
        if minimum == MIN_THRESHOLD and min_signers == 1:
            return (
                f"minSigners must be at least {MIN_THRESHOLD}: with minSigners=1 every "
                "signer would hold the whole key"
            )
        return f"minSigners must be at least {minimum}, got {min_signers}"
    if not min_signers <= n <= MAX_PARTICIPANTS:
        return (
            f"need {minimum} <= minSigners <= signers <= {MAX_PARTICIPANTS}, got "
            f"minSigners={min_signers}, signers={n}"
        )
    return None


def check_min_signers(
    min_signers: object, n: int, error: type[ShardvaultError], *, minimum: int = MIN_THRESHOLD
) -> int:
    """``minimum <= min_signers <= n <= 255`` (:func:`min_signers_problem`; ``minimum``
    is 2 except for export); code ``InvalidMinSigners``."""
    problem = min_signers_problem(min_signers, n, minimum=minimum)
    if problem is not None:
        fail(error, "InvalidMinSigners", problem)
    return cast(int, min_signers)


def party_indices(signer_ids: Sequence[str]) -> dict[str, int]:
    """signer id -> party index (1 + position in ``sorted(signer_ids)``)."""
    ordered = check_signer_ids(signer_ids, InvalidImport)
    return {sid: j + 1 for j, sid in enumerate(ordered)}
