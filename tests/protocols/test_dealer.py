"""Key import and export formats (shardvault.protocols.dealer): round trips, every
rejection with its code, blame on export, and the worked example of
docs/import-export-format.md reproduced byte for byte (SECURITY.md items 4, 5, 6, 9).

Regenerate the example vector (only when the format deliberately changes) with::

    .venv/bin/python tests/protocols/test_dealer.py --write-vector
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto import hpke
from shardvault.crypto.groups import ED25519, SECP256K1, Group, group_by_name
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.crypto.keyformats import ed25519_scalar_from_seed
from shardvault.crypto.shamir import evaluate_polynomial, interpolate_secret
from shardvault.errors import (
    InvalidEncoding,
    InvalidImport,
    InvalidParameters,
    SignerMisbehaved,
    SignersUnavailable,
)
from shardvault.protocols import dealer
from shardvault.protocols.dealer import (
    EXPORT_INFO,
    IMPORT_INFO,
    ImportedShare,
    b64url_decode,
    b64url_encode,
    import_aad,
    import_commitments_digest,
    import_verifying_shares,
    match_import_shares,
    open_export_shares,
    open_import_share,
    seal_export_share,
    seal_import_shares,
)

VECTOR_PATH = Path(__file__).resolve().parents[1] / "vectors" / "shardvault-import-example.json"

SUITES = [("ed25519", "FROST"), ("secp256k1", "FROST_BITCOIN"), ("secp256k1", "CGGMP24")]
SUITE_IDS = ["FROST-ed25519", "FROST_BITCOIN-secp256k1", "CGGMP24-secp256k1"]


def _det(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _flip(data: bytes, index: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


@dataclass
class Import:
    curve: str
    protocol: str
    t: int
    ids: list[str]  # sorted
    keys: dict[str, HpkeKeyPair]
    secret: int
    group_public_key: bytes
    blobs: dict[str, bytes]

    @property
    def group(self) -> Group:
        return group_by_name(self.curve)

    def open(self, sid: str, **overrides: Any) -> ImportedShare:
        kwargs: dict[str, Any] = {
            "key_pair": self.keys[sid],
            "my_signer_id": sid,
            "curve": self.curve,
            "protocol": self.protocol,
            "min_signers": self.t,
            "signer_ids": self.ids,
        }
        kwargs.update(overrides)
        blob = kwargs.pop("blob", self.blobs[sid])
        return open_import_share(blob, **kwargs)


def make_import(
    curve: str = "secp256k1",
    protocol: str = "FROST_BITCOIN",
    t: int = 2,
    n: int = 3,
    *,
    tag: str = "",
    secret: int | None = None,
) -> Import:
    ids = [f"sgn-{j:02d}{tag}" for j in range(n)]
    keys = {sid: HpkeKeyPair.from_private_bytes(_det("x25519 " + sid)) for sid in ids}
    group = group_by_name(curve)
    if secret is None:
        secret = group.random_scalar()
    gpk, blobs = seal_import_shares(
        secret,
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signers=[(sid, keys[sid].public_key) for sid in reversed(ids)],
    )
    return Import(curve, protocol, t, sorted(ids), keys, secret, gpk, dict(blobs))


def expect_import_error(code: str, fn: Callable[[], object]) -> InvalidImport:
    with pytest.raises(InvalidImport) as info:
        fn()
    assert info.value.code == code, info.value.message
    return info.value


# ---------------------------------------------------------------------------------------
# Import: round trips
# ---------------------------------------------------------------------------------------


@settings(max_examples=12)
@given(
    suite=st.sampled_from(SUITES),
    data=st.data(),
)
def test_import_round_trip_any_t_recombine(suite: tuple[str, str], data: st.DataObject) -> None:
    curve, protocol = suite
    group = group_by_name(curve)
    n = data.draw(st.integers(1, 7), label="n")
    t = data.draw(st.integers(1, n), label="t")
    secret = data.draw(st.integers(1, group.order - 1), label="secret")
    ids = data.draw(
        st.lists(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).map(
                lambda s: "sgn-" + s
            ),
            min_size=n,
            max_size=n,
            unique=True,
        ),
        label="ids",
    )
    sks = data.draw(st.lists(st.binary(min_size=32, max_size=32), min_size=n, max_size=n))
    keys = {sid: HpkeKeyPair.from_private_bytes(sk) for sid, sk in zip(ids, sks, strict=True)}
    gpk, blobs = seal_import_shares(
        secret,
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signers=[(sid, keys[sid].public_key) for sid in ids],
    )
    assert gpk == group.mul_base(secret).encode()
    assert [sid for sid, _ in blobs] == sorted(ids)
    opened: dict[str, ImportedShare] = {}
    for j, (sid, blob) in enumerate(blobs):
        assert len(blob) == dealer.import_blob_size(curve, t)
        share = open_import_share(
            blob,
            key_pair=keys[sid],
            my_signer_id=sid,
            curve=curve,
            protocol=protocol,
            min_signers=t,
            signer_ids=ids,
        )
        assert share.index == j + 1
        assert share.group_public_key == gpk
        assert share.commitments[0] == gpk and len(share.commitments) == t
        opened[sid] = share
    digests = {
        import_commitments_digest(
            curve=curve,
            protocol=protocol,
            min_signers=t,
            signer_ids=ids,
            commitments=s.commitments,
        )
        for s in opened.values()
    }
    assert len(digests) == 1
    verifying = import_verifying_shares(
        curve=curve, commitments=opened[ids[0]].commitments, signer_ids=ids
    )
    for sid, share in opened.items():
        assert verifying[sid] == group.mul_base(share.value).encode()
    subsets = list(itertools.combinations(opened.values(), t))[:10]
    for subset in subsets:
        assert interpolate_secret(group, {s.index: s.value for s in subset}) == secret


@pytest.mark.parametrize(("curve", "protocol"), SUITES, ids=SUITE_IDS)
def test_five_of_seven_every_subset_recombines(curve: str, protocol: str) -> None:
    imp = make_import(curve, protocol, 5, 7)
    shares = [imp.open(sid) for sid in imp.ids]
    for subset in itertools.combinations(shares, 5):
        assert interpolate_secret(imp.group, {s.index: s.value for s in subset}) == imp.secret
    for subset in itertools.combinations(shares, 4):
        assert interpolate_secret(imp.group, {s.index: s.value for s in subset}) != imp.secret


def test_ed25519_seed_import_keeps_the_rfc8032_public_key() -> None:
    seed = _det("an ed25519 wallet seed")
    secret = ed25519_scalar_from_seed(seed)
    imp = make_import("ed25519", "FROST", 2, 3, secret=secret)
    assert imp.group_public_key == bytes(nacl.signing.SigningKey(seed).verify_key)


def test_signers_given_in_any_order_get_sorted_indices() -> None:
    ids = ["sgn-b", "sgn-c", "sgn-a"]
    keys = {sid: HpkeKeyPair.generate() for sid in ids}
    _, blobs = seal_import_shares(
        12345,
        curve="secp256k1",
        protocol="FROST_BITCOIN",
        min_signers=2,
        signers=[(sid, keys[sid].public_key) for sid in ids],
    )
    assert [sid for sid, _ in blobs] == ["sgn-a", "sgn-b", "sgn-c"]
    assert [blob[5] for _, blob in blobs] == [1, 2, 3]
    assert dealer.party_indices(ids) == {"sgn-a": 1, "sgn-b": 2, "sgn-c": 3}


def test_imported_share_repr_hides_the_value() -> None:
    imp = make_import()
    share = imp.open(imp.ids[0])
    text = repr(share) + str(share)
    assert "redacted" in text
    for form in (str(share.value), hex(share.value)[2:], f"{share.value:064x}"):
        assert form not in text


def test_random_coefficients_are_fresh() -> None:
    a = make_import(secret=7)
    b = make_import(secret=7)
    assert a.group_public_key == b.group_public_key
    assert a.blobs[a.ids[0]][7:40] == b.blobs[b.ids[0]][7:40]  # C_0
    assert a.blobs[a.ids[0]][40:73] != b.blobs[b.ids[0]][40:73]  # C_1


# ---------------------------------------------------------------------------------------
# Import: every rejection has its code
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imp() -> Import:
    return make_import("secp256k1", "FROST_BITCOIN", 2, 3)


@pytest.fixture(scope="module")
def imp_ed() -> Import:
    return make_import("ed25519", "FROST", 3, 4)


E_SECP = 33
HEADER = 7


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda b: b[:-1], "MalformedShare"),
        (lambda b: b + b"\x00", "MalformedShare"),
        (lambda b: b[:6], "MalformedShare"),
        (lambda b: b"", "MalformedShare"),
        (lambda b: b"SVKE" + b[4:], "MalformedShare"),
        (lambda b: _flip(b, 0), "MalformedShare"),
        (lambda b: b[:4] + b"\x02" + b[5:], "UnsupportedVersion"),
        (lambda b: b[:5] + b"\x02" + b[6:], "ShareIndexMismatch"),
        (lambda b: b[:5] + b"\x00" + b[6:], "ShareIndexMismatch"),
        (lambda b: b[:6] + b"\x03" + b[7:], "CommitmentCountMismatch"),
        (lambda b: b[:6] + b"\x01" + b[7:], "CommitmentCountMismatch"),
        (lambda b: b[:HEADER] + b"\x05" + b[HEADER + 1 :], "InvalidCommitment"),
        (lambda b: b[:HEADER] + b"\x02" + b"\xff" * 32 + b[HEADER + 33 :], "InvalidCommitment"),
        (lambda b: b[: HEADER + E_SECP] + b"\x04" + b[HEADER + E_SECP + 1 :], "InvalidCommitment"),
        # a different valid point: the commitments hash in the AAD no longer matches
        (
            lambda b: (
                b[: HEADER + E_SECP] + SECP256K1.generator.encode() + b[HEADER + 2 * E_SECP :]
            ),
            "ShareDecryptionFailed",
        ),
        (lambda b: _flip(b, HEADER + 2 * E_SECP), "ShareDecryptionFailed"),  # enc
        (lambda b: _flip(b, HEADER + 2 * E_SECP + 40), "ShareDecryptionFailed"),  # ciphertext
        (lambda b: _flip(b, len(b) - 1, 7), "ShareDecryptionFailed"),  # tag
    ],
)
def test_tampered_import_share(imp: Import, mutate: Callable[[bytes], bytes], code: str) -> None:
    sid = imp.ids[0]
    err = expect_import_error(code, lambda: imp.open(sid, blob=mutate(imp.blobs[sid])))
    assert err.signers == (sid,)


def test_tampered_ed25519_commitment_is_rejected(imp_ed: Import) -> None:
    sid = imp_ed.ids[1]
    blob = imp_ed.blobs[sid]
    small_order = bytes(32)  # y = 0: a point of order 4
    bad = blob[:HEADER] + small_order + blob[HEADER + 32 :]
    expect_import_error("InvalidCommitment", lambda: imp_ed.open(sid, blob=bad))
    identity = b"\x01" + bytes(31)
    bad = blob[: HEADER + 32] + identity + blob[HEADER + 64 :]
    expect_import_error("InvalidCommitment", lambda: imp_ed.open(sid, blob=bad))


def test_non_bytes_blob(imp: Import) -> None:
    expect_import_error("MalformedShare", lambda: imp.open(imp.ids[0], blob="SVKI"))


def test_share_given_to_the_wrong_signer(imp: Import) -> None:
    a, b = imp.ids[0], imp.ids[1]
    # b receives a's share: the header says index 1, b has index 2
    expect_import_error("ShareIndexMismatch", lambda: imp.open(b, blob=imp.blobs[a]))
    # b's key tries a's share claiming to be a: sealed for another recipient
    expect_import_error("ShareDecryptionFailed", lambda: imp.open(a, key_pair=imp.keys[b]))


def test_share_sealed_for_another_index_does_not_open(imp: Import) -> None:
    a, b = imp.ids[0], imp.ids[1]
    # The client swapped the keys of a and b, so b's share (index 2) is sealed to a's key.
    _, blobs = seal_import_shares(
        imp.secret,
        curve=imp.curve,
        protocol=imp.protocol,
        min_signers=imp.t,
        signers=[
            (a, imp.keys[b].public_key),
            (b, imp.keys[a].public_key),
            *[(s, imp.keys[s].public_key) for s in imp.ids[2:]],
        ],
    )
    wrong = dict(blobs)[b]
    relabelled = wrong[:5] + b"\x01" + wrong[6:]
    expect_import_error("ShareDecryptionFailed", lambda: imp.open(a, blob=relabelled))


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"min_signers": 3}, "CommitmentCountMismatch"),
        ({"min_signers": 1}, "CommitmentCountMismatch"),
        ({"protocol": "CGGMP24"}, "ShareDecryptionFailed"),
        ({"curve": "ed25519", "protocol": "FROST"}, "MalformedShare"),
        ({"signer_ids": ["sgn-00", "sgn-01", "sgn-02", "sgn-03"]}, "ShareDecryptionFailed"),
        ({"signer_ids": ["sgn-00", "sgn-01", "sgn-09"]}, "ShareDecryptionFailed"),
        ({"signer_ids": ["sgn-00", "sgn-01"]}, "ShareDecryptionFailed"),
        ({"signer_ids": ["sgn-00", "sgn-01", "sgn-02", "sgn-00"]}, "DuplicateSigner"),
        ({"signer_ids": ["sgn-01", "sgn-02"]}, "UnknownSigner"),
        ({"my_signer_id": "sgn-99"}, "UnknownSigner"),
        ({"min_signers": 0}, "InvalidMinSigners"),
        ({"min_signers": 4}, "InvalidMinSigners"),
        ({"min_signers": True}, "InvalidMinSigners"),
        ({"protocol": "FROST"}, "UnsupportedProtocol"),
        ({"curve": "p256"}, "UnsupportedProtocol"),
        ({"signer_ids": ["sgn-00", "sgn 01", "sgn-02"]}, "InvalidSignerId"),
    ],
)
def test_wrong_context_at_the_opener(imp: Import, overrides: dict[str, Any], code: str) -> None:
    expect_import_error(code, lambda: imp.open(imp.ids[0], **overrides))


def test_signer_order_is_sorted_not_as_given(imp: Import) -> None:
    share = imp.open(imp.ids[1], signer_ids=list(reversed(imp.ids)))
    assert share.index == 2


def test_share_from_another_import_is_caught_by_the_digest(imp: Import) -> None:
    other = make_import(secret=imp.secret)  # same ids and keys, other polynomial
    mine = imp.open(imp.ids[0])
    theirs = other.open(imp.ids[1])
    assert mine.group_public_key == theirs.group_public_key
    ctx: dict[str, Any] = {
        "curve": imp.curve,
        "protocol": imp.protocol,
        "min_signers": 2,
        "signer_ids": imp.ids,
    }
    assert import_commitments_digest(commitments=mine.commitments, **ctx) != (
        import_commitments_digest(commitments=theirs.commitments, **ctx)
    )
    # ... and a header spliced from the other import does not open
    blob = imp.blobs[imp.ids[0]]
    spliced = other.blobs[imp.ids[0]][: HEADER + 2 * E_SECP] + blob[HEADER + 2 * E_SECP :]
    expect_import_error("ShareDecryptionFailed", lambda: imp.open(imp.ids[0], blob=spliced))


def test_commitments_digest_binds_the_context(imp: Import) -> None:
    c = imp.open(imp.ids[0]).commitments
    base: dict[str, Any] = {
        "curve": imp.curve,
        "protocol": imp.protocol,
        "min_signers": 2,
        "signer_ids": imp.ids,
    }
    d0 = import_commitments_digest(commitments=c, **base)
    assert d0 == import_commitments_digest(
        commitments=c, **{**base, "signer_ids": list(reversed(imp.ids))}
    )
    for change in ({"protocol": "CGGMP24"}, {"signer_ids": [*imp.ids, "sgn-99"]}):
        assert import_commitments_digest(commitments=c, **{**base, **change}) != d0
    expect_import_error(
        "CommitmentCountMismatch", lambda: import_commitments_digest(commitments=c[:1], **base)
    )


# --- a malicious or buggy client: well-sealed but wrong content --------------------------


def _seal_custom(
    imp: Import,
    sid: str,
    *,
    scalar: bytes,
    commitments: Sequence[bytes],
    plaintext_index: int | None = None,
    inner_commitments: Sequence[bytes] | None = None,
    inner_key: bytes | None = None,
) -> bytes:
    index = imp.ids.index(sid) + 1
    t = len(commitments)
    c_hash = dealer.commitments_hash(commitments)
    aad = import_aad(
        curve=imp.curve,
        protocol=imp.protocol,
        min_signers=t,
        signer_ids=imp.ids,
        index=index,
        group_public_key=commitments[0],
        commitments_hash=c_hash,
    )
    inner = b"".join(inner_commitments if inner_commitments is not None else commitments)
    plaintext = (
        bytes([index if plaintext_index is None else plaintext_index])
        + scalar
        + (inner_key if inner_key is not None else commitments[0])
        + inner
    )
    sealed = hpke.seal(imp.keys[sid].public_key, plaintext, info=IMPORT_INFO, aad=aad)
    return b"SVKI" + bytes([1, index, t]) + b"".join(commitments) + sealed


def test_share_inconsistent_with_commitments(imp: Import) -> None:
    sid = imp.ids[0]
    good = imp.open(sid)
    g = imp.group
    wrong = g.encode_scalar(good.value + 1)
    blob = _seal_custom(imp, sid, scalar=wrong, commitments=good.commitments)
    expect_import_error("ShareVerificationFailed", lambda: imp.open(sid, blob=blob))
    # commitments for another public key than the one the shares interpolate to
    other_c0 = g.mul_base(imp.secret + 1).encode()
    blob = _seal_custom(
        imp,
        sid,
        scalar=g.encode_scalar(good.value),
        commitments=[other_c0, *good.commitments[1:]],
    )
    expect_import_error("ShareVerificationFailed", lambda: imp.open(sid, blob=blob))
    # the genuine share still passes through the same helper
    blob = _seal_custom(imp, sid, scalar=g.encode_scalar(good.value), commitments=good.commitments)
    assert imp.open(sid, blob=blob).value == good.value


@pytest.mark.parametrize(
    "bad_scalar", [bytes(32), SECP256K1.order.to_bytes(32, "big"), b"\xff" * 32]
)
def test_zero_or_noncanonical_share_scalar(imp: Import, bad_scalar: bytes) -> None:
    sid = imp.ids[1]
    c = imp.open(sid).commitments
    blob = _seal_custom(imp, sid, scalar=bad_scalar, commitments=c)
    expect_import_error("InvalidShareScalar", lambda: imp.open(sid, blob=blob))


def test_plaintext_fields_must_equal_header(imp: Import) -> None:
    sid = imp.ids[2]
    good = imp.open(sid)
    s = imp.group.encode_scalar(good.value)
    c = good.commitments
    blob = _seal_custom(imp, sid, scalar=s, commitments=c, plaintext_index=1)
    expect_import_error("ShareIndexMismatch", lambda: imp.open(sid, blob=blob))
    other = imp.group.mul_base(5).encode()
    blob = _seal_custom(imp, sid, scalar=s, commitments=c, inner_commitments=[c[0], other])
    expect_import_error("CommitmentMismatch", lambda: imp.open(sid, blob=blob))
    blob = _seal_custom(imp, sid, scalar=s, commitments=c, inner_key=other)
    expect_import_error("CommitmentMismatch", lambda: imp.open(sid, blob=blob))


# --- bad input at the sealer -----------------------------------------------------------


def _signers(n: int = 3) -> list[tuple[str, bytes]]:
    return [(f"sgn-{j}", HpkeKeyPair.from_private_bytes(_det(str(j))).public_key) for j in range(n)]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"signers": [*_signers(2), ("sgn-0", _signers(1)[0][1])]}, "DuplicateSigner"),
        ({"signers": []}, "InvalidMinSigners"),
        ({"min_signers": 0}, "InvalidMinSigners"),
        ({"min_signers": 4}, "InvalidMinSigners"),
        ({"min_signers": 2.0}, "InvalidMinSigners"),
        ({"signers": _signers(256), "min_signers": 2}, "InvalidMinSigners"),
        ({"curve": "ed25519"}, "UnsupportedProtocol"),
        ({"protocol": "CGGMP24", "curve": "ed25519"}, "UnsupportedProtocol"),
        ({"protocol": "frost_bitcoin"}, "UnsupportedProtocol"),
        ({"signers": [("", b"\x09" + bytes(31))]}, "InvalidSignerId"),
        ({"signers": [("sgn-é", b"\x09" + bytes(31))], "min_signers": 1}, "InvalidSignerId"),
        ({"signers": [("s" * 256, b"\x09" + bytes(31))], "min_signers": 1}, "InvalidSignerId"),
        ({"signers": [(1, b"\x09" + bytes(31))], "min_signers": 1}, "InvalidSignerId"),
        ({"signers": [*_signers(2), ("sgn-x", bytes(32))]}, "InvalidEncryptionKey"),
        ({"signers": [*_signers(2), ("sgn-x", b"\x09" * 31)]}, "InvalidEncryptionKey"),
        ({"signers": [*_signers(2), ("sgn-x", "key")]}, "InvalidEncryptionKey"),
        ({"secret": 0}, "InvalidSecret"),
        ({"secret": SECP256K1.order}, "InvalidSecret"),
        ({"secret": -5}, "InvalidSecret"),
        ({"secret": True}, "InvalidSecret"),
        ({"coefficients": []}, "InvalidCoefficients"),
        ({"coefficients": [1, 2]}, "InvalidCoefficients"),
        ({"coefficients": [0]}, "InvalidCoefficients"),
        ({"coefficients": [SECP256K1.order]}, "InvalidCoefficients"),
        ({"ephemeral_keys": [HpkeKeyPair.generate()] * 3}, "InvalidEphemeralKeys"),
        ({"ephemeral_keys": [HpkeKeyPair.generate() for _ in range(2)]}, "InvalidEphemeralKeys"),
    ],
)
def test_seal_rejects(kwargs: dict[str, Any], code: str) -> None:
    args: dict[str, Any] = {
        "secret": 42,
        "curve": "secp256k1",
        "protocol": "FROST_BITCOIN",
        "min_signers": 2,
        "signers": _signers(3),
    }
    args.update(kwargs)
    secret = args.pop("secret")
    expect_import_error(code, lambda: seal_import_shares(secret, **args))


def test_errors_name_no_secret() -> None:
    secret = 0x1234567890ABCDEF1234567890ABCDEF
    with pytest.raises(InvalidImport) as info:
        seal_import_shares(
            secret, curve="secp256k1", protocol="FROST_BITCOIN", min_signers=9, signers=_signers()
        )
    assert str(secret) not in str(info.value) and f"{secret:x}" not in str(info.value).lower()


# --- the coordinator's matching of encryptedKeyShares to signers ------------------------


def test_match_import_shares() -> None:
    ids = ["sgn-a", "sgn-b", "sgn-c"]
    shares = [("sgn-b", b"2"), ("sgn-a", b"1"), ("sgn-c", b"3")]
    assert match_import_shares(shares, ids) == {"sgn-a": b"1", "sgn-b": b"2", "sgn-c": b"3"}
    err = expect_import_error(
        "DuplicateSigner", lambda: match_import_shares([*shares, ("sgn-a", b"")], ids)
    )
    assert err.signers == ("sgn-a",)
    err = expect_import_error(
        "UnknownSigner", lambda: match_import_shares([*shares, ("sgn-z", b"")], ids)
    )
    assert err.signers == ("sgn-z",)
    err = expect_import_error("MissingSigner", lambda: match_import_shares(shares[:1], ids))
    assert err.signers == ("sgn-a", "sgn-c")
    expect_import_error("DuplicateSigner", lambda: match_import_shares(shares, [*ids, "sgn-a"]))


# ---------------------------------------------------------------------------------------
# base64url
# ---------------------------------------------------------------------------------------


@settings(max_examples=50)
@given(data=st.binary(max_size=80))
def test_b64url_round_trip(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("bad", ["AA==", "A", "AAAAA", "a+b/", "AB", "AAB", "ab c", "é", b"AA"])
def test_b64url_rejects(bad: Any) -> None:
    with pytest.raises(InvalidEncoding):
        b64url_decode(bad)


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


@dataclass
class Export:
    imp: Import
    key_id: str
    identities: dict[str, nacl.signing.SigningKey]
    requester: HpkeKeyPair
    shares: dict[str, ImportedShare]

    def seal(self, sid: str, **overrides: Any) -> bytes:
        share = self.shares[sid]
        kwargs: dict[str, Any] = {
            "identity_key": self.identities[sid],
            "signer_id": sid,
            "key_id": self.key_id,
            "curve": self.imp.curve,
            "protocol": self.imp.protocol,
            "group_public_key": self.imp.group_public_key,
            "min_signers": self.imp.t,
            "index": share.index,
            "share_value": share.value,
            "requester_encryption_key": self.requester.public_key,
        }
        kwargs.update(overrides)
        return seal_export_share(**kwargs)

    def open(self, returned: Sequence[tuple[str, bytes]], **overrides: Any) -> int:
        kwargs: dict[str, Any] = {
            "signer_identity_keys": {s: bytes(k.verify_key) for s, k in self.identities.items()},
            "key_pair": self.requester,
            "key_id": self.key_id,
            "curve": self.imp.curve,
            "protocol": self.imp.protocol,
            "group_public_key": self.imp.group_public_key,
            "min_signers": self.imp.t,
            "signer_ids": self.imp.ids,
        }
        kwargs.update(overrides)
        return open_export_shares(returned, **kwargs)

    def all(self, sids: Sequence[str] | None = None) -> list[tuple[str, bytes]]:
        return [(s, self.seal(s)) for s in (sids if sids is not None else self.imp.ids)]


def make_export(imp: Import) -> Export:
    return Export(
        imp,
        "key-0123abcd",
        {sid: nacl.signing.SigningKey(_det("identity " + sid)) for sid in imp.ids},
        HpkeKeyPair.generate(),
        {sid: imp.open(sid) for sid in imp.ids},
    )


@pytest.fixture(scope="module")
def exp(imp: Import) -> Export:
    return make_export(imp)


@pytest.mark.parametrize(("curve", "protocol"), SUITES, ids=SUITE_IDS)
@pytest.mark.parametrize(("t", "n"), [(1, 1), (2, 3), (3, 5)])
def test_export_round_trip_any_t(curve: str, protocol: str, t: int, n: int) -> None:
    e = make_export(make_import(curve, protocol, t, n))
    blobs = dict(e.all())
    for blob in blobs.values():
        assert len(blob) == dealer.export_blob_size(curve)
    for k in range(t, n + 1):
        for subset in itertools.combinations(e.imp.ids, k):
            assert e.open([(s, blobs[s]) for s in subset]) == e.imp.secret


def test_export_of_five_of_seven() -> None:
    e = make_export(make_import("ed25519", "FROST", 5, 7))
    returned = e.all()
    assert e.open(returned) == e.imp.secret
    assert e.open(returned[2:]) == e.imp.secret
    verifying = import_verifying_shares(
        curve="ed25519", commitments=e.shares[e.imp.ids[0]].commitments, signer_ids=e.imp.ids
    )
    assert e.open(returned, verifying_shares=verifying) == e.imp.secret


def expect_blame(fn: Callable[[], object], signers: tuple[str, ...], check: str) -> None:
    with pytest.raises(SignerMisbehaved) as info:
        fn()
    assert info.value.signers == signers, info.value.message
    assert info.value.check == check, info.value.message


def _replace(returned: list[tuple[str, bytes]], sid: str, blob: bytes) -> list[tuple[str, bytes]]:
    return [(s, blob if s == sid else b) for s, b in returned]


E_SIG = 6 + 33  # offset of the signature in a secp256k1 export blob


@pytest.mark.parametrize(
    ("offset", "check"),
    [
        (0, "malformed"),
        (4, "malformed"),
        (5, "index"),
        (6, "public-share"),  # 02 -> 06: not a compressed point
        (6 + 1, "point-dependent"),  # x changed: another valid point, or not on the curve
        (6 + 32, "point-dependent"),
        (E_SIG, "signature"),
        (E_SIG + 63, "signature"),
        (E_SIG + 64, "signature"),  # enc: covered by the signature
        (E_SIG + 64 + 32 + 5, "signature"),  # ciphertext: covered by the signature
    ],
)
def test_tampered_export_share_names_its_signer(exp: Export, offset: int, check: str) -> None:
    returned = exp.all()
    bad = exp.imp.ids[1]
    blob = dict(returned)[bad]
    tampered = _flip(blob, offset, 2 if offset == 6 else 0)
    if check == "point-dependent":
        try:
            SECP256K1.decode_point(tampered[6:39])
            check = "signature"  # a valid point that the signature does not cover
        except InvalidEncoding:
            check = "public-share"
    expect_blame(lambda: exp.open(_replace(returned, bad, tampered)), (bad,), check)


@pytest.mark.parametrize("size", [0, 10, 183, 185])
def test_export_share_of_wrong_size(exp: Export, size: int) -> None:
    returned = exp.all()
    bad = exp.imp.ids[0]
    blob = (dict(returned)[bad] * 2)[:size]
    expect_blame(lambda: exp.open(_replace(returned, bad, blob)), (bad,), "malformed")


def test_export_wrong_identity_key(exp: Export) -> None:
    keys = {s: bytes(k.verify_key) for s, k in exp.identities.items()}
    bad = exp.imp.ids[2]
    keys[bad] = bytes(nacl.signing.SigningKey.generate().verify_key)
    expect_blame(lambda: exp.open(exp.all(), signer_identity_keys=keys), (bad,), "signature")


def test_export_signed_by_another_signers_key(exp: Export) -> None:
    a, b = exp.imp.ids[0], exp.imp.ids[1]
    returned = _replace(exp.all(), a, exp.seal(a, identity_key=exp.identities[b]))
    expect_blame(lambda: exp.open(returned), (a,), "signature")


def test_export_share_for_another_requester_or_key(exp: Export) -> None:
    a = exp.imp.ids[0]
    other = HpkeKeyPair.generate().public_key
    for blob in (
        exp.seal(a, requester_encryption_key=other),
        exp.seal(a, key_id="key-other"),
        exp.seal(a, protocol="CGGMP24"),
        exp.seal(a, min_signers=3),
        exp.seal(a, signer_id=exp.imp.ids[1]),
    ):
        expect_blame(lambda b=blob: exp.open(_replace(exp.all(), a, b)), (a,), "signature")


def test_export_share_with_wrong_index(exp: Export) -> None:
    a = exp.imp.ids[0]
    blob = exp.seal(a, index=2)
    expect_blame(lambda: exp.open(_replace(exp.all(), a, blob)), (a,), "index")


def _forge(
    exp: Export,
    sid: str,
    *,
    public_share: bytes,
    plaintext: bytes,
    sign: bool = True,
) -> bytes:
    """A share sealed and signed by ``sid``'s own identity key, with arbitrary content."""
    index = exp.imp.ids.index(sid) + 1
    statement = dealer.export_statement(
        key_id=exp.key_id,
        curve=exp.imp.curve,
        protocol=exp.imp.protocol,
        group_public_key=exp.imp.group_public_key,
        min_signers=exp.imp.t,
        signer_id=sid,
        index=index,
        public_share=public_share,
        requester_encryption_key=exp.requester.public_key,
    )
    sealed = hpke.seal(exp.requester.public_key, plaintext, info=EXPORT_INFO, aad=statement)
    signature = exp.identities[sid].sign(dealer.export_signed_message(statement, sealed)).signature
    return b"SVKE" + bytes([1, index]) + public_share + signature + sealed


