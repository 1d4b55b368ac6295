"""Shared test fixtures: where the published vectors live."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
#: ../shared/vectors beside the checkout (DEVELOPERS.md); overridable for other layouts.
SHARED_VECTORS = Path(
    os.environ.get("SHARDVAULT_SHARED_VECTORS", ROOT.parent / "shared" / "vectors")
)
LOCAL_VECTORS = ROOT / "tests" / "vectors"

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")


def shared_vector_path(name: str) -> Path:
    path = SHARED_VECTORS / name
    if not path.exists():  # a missing vector is a failure, never a skip
        raise FileNotFoundError(f"published test vector {path} is missing")
    return path


def load_json_vector(name: str) -> Any:
    return json.loads(shared_vector_path(name).read_text())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
