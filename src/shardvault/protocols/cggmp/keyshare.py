"""A CGGMP24 threshold ECDSA key share on secp256k1 and its t-of-n to additive conversion.

``KeyShare`` is what key generation (or an import through the dealer) leaves with
party ``index``: its Shamir share x_i of the private key x, the public key
X = x·G, every party's public share X_j = x_j·G, and the threshold t. Presigning
runs among a signer set S (|S| >= t) on additive shares w_i = λ_i·x_i, whose sum
over S is x (λ_i: Lagrange coefficients at 0 over S).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.shamir import (
    check_indices,
    check_threshold,
    derive_public_share,
    lagrange_coefficient,
    split_secret,
)
from shardvault.errors import InvalidParameters

__all__ = ["KeyShare", "additive_shares", "trusted_dealer_key_shares"]

_G = SECP256K1


@dataclass(frozen=True, slots=True)
class KeyShare:
    index: int
    secret: int = field(repr=False)
    public_key: Point
    public_shares: Mapping[int, Point]
    threshold: int

    def __post_init__(self) -> None:
        check_threshold(self.threshold, len(self.public_shares))
        check_indices(list(self.public_shares))
        if self.index not in self.public_shares:
            raise InvalidParameters("the share's own index has no public share")
        if not (0 < self.secret < _G.order):
            raise InvalidParameters("secret share must be a nonzero scalar")
        if _G.mul_base(self.secret) != self.public_shares[self.index]:
            raise InvalidParameters("secret share does not match its public share")
        if self.public_key.is_identity():
            raise InvalidParameters("public key is the identity")

    def __repr__(self) -> str:
        return (
            f"KeyShare(index={self.index}, t={self.threshold}, n={len(self.public_shares)}, "
            f"public_key={self.public_key.encode().hex()}, secret=<redacted>)"
        )

    def check_consistent(self) -> None:
        """Any t public shares interpolate (in the exponent) to the public key."""
        ids = sorted(self.public_shares)[: self.threshold]
        q = _G.order
        got = _G.lincomb(
            [lagrange_coefficient(i, ids, q) for i in ids], [self.public_shares[i] for i in ids]
        )
        if got != self.public_key:
            raise InvalidParameters("public shares do not interpolate to the public key")


def trusted_dealer_key_shares(secret: int, threshold: int, participants: int) -> list[KeyShare]:
    """Split an existing private key (import path; tests)."""
    shares, commitments = split_secret(_G, secret, threshold, participants)
    public = {s.index: derive_public_share(_G, commitments, s.index) for s in shares}
    return [KeyShare(s.index, s.value, commitments[0], public, threshold) for s in shares]


def additive_shares(share: KeyShare, signers: Sequence[int]) -> tuple[int, dict[int, Point]]:
    """This party's w_i = λ_i·x_i over ``signers`` and every signer's W_j = λ_j·X_j.

    sum_j w_j = x and sum_j W_j = X for any signer set of at least t parties.
    """
    ids = sorted(set(signers))
    if len(ids) != len(signers) or len(ids) < share.threshold:
        raise InvalidParameters(f"need at least {share.threshold} distinct signers")
    if share.index not in ids or any(j not in share.public_shares for j in ids):
        raise InvalidParameters("signer set must contain this party and only known parties")
    q = _G.order
    lam = {j: lagrange_coefficient(j, ids, q) for j in ids}
    w_i = _G.scalars.mul(share.secret, lam[share.index])  # constant-time on x_i
    return w_i, {j: share.public_shares[j] * lam[j] for j in ids}
