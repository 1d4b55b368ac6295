"""Test-side spies on the C libraries behind :mod:`shardvault.crypto.scalars`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shardvault.crypto import scalars

__all__ = ["Recorder", "record_c_calls"]


class Recorder:
    """Stands in for a cffi ``lib``: records each function called, then calls it."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(self._real, name)

        def call(*args: Any) -> Any:
            self.calls.append(name)
            return fn(*args)

        return call


def record_c_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, Recorder]:
    """The C functions the scalar fields call, by library (``"secp256k1"``:
    libsecp256k1, ``"ed25519"``: libsodium)."""
    secp = Recorder(scalars._lib)
    sodium = Recorder(scalars._sodium_lib)
    monkeypatch.setattr(scalars, "_lib", secp)
    monkeypatch.setattr(scalars, "_sodium_lib", sodium)
    return {"secp256k1": secp, "ed25519": sodium}
