"""Suite-wide settings. Vector locations are in tests/shared_vectors.py (a plain module,
so sub-directory conftest files never shadow it)."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")
