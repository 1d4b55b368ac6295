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
                data_dir=tmp_path, kek=os.urandom(32), sock=sock, ecdsa_primes="off"
            ) as running:
                data = await asyncio.wait_for(probe, 60)
                assert data["baseUrl"] == running.base_url == url
                return data
        finally:
            probe.cancel()
            sock.close()

    data = asyncio.run(scenario())
    assert data["token"] and data["orgId"]
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
