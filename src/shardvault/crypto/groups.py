"""Prime-order groups: secp256k1 (libsecp256k1 via coincurve) and Ed25519 (libsodium via PyNaCl).

Scalars are plain Python ints reduced mod ``group.order``; points are immutable
``Point`` values bound to their group. Every decoder validates fully:

* secp256k1: exactly 33 bytes (SEC1 compressed), prefix 02/03, x < p, on the
  curve (the group has cofactor 1, so on-curve means prime-order subgroup).
* Ed25519: exactly 32 bytes, canonical (y < p, no negative zero), on the curve,
  in the prime-order subgroup, not of small order (the identity included).

Encoding the identity fails, as RFC 9591's ``SerializeElement`` requires.
Arithmetic is done by the C libraries; Python only routes bytes. Point
multiplication by a scalar is constant-time in both (libsecp256k1's
``secp256k1_ec_pubkey_create`` and ``_tweak_mul``, libsodium's
``crypto_scalarmult_ed25519_base_noclamp`` and ``_noclamp``); arithmetic on secret
scalars goes through ``group.scalars`` (:mod:`shardvault.crypto.scalars`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Final

import coincurve
from nacl import bindings as sodium
from nacl.exceptions import RuntimeError as SodiumRuntimeError

from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.scalars import ED25519_SCALARS, SECP256K1_SCALARS, ScalarField
from shardvault.errors import InvalidParameters, InvalidPoint, InvalidScalar

__all__ = [
    "ED25519",
    "SECP256K1",
    "Ed25519Group",
    "Group",
    "Point",
    "Secp256k1Group",
    "group_by_name",
]


class Point:
    """An element of a prime-order group. ``data`` is the group's internal encoding.

    secp256k1: 33-byte compressed SEC1 bytes, or ``b""`` for the identity.
    Ed25519: 32-byte compressed Edwards y (the identity is 01 00..00).
    """

    __slots__ = ("_hash", "data", "group")

    def __init__(self, group: Group, data: bytes) -> None:
        self.group = group
        self.data = data
        self._hash = hash((group.name, data))

    def __add__(self, other: Point) -> Point:
        return self.group.add(self, other)

    def __sub__(self, other: Point) -> Point:
        return self.group.add(self, self.group.negate(other))

    def __neg__(self) -> Point:
        return self.group.negate(self)

    def __mul__(self, scalar: int) -> Point:
        return self.group.mul(self, scalar)

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.group is self.group and other.data == self.data

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        if self.is_identity():
            return f"Point({self.group.name}, identity)"
        return f"Point({self.group.name}, {self.data.hex()})"

    def is_identity(self) -> bool:
        return self.group.is_identity(self)

    def encode(self) -> bytes:
        """RFC 9591 SerializeElement: fails on the identity."""
        return self.group.encode_point(self)


class Group(ABC):
    """A prime-order group with the RFC 9591 serialization rules."""

    name: str
    order: int
    element_size: int
    scalar_size: int
    #: Constant-time arithmetic mod ``order`` (the C library's), for secret scalars.
    scalars: ScalarField

    # -- scalars ---------------------------------------------------------
    def random_scalar(self, rng: Rng = OS_RNG) -> int:
        """A uniformly random nonzero scalar from ``rng`` (RFC 9591 ``RandomScalar``,
        section 3.1, by rejection sampling as in Appendix D, also rejecting zero)."""
        while True:
            k = rng.randbelow(self.order)
            if k != 0:
                return k

    @abstractmethod
    def encode_scalar(self, k: int) -> bytes:
        """SerializeScalar: fixed-size encoding of k mod q."""

    @abstractmethod
    def decode_scalar(self, data: bytes) -> int:
        """DeserializeScalar: exact length, canonical (< q). Zero is allowed here."""

    def decode_nonzero_scalar(self, data: bytes) -> int:
        k = self.decode_scalar(data)
        if k == 0:
            raise InvalidScalar(f"{self.name}: scalar must be nonzero")
        return k

    # -- points ----------------------------------------------------------
    @property
    @abstractmethod
    def identity(self) -> Point: ...

    @property
    @abstractmethod
    def generator(self) -> Point: ...

    @abstractmethod
    def is_identity(self, p: Point) -> bool: ...

    @abstractmethod
    def add(self, a: Point, b: Point) -> Point: ...

    @abstractmethod
    def negate(self, a: Point) -> Point: ...

    @abstractmethod
    def mul(self, p: Point, k: int) -> Point: ...

    @abstractmethod
    def mul_base(self, k: int) -> Point: ...

    @abstractmethod
    def encode_point(self, p: Point) -> bytes: ...

    @abstractmethod
    def decode_point(self, data: bytes) -> Point:
        """DeserializeElement: full validation; the identity is rejected."""

    def sum(self, points: Iterable[Point]) -> Point:
        acc = self.identity
        for p in points:
            acc = self.add(acc, p)
        return acc

    def lincomb(self, scalars: Sequence[int], points: Sequence[Point]) -> Point:
        """sum(k_i * P_i)."""
        if len(scalars) != len(points):
            raise ValueError("lincomb: length mismatch")
        return self.sum(self.mul(p, k) for k, p in zip(scalars, points, strict=True))

    def __repr__(self) -> str:
        return f"<Group {self.name}>"


# ---------------------------------------------------------------------------
# secp256k1
# ---------------------------------------------------------------------------

_SECP_P: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
_SECP_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SECP_G: Final = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")


class Secp256k1Group(Group):
    name = "secp256k1"
    order = _SECP_N
    field_prime = _SECP_P
    element_size = 33
    scalar_size = 32
    scalars = SECP256K1_SCALARS

    def __init__(self) -> None:
        self._identity = Point(self, b"")
        self._generator = Point(self, _SECP_G)

    def encode_scalar(self, k: int) -> bytes:
        return (k % self.order).to_bytes(32, "big")

    def decode_scalar(self, data: bytes) -> int:
        if len(data) != 32:
            raise InvalidScalar(f"secp256k1 scalar must be 32 bytes, got {len(data)}")
        k = int.from_bytes(data, "big")
        if k >= self.order:
            raise InvalidScalar("secp256k1 scalar is not canonical (>= group order)")
        return k

    @property
    def identity(self) -> Point:
        return self._identity

    @property
    def generator(self) -> Point:
        return self._generator

    def is_identity(self, p: Point) -> bool:
        return p.data == b""

    def add(self, a: Point, b: Point) -> Point:
        if a.data == b"":
            return b
        if b.data == b"":
            return a
        try:
            combined = coincurve.PublicKey.combine_keys(
                [coincurve.PublicKey(a.data), coincurve.PublicKey(b.data)]
            )
        except ValueError:  # a == -b: the sum is the point at infinity
            return self._identity
        return Point(self, combined.format(compressed=True))

    def negate(self, a: Point) -> Point:
        if a.data == b"":
            return a
        return Point(self, bytes([a.data[0] ^ 1]) + a.data[1:])

    def mul(self, p: Point, k: int) -> Point:
        k %= self.order
        if k == 0 or p.data == b"":
            return self._identity
        if k == 1:
            return p
        out = coincurve.PublicKey(p.data).multiply(k.to_bytes(32, "big"))
        return Point(self, out.format(compressed=True))

    def mul_base(self, k: int) -> Point:
        k %= self.order
        if k == 0:
            return self._identity
        out = coincurve.PublicKey.from_secret(k.to_bytes(32, "big"))
        return Point(self, out.format(compressed=True))

    def encode_point(self, p: Point) -> bytes:
        if p.data == b"":
            raise InvalidPoint("secp256k1: the identity has no encoding")
        return p.data

    def decode_point(self, data: bytes) -> Point:
        if len(data) != 33 or data[0] not in (2, 3):
            raise InvalidPoint("secp256k1 point must be 33-byte compressed SEC1 (02/03 prefix)")
        if int.from_bytes(data[1:], "big") >= _SECP_P:
            raise InvalidPoint("secp256k1 point x-coordinate is not canonical (>= p)")
        try:
            coincurve.PublicKey(data)
        except ValueError as exc:
            raise InvalidPoint("secp256k1 point is not on the curve") from exc
        return Point(self, bytes(data))

    # -- BIP 340 helpers -------------------------------------------------
    def has_even_y(self, p: Point) -> bool:
        if p.data == b"":
            raise InvalidPoint("secp256k1: the identity has no y coordinate")
        return p.data[0] == 2

    def xonly(self, p: Point) -> bytes:
        if p.data == b"":
            raise InvalidPoint("secp256k1: the identity has no x coordinate")
        return p.data[1:]

    def lift_x(self, x: bytes) -> Point:
        """BIP 340 lift_x: the point with even y and this x, or InvalidPoint."""
        if len(x) != 32:
            raise InvalidPoint("x-only public key must be 32 bytes")
        return self.decode_point(b"\x02" + x)


# ---------------------------------------------------------------------------
# Ed25519
# ---------------------------------------------------------------------------

_ED_L: Final = 2**252 + 27742317777372353535851937790883648493
_ED_IDENTITY: Final = b"\x01" + b"\x00" * 31
_ED_BASE: Final = bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666")


class Ed25519Group(Group):
    name = "ed25519"
    order = _ED_L
    element_size = 32
    scalar_size = 32
    scalars = ED25519_SCALARS

    def __init__(self) -> None:
        self._identity = Point(self, _ED_IDENTITY)
        self._generator = Point(self, _ED_BASE)

    def encode_scalar(self, k: int) -> bytes:
        return (k % self.order).to_bytes(32, "little")

    def decode_scalar(self, data: bytes) -> int:
        if len(data) != 32:
            raise InvalidScalar(f"ed25519 scalar must be 32 bytes, got {len(data)}")
        k = int.from_bytes(data, "little")
        if k >= self.order:
            raise InvalidScalar("ed25519 scalar is not canonical (>= group order)")
        return k

    @property
    def identity(self) -> Point:
        return self._identity

    @property
    def generator(self) -> Point:
        return self._generator

    def is_identity(self, p: Point) -> bool:
        return p.data == _ED_IDENTITY

    def add(self, a: Point, b: Point) -> Point:
        if a.data == _ED_IDENTITY:
            return b
        if b.data == _ED_IDENTITY:
            return a
        return Point(self, sodium.crypto_core_ed25519_add(a.data, b.data))

    def negate(self, a: Point) -> Point:
        return Point(self, sodium.crypto_core_ed25519_sub(_ED_IDENTITY, a.data))

    def mul(self, p: Point, k: int) -> Point:
        k %= self.order
        if k == 0 or p.data == _ED_IDENTITY:
            return self._identity
        if k == 1:
            return p
        # Points reaching here were validated on decode (prime-order subgroup), so
        # libsodium's checks pass and a nonzero scalar gives a non-identity result.
        return Point(
            self, sodium.crypto_scalarmult_ed25519_noclamp(k.to_bytes(32, "little"), p.data)
        )

    def mul_base(self, k: int) -> Point:
        k %= self.order
        if k == 0:
            return self._identity
        return Point(self, sodium.crypto_scalarmult_ed25519_base_noclamp(k.to_bytes(32, "little")))

    def encode_point(self, p: Point) -> bytes:
        if p.data == _ED_IDENTITY:
            raise InvalidPoint("ed25519: the identity has no encoding")
        return p.data

    def decode_point(self, data: bytes) -> Point:
        if len(data) != 32:
            raise InvalidPoint(f"ed25519 point must be 32 bytes, got {len(data)}")
        # crypto_core_ed25519_is_valid_point: canonical encoding, on the curve,
        # in the prime-order subgroup and not of small order (identity included).
        try:
            valid = sodium.crypto_core_ed25519_is_valid_point(bytes(data))
        except SodiumRuntimeError:  # pragma: no cover - libsodium only fails on bad lengths
            valid = False
        if not valid:
            raise InvalidPoint(
                "ed25519 point is not a canonical encoding of a prime-order-subgroup element"
            )
        return Point(self, bytes(data))


SECP256K1: Final = Secp256k1Group()
ED25519: Final = Ed25519Group()

_GROUPS: Final[dict[str, Group]] = {g.name: g for g in (SECP256K1, ED25519)}


def group_by_name(name: str) -> Group:
    try:
        return _GROUPS[name]
    except KeyError:
        raise InvalidParameters(
            f"unknown curve {name!r} (expected one of {sorted(_GROUPS)})"
        ) from None
