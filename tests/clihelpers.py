"""Running the ``shardvault`` CLI in tests: ``invoke`` (never a traceback), ``flat``
(output without rich's boxes and wrapping) and ``route_cli_to`` (the CLI's client,
``shardvault.cli.common.connect``, through an ``httpx.MockTransport`` handler; the
``mock_api`` fixture in conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from shardvault.cli import app, common
from shardvault.sdk import Client

runner = CliRunner()


def invoke(*args: str, input: str | bytes | None = None) -> Any:
    result = runner.invoke(app, list(args), input=input)
    assert "Traceback" not in result.output
    return result


def flat(text: str) -> str:
    """Output with rich's box drawing and line wrapping removed."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def route_cli_to(
    monkeypatch: pytest.MonkeyPatch, handler: Callable[[httpx.Request], httpx.Response]
) -> list[httpx.Request]:
    """Send the CLI's requests to ``handler``; returns the list they are recorded in."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    monkeypatch.setattr(
        common,
        "connect",
        lambda *a: Client("http://vault.test", token="t", transport=httpx.MockTransport(record)),
    )
    return seen