def test_export_scalar_not_matching_its_public_share(exp: Export) -> None:
    sid = exp.imp.ids[1]
    share = exp.shares[sid]
    g = exp.imp.group
    public = g.mul_base(share.value).encode()
    wrong = bytes([share.index]) + g.encode_scalar(share.value + 1)
    blob = _forge(exp, sid, public_share=public, plaintext=wrong)
    expect_blame(lambda: exp.open(_replace(exp.all(), sid, blob)), (sid,), "share")
    for bad_scalar in (bytes(32), g.order.to_bytes(32, "big")):
        blob = _forge(exp, sid, public_share=public, plaintext=bytes([share.index]) + bad_scalar)
        expect_blame(lambda b=blob: exp.open(_replace(exp.all(), sid, b)), (sid,), "share")
    blob = _forge(
        exp, sid, public_share=public, plaintext=bytes([3]) + g.encode_scalar(share.value)
    )
    expect_blame(lambda: exp.open(_replace(exp.all(), sid, blob)), (sid,), "index")
    # the honest content through the same forger opens
    blob = _forge(
        exp, sid, public_share=public, plaintext=bytes([2]) + g.encode_scalar(share.value)
    )
    assert exp.open(_replace(exp.all(), sid, blob)) == exp.imp.secret


def test_export_wrong_scalar_with_matching_public_share_is_named(exp: Export) -> None:
    """A signer that consistently lies (scalar and signed public share both off)."""
    bad = exp.imp.ids[2]
    wrong = exp.seal(bad, share_value=exp.shares[bad].value + 1)
    returned = _replace(exp.all(), bad, wrong)
    expect_blame(lambda: exp.open(returned), (bad,), "consistency")
    # with only t shares the liar cannot be told apart: everyone returned is named
    expect_blame(lambda: exp.open(returned[1:]), tuple(exp.imp.ids[1:]), "consistency")
    # the key record's verifying shares pin it down even then
    verifying = import_verifying_shares(
        curve=exp.imp.curve, commitments=exp.shares[bad].commitments, signer_ids=exp.imp.ids
    )
    expect_blame(lambda: exp.open(returned[1:], verifying_shares=verifying), (bad,), "public-share")


