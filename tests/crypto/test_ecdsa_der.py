"""The one DER encoder of ECDSA signatures (raw signatures' ``encoded``, PSBT partial
signatures) against libsecp256k1's own serializer."""

from __future__ import annotations

import pytest
from coincurve.ecdsa import cdata_to_der
from hypothesis import given
from hypothesis import strategies as st

from shardvault.chains.psbt_signing import der_encode_signature
from shardvault.crypto.ecdsa_der import der_encode_ecdsa
from shardvault.errors import InvalidParameters

_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@given(
    st.one_of(st.integers(1, 2**16), st.integers(1, _N - 1)),
    st.one_of(st.integers(1, 2**16), st.integers(1, _N - 1)),
)
def test_der_encode_ecdsa_matches_libsecp256k1(r: int, s: int) -> None:
    der = der_encode_ecdsa(r, s)
    compact = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert der == cdata_to_der(compact_to_cdata(compact))


def test_der_encode_ecdsa_edges() -> None:
    assert der_encode_ecdsa(1, 0x80) == bytes.fromhex("3007020101020200 80".replace(" ", ""))
    for bad in ((0, 1), (1, 0), (_N, 1), (1, _N), (-1, 1)):
        with pytest.raises(InvalidParameters):
            der_encode_ecdsa(*bad)


def compact_to_cdata(compact: bytes) -> object:
    """libsecp256k1's parsed signature of a 64-byte compact (r || s)."""
    from coincurve._libsecp256k1 import ffi, lib
    from coincurve.context import GLOBAL_CONTEXT

    sig = ffi.new("secp256k1_ecdsa_signature *")
    assert lib.secp256k1_ecdsa_signature_parse_compact(GLOBAL_CONTEXT.ctx, sig, compact)
    return sig


@given(st.integers(1, _N - 1), st.integers(1, _N - 1))
def test_psbt_encoding_is_the_same_with_low_s(r: int, s: int) -> None:
    low = min(s, _N - s)
    assert der_encode_signature(r, s) == der_encode_ecdsa(r, low)
