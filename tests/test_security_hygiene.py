"""Source-level checks for docs/security.md item 20 (only the OS CSPRNG for secrets)."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "shardvault"

FORBIDDEN = [
    re.compile(r"^\s*import random\b", re.M),
    re.compile(r"^\s*from random import", re.M),
    re.compile(r"\brandom_state\b"),
    re.compile(r"\bnumpy\.random\b"),
]


def test_no_non_cryptographic_randomness_in_src() -> None:
    offenders = []
    files = list(SRC.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        text = path.read_text()
        for pattern in FORBIDDEN:
            if pattern.search(text):
                offenders.append(f"{path.relative_to(SRC)}: {pattern.pattern}")
    assert offenders == []


def test_pattern_catches_an_offender() -> None:
    assert any(p.search("import random\n") for p in FORBIDDEN)
    assert any(p.search("x = gmpy2.random_state(1)") for p in FORBIDDEN)


def test_aux_info_not_ready_is_a_503() -> None:
    from shardvault.api.errors import http_status
    from shardvault.errors import AuxInfoNotReady

    err = AuxInfoNotReady("primes still being generated")
    assert err.code == "AuxInfoNotReady"
    assert http_status(err) == 503