def test_export_consistency_blame_three_of_five() -> None:
    e = make_export(make_import("ed25519", "FROST", 3, 5))
    ids = e.imp.ids
    returned = e.all()
    liar = ids[3]
    returned = _replace(returned, liar, e.seal(liar, share_value=12345))
    expect_blame(lambda: e.open(returned), (liar,), "consistency")
    # two liars out of five with t = 3: beyond unique decoding, all are named
    second = ids[0]
    returned = _replace(returned, second, e.seal(second, share_value=999))
    expect_blame(lambda: e.open(returned), tuple(ids), "consistency")


def test_export_several_bad_signers_are_all_named(exp: Export) -> None:
    a, _, c = exp.imp.ids
    returned = exp.all()
    returned = _replace(returned, a, _flip(dict(returned)[a], 50))
    returned = _replace(returned, c, dict(returned)[c][:-1])
    expect_blame(lambda: exp.open(returned), (a, c), "multiple")


def test_export_unknown_and_duplicate_signers(exp: Export) -> None:
    returned = exp.all()
    a = exp.imp.ids[0]
    expect_blame(lambda: exp.open([*returned, ("sgn-zz", b"x")]), ("sgn-zz",), "unknown-signer")
    expect_blame(lambda: exp.open([*returned, (a, dict(returned)[a])]), (a,), "duplicate-signer")


