"""FROST key material: a participant's ``KeyPackage``, the group's ``PublicKeyPackage``,
the trusted-dealer split (RFC 9591 Appendix C, what key import uses) and the
BIP 340 / BIP 341 key normalisation (even y, Taproot tweak)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shardvault.crypto import bip340
from shardvault.crypto.groups import Point, Secp256k1Group
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.shamir import (
    check_indices,
    check_threshold,
    derive_public_share,
    interpolate_secret,
    lagrange_coefficient,
    split_secret,
)
from shardvault.errors import InvalidParameters
from shardvault.protocols.frost.ciphersuites import Ciphersuite

__all__ = [
    "KeyPackage",
    "PublicKeyPackage",
    "bip340_normalize",
    "normalize_key_package",
    "normalize_public_key_package",
    "reconstruct_secret",
    "trusted_dealer_keygen",
]


@dataclass(frozen=True, slots=True)
class PublicKeyPackage:
    """What everyone may know: the group key and each participant's verifying share."""

    ciphersuite: Ciphersuite
    group_public_key: Point
    verifying_shares: Mapping[int, Point]
    min_signers: int

    def __post_init__(self) -> None:
        check_threshold(self.min_signers, len(self.verifying_shares))
        check_indices(list(self.verifying_shares))
        g = self.ciphersuite.group
        for p in (self.group_public_key, *self.verifying_shares.values()):
            if p.group is not g or p.is_identity():
                raise InvalidParameters(
                    "public key package points must be non-identity group elements"
                )

    def check_consistent(self) -> None:
        """Any min_signers verifying shares interpolate (in the exponent) to the group key
        (the check of RFC 9591 Appendix C.2 ``derive_group_info``'s output)."""
        ids = sorted(self.verifying_shares)[: self.min_signers]
        q = self.ciphersuite.group.order
        recombined = self.ciphersuite.group.lincomb(
            [lagrange_coefficient(i, ids, q) for i in ids],
            [self.verifying_shares[i] for i in ids],
        )
        if recombined != self.group_public_key:
            raise InvalidParameters("verifying shares do not interpolate to the group public key")


@dataclass(frozen=True, slots=True)
class KeyPackage:
    """One participant's long-lived signing material. ``repr`` never shows the share."""

    ciphersuite: Ciphersuite
    identifier: int
    signing_share: int = field(repr=False)
    verifying_share: Point
    group_public_key: Point
    min_signers: int

    def __post_init__(self) -> None:
        g = self.ciphersuite.group
        check_indices([self.identifier])
        if not (0 < self.signing_share < g.order):
            raise InvalidParameters("signing share must be a nonzero scalar")
        if g.mul_base(self.signing_share) != self.verifying_share:
            raise InvalidParameters("signing share does not match its verifying share")

    def __repr__(self) -> str:
        return (
            f"KeyPackage({self.ciphersuite.name}, id={self.identifier}, "
            f"group_key={self.group_public_key.encode().hex()}, share=<redacted>)"
        )


def trusted_dealer_keygen(
    suite: Ciphersuite,
    secret: int,
    min_signers: int,
    max_signers: int,
    *,
    rng: Rng = OS_RNG,
) -> tuple[list[KeyPackage], PublicKeyPackage]:
    """Split an existing secret key (RFC 9591 Appendix C ``trusted_dealer_keygen``).

    The ``min_signers - 1`` random coefficients of the sharing polynomial come from
    ``rng`` (Appendix C.1 ``secret_share_shard``); the verifying shares and the group
    key are Appendix C.2 ``derive_group_info`` over the Feldman commitments.
    """
    g = suite.group
    shares, commitments = split_secret(g, secret, min_signers, max_signers, rng=rng)
    group_key = commitments[0]
    verifying = {s.index: derive_public_share(g, commitments, s.index) for s in shares}
    packages = [
        KeyPackage(suite, s.index, s.value, verifying[s.index], group_key, min_signers)
        for s in shares
    ]
    return packages, PublicKeyPackage(suite, group_key, verifying, min_signers)


def bip340_normalize(
    suite: Ciphersuite,
    group_public_key: Point,
    merkle_root: bytes | None,
) -> tuple[int, int, Point]:
    """The affine map ``s -> sign * s + sign * tweak`` that turns shares of the stored
    key into shares of the BIP 340 signing key (even y; BIP 341-tweaked when a merkle
    root is given, ``b""`` meaning the BIP 86 key-path tweak).

    Returns ``(sign, tweak_term, effective_group_key)``: an effective share is
    ``sign * s_i + tweak_term`` and an effective verifying share is
    ``sign * Y_i + tweak_term * G``. Since Lagrange coefficients over any signer set
    sum to one, adding ``tweak_term`` to every share adds it to the secret.
    """
    if not suite.bip340:
        if merkle_root is not None:
            raise InvalidParameters(f"{suite.name} does not take a Taproot merkle root")
        return 1, 0, group_public_key
    g = suite.group
    if not isinstance(g, Secp256k1Group):
        raise InvalidParameters("BIP 340 needs secp256k1")
    q = g.order
    sign1 = 1 if g.has_even_y(group_public_key) else q - 1
    if merkle_root is None:
        return sign1, 0, group_public_key * sign1
    tweaked, t = bip340.tweak_public_key(g.xonly(group_public_key), merkle_root)
    sign2 = 1 if g.has_even_y(tweaked) else q - 1
    return sign2 * sign1 % q, sign2 * t % q, tweaked * sign2


def normalize_key_package(kp: KeyPackage, merkle_root: bytes | None) -> KeyPackage:
    """The participant's key package for the BIP 340 (possibly tweaked) signing key."""
    sign, tweak, key = bip340_normalize(kp.ciphersuite, kp.group_public_key, merkle_root)
    if sign == 1 and tweak == 0:
        return kp
    g = kp.ciphersuite.group
    return KeyPackage(
        kp.ciphersuite,
        kp.identifier,
        g.scalars.mul_add(kp.signing_share, sign, tweak),  # constant-time on the share
        kp.verifying_share * sign + g.mul_base(tweak),
        key,
        kp.min_signers,
    )


def normalize_public_key_package(
    pkp: PublicKeyPackage, merkle_root: bytes | None
) -> PublicKeyPackage:
    sign, tweak, key = bip340_normalize(pkp.ciphersuite, pkp.group_public_key, merkle_root)
    if sign == 1 and tweak == 0:
        return pkp
    g = pkp.ciphersuite.group
    tweak_point = g.mul_base(tweak)
    return PublicKeyPackage(
        pkp.ciphersuite,
        key,
        {i: y * sign + tweak_point for i, y in pkp.verifying_shares.items()},
        pkp.min_signers,
    )


def reconstruct_secret(key_packages: Sequence[KeyPackage]) -> int:
    """Recombine a signing key from at least min_signers packages (RFC 9591 Appendix C.1
    ``secret_share_combine``; export, tests)."""
    if not key_packages:
        raise InvalidParameters("no key packages")
    first = key_packages[0]
    if len(key_packages) < first.min_signers:
        raise InvalidParameters(f"need at least {first.min_signers} shares")
    secret = interpolate_secret(
        first.ciphersuite.group, {kp.identifier: kp.signing_share for kp in key_packages}
    )
    if first.ciphersuite.group.mul_base(secret) != first.group_public_key:
        raise InvalidParameters("recombined key does not match the group public key")
    return secret
