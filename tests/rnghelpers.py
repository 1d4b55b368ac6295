"""Randomness sources for tests. Protocols take ``rng: Rng`` (shardvault.crypto.rng), so
a test hands them one of these instead of patching module globals."""

from __future__ import annotations

import random
from collections.abc import Iterable


class ReplayRng:
    """Yields exactly the values it was given, in order, and fails when asked for more:
    for published test vectors that fix a protocol's randomness (RFC 9591's nonce
    randomness and polynomial coefficients).

    ``randbelow`` returns the next of ``scalars``, ``token_bytes`` the next of
    ``byte_strings``; each must fit the request.
    """

    def __init__(self, *, scalars: Iterable[int] = (), byte_strings: Iterable[bytes] = ()):
        self._scalars = list(scalars)
        self._byte_strings = list(byte_strings)

    def randbelow(self, exclusive_upper_bound: int) -> int:
        assert self._scalars, "ReplayRng has no scalar left"
        value = self._scalars.pop(0)
        assert 0 <= value < exclusive_upper_bound, "replayed scalar out of range"
        return value

    def randbits(self, k: int) -> int:
        raise AssertionError("ReplayRng replays scalars and byte strings only")

    def token_bytes(self, nbytes: int) -> bytes:
        assert self._byte_strings, "ReplayRng has no byte string left"
        value = self._byte_strings.pop(0)
        assert len(value) == nbytes, f"replayed {len(value)} bytes, {nbytes} asked for"
        return value

    @property
    def exhausted(self) -> bool:
        return not self._scalars and not self._byte_strings


class SeededRng:
    """A reproducible source (``random.Random`` with a seed): the same seed gives the
    same run. For tests only: it is not a CSPRNG."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def randbelow(self, exclusive_upper_bound: int) -> int:
        return self._random.randrange(exclusive_upper_bound)

    def randbits(self, k: int) -> int:
        return self._random.getrandbits(k)

    def token_bytes(self, nbytes: int) -> bytes:
        return self._random.randbytes(nbytes)