def test_export_fewer_than_t_shares(exp: Export) -> None:
    returned = exp.all()
    with pytest.raises(SignersUnavailable) as info:
        exp.open(returned[2:])
    assert info.value.code == "NotEnoughShares"
    assert info.value.signers == tuple(exp.imp.ids[:2])
    with pytest.raises(SignersUnavailable):
        exp.open([])


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"curve": "ed25519"}, "UnsupportedProtocol"),
        ({"key_id": ""}, "InvalidKeyId"),
        ({"key_id": "key 1"}, "InvalidKeyId"),
        ({"min_signers": 4}, "InvalidMinSigners"),
        ({"min_signers": 0}, "InvalidMinSigners"),
        ({"signer_ids": ["sgn-00", "sgn-00", "sgn-01"]}, "DuplicateSigner"),
        ({"group_public_key": b"\x02" + bytes(32)}, "InvalidPublicKey"),
        ({"group_public_key": b""}, "InvalidPublicKey"),
        ({"signer_identity_keys": {}}, "MissingIdentityKey"),
        ({"verifying_shares": {}}, "MissingVerifyingShare"),
    ],
)
def test_export_bad_context(exp: Export, overrides: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidParameters) as info:
        exp.open(exp.all(), **overrides)
    assert info.value.code == code


