"""The terminal tour behind ``shardvault demo``: split, generate, sign, verify, time.

Every signature is checked by a library that is not ours: Ed25519 by PyNaCl
(libsodium), BIP 340 by coincurve (libsecp256k1 ``schnorrsig_verify``). FROST
(secp256k1, SHA-256) signatures have no standard verifier, so their equation
z*G == R + c*Y is checked with libsecp256k1 doing the point arithmetic.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import coincurve
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from shardvault.crypto import bip340
from shardvault.protocols.frost.ciphersuites import (
    FROST_ED25519,
    FROST_SECP256K1,
    FROST_SECP256K1_TR,
    Ciphersuite,
)
from shardvault.protocols.frost.dkg import FrostDkg
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage, trusted_dealer_keygen
from shardvault.protocols.frost.session import FrostCoordinator, FrostSigner
from shardvault.protocols.messages import InMemorySessionRegistry, run_locally

__all__ = ["DemoStep", "independent_verify", "run_demo"]


def independent_verify(
    suite: Ciphersuite,
    group_public_key: bytes,
    msg: bytes,
    sig: bytes,
    merkle_root: bytes | None = None,
) -> tuple[bool, str]:
    """(ok, verifier name) using a library other than shardvault's own code."""
    if suite is FROST_ED25519:
        try:
            VerifyKey(group_public_key).verify(msg, sig)
        except BadSignatureError:
            return False, "PyNaCl"
        return True, "PyNaCl"
    if suite is FROST_SECP256K1_TR:
        xonly = group_public_key[1:]
        if merkle_root is not None:
            xonly = bip340.tweak_public_key(xonly, merkle_root)[0].data[1:]
        return bool(coincurve.PublicKeyXOnly(xonly).verify(sig, msg)), "coincurve"
    challenge = suite.challenge(
        suite.group.decode_point(sig[:33]), suite.group.decode_point(group_public_key), msg
    )
    lhs = coincurve.PublicKey.from_secret(sig[33:])
    rhs = coincurve.PublicKey.combine_keys(
        [
            coincurve.PublicKey(sig[:33]),
            coincurve.PublicKey(group_public_key).multiply(challenge.to_bytes(32, "big")),
        ]
    )
    return lhs.format() == rhs.format(), "libsecp256k1 (z·G = R + c·Y)"


@dataclass(frozen=True)
class DemoStep:
    suite: str
    what: str
    detail: str
    millis: float
    verified_by: str = ""
    ok: bool = True


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _dkg(suite: Ciphersuite, t: int, n: int) -> tuple[list[KeyPackage], PublicKeyPackage]:
    sid = os.urandom(32)
    parties = [FrostDkg(suite, sid, i, t, n, InMemorySessionRegistry()) for i in range(1, n + 1)]
    run_locally(parties)
    results = [p.result() for p in parties]
    return [r[0] for r in results], results[0][1]


def _sign(
    public: PublicKeyPackage,
    key_packages: Sequence[KeyPackage],
    msg: bytes,
    merkle_root: bytes | None,
) -> bytes:
    sid = os.urandom(32)
    ids = [kp.identifier for kp in key_packages]
    coordinator = FrostCoordinator(
        public, sid, ids, msg, InMemorySessionRegistry(), merkle_root=merkle_root
    )
    signers = [
        FrostSigner(kp, sid, msg, InMemorySessionRegistry(), merkle_root=merkle_root)
        for kp in key_packages
    ]
    run_locally([coordinator, *signers])
    return coordinator.result()


def _short(public: PublicKeyPackage) -> str:
    return "key " + public.group_public_key.encode().hex()[:16] + "…"


def run_demo(
    message: bytes = b"shardvault demo: no single machine holds this key",
) -> list[DemoStep]:
    """Run the tour and return what happened, step by step."""
    steps: list[DemoStep] = []
    for suite in (FROST_ED25519, FROST_SECP256K1, FROST_SECP256K1_TR):
        label = {
            FROST_ED25519: "EdDSA Ed25519",
            FROST_SECP256K1: "FROST secp256k1",
            FROST_SECP256K1_TR: "Schnorr BIP 340",
        }[suite]
        start = time.perf_counter()
        d_kps, d_pub = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
        steps.append(DemoStep(label, "split 2-of-3 (import)", _short(d_pub), _ms(start)))
        start = time.perf_counter()
        g_kps, g_pub = _dkg(suite, 2, 3)
        steps.append(DemoStep(label, "DKG 2-of-3", _short(g_pub), _ms(start)))
        roots: list[tuple[str, bytes | None]] = [("", None)]
        if suite.bip340:
            roots += [(" + BIP 86 tweak", b""), (" + script root", os.urandom(32))]
        for source, kps, pub in (("split key", d_kps, d_pub), ("DKG key", g_kps, g_pub)):
            for tag, root in roots:
                start = time.perf_counter()
                sig = _sign(pub, [kps[0], kps[2]], message, root)
                ms = _ms(start)
                key = pub.group_public_key.encode()
                ok, verifier = independent_verify(suite, key, message, sig, root)
                step = f"sign 1+3 ({source}{tag})"
                steps.append(DemoStep(label, step, sig.hex()[:16] + "…", ms, verifier, ok))
    return steps
