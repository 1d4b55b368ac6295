"""Arithmetic on secret scalars mod a group order, done by the C libraries in
constant time: libsecp256k1 (through coincurve's cffi module:
``secp256k1_ec_seckey_tweak_add``, ``secp256k1_ec_seckey_tweak_mul``,
``secp256k1_ec_seckey_negate``) and libsodium (through PyNaCl's cffi module:
``crypto_core_ed25519_scalar_add``, ``_mul``, ``_sub``, ``_negate``, ``_reduce``).

Python's integers are variable-time: a product or a remainder of a secret takes a
time that depends on the secret. Here the secret values are only converted to and
from their 32-byte encodings (``int.to_bytes`` / ``int.from_bytes``, whose time
depends on how many leading zero bytes the value has, nothing else) and compared
with zero; the sums, products, negations and reductions happen in C.

libsecp256k1's secret-key functions refuse a zero key and a zero result, so
:class:`Secp256k1Scalars` answers a zero operand without calling them. That branch
is taken for a secret only with probability about 2^-256 (a uniform scalar is
zero), and reveals only that the value is zero. Every operand must already be
reduced (``0 <= a < order``); reduce public values with ``%`` first.

``scalar_field(order)`` gives the field of secp256k1's or Ed25519's group order, or
None for any other modulus (test groups), whose callers keep Python arithmetic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Final

from coincurve._libsecp256k1 import ffi as _ffi
from coincurve._libsecp256k1 import lib as _lib
from coincurve.context import GLOBAL_CONTEXT as _SECP_CONTEXT
from nacl import bindings as _nacl_bindings  # noqa: F401 - initialises libsodium
from nacl._sodium import ffi as _sodium_ffi
from nacl._sodium import lib as _sodium_lib

from shardvault.errors import InvalidScalar

__all__ = [
    "ED25519_SCALARS",
    "SECP256K1_SCALARS",
    "Ed25519Scalars",
    "ScalarField",
    "Secp256k1Scalars",
    "scalar_field",
]

_SECP_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_ED_L: Final = 2**252 + 27742317777372353535851937790883648493


def _unreduced() -> InvalidScalar:
    return InvalidScalar("scalar operand must be reduced (0 <= a < order)")


class ScalarField(ABC):
    """The integers mod a prime group order, with constant-time operations."""

    order: int

    @abstractmethod
    def add(self, a: int, b: int) -> int:
        """``a + b mod order``."""

    @abstractmethod
    def mul(self, a: int, b: int) -> int:
        """``a * b mod order``."""

    @abstractmethod
    def neg(self, a: int) -> int:
        """``-a mod order``."""

    def sub(self, a: int, b: int) -> int:
        """``a - b mod order``."""
        return self.add(a, self.neg(b))

    def mul_add(self, a: int, b: int, c: int) -> int:
        """``a * b + c mod order``."""
        return self.add(self.mul(a, b), c)

    def sum(self, values: list[int]) -> int:
        """``sum(values) mod order``."""
        acc = 0
        for v in values:
            acc = self.add(acc, v)
        return acc

    @abstractmethod
    def reduce_wide(self, data: bytes) -> int:
        """A wide hash output as a scalar (RFC 9380 ``hash_to_field`` / RFC 9591
        Ed25519 H1-H3): ``int(data) mod order``, big-endian for secp256k1 (48 bytes),
        little-endian for Ed25519 (64 bytes)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class Secp256k1Scalars(ScalarField):
    """Scalars mod the secp256k1 group order, by libsecp256k1."""

    order = _SECP_N
    #: 2^256 mod n, for the reduction of a 48-byte value.
    _R256: Final = (1 << 256) % _SECP_N

    def add(self, a: int, b: int) -> int:
        if not (0 <= a < _SECP_N and 0 <= b < _SECP_N):
            raise _unreduced()
        if a == 0:
            return b
        return _secp_call(_lib.secp256k1_ec_seckey_tweak_add, a, b)

    def mul(self, a: int, b: int) -> int:
        if not (0 <= a < _SECP_N and 0 <= b < _SECP_N):
            raise _unreduced()
        if a == 0 or b == 0:
            return 0
        return _secp_call(_lib.secp256k1_ec_seckey_tweak_mul, a, b)

    def neg(self, a: int) -> int:
        if not 0 <= a < _SECP_N:
            raise _unreduced()
        if a == 0:
            return 0
        buf = _ffi.new("unsigned char[32]", a.to_bytes(32, "big"))
        _lib.secp256k1_ec_seckey_negate(_SECP_CONTEXT.ctx, buf)
        return int.from_bytes(bytes(_ffi.buffer(buf, 32)), "big")

    def reduce_wide(self, data: bytes) -> int:
        """48 bytes ``hi (16) || lo (32)``: ``hi * 2^256 + lo mod n``. ``lo >= n`` has
        probability below 2^-127; only then is ``n`` subtracted in Python."""
        if len(data) != 48:
            raise InvalidScalar("secp256k1 wide reduction takes 48 bytes")
        hi = int.from_bytes(data[:16], "big")
        lo = int.from_bytes(data[16:], "big")
        if lo >= _SECP_N:  # pragma: no cover - probability < 2^-127
            lo -= _SECP_N
        return self.add(self.mul(hi, self._R256), lo)