@pytest.mark.parametrize("bad_key", [b"", bytes(31), bytes(33)])
def test_export_malformed_identity_key(exp: Export, bad_key: bytes) -> None:
    keys = {s: bytes(k.verify_key) for s, k in exp.identities.items()}
    keys[exp.imp.ids[0]] = bad_key
    with pytest.raises(InvalidParameters) as info:
        exp.open(exp.all(), signer_identity_keys=keys)
    assert info.value.code == "InvalidIdentityKey"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"index": 0}, "InvalidIndex"),
        ({"index": 256}, "InvalidIndex"),
        ({"share_value": 0}, "InvalidShareScalar"),
        ({"share_value": SECP256K1.order}, "InvalidShareScalar"),
        ({"requester_encryption_key": bytes(32)}, "InvalidEncryptionKey"),
        ({"requester_encryption_key": b"short"}, "InvalidEncryptionKey"),
        ({"identity_key": b"\x00" * 32}, "InvalidIdentityKey"),
        ({"signer_id": "sgn bad"}, "InvalidSignerId"),
        ({"key_id": "k" * 256}, "InvalidKeyId"),
        ({"protocol": "FROST"}, "UnsupportedProtocol"),
        ({"group_public_key": ED25519.generator.encode()}, "InvalidPublicKey"),
        ({"min_signers": 0}, "InvalidMinSigners"),
    ],
)
def test_seal_export_rejects(exp: Export, overrides: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidParameters) as info:
        exp.seal(exp.imp.ids[0], **overrides)
    assert info.value.code == code


