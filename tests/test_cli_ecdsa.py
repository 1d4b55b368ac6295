"""ECDSA in the CLI: ``keys refresh``, choosing ECDSA/CGGMP24 in ``import-key``, and
the ECDSA readiness display of ``shardvault up`` (``watch_ecdsa``)."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from clihelpers import flat, invoke
from rich.console import Console

from shardvault.cli import common
from shardvault.coordinator.backend import EcdsaStatus
from shardvault.sdk import Client, Key
from shardvault.sdk.client import KeysApi
from shardvault.server.up import watch_ecdsa

ECDSA_KEY = {
    "id": "key-1",
    "scheme": "ECDSA",
    "curve": "secp256k1",
    "publicKey": "02" + "11" * 32,
    "status": "Active",
    "custodial": True,
    "dateCreated": "2024-05-01T12:00:00Z",
    "protocol": "CGGMP24",
    "minSigners": 2,
    "signers": ["sgn-a", "sgn-b", "sgn-c"],
}


# -- keys refresh ----------------------------------------------------------------------------
def test_keys_refresh(mock_api: Any) -> None:
    seen = mock_api(lambda request: httpx.Response(200, json=ECDSA_KEY))
    result = invoke("keys", "refresh", "key-1")
    assert result.exit_code == 0, result.output
    assert "key key-1 refreshed" in flat(result.output)
    assert ECDSA_KEY["publicKey"] in flat(result.output)
    result = invoke("keys", "refresh", "key-1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["protocol"] == "CGGMP24"
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/keys/key-1/refresh")] * 2
    assert "refresh" in invoke("keys", "--help").output


EPOCH = {
    "epoch": 3,
    "state": "committed",
    "startedAt": "2026-01-01T00:00:00.000Z",
    "finishedAt": "2026-01-01T00:00:02.500Z",
    "durationMs": 2500,
    "keys": {"ecdsa": 2, "frost": 5},
    "primes": "stock",
}


def test_admin_refresh(mock_api: Any) -> None:
    seen = mock_api(lambda request: httpx.Response(200, json=EPOCH))
    result = invoke("admin", "refresh")
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "epoch 3 committed in 2500 ms" in out and "2 ECDSA and 5 FROST keys" in out
    assert "stock primes" in out
    result = invoke("admin", "refresh", "--fresh-primes", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == EPOCH
    assert [(r.method, r.url.path, json.loads(r.content)) for r in seen] == [
        ("POST", "/admin/refresh", {"freshPrimes": False}),
        ("POST", "/admin/refresh", {"freshPrimes": True}),
    ]


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "RefreshNotSupported", "only ECDSA (CGGMP24) keys can be refreshed"),
        (503, "AuxInfoNotReady", "the signers' ECDSA aux info does not exist yet"),
        (404, "KeyNotFound", "key key-1 not found"),
    ],
)
def test_keys_refresh_errors(mock_api: Any, status: int, code: str, message: str) -> None:
    mock_api(
        lambda request: httpx.Response(status, json={"error": {"code": code, "message": message}})
    )
    result = invoke("keys", "refresh", "key-1")
    assert result.exit_code == 1
    assert result.output.strip() == f"error {code}: {message}"


# -- import-key: ECDSA ---------------------------------------------------------------------
@pytest.fixture
def imports(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what import-key passes to the SDK (the SDK's import is tested in tests/sdk)."""
    calls: list[dict[str, Any]] = []

    def fake_import(self: KeysApi, private_key: bytes, **kw: Any) -> Key:
        calls.append({"private_key": private_key, **kw})
        return Key.model_validate(ECDSA_KEY)

    monkeypatch.setattr(KeysApi, "import_key", fake_import)
    monkeypatch.setattr(common, "connect", lambda *a: Client("http://vault.test", token="t"))
    return calls


