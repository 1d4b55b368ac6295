"""Suite-wide settings. Vector locations are in tests/shared_vectors.py (a plain module,
so sub-directory conftest files never shadow it)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scalarhelpers import Recorder, record_c_calls
from signinghelpers import install as install_user_action_signing

# Requests of tests through TestClient / ASGITransport with a registered token are
# signed as user actions (tests/signinghelpers.py).
install_user_action_signing()

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")


@pytest.fixture
def mock_api(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[Callable[[httpx.Request], httpx.Response]], list[httpx.Request]]:
    """Route the CLI's client through an ``httpx.MockTransport`` handler (CLI tests)."""
    from clihelpers import route_cli_to

    return lambda handler: route_cli_to(monkeypatch, handler)


@pytest.fixture
def c_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, Recorder]:
    """Spies on the C functions behind crypto/scalars (tests/scalarhelpers.py)."""
    return record_c_calls(monkeypatch)