# ---------------------------------------------------------------------------------------
# The worked example of docs/import-export-format.md
# ---------------------------------------------------------------------------------------

EXAMPLE_IDS_AS_GIVEN = ["sgn-7k2m9", "sgn-0a4f1", "sgn-3x8q5"]
EXAMPLE_KEY_ID = "key-5d1c0e"


def _hx(label: str) -> bytes:
    return _det("shardvault example " + label)


def build_example() -> dict[str, Any]:
    """Every value of the worked example, computed from its fixed inputs with the code."""
    curve, protocol, t = "secp256k1", "FROST_BITCOIN", 2
    g = SECP256K1
    secret = int.from_bytes(_hx("secret"), "big") % g.order
    coefficient = int.from_bytes(_hx("coefficient a1"), "big") % g.order
    ids = sorted(EXAMPLE_IDS_AS_GIVEN)
    x25519 = {sid: HpkeKeyPair.from_private_bytes(_hx("x25519 " + sid)) for sid in ids}
    ephemerals = [HpkeKeyPair.from_private_bytes(_hx("ephemeral " + sid)) for sid in ids]
    gpk, blobs = seal_import_shares(
        secret,
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signers=[(sid, x25519[sid].public_key) for sid in EXAMPLE_IDS_AS_GIVEN],
        coefficients=[coefficient],
        ephemeral_keys=ephemerals,
    )
    commitments = [gpk, g.mul_base(coefficient).encode()]
    c_hash = dealer.commitments_hash(commitments)
    signers = []
    shares: dict[str, ImportedShare] = {}
    for j, (sid, blob) in enumerate(blobs):
        index = j + 1
        value = evaluate_polynomial([secret, coefficient], index, g.order)
        header_size = 7 + t * 33
        sealed = blob[header_size:]
        aad = import_aad(
            curve=curve,
            protocol=protocol,
            min_signers=t,
            signer_ids=ids,
            index=index,
            group_public_key=gpk,
            commitments_hash=c_hash,
        )
        plaintext = hpke.open_sealed(x25519[sid], sealed, info=IMPORT_INFO, aad=aad)
        shares[sid] = open_import_share(
            blob,
            key_pair=x25519[sid],
            my_signer_id=sid,
            curve=curve,
            protocol=protocol,
            min_signers=t,
            signer_ids=EXAMPLE_IDS_AS_GIVEN,
        )
        signers.append(
            {
                "signer_id": sid,
                "index": index,
                "x25519_private_key": x25519[sid].private_bytes().hex(),
                "encryption_key": x25519[sid].public_key.hex(),
                "encryption_key_b64url": b64url_encode(x25519[sid].public_key),
                "ephemeral_private_key": ephemerals[j].private_bytes().hex(),
                "ephemeral_public_key": ephemerals[j].public_key.hex(),
                "share": g.encode_scalar(value).hex(),
                "verifying_share": g.mul_base(value).encode().hex(),
                "header": blob[:header_size].hex(),
                "plaintext": plaintext.hex(),
                "aad": aad.hex(),
                "enc": sealed[:32].hex(),
                "ciphertext": sealed[32:].hex(),
                "encrypted_key_share": blob.hex(),
                "encrypted_key_share_b64url": b64url_encode(blob),
            }
        )
    digest = import_commitments_digest(
        curve=curve, protocol=protocol, min_signers=t, signer_ids=ids, commitments=commitments
    )
    request = {
        "curve": curve,
        "protocol": protocol,
        "minSigners": t,
        "encryptedKeyShares": [
            {"signerId": s["signer_id"], "encryptedKeyShare": s["encrypted_key_share_b64url"]}
            for s in signers
        ],
    }

    # Export of the same key by signers 1 and 3 to a one-time requester key.
    requester = HpkeKeyPair.from_private_bytes(_hx("requester"))
    identities = {sid: nacl.signing.SigningKey(_hx("identity " + sid)) for sid in ids}
    export_shares = []
    returned = []
    for sid in (ids[0], ids[2]):
        kept = shares[sid]
        ephemeral = HpkeKeyPair.from_private_bytes(_hx("export ephemeral " + sid))
        blob = seal_export_share(
            identity_key=identities[sid],
            signer_id=sid,
            key_id=EXAMPLE_KEY_ID,
            curve=curve,
            protocol=protocol,
            group_public_key=gpk,
            min_signers=t,
            index=kept.index,
            share_value=kept.value,
            requester_encryption_key=requester.public_key,
            ephemeral_key=ephemeral,
        )
        public_share = g.mul_base(kept.value).encode()
        statement = dealer.export_statement(
            key_id=EXAMPLE_KEY_ID,
            curve=curve,
            protocol=protocol,
            group_public_key=gpk,
            min_signers=t,
            signer_id=sid,
            index=kept.index,
            public_share=public_share,
            requester_encryption_key=requester.public_key,
        )
        sealed = blob[6 + 33 + 64 :]
        returned.append((sid, blob))
        export_shares.append(
            {
                "signer_id": sid,
                "index": kept.index,
                "identity_seed": _hx("identity " + sid).hex(),
                "identity_key": bytes(identities[sid].verify_key).hex(),
                "ephemeral_private_key": ephemeral.private_bytes().hex(),
                "ephemeral_public_key": ephemeral.public_key.hex(),
                "public_share": public_share.hex(),
                "statement": statement.hex(),
                "plaintext": (bytes([kept.index]) + g.encode_scalar(kept.value)).hex(),
                "enc": sealed[:32].hex(),
                "ciphertext": sealed[32:].hex(),
                "sealed_sha256": hashlib.sha256(sealed).hexdigest(),
                "signature": blob[6 + 33 : 6 + 33 + 64].hex(),
                "encrypted_key_share": blob.hex(),
                "encrypted_key_share_b64url": b64url_encode(blob),
            }
        )
    recovered = open_export_shares(
        returned,
        signer_identity_keys={s: bytes(k.verify_key) for s, k in identities.items()},
        key_pair=requester,
        key_id=EXAMPLE_KEY_ID,
        curve=curve,
        protocol=protocol,
        group_public_key=gpk,
        min_signers=t,
        signer_ids=ids,
    )
    assert recovered == secret

    return {
        "description": (
            "Worked example of docs/import-export-format.md: a 2-of-3 secp256k1 "
            "FROST_BITCOIN import, then an export by signers 1 and 3. All byte strings "
            "are hex unless the name ends in _b64url. Inputs: secret, coefficients, "
            "signer ids, x25519_private_key, ephemeral_private_key, requester key, "
            "identity seeds; everything else is derived."
        ),
        "generator": "tests/protocols/test_dealer.py::build_example",
        "import": {
            "curve": curve,
            "protocol": protocol,
            "min_signers": t,
            "hpke_suite_id": hpke.SUITE_ID.hex(),
            "hpke_info": IMPORT_INFO.decode(),
            "signer_ids_as_given": EXAMPLE_IDS_AS_GIVEN,
            "signer_ids_sorted": ids,
            "secret": g.encode_scalar(secret).hex(),
            "coefficients": [g.encode_scalar(secret).hex(), g.encode_scalar(coefficient).hex()],
            "group_public_key": gpk.hex(),
            "commitments": [c.hex() for c in commitments],
            "commitments_hash": c_hash.hex(),
            "commitments_digest": digest.hex(),
            "signers": signers,
            "request": request,
        },
        "export": {
            "key_id": EXAMPLE_KEY_ID,
            "hpke_info": EXPORT_INFO.decode(),
            "requester_private_key": requester.private_bytes().hex(),
            "requester_encryption_key": requester.public_key.hex(),
            "encryption_key_b64url": b64url_encode(requester.public_key),
            "shares": export_shares,
            "private_key": g.encode_scalar(recovered).hex(),
        },
    }


