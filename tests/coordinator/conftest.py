from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from vault_runner import VaultRunner


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[VaultRunner]:
    r = VaultRunner(tmp_path / "vault", os.urandom(32))
    yield r
    r.close()
