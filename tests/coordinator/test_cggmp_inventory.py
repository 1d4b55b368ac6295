"""The coordinator's presignature lists after a restart, rebuilt from every signer's
inventory (``CggmpService._load_inventory``), against stand-in signer sessions."""

from __future__ import annotations

import asyncio
from typing import Any

from shardvault.coordinator.cggmp import CggmpService, _Key


class _Inventories:
    """Just what ``_load_inventory`` asks of the signer sessions."""

    def __init__(self, replies: dict[str, Any]) -> None:
        self.signer_ids = list(replies)
        self._replies = replies

    async def call_each(self, ids: list[str], op: str, **_: Any) -> dict[str, Any]:
        assert op == "presign.inventory"
        return {s: self._replies[s] for s in ids}


def _entry(key: _Key, presigs: list[str]) -> dict[str, Any]:
    return {
        "publicKey": key.public_key.hex(),
        "threshold": key.threshold,
        "signerIds": list(key.signer_ids),
        "presigs": {key.preferred_binding.hex(): presigs},
    }


def test_presignatures_every_holder_lists_in_the_first_holders_order() -> None:
    key = _Key("key-1", bytes([2]) + bytes(32), ["s1", "s2", "s3"], 2)
    replies = {
        "s1": {"keys": {"key-1": _entry(key, ["c", "a", "b"])}},
        "s2": {"keys": {"key-1": _entry(key, ["a", "c", "d"])}},
        "s3": {"keys": {}},  # not in the preferred set {1, 2}
    }
    service = CggmpService(_Inventories(replies))  # type: ignore[arg-type]
    asyncio.run(service._load_inventory())
    assert service._presigs == {("key-1", key.preferred_binding): ["c", "a"]}


def test_a_holder_that_no_longer_lists_the_key_holds_none() -> None:
    """After a partly failed delete one signer may still list a key the first holder
    has erased: that key gets an empty list, and the other keys still load."""
    gone = _Key("key-1", bytes([2]) + bytes(32), ["s1", "s2", "s3"], 2)
    kept = _Key("key-2", bytes([3]) + bytes(32), ["s1", "s2", "s3"], 2)
    replies = {
        "s1": {"keys": {"key-2": _entry(kept, ["x"])}},
        "s2": {"keys": {"key-1": _entry(gone, ["p"]), "key-2": _entry(kept, ["x"])}},
        "s3": {"keys": {}},
    }
    service = CggmpService(_Inventories(replies))  # type: ignore[arg-type]
    asyncio.run(service._load_inventory())
    assert service._presigs == {
        ("key-1", gone.preferred_binding): [],
        ("key-2", kept.preferred_binding): ["x"],
    }
