"""The randomness source the protocols take as an argument.

Every function or state machine that draws randomness accepts ``rng: Rng`` and
defaults to :data:`OS_RNG`, the operating system's CSPRNG (``secrets``,
docs/security.md item 20). Passing the source in, as ZF frost's ``rng: &mut R`` does,
keeps the protocol code free of hidden global state and lets a test drive a
protocol from a seeded source of its own without patching module globals. The
method names are those of the ``secrets`` module.
"""

from __future__ import annotations

import secrets
from typing import Protocol, runtime_checkable

__all__ = ["OS_RNG", "Rng", "SystemRng"]


@runtime_checkable
class Rng(Protocol):
    def randbelow(self, exclusive_upper_bound: int) -> int:
        """A uniform integer in ``[0, exclusive_upper_bound)``."""

    def randbits(self, k: int) -> int:
        """A uniform integer of ``k`` random bits."""

    def token_bytes(self, nbytes: int) -> bytes:
        """``nbytes`` uniform random bytes."""


class SystemRng:
    """The OS CSPRNG through ``secrets``; the only source for secrets in production."""

    __slots__ = ()

    def randbelow(self, exclusive_upper_bound: int) -> int:
        return secrets.randbelow(exclusive_upper_bound)

    def randbits(self, k: int) -> int:
        return secrets.randbits(k)

    def token_bytes(self, nbytes: int) -> bytes:
        return secrets.token_bytes(nbytes)

    def __repr__(self) -> str:
        return "SystemRng()"


#: The default randomness source of every protocol.
OS_RNG: Rng = SystemRng()
