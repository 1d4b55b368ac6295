"""Fiat-Shamir for the CGGMP24 proofs: the transcript and the challenge stream.

* :func:`proof_transcript` starts a :class:`shardvault.crypto.hashing.Transcript`
  (injective: every label and value is length-prefixed) under the domain
  ``shardvault/cggmp24/<proof>/v1`` and binds the session id and the prover id
  before any public input.
* :class:`ChallengeStream` turns the finished transcript into an unbounded
  stream of bytes, ``SHA-512(tag || seed || counter)`` with
  ``seed = SHA-512(transcript)``, from which challenges are drawn by rejection
  sampling (uniform, no modular bias).

The security parameters are :mod:`.params`; the integer codec is :mod:`.codec`.
"""

from __future__ import annotations

import hashlib
from typing import Final

import gmpy2

from shardvault.crypto.hashing import Transcript
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.errors import InvalidParameters

__all__ = ["ChallengeStream", "append_signed", "proof_transcript"]

_STREAM_TAG: Final = b"shardvault/cggmp24/fiat-shamir-stream/v1"
_MAX_SESSION_ID: Final = 65535
_MAX_PROVER_ID: Final = (1 << 32) - 1
#: Bound on rejection-sampling draws per challenge element (acceptance is >= 1/2
#: per draw for honest moduli; hitting this means a malformed statement).
_MAX_DRAWS: Final = 256


def proof_transcript(proof: str, session_id: bytes, prover_id: int) -> Transcript:
    """A fresh transcript for ``proof`` bound to ``session_id`` and ``prover_id``."""
    if not isinstance(session_id, bytes) or not 1 <= len(session_id) <= _MAX_SESSION_ID:
        raise InvalidParameters(f"session id must be 1..{_MAX_SESSION_ID} bytes")
    if (
        not isinstance(prover_id, int)
        or isinstance(prover_id, bool)
        or not 0 <= prover_id <= _MAX_PROVER_ID
    ):
        raise InvalidParameters("prover id must be an integer in [0, 2^32)")
    tr = Transcript(f"shardvault/cggmp24/{proof}/v1")
    tr.append("session-id", session_id)
    tr.append("prover-id", prover_id.to_bytes(4, "big"))
    return tr


def append_signed(tr: Transcript, label: str, value: int) -> Transcript:
    """Append a signed integer: one sign byte (0 for >= 0, 1 for < 0) and the magnitude."""
    mag = abs(value)
    body = mag.to_bytes((mag.bit_length() + 7) // 8, "big")
    return tr.append(label, (b"\x01" if value < 0 else b"\x00") + body)


class ChallengeStream:
    """Deterministic challenge bytes and integers from a finished transcript."""

    __slots__ = ("_buf", "_counter", "_seed")

    def __init__(self, tr: Transcript) -> None:
        self._seed = tr.digest()
        self._counter = 0
        self._buf = b""

    def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            block = hashlib.sha512(
                len(_STREAM_TAG).to_bytes(4, "big")
                + _STREAM_TAG
                + self._seed
                + self._counter.to_bytes(8, "big")
            ).digest()
            self._counter += 1
            self._buf += block
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def below(self, bound: int) -> int:
        """Uniform in ``[0, bound)``: draw ``bit_length(bound)`` bits, reject if ``>= bound``."""
        if bound < 1:
            raise InvalidParameters("challenge bound must be positive")
        bits = (bound - 1).bit_length()
        if bits == 0:
            return 0
        nbytes = (bits + 7) // 8
        mask = (1 << bits) - 1
        for _ in range(_MAX_DRAWS):
            v = int.from_bytes(self.read(nbytes), "big") & mask
            if v < bound:
                return v
        raise InvalidProof("challenge derivation did not terminate", check="challenge")

    def signed(self, bound: int) -> int:
        """Uniform in ``[-bound, bound]``."""
        return self.below(2 * bound + 1) - bound

    def unit(self, n: int) -> int:
        """Uniform in ``Z_n^*`` (rejection: zero and non-units are redrawn)."""
        for _ in range(_MAX_DRAWS):
            v = self.below(n)
            if v != 0 and gmpy2.gcd(v, n) == 1:
                return v
        raise InvalidProof("challenge derivation did not terminate", check="challenge")

    def bits(self, count: int) -> tuple[int, ...]:
        """``count`` uniform bits (0/1), least significant bit of each byte first."""
        data = self.read((count + 7) // 8)
        return tuple((data[i >> 3] >> (i & 7)) & 1 for i in range(count))
