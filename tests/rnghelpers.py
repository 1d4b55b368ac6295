"""A seeded randomness source for tests that need reproducible protocol runs."""

from __future__ import annotations

import random


class SeededRng:
    """A deterministic stand-in for the OS CSPRNG (TEST ONLY): the methods of
    :class:`shardvault.crypto.rng.Rng`, from ``random.Random(seed)``."""

    def __init__(self, seed: int) -> None:
        self._r = random.Random(seed)

    def randbelow(self, exclusive_upper_bound: int) -> int:
        return self._r.randrange(exclusive_upper_bound)

    def randbits(self, k: int) -> int:
        return self._r.getrandbits(k)

    def token_bytes(self, nbytes: int) -> bytes:
        return self._r.randbytes(nbytes)
