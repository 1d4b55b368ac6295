"""Where the published test vectors live: ../shared/vectors beside the checkout
(DEVELOPERS.md), overridable with SHARDVAULT_SHARED_VECTORS."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED_VECTORS = Path(
    os.environ.get("SHARDVAULT_SHARED_VECTORS", ROOT.parent / "shared" / "vectors")
)
LOCAL_VECTORS = ROOT / "tests" / "vectors"


def shared_vector_path(name: str) -> Path:
    path = SHARED_VECTORS / name
    if not path.exists():  # a missing vector is a failure, never a skip
        raise FileNotFoundError(f"published test vector {path} is missing")
    return path


def load_json_vector(name: str) -> Any:
    return json.loads(shared_vector_path(name).read_text())
