"""Fixtures shared by the CGGMP24 protocol tests."""

from __future__ import annotations

import pytest
from cggmp_helpers import deliver, make_parties

from shardvault.protocols.cggmp.aux_info import AuxInfo


@pytest.fixture(scope="module")
def aux3() -> dict[int, AuxInfo]:
    """Aux info of three parties (fixture primes), computed once per test module."""
    parties = make_parties(3)
    deliver(parties)
    return {p.me: p.result() for p in parties}