def test_worked_example_is_reproduced_byte_for_byte() -> None:
    stored = json.loads(VECTOR_PATH.read_text())
    assert build_example() == stored


def test_worked_example_matches_the_documented_layouts() -> None:
    """Rebuild the example's AADs, headers, plaintexts and statements from the layouts as
    documented (independently of the dealer's own encoders)."""
    v = json.loads(VECTOR_PATH.read_text())
    imp_v, exp_v = v["import"], v["export"]
    ids = imp_v["signer_ids_sorted"]
    assert ids == sorted(imp_v["signer_ids_as_given"])
    n = SECP256K1.order

    def lp(b: bytes) -> bytes:
        return bytes([len(b)]) + b

    secret = int(imp_v["secret"], 16)
    a1 = int(imp_v["coefficients"][1], 16)
    commitments = [bytes.fromhex(c) for c in imp_v["commitments"]]
    assert commitments[0] == SECP256K1.mul_base(secret).encode()
    assert commitments[1] == SECP256K1.mul_base(a1).encode()
    c_hash = hashlib.sha256(b"".join(commitments)).digest()
    assert c_hash.hex() == imp_v["commitments_hash"]
    context = (
        b"\x01"
        + lp(b"secp256k1")
        + lp(b"FROST_BITCOIN")
        + bytes([2, 3])
        + b"".join(lp(s.encode()) for s in ids)
    )
    digest = hashlib.sha256(b"SVKC" + context + lp(commitments[0]) + c_hash).digest()
    assert digest.hex() == imp_v["commitments_digest"]
    for s in imp_v["signers"]:
        i = s["index"]
        share = (secret + a1 * i) % n
        assert s["share"] == share.to_bytes(32, "big").hex()
        aad = b"SVKI" + context + bytes([i]) + lp(commitments[0]) + c_hash
        assert s["aad"] == aad.hex()
        header = b"SVKI" + bytes([1, i, 2]) + b"".join(commitments)
        assert s["header"] == header.hex()
        pt = bytes([i]) + share.to_bytes(32, "big") + commitments[0] + b"".join(commitments)
        assert s["plaintext"] == pt.hex()
        blob = bytes.fromhex(s["encrypted_key_share"])
        assert blob == header + bytes.fromhex(s["enc"]) + bytes.fromhex(s["ciphertext"])
        assert base64.urlsafe_b64decode(s["encrypted_key_share_b64url"] + "==") == blob
        assert s["enc"] == s["ephemeral_public_key"]  # DHKEM(X25519): enc = pkE
        key = HpkeKeyPair.from_private_bytes(bytes.fromhex(s["x25519_private_key"]))
        assert (
            hpke.open_sealed(key, blob[len(header) :], info=b"shardvault/import/v1", aad=aad) == pt
        )
    requester = bytes.fromhex(exp_v["requester_encryption_key"])
    for s in exp_v["shares"]:
        i = s["index"]
        statement = (
            b"shardvault/export-statement/v1\x01"
            + lp(exp_v["key_id"].encode())
            + lp(b"secp256k1")
            + lp(b"FROST_BITCOIN")
            + lp(commitments[0])
            + b"\x02"
            + lp(s["signer_id"].encode())
            + bytes([i])
            + lp(bytes.fromhex(s["public_share"]))
            + lp(requester)
        )
        assert s["statement"] == statement.hex()
        sealed = bytes.fromhex(s["enc"] + s["ciphertext"])
        nacl.signing.VerifyKey(bytes.fromhex(s["identity_key"])).verify(
            statement + hashlib.sha256(sealed).digest(), bytes.fromhex(s["signature"])
        )
        blob = bytes.fromhex(s["encrypted_key_share"])
        assert blob == (
            b"SVKE\x01"
            + bytes([i])
            + bytes.fromhex(s["public_share"])
            + bytes.fromhex(s["signature"])
            + sealed
        )
    assert exp_v["private_key"] == imp_v["secret"]