def _secp_call(fn: Any, a: int, b: int) -> int:
    """``fn(ctx, a, b)`` for a libsecp256k1 ``seckey_tweak`` function on nonzero
    reduced operands; its failure means a zero result."""
    buf = _ffi.new("unsigned char[32]", a.to_bytes(32, "big"))
    if not fn(_SECP_CONTEXT.ctx, buf, b.to_bytes(32, "big")):
        return 0
    return int.from_bytes(bytes(_ffi.buffer(buf, 32)), "big")


class Ed25519Scalars(ScalarField):
    """Scalars mod the Ed25519 group order L, by libsodium (called through PyNaCl's
    cffi module directly: its ``nacl.bindings`` wrappers cost twice the operation)."""

    order = _ED_L

    def add(self, a: int, b: int) -> int:
        if not (0 <= a < _ED_L and 0 <= b < _ED_L):
            raise _unreduced()
        return _sodium_call(_sodium_lib.crypto_core_ed25519_scalar_add, a, b)

    def sub(self, a: int, b: int) -> int:
        if not (0 <= a < _ED_L and 0 <= b < _ED_L):
            raise _unreduced()
        return _sodium_call(_sodium_lib.crypto_core_ed25519_scalar_sub, a, b)

    def mul(self, a: int, b: int) -> int:
        if not (0 <= a < _ED_L and 0 <= b < _ED_L):
            raise _unreduced()
        return _sodium_call(_sodium_lib.crypto_core_ed25519_scalar_mul, a, b)

    def neg(self, a: int) -> int:
        if not 0 <= a < _ED_L:
            raise _unreduced()
        out = _sodium_ffi.new("unsigned char[32]")
        _sodium_lib.crypto_core_ed25519_scalar_negate(out, a.to_bytes(32, "little"))
        return int.from_bytes(bytes(_sodium_ffi.buffer(out, 32)), "little")

    def reduce_wide(self, data: bytes) -> int:
        if len(data) != 64:
            raise InvalidScalar("ed25519 wide reduction takes 64 bytes")
        out = _sodium_ffi.new("unsigned char[32]")
        _sodium_lib.crypto_core_ed25519_scalar_reduce(out, bytes(data))
        return int.from_bytes(bytes(_sodium_ffi.buffer(out, 32)), "little")


def _sodium_call(fn: Any, a: int, b: int) -> int:
    """``fn(out, a, b)`` for a libsodium ``crypto_core_ed25519_scalar`` function."""
    out = _sodium_ffi.new("unsigned char[32]")
    fn(out, a.to_bytes(32, "little"), b.to_bytes(32, "little"))
    return int.from_bytes(bytes(_sodium_ffi.buffer(out, 32)), "little")


SECP256K1_SCALARS: Final = Secp256k1Scalars()
ED25519_SCALARS: Final = Ed25519Scalars()

_BY_ORDER: Final[dict[int, ScalarField]] = {
    SECP256K1_SCALARS.order: SECP256K1_SCALARS,
    ED25519_SCALARS.order: ED25519_SCALARS,
}


def scalar_field(order: int) -> ScalarField | None:
    """The constant-time field of a supported group order, or None."""
    return _BY_ORDER.get(order)
