"""Secret scalars are computed on by the C libraries, not by Python's variable-time
integers (docs/security.md item 21).

Two kinds of check: a static one, which reads each protocol step that handles a
secret scalar and refuses any Python arithmetic operator (``+ - * / % **``, unary
minus, augmented assignment) touching a name that holds one; and dynamic ones,
which run the steps with the C libraries' entry points spied on and compare the
results with the integer formulas of the papers (so the C path is the same
function, not a different one).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scalarhelpers import Recorder

from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.shamir import lagrange_coefficient
from shardvault.protocols.cggmp.keyshare import additive_shares, trusted_dealer_key_shares
from shardvault.protocols.cggmp.presignature import Presignature, PresignaturePublic
from shardvault.protocols.cggmp.sign import message_scalar, sign_share
from shardvault.protocols.frost.ciphersuites import (
    FROST_ED25519,
    FROST_SECP256K1,
    FROST_SECP256K1_TR,
    Ciphersuite,
)
from shardvault.protocols.frost.keys import (
    normalize_key_package,
    trusted_dealer_keygen,
)
from shardvault.protocols.frost.signing import (
    commit,
    compute_binding_factors,
    compute_group_commitment,
    sign,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "shardvault"

#: (file, function or Class.method, names holding secret scalars there).
SECRET_STEPS: list[tuple[str, str, set[str]]] = [
    ("protocols/frost/signing.py", "sign", {"hiding", "binding", "signing_share", "nonce"}),
    ("protocols/frost/keys.py", "normalize_key_package", {"signing_share"}),
    ("protocols/frost/dkg.py", "FrostDkg.__init__", {"_coefficients", "k"}),
    ("protocols/frost/dkg.py", "FrostDkg._finish", {"_received_shares", "share"}),
    ("protocols/frost/dkg.py", "FrostDkg._round2", {"_coefficients", "share"}),
    ("protocols/cggmp/sign.py", "sign_share", {"k", "chi"}),
    ("protocols/cggmp/keyshare.py", "additive_shares", {"secret", "w_i"}),
    ("protocols/cggmp/presign.py", "Presigning._round2", {"_gamma", "_w", "k", "delta", "chi"}),
    ("protocols/cggmp/keygen.py", "KeyGeneration._round3_received", {"shares", "_own_share"}),
    ("crypto/shamir.py", "interpolate_secret", {"v", "acc", "shares"}),
]


def _function(tree: ast.Module, qualname: str) -> ast.FunctionDef:
    body: list[ast.stmt] = tree.body
    *outer, name = qualname.split(".")
    for cls in outer:
        body = next(n for n in body if isinstance(n, ast.ClassDef) and n.name == cls).body
    return next(n for n in body if isinstance(n, ast.FunctionDef) and n.name == name)


def _names(node: ast.AST) -> set[str]:
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr)
    return out


#: Builtins that do Python integer arithmetic on their arguments.
PYTHON_ARITHMETIC = {"sum", "pow", "abs", "divmod"}


def _outside_calls(node: ast.AST) -> Iterator[ast.AST]:
    """``node``'s own operands, not descending into calls (a call's arguments are
    what the callee computes on), except calls of Python's arithmetic builtins."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.Call) or (
            isinstance(child.func, ast.Name) and child.func.id in PYTHON_ARITHMETIC
        ):
            yield from _outside_calls(child)


def python_arithmetic_on(func: ast.FunctionDef, secrets: set[str]) -> list[str]:
    """Every arithmetic expression in ``func`` whose operands name a secret."""
    found = []
    for node in ast.walk(func):
        if isinstance(node, ast.BinOp | ast.AugAssign) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        ):
            hit = set().union(*(_names(n) for n in _outside_calls(node) if n is not node))
            if isinstance(node, ast.AugAssign):
                hit |= _names(node.target)
            if hit & secrets:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path, qualname, secrets", SECRET_STEPS, ids=lambda v: str(v))
def test_secret_steps_do_no_python_arithmetic(path: str, qualname: str, secrets: set[str]) -> None:
    tree = ast.parse((SRC / path).read_text())
    assert python_arithmetic_on(_function(tree, qualname), secrets) == []


def test_static_check_catches_an_offender() -> None:
    tree = ast.parse(
        "def sign(k, chi, m, r, q):\n"
        "    ok = f.add(f.mul(k, m), f.mul(chi, r))\n"
        "    return (k * m + r * chi) % q\n"
    )
    found = python_arithmetic_on(_function(tree, "sign"), {"k", "chi"})
    assert found and all("line 3" in f for f in found)
    tree = ast.parse("def f(s, t):\n    s += 1\n    return -s + sum(t) % 7\n")
    assert len(python_arithmetic_on(_function(tree, "f"), {"s", "t"})) == 4


