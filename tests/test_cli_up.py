"""The wiring behind ``shardvault up`` (``shardvault.server``): the credentials file
exists, complete and private, before the API answers its first request."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from shardvault.server import serving
from shardvault.server.serving import base_url_for, bind_socket, serve_embedded


def test_credentials_exist_before_health_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script that waits for ``GET /health`` and then reads credentials.json must
    find the file, even when writing it is slow."""
    real_ensure_admin = serving.ensure_admin

    def slow_ensure_admin(*args: Any) -> Path:
        time.sleep(0.5)
        return real_ensure_admin(*args)

    monkeypatch.setattr(serving, "ensure_admin", slow_ensure_admin)
    credentials = tmp_path / "credentials.json"

    async def scenario() -> dict[str, Any]:
        sock = bind_socket("127.0.0.1", 0)
        url = base_url_for(sock)

        async def first_health() -> dict[str, Any]:
            async with httpx.AsyncClient(timeout=30) as http:
                while True:
                    try:
                        response = await http.get(f"{url}/health")
                    except httpx.TransportError:
                        await asyncio.sleep(0.01)
                        continue
                    assert response.status_code == 200
                    # What the waiting script does next:
                    assert credentials.exists(), "/health answered before credentials.json"
                    data: dict[str, Any] = json.loads(credentials.read_text())
                    return data

        probe = asyncio.create_task(first_health())
        try:
            async with serve_embedded(
                data_dir=tmp_path,
                kek=os.urandom(32),
                sock=sock,
                ecdsa_primes="off",
                allowed_origins=("https://app.example",),
            ) as running:
                data = await asyncio.wait_for(probe, 60)
                assert data["baseUrl"] == running.base_url == url
                # user actions may name the vault's own origin, localhost and the extra one
                settings = running.server.config.app.state.settings
                assert settings.allowed_origins == (url, "http://localhost", "https://app.example")
                return data
        finally:
            probe.cancel()
            sock.close()

    data = asyncio.run(scenario())
    assert data["token"] and data["orgId"] and data["userId"] and data["credentialId"]
    assert data["privateKey"].startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600


def test_refresh_every_durations() -> None:
    import typer

    from shardvault.cli.local import parse_duration

    assert parse_duration("24h") == 86400.0
    assert parse_duration("30m") == 1800.0
    assert parse_duration("7d") == 7 * 86400.0
    for bad in ("", "h", "10", "30s", "-1h", "1.5h", "1w"):
        with pytest.raises(typer.BadParameter):
            parse_duration(bad)


def test_up_passes_the_rate_limit_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from shardvault.cli import app
    from shardvault.server import up

    seen: dict[str, Any] = {}

    async def fake_run_up(**kw: Any) -> None:
        seen.update(kw)

    monkeypatch.setattr(up, "run_up", fake_run_up)
    args = ["up", "--data-dir", str(tmp_path / "d"), "--rate-limit", "5", "--rate-limit-burst", "7"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (seen["rate_limit_per_second"], seen["rate_limit_burst"]) == (5.0, 7)
    result = CliRunner().invoke(app, ["up", "--data-dir", str(tmp_path / "d")])
    assert (seen["rate_limit_per_second"], seen["rate_limit_burst"]) == (0.0, 0)
    result = CliRunner().invoke(
        app, ["up", "--data-dir", str(tmp_path / "d"), "--rate-limit", "-1"]
    )
    assert result.exit_code != 0
