"""BIP 174 and BIP 371 published PSBT test vectors (bitcoin/bips, bip-0174.mediawiki and
bip-0371.mediawiki "Test Vectors", extracted into tests/vectors/bip174-psbt.json and
tests/vectors/bip371-psbt.json): valid PSBTs parse and re-serialize byte for byte (also from
base64, including the published base64 strings), invalid ones raise InvalidPsbt."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from shared_vectors import LOCAL_VECTORS

from shardvault.chains.psbt import Psbt
from shardvault.errors import InvalidEncoding

BIP174: dict[str, Any] = json.loads((LOCAL_VECTORS / "bip174-psbt.json").read_text())
BIP371: dict[str, Any] = json.loads((LOCAL_VECTORS / "bip371-psbt.json").read_text())


def _cases(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["description"], e["hex"]) for e in entries]


# The "valid" lists include BIP 174's "Fails Signer checks" cases: they parse.
BIP174_INVALID = _cases(BIP174["invalid"])
BIP174_VALID = _cases(BIP174["valid"])
BIP174_WORKFLOW: list[str] = [e["hex"] for e in BIP174["workflow"]]
BIP371_INVALID = _cases(BIP371["invalid"])
BIP371_VALID = _cases(BIP371["valid"])
PUBLISHED_BASE64 = {
    e["hex"]: e["base64"]
    for d in (BIP174, BIP371)
    for k in ("invalid", "valid", "workflow")
    for e in d.get(k, [])
    if "base64" in e
}

VALID = BIP174_VALID + BIP371_VALID + [(f"workflow {i}", h) for i, h in enumerate(BIP174_WORKFLOW)]
INVALID = BIP174_INVALID + BIP371_INVALID


def test_vector_counts() -> None:
    assert (len(BIP174_INVALID), len(BIP174_VALID), len(BIP174_WORKFLOW)) == (20, 14, 10)
    assert (len(BIP371_INVALID), len(BIP371_VALID)) == (11, 6)
    assert sum(e["fails_signer_checks"] for e in BIP174["valid"]) == 4
    for hex_psbt, b64 in PUBLISHED_BASE64.items():  # the two printed forms agree
        assert base64.b64decode(b64, validate=True).hex() == hex_psbt


@pytest.mark.parametrize(("case", "hex_psbt"), VALID, ids=[c for c, _ in VALID])
def test_valid_psbt_round_trips(case: str, hex_psbt: str) -> None:
    raw = bytes.fromhex(hex_psbt)
    b64 = base64.b64encode(raw)
    for encoded in (raw, hex_psbt, b64.decode(), b64, PUBLISHED_BASE64[hex_psbt]):
        psbt = Psbt.parse(encoded)
        assert psbt.serialize() == raw, case
    assert Psbt.parse(raw).to_base64() == base64.b64encode(raw).decode()


@pytest.mark.parametrize(("case", "hex_psbt"), INVALID, ids=[c for c, _ in INVALID])
def test_invalid_psbt_rejected(case: str, hex_psbt: str) -> None:
    for encoded in (bytes.fromhex(hex_psbt), hex_psbt, PUBLISHED_BASE64[hex_psbt]):
        with pytest.raises(InvalidEncoding) as excinfo:
            Psbt.parse(encoded)
        assert excinfo.value.code == "InvalidPsbt", case


def test_mutated_psbts_only_raise_invalid_psbt() -> None:
    """Random byte flips and truncations of every valid vector either parse (and then
    re-serialize identically) or raise InvalidPsbt, never another exception."""
    import random

    rng = random.Random(1174)
    for _, hex_psbt in VALID:
        raw = bytes.fromhex(hex_psbt)
        for _ in range(60):
            data = bytearray(raw)
            if rng.random() < 0.3:
                data = data[: rng.randrange(len(data))]
            else:
                for _ in range(rng.randint(1, 3)):
                    data[rng.randrange(5, len(data))] = rng.randrange(256)
            try:
                parsed = Psbt.parse(bytes(data))
            except InvalidEncoding as exc:
                assert exc.code == "InvalidPsbt"
            else:
                assert parsed.serialize() == bytes(data)
