"""Shared test helpers of the key import and export formats: a sealed import of a
deterministic signer set (:class:`Import`) and the export of its shares
(:class:`Export`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nacl.signing
import pytest

from shardvault.crypto.groups import Group, group_by_name
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.errors import InvalidImport
from shardvault.protocols.key_export import open_export_shares, seal_export_share
from shardvault.protocols.key_import import (
    ImportContext,
    ImportedShare,
    open_import_share,
    seal_import_shares,
)

SUITES = [("ed25519", "FROST"), ("secp256k1", "FROST_BITCOIN"), ("secp256k1", "CGGMP24")]
SUITE_IDS = ["FROST-ed25519", "FROST_BITCOIN-secp256k1", "CGGMP24-secp256k1"]


def det(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def flip(data: bytes, index: int, bit: int = 0) -> bytes:
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
    context: ImportContext

    @property
    def group(self) -> Group:
        return group_by_name(self.curve)

    def open(self, sid: str, **overrides: Any) -> ImportedShare:
        kwargs: dict[str, Any] = {
            "key_pair": self.keys[sid],
            "my_signer_id": sid,
            "context": self.context,
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
    keys = {sid: HpkeKeyPair.from_private_bytes(det("x25519 " + sid)) for sid in ids}
    group = group_by_name(curve)
    if secret is None:
        secret = group.random_scalar()
    context = ImportContext(det("import id " + tag)[:16], 1_796_644_800)
    gpk, blobs = seal_import_shares(
        secret,
        context=context,
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signers=[(sid, keys[sid].public_key) for sid in reversed(ids)],
    )
    return Import(curve, protocol, t, sorted(ids), keys, secret, gpk, dict(blobs), context)


def expect_import_error(code: str, fn: Callable[[], object]) -> InvalidImport:
    with pytest.raises(InvalidImport) as info:
        fn()
    assert info.value.code == code, info.value.message
    return info.value


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
        {sid: nacl.signing.SigningKey(det("identity " + sid)) for sid in imp.ids},
        HpkeKeyPair.generate(),
        {sid: imp.open(sid) for sid in imp.ids},
    )
