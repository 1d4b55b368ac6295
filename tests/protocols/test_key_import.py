"""Key import (shardvault.protocols.key_import, docs/import-export-format.md section 3):
round trips, and every rejection with its code (docs/security.md items 4, 5, 9)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from key_transfer_helpers import (
    SUITE_IDS,
    SUITES,
    Import,
    det,
    expect_import_error,
    flip,
    make_import,
)
from rnghelpers import ReplayRng

from shardvault.crypto import hpke
from shardvault.crypto.groups import SECP256K1, group_by_name
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.crypto.keyformats import ed25519_scalar_from_seed
from shardvault.crypto.shamir import interpolate_secret
from shardvault.errors import InvalidImport
from shardvault.protocols.key_import import (
    IMPORT_CONTEXT_MAX_AGE_SECONDS,
    IMPORT_CONTEXT_MAX_SKEW_SECONDS,
    IMPORT_INFO,
    ImportContext,
    ImportedShare,
    check_import_context_fresh,
    commitments_hash,
    import_aad,
    import_blob_size,
    import_commitments_digest,
    import_verifying_shares,
    match_import_shares,
    open_import_share,
    seal_import_shares,
)
from shardvault.protocols.key_transfer import (
    check_min_signers,
    min_signers_problem,
    party_indices,
)

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
    n = data.draw(st.integers(2, 7), label="n")
    t = data.draw(st.integers(2, n), label="t")
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
    context = ImportContext.issue()
    gpk, blobs = seal_import_shares(
        secret,
        context=context,
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signers=[(sid, keys[sid].public_key) for sid in ids],
    )
    assert gpk == group.mul_base(secret).encode()
    assert [sid for sid, _ in blobs] == sorted(ids)
    opened: dict[str, ImportedShare] = {}
    for j, (sid, blob) in enumerate(blobs):
        assert len(blob) == import_blob_size(curve, t)
        share = open_import_share(
            blob,
            key_pair=keys[sid],
            my_signer_id=sid,
            context=context,
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
            context=context,
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
    seed = det("an ed25519 wallet seed")
    secret = ed25519_scalar_from_seed(seed)
    imp = make_import("ed25519", "FROST", 2, 3, secret=secret)
    assert imp.group_public_key == bytes(nacl.signing.SigningKey(seed).verify_key)


def test_signers_given_in_any_order_get_sorted_indices() -> None:
    ids = ["sgn-b", "sgn-c", "sgn-a"]
    keys = {sid: HpkeKeyPair.generate() for sid in ids}
    _, blobs = seal_import_shares(
        12345,
        context=ImportContext.issue(),
        curve="secp256k1",
        protocol="FROST_BITCOIN",
        min_signers=2,
        signers=[(sid, keys[sid].public_key) for sid in ids],
    )
    assert [sid for sid, _ in blobs] == ["sgn-a", "sgn-b", "sgn-c"]
    assert [blob[5] for _, blob in blobs] == [1, 2, 3]
    assert party_indices(ids) == {"sgn-a": 1, "sgn-b": 2, "sgn-c": 3}


def test_imported_share_repr_hides_the_value() -> None:
    imp = make_import()
    share = imp.open(imp.ids[0])
    text = repr(share) + str(share)
    assert "redacted" in text
    for form in (str(share.value), hex(share.value)[2:], f"{share.value:064x}"):
        assert form not in text


def test_coefficients_come_from_the_rng() -> None:
    signers = [(f"sgn-{j}", HpkeKeyPair.generate().public_key) for j in range(3)]
    context: dict[str, Any] = {
        "context": ImportContext.issue(),
        "curve": "secp256k1",
        "protocol": "FROST_BITCOIN",
        "min_signers": 2,
        "signers": signers,
    }
    a1 = 0x5EED
    rng = ReplayRng(scalars=[a1])
    _, drawn = seal_import_shares(42, rng=rng, **context)
    _, given_ = seal_import_shares(42, coefficients=[a1], **context)
    assert rng.exhausted
    header = 7 + 2 * 33  # magic, version, index, count, C_0, C_1
    assert [blob[:header] for _, blob in drawn] == [blob[:header] for _, blob in given_]
    assert drawn[0][1][40:73] == SECP256K1.mul_base(a1).encode()


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
        (lambda b: flip(b, 0), "MalformedShare"),
        (lambda b: b[:4] + b"\x01" + b[5:], "UnsupportedVersion"),  # format 1: no context
        (lambda b: b[:4] + b"\x03" + b[5:], "UnsupportedVersion"),
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
        (lambda b: flip(b, HEADER + 2 * E_SECP), "ShareDecryptionFailed"),  # enc
        (lambda b: flip(b, HEADER + 2 * E_SECP + 40), "ShareDecryptionFailed"),  # ciphertext
        (lambda b: flip(b, len(b) - 1, 7), "ShareDecryptionFailed"),  # tag
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
        context=imp.context,
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
        ({"min_signers": 1}, "InvalidMinSigners"),
        ({"context": ImportContext(bytes(16), 1_796_644_800)}, "ShareDecryptionFailed"),
        (
            {"context": ImportContext(det("import id ")[:16], 1_796_644_801)},
            "ShareDecryptionFailed",
        ),
        ({"context": None}, "InvalidImportContext"),
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
        "context": imp.context,
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
        "context": imp.context,
        "curve": imp.curve,
        "protocol": imp.protocol,
        "min_signers": 2,
        "signer_ids": imp.ids,
    }
    d0 = import_commitments_digest(commitments=c, **base)
    assert d0 == import_commitments_digest(
        commitments=c, **{**base, "signer_ids": list(reversed(imp.ids))}
    )
    other_id = ImportContext(bytes(16), imp.context.issued_at)
    other_time = ImportContext(imp.context.import_id, imp.context.issued_at + 1)
    for change in (
        {"protocol": "CGGMP24"},
        {"signer_ids": [*imp.ids, "sgn-99"]},
        {"context": other_id},
        {"context": other_time},
    ):
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
    c_hash = commitments_hash(commitments)
    aad = import_aad(
        context=imp.context,
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
    return b"SVKI" + bytes([2, index, t]) + b"".join(commitments) + sealed


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
    return [(f"sgn-{j}", HpkeKeyPair.from_private_bytes(det(str(j))).public_key) for j in range(n)]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"signers": [*_signers(2), ("sgn-0", _signers(1)[0][1])]}, "DuplicateSigner"),
        ({"signers": []}, "InvalidMinSigners"),
        ({"min_signers": 0}, "InvalidMinSigners"),
        ({"min_signers": 1}, "InvalidMinSigners"),
        ({"min_signers": 4}, "InvalidMinSigners"),
        ({"min_signers": 2.0}, "InvalidMinSigners"),
        ({"context": None}, "InvalidImportContext"),
        ({"signers": _signers(256), "min_signers": 2}, "InvalidMinSigners"),
        ({"curve": "ed25519"}, "UnsupportedProtocol"),
        ({"protocol": "CGGMP24", "curve": "ed25519"}, "UnsupportedProtocol"),
        ({"protocol": "frost_bitcoin"}, "UnsupportedProtocol"),
        ({"signers": [("", b"\x09" + bytes(31))]}, "InvalidSignerId"),
        ({"signers": [("sgn-é", b"\x09" + bytes(31))], "min_signers": 2}, "InvalidSignerId"),
        ({"signers": [("s" * 256, b"\x09" + bytes(31))], "min_signers": 2}, "InvalidSignerId"),
        ({"signers": [(1, b"\x09" + bytes(31))], "min_signers": 2}, "InvalidSignerId"),
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
        "context": ImportContext.issue(),
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
            secret,
            context=ImportContext.issue(),
            curve="secp256k1",
            protocol="FROST_BITCOIN",
            min_signers=9,
            signers=_signers(),
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


def test_import_aad_index_and_signer_pairs_are_validated() -> None:
    args: dict[str, Any] = {
        "context": ImportContext.issue(),
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
            5,
            context=ImportContext.issue(),
            curve="secp256k1",
            protocol="FROST_BITCOIN",
            min_signers=2,
            signers=[("sgn-a",)],
        ),
    )


# --- issue 12: one-time import contexts and minSigners >= 2 ------------------------------


def test_import_context_freshness_is_the_signers_own_check() -> None:
    """docs/security.md item 27: a signer refuses a context older than its window (or
    dated in the future) by its own clock, whatever the API says."""
    ctx = ImportContext(bytes(range(16)), 1_000_000)
    check_import_context_fresh(ctx, 1_000_000 + IMPORT_CONTEXT_MAX_AGE_SECONDS)
    check_import_context_fresh(ctx, 1_000_000 - IMPORT_CONTEXT_MAX_SKEW_SECONDS)
    for now in (
        1_000_000 + IMPORT_CONTEXT_MAX_AGE_SECONDS + 1,
        1_000_000 - IMPORT_CONTEXT_MAX_SKEW_SECONDS - 1,
    ):
        expect_import_error(
            "ImportContextExpired", lambda n=now: check_import_context_fresh(ctx, n)
        )
    assert ctx.encode() == bytes(range(16)) + (1_000_000).to_bytes(8, "big")
    fresh = ImportContext.issue()
    assert len(fresh.import_id) == 16 and fresh.import_id != ImportContext.issue().import_id
    for bad in ((bytes(15), 1), (bytes(17), 1), (bytes(16), -1), (bytes(16), True)):
        expect_import_error("InvalidImportContext", lambda b=bad: ImportContext(*b))


def test_min_signers_one_is_refused_saying_why() -> None:
    """docs/security.md item 31: minSigners 1 would give every signer the whole key."""
    for fn in (
        lambda: check_min_signers(1, 3, InvalidImport),
        lambda: seal_import_shares(
            5,
            context=ImportContext.issue(),
            curve="ed25519",
            protocol="FROST",
            min_signers=1,
            signers=_signers(3),
        ),
    ):
        err = expect_import_error("InvalidMinSigners", fn)
        assert "whole key" in err.message
    assert min_signers_problem(2, 3) is None
    assert min_signers_problem(1, 3, minimum=1) is None  # export of an older 1-of-n key