SUITES = [FROST_ED25519, FROST_SECP256K1, FROST_SECP256K1_TR]


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@settings(max_examples=25, deadline=None)
@given(secret=st.integers(min_value=1), message=st.binary(max_size=64))
def test_frost_share_on_the_c_path_is_rfc9591s_z(
    suite: Ciphersuite, secret: int, message: bytes
) -> None:
    """z_i = d_i + e_i rho_i + lambda_i s_i c (nonces negated for an odd BIP 340 R),
    computed with integers, equals what ``sign`` returns."""
    g = suite.group
    kps, public = trusted_dealer_keygen(suite, secret % (g.order - 1) + 1, 2, 3)
    if suite.bip340:
        kps = [normalize_key_package(kp, None) for kp in kps]
        public_key = kps[0].group_public_key
    else:
        public_key = public.group_public_key
    pairs = [commit(kp) for kp in kps[:2]]
    commitments = [c for _, c in pairs]
    hiding, binding = pairs[0][0]._hiding, pairs[0][0]._binding
    assert hiding is not None and binding is not None
    z = sign(kps[0], pairs[0][0], message, commitments)
    q = g.order
    rho = compute_binding_factors(suite, public_key, commitments, message)
    r = compute_group_commitment(suite, commitments, rho)
    sign_r = 1
    if suite.bip340 and not g.has_even_y(r):  # type: ignore[attr-defined]
        sign_r, r = -1, -r
    c = suite.challenge(r, public_key, message)
    lam = lagrange_coefficient(1, [1, 2], q)
    assert z == (sign_r * (hiding + binding * rho[1]) + lam * kps[0].signing_share * c) % q


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_frost_nonces_and_shares_go_through_the_c_library(
    suite: Ciphersuite, c_calls: dict[str, Recorder]
) -> None:
    lib = c_calls[suite.group.name]
    kps, _ = trusted_dealer_keygen(suite, suite.group.random_scalar(), 2, 3)
    if suite.bip340:
        kps = [normalize_key_package(kp, None) for kp in kps]
    lib.calls.clear()
    pairs = [commit(kp) for kp in kps[:2]]
    reduce = "crypto_core_ed25519_scalar_reduce" if suite.group.name == "ed25519" else None
    if reduce:  # H3's 64-byte digest is reduced by libsodium
        assert lib.calls.count(reduce) == 4
    else:  # H3's 48-byte hash_to_field output is reduced by libsecp256k1
        assert lib.calls.count("secp256k1_ec_seckey_tweak_mul") == 4
    lib.calls.clear()
    sign(kps[0], pairs[0][0], b"spied", [c for _, c in pairs])
    mul, add = (
        ("crypto_core_ed25519_scalar_mul", "crypto_core_ed25519_scalar_add")
        if reduce
        else ("secp256k1_ec_seckey_tweak_mul", "secp256k1_ec_seckey_tweak_add")
    )
    assert lib.calls.count(mul) >= 2 and lib.calls.count(add) >= 2, lib.calls


@settings(max_examples=50, deadline=None)
@given(
    k=st.integers(min_value=1, max_value=SECP256K1.order - 1),
    chi=st.integers(min_value=0, max_value=SECP256K1.order - 1),
    digest=st.binary(min_size=32, max_size=32),
)
def test_cggmp_partial_signature_on_the_c_path_is_fig10s_sigma(
    k: int, chi: int, digest: bytes
) -> None:
    public = _presignature_public()
    sigma = sign_share(Presignature(1, k, chi, public), digest)
    assert sigma == (k * message_scalar(digest) + public.r * chi) % SECP256K1.order


def test_cggmp_partial_signature_and_additive_share_go_through_libsecp256k1(
    c_calls: dict[str, Recorder],
) -> None:
    lib = c_calls["secp256k1"]
    share = trusted_dealer_key_shares(SECP256K1.random_scalar(), 2, 3)[1]
    lib.calls.clear()
    w, _ = additive_shares(share, [1, 2])
    assert lib.calls == ["secp256k1_ec_seckey_tweak_mul"]
    q = SECP256K1.order
    assert w == lagrange_coefficient(2, [1, 2], q) * share.secret % q
    lib.calls.clear()
    sign_share(Presignature(1, 5, 7, _presignature_public()), bytes(range(32)))
    assert lib.calls == [
        "secp256k1_ec_seckey_tweak_mul",
        "secp256k1_ec_seckey_tweak_mul",
        "secp256k1_ec_seckey_tweak_add",
    ]


def _presignature_public() -> PresignaturePublic:
    g = SECP256K1
    point = g.mul_base(g.random_scalar())
    return PresignaturePublic(
        session_id=os.urandom(32),
        signers=(1, 2),
        public_key=point,
        R=g.mul_base(g.random_scalar()),
        Gamma=point,
        Delta={1: point, 2: point},
        S={1: point, 2: point},
    )


def test_paillier_decryption_exponentiates_with_powmod_sec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Paillier decryption (exponents p - 1, q - 1) and the CRT exponentiation with a
    secret exponent use GMP's mpz_powm_sec (gmpy2.powmod_sec), never plain powmod."""
    from shardvault.crypto import paillier

    p, q = 1000003, 1000033
    sk = paillier.PaillierSecretKey(p, q)
    c = sk.public_key.encrypt(424242)
    spy = Recorder(paillier.gmpy2)
    monkeypatch.setattr(paillier, "gmpy2", spy)
    assert sk.decrypt(c) == 424242
    assert spy.calls.count("powmod_sec") == 2 and "powmod" not in spy.calls
    spy.calls.clear()
    assert sk.pow_mod_n(7, 123456789) == pow(7, 123456789, p * q)
    assert spy.calls.count("powmod_sec") == 2 and "powmod" not in spy.calls