if __name__ == "__main__":  # pragma: no cover - regenerates the stored example
    if sys.argv[1:] != ["--write-vector"]:
        sys.exit("usage: python tests/protocols/test_dealer.py --write-vector")
    VECTOR_PATH.write_text(json.dumps(build_example(), indent=2) + "\n")
    print(f"wrote {VECTOR_PATH}")


def test_doc_quotes_the_worked_example() -> None:
    """docs/import-export-format.md shows the stored example's values verbatim."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "import-export-format.md").read_text()
    v = json.loads(VECTOR_PATH.read_text())
    imp_v, exp_v = v["import"], v["export"]
    quoted = [imp_v["secret"], *imp_v["commitments"], imp_v["commitments_hash"]]
    quoted.append(imp_v["commitments_digest"])
    for s in imp_v["signers"]:
        quoted += [s[k] for k in s if k not in ("signer_id", "index")]
    for s in exp_v["shares"]:
        quoted += [s[k] for k in s if k not in ("signer_id", "index")]
    quoted += [exp_v["requester_private_key"], exp_v["requester_encryption_key"]]
    quoted += [exp_v["encryption_key_b64url"], exp_v["private_key"]]
    missing = [q for q in quoted if q not in doc]
    assert missing == []
    assert json.dumps(imp_v["request"], indent=2) in doc


def test_import_aad_index_and_signer_pairs_are_validated() -> None:
    args: dict[str, Any] = {
        "curve": "secp256k1",
        "protocol": "FROST_BITCOIN",
        "min_signers": 2,
        "signer_ids": ["sgn-a", "sgn-b", "sgn-c"],
        "group_public_key": SECP256K1.generator.encode(),
        "commitments_hash": bytes(32),
    }
    for index in (0, 4, 256, True):
        expect_import_error("InvalidIndex", lambda i=index: import_aad(index=i, **args))
    assert import_aad(index=3, **args)[-67:] == b"\x03\x21" + args["group_public_key"] + bytes(32)
    expect_import_error(
        "InvalidSignerId",
        lambda: seal_import_shares(
            5, curve="secp256k1", protocol="FROST_BITCOIN", min_signers=1, signers=[("sgn-a",)]
        ),
    )