@pytest.mark.parametrize(
    "choice",
    [["--scheme", "ECDSA"], ["--protocol", "CGGMP24"], ["--protocol", "CGGMP21"],
     ["--scheme", "ECDSA", "--protocol", "CGGMP24"]],
)  # fmt: skip
def test_import_key_ecdsa(tmp_path: Path, imports: list[dict[str, Any]], choice: list[str]) -> None:
    secret = bytes(range(1, 33))
    key_file = tmp_path / "k.hex"
    key_file.write_text("0x" + secret.hex() + "\n")
    key_file.chmod(0o600)
    result = invoke(
        "import-key", "--curve", "secp256k1", *choice, "--min-signers", "2",
        "--key-file", str(key_file), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["scheme"] == "ECDSA"
    (call,) = imports
    assert call["private_key"] == secret
    assert (call["curve"], call["protocol"], call["min_signers"]) == ("secp256k1", "CGGMP24", 2)


@pytest.mark.parametrize(
    ("choice", "needle"),
    [
        ([], "give --protocol or --scheme"),
        (["--scheme", "ECDSA", "--curve", "ed25519"], "scheme ECDSA does not exist on curve"),
        (["--protocol", "CGGMP24", "--curve", "ed25519"], "does not exist on curve ed25519"),
        (["--scheme", "Schnorr", "--protocol", "CGGMP24"], "does not match"),
        (["--scheme", "RSA"], "--scheme"),
        (["--protocol", "GG18"], "--protocol"),
    ],
)
def test_import_key_bad_scheme_choices(
    imports: list[dict[str, Any]], choice: list[str], needle: str
) -> None:
    curve = [] if "--curve" in choice else ["--curve", "secp256k1"]
    result = invoke("import-key", *curve, *choice, "--min-signers", "2", "--key-file", "-")
    assert result.exit_code == 2, result.output
    assert needle in flat(result.output)
    assert imports == []


# -- shardvault up: ECDSA readiness ------------------------------------------------------------
class Statuses:
    """ecdsa_status() answers in turn (the last one repeats); exceptions are raised."""

    def __init__(self, *answers: EcdsaStatus | BaseException) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self) -> EcdsaStatus:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, BaseException):
            raise answer
        return answer


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=120, highlight=False), out


def test_watch_ecdsa_plain_lines_when_not_a_terminal() -> None:
    status = Statuses(
        EcdsaStatus(False, 0.1, "searching safe primes"),
        EcdsaStatus(False, 0.2, "searching safe primes"),
        RuntimeError("signer down"),
        EcdsaStatus(False, 0.9, "aux info"),
        EcdsaStatus(True, 1.0, "ready"),
    )
    console, out = _console(False)
    assert asyncio.run(watch_ecdsa(status, console, interval=0.001, plain_interval=3600))
    lines = out.getvalue().splitlines()
    assert lines == [
        "ECDSA (CGGMP24) is getting ready in the background (EdDSA and Schnorr work now)",
        "ECDSA (CGGMP24): 10% (searching safe primes)",
        "ECDSA (CGGMP24): 0% (status unavailable (RuntimeError))",
        "ECDSA (CGGMP24): 90% (aux info)",
        "ECDSA (CGGMP24) is ready: ECDSA keys can be created, imported and used.",
    ]
    assert status.calls == 5


def test_watch_ecdsa_already_ready_prints_one_line() -> None:
    console, out = _console(False)
    assert asyncio.run(watch_ecdsa(Statuses(EcdsaStatus(True, 1.0)), console, interval=0.001))
    assert out.getvalue().splitlines() == [
        "ECDSA (CGGMP24) is ready: ECDSA keys can be created, imported and used."
    ]


def test_watch_ecdsa_progress_bar_on_a_terminal() -> None:
    status = Statuses(
        EcdsaStatus(False, 0.25, "searching [safe] primes"),
        EcdsaStatus(False, 0.5, "aux info"),
        EcdsaStatus(True, 1.0, "ready"),
    )
    console, out = _console(True)
    assert asyncio.run(watch_ecdsa(status, console, interval=0.001))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "ECDSA (CGGMP24)" in text and "%" in text
    assert "ECDSA (CGGMP24) is ready" in text


def test_watch_ecdsa_can_be_cancelled_before_ready() -> None:
    async def scenario() -> int:
        status = Statuses(EcdsaStatus(False, 0.3, "aux info"))
        console, _ = _console(True)
        task = asyncio.create_task(watch_ecdsa(status, console, interval=0.001))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return status.calls

    assert asyncio.run(scenario()) > 1
