"""The vault commands of the ``shardvault`` CLI: argument validation, key-file parsing,
the error printing path (``error <code>: <message>``, exit 1, never a traceback)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from clihelpers import flat, invoke
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from nacl.signing import SigningKey

from shardvault.cli import app
from shardvault.cli.transfer import open_exclusive
from shardvault.crypto.keyformats import ed25519_scalar_from_seed
from shardvault.sdk import Client, ShardvaultApiError
from shardvault.sdk.user_actions import UserActionSigner
from shardvault.server.serving import default_database_url
from shardvault.server.up import redact_url


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- argument validation ----------------------------------------------------------------


def test_help_lists_every_command() -> None:
    out = invoke("--help").output
    for command in ("up", "keys", "import-key", "sign", "export-key", "admin", "demo", "version"):
        assert command in out
    keys_help = invoke("keys", "--help").output
    for command in ("create", "list", "get", "delete"):
        assert command in keys_help
    assert "--disable" in invoke("admin", "enable-export", "--help").output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["up", "--threshold", "4"], "threshold 4 is larger"),
        (["up", "--signers", "2", "--threshold", "3"], "threshold 3 is larger"),
        (["up", "--signers", "0"], "--signers"),
        (["up", "--threshold", "0"], "--threshold"),
        (["up", "--port", "70000"], "--port"),
        (["keys", "create", "--scheme", "RSA", "--curve", "ed25519"], "--scheme"),
        (["keys", "create", "--scheme", "EdDSA"], "--curve"),
        (["sign", "key-1"], "exactly one of --hash or --message"),
        (["sign", "key-1", "--hash", "0x00", "--message", "0x00"], "exactly one"),
        (["sign", "key-1", "--hash", "0xzz"], "--hash"),
        (["sign", "key-1", "--message", "abc"], "--message"),
        (["sign", "key-1", "--hash", "0x00", "--taproot-merkle-root", "nothex"], "taproot"),
        (
            ["import-key", "--curve", "ed25519", "--protocol", "FROST", "--min-signers", "2"],
            "--key-file",
        ),
        (
            [
                "import-key",
                "--curve",
                "ed25519",
                "--protocol",
                "FROST",
                "--min-signers",
                "0",
                "--key-file",
                "-",
            ],
            "--min-signers",
        ),
        (
            [
                "import-key",
                "--curve",
                "secp256k1",
                "--protocol",
                "FROST_BITCOIN",
                "--min-signers",
                "2",
                "--key-file",
                "-",
                "--ed25519-format",
                "seed",
            ],
            "ed25519",
        ),
        (["export-key", "key-1"], "--out"),
    ],
)
def test_bad_arguments_exit_2_with_a_usage_message(args: list[str], needle: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert needle in flat(result.output)


def test_up_refuses_a_kek_file_inside_the_data_dir(tmp_path: Path) -> None:
    result = invoke(
        "up", "--data-dir", str(tmp_path), "--kek-file", str(tmp_path / "kek"), "--port", "0"
    )
    assert result.exit_code == 2
    assert "inside the data directory" in flat(result.output)


# -- the error printing path ----------------------------------------------------------------


def test_missing_credentials(tmp_path: Path) -> None:
    result = invoke("keys", "list", "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.startswith("error InvalidCredentials: no credentials at ")
    assert "shardvault up" in result.output


def test_broken_credentials_file(tmp_path: Path) -> None:
    (tmp_path / "credentials.json").write_text("[1, 2]")
    result = invoke("keys", "get", "key-1", "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "error InvalidCredentials:" in result.output


def test_unreachable_server_from_credentials_file(tmp_path: Path) -> None:
    port = closed_port()
    (tmp_path / "credentials.json").write_text(
        json.dumps({"baseUrl": f"http://127.0.0.1:{port}", "token": "t", "orgId": "or-1"})
    )
    result = invoke("keys", "get", "key-1", "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.startswith("error ConnectionFailed: cannot reach http://127.0.0.1:")


def test_base_url_and_token_options_override_the_file(tmp_path: Path) -> None:
    port = closed_port()
    result = invoke(
        "signers", "list", "--data-dir", str(tmp_path),
        "--base-url", f"http://127.0.0.1:{port}", "--token", "t",
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"127.0.0.1:{port}" in result.output


def test_api_errors_are_printed_with_code_and_details(mock_api: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/signatures"):
            return httpx.Response(
                503,
                json={
                    "error": {
                        "code": "SignersUnavailable",
                        "message": "need 2 signers, 1 reachable",
                        "details": {"signers": ["sgn-b", "sgn-c"]},
                    }
                },
            )
        if request.url.path == "/keys":
            return httpx.Response(500, text="Internal Server Error")
        return httpx.Response(
            404, json={"error": {"code": "NotFound", "message": "key key-9 not found"}}
        )

    mock_api(handler)
    result = invoke("keys", "get", "key-9")
    assert result.exit_code == 1
    assert result.output.strip() == "error NotFound: key key-9 not found"
    result = invoke("sign", "key-9", "--message", "0x68656c6c6f")
    assert result.exit_code == 1
    assert "error SignersUnavailable: need 2 signers, 1 reachable" in result.output
    assert "sgn-b" in result.output and "sgn-c" in result.output
    result = invoke("keys", "create", "--scheme", "EdDSA", "--curve", "ed25519")
    assert result.exit_code == 1
    assert "error InternalError: HTTP 500" in result.output


def test_sign_sends_the_decoded_hex(mock_api: Any) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        return httpx.Response(
            200,
            json={
                "id": "sig-1",
                "keyId": "key-1",
                "status": "Failed" if body.get("externalId") == "fail" else "Signed",
                "reason": "signer sgn-x misbehaved",
                "requestBody": body,
                "signature": {"r": "0x01", "s": "0x02", "encoded": "0x0102"},
                "dateRequested": "2024-05-01T12:00:00Z",
            },
        )

    mock_api(handler)
    digest = os.urandom(32).hex()
    result = invoke("sign", "key-1", "--hash", "0x" + digest, "--taproot-merkle-root", "")
    assert result.exit_code == 0, result.output
    assert "sig-1" in result.output
    result = invoke("sign", "key-1", "--hash", digest.upper(), "--external-id", "e1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["signature"]["encoded"] == "0x0102"
    result = invoke("sign", "key-1", "--message", "0x00", "--external-id", "fail")
    assert result.exit_code == 1
    assert "error SigningFailed: signer sgn-x misbehaved" in result.output
    assert bodies[:2] == [
        {"kind": "Hash", "hash": "0x" + digest, "taprootMerkleRoot": ""},
        {"kind": "Hash", "hash": "0x" + digest, "externalId": "e1"},
    ]


def test_sign_text_with_text_and_hex_with_message(mock_api: Any) -> None:
    """``--text hello`` signs the UTF-8 bytes of "hello"; ``--message`` stays 0x-hex and
    points to --text when given something else."""
    seen = mock_api(
        lambda request: httpx.Response(
            200,
            json={
                "id": "sig-1",
                "keyId": "key-1",
                "status": "Signed",
                "requestBody": json.loads(request.content),
                "dateRequested": "2024-05-01T12:00:00Z",
            },
        )
    )
    result = invoke("sign", "key-1", "--text", "hello")
    assert result.exit_code == 0, result.output
    assert json.loads(seen[-1].content) == {"kind": "Message", "message": "0x68656c6c6f"}
    result = invoke("sign", "--wallet", "wa-1", "--text", "héllo wörld", "--kind", "Eip191")
    assert result.exit_code == 0, result.output
    assert json.loads(seen[-1].content) == {
        "kind": "Eip191",
        "message": "0x" + "héllo wörld".encode().hex(),
    }
    result = invoke("sign", "key-1", "--message", "0x68656c6c6f")
    assert json.loads(seen[-1].content) == {"kind": "Message", "message": "0x68656c6c6f"}
    count = len(seen)
    result = invoke("sign", "key-1", "--message", "hello")
    assert result.exit_code == 2
    assert "--message" in flat(result.output) and "use --text" in flat(result.output)
    result = invoke("sign", "key-1", "--text", "hello", "--message", "0x00")
    assert result.exit_code == 2 and "exactly one" in flat(result.output)
    assert len(seen) == count  # nothing sent
    help_text = flat(invoke("sign", "--help").output)
    assert "--text" in help_text and "For text, use --text" in help_text


# -- key files -----------------------------------------------------------------------------


def test_import_key_file_errors_do_not_echo_the_content(tmp_path: Path) -> None:
    secret_text = "41" * 33  # 33 bytes: wrong size
    path = tmp_path / "key.hex"
    path.write_text(secret_text)
    path.chmod(0o600)
    args = ["import-key", "--curve", "ed25519", "--protocol", "FROST", "--min-signers", "2"]
    result = invoke(*args, "--key-file", str(path), "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.startswith("error InvalidArgument: the key file must hold")
    assert secret_text not in result.output
    result = invoke(*args, "--key-file", str(tmp_path / "missing"), "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "error FileNotFoundError:" in result.output
    result = invoke(*args, "--key-file", "-", "--data-dir", str(tmp_path), input=b"x" * 5000)
    assert result.exit_code == 1
    assert "larger than 4096 bytes" in result.output


def test_import_key_reads_stdin_and_warns_about_open_permissions(
    tmp_path: Path, mock_api: Any
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "Down", "message": "try later"}})

    seen = mock_api(handler)
    args = ["import-key", "--curve", "ed25519", "--protocol", "FROST", "--min-signers", "2"]
    key = os.urandom(32)
    result = invoke(*args, "--key-file", "-", input=key.hex() + "\n")
    assert result.exit_code == 1 and "error Down: try later" in result.output
    assert [r.url.path for r in seen] == ["/signers"]  # it got as far as the signers
    path = tmp_path / "key.bin"
    path.write_bytes(key)
    path.chmod(0o644)
    result = invoke(*args, "--key-file", str(path))
    assert "readable by other users" in result.output
    assert key.hex() not in result.output


def test_export_key_refuses_to_overwrite_before_exporting(tmp_path: Path, mock_api: Any) -> None:
    seen = mock_api(lambda request: httpx.Response(500))
    out = tmp_path / "exported.key"
    out.write_text("precious")
    result = invoke("export-key", "key-1", "--out", str(out))
    assert result.exit_code == 1
    assert "error FileExists:" in result.output and "--force" in result.output
    assert out.read_text() == "precious"
    assert seen == []  # nothing was exported
    result = invoke("export-key", "key-1", "--out", str(tmp_path))
    assert result.exit_code == 1 and "is a directory" in result.output


def test_export_key_failure_leaves_no_file(tmp_path: Path, mock_api: Any) -> None:
    mock_api(
        lambda request: httpx.Response(
            403, json={"error": {"code": "ExportDisabled", "message": "key export is off"}}
        )
    )
    out = tmp_path / "new.key"
    result = invoke("export-key", "key-1", "--out", str(out))
    assert result.exit_code == 1
    assert "error ExportDisabled: key export is off" in result.output
    assert not out.exists()
    out.write_text("old")
    result = invoke("export-key", "key-1", "--out", str(out), "--force")
    assert result.exit_code == 1
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.key"]  # no temp file left


def test_up_reports_a_busy_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARDVAULT_KEK", os.urandom(32).hex())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = invoke("up", "--data-dir", str(tmp_path / "v"), "--port", str(port))
    assert result.exit_code == 1
    assert result.output.startswith("error OSError: ")
    assert "in use" in result.output


def test_admin_enable_export_needs_an_initialised_data_dir(tmp_path: Path) -> None:
    result = invoke("admin", "enable-export", "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.startswith("error NotInitialized: no vault database at ")


def test_default_database_url_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = default_database_url(Path(".shardvault"))
    assert url == f"sqlite:///{tmp_path.resolve()}/.shardvault/api.sqlite3"
    assert redact_url("postgresql://u:pw@db/x") == "postgresql://u:***@db/x"


def test_written_files_are_private(tmp_path: Path) -> None:
    fd = open_exclusive(tmp_path / "f")
    os.close(fd)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o600


# -- against a live `shardvault up` ---------------------------------------------------------


class UpProcess:
    """``shardvault up --port 0`` in a subprocess; stopped with SIGINT (Ctrl-C)."""

    def __init__(self, data_dir: Path, kek_hex: str) -> None:
        env = {**os.environ, "SHARDVAULT_KEK": kek_hex}
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shardvault.cli", "up", "--data-dir", str(data_dir),
             "--port", "0", "--log-level", "warning"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.output = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("shardvault up exited: " + self.proc.communicate()[0])
            try:
                creds = json.loads((data_dir / "credentials.json").read_text())
                with Client(creds["baseUrl"], token=creds["token"], timeout=2) as client:
                    client.health()
                self.base_url = creds["baseUrl"]
                return
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError("shardvault up did not come up")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        self.output = self.proc.communicate(timeout=60)[0]
        return self.proc.returncode


def test_live_up_import_sign_export_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "vault"
    kek = os.urandom(32).hex()
    d = ["--data-dir", str(data_dir)]
    seed = os.urandom(32)
    key_file = tmp_path / "seed.hex"
    key_file.write_text("0x" + seed.hex() + "\n")
    key_file.chmod(0o600)

    up = UpProcess(data_dir, kek)
    try:
        assert stat.S_IMODE((data_dir / "credentials.json").stat().st_mode) == 0o600
        result = invoke(
            "import-key", "--curve", "ed25519", "--protocol", "FROST", "--min-signers", "2",
            "--key-file", str(key_file), "--name", "cli-imported", "--json", *d,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        key = json.loads(result.output)
        assert key["publicKey"] == bytes(SigningKey(seed).verify_key).hex()
        assert key["imported"] is True

        result = invoke("sign", key["id"], "--message", "0x" + b"from the cli".hex(), "--json", *d)
        assert result.exit_code == 0, result.output
        encoded = json.loads(result.output)["signature"]["encoded"]
        SigningKey(seed).verify_key.verify(b"from the cli", bytes.fromhex(encoded[2:]))

        result = invoke("keys", "create", "--scheme", "Schnorr", "--curve", "secp256k1", *d)
        assert result.exit_code == 0 and "FROST_BITCOIN" in result.output
        listed = json.loads(invoke("keys", "list", "--json", *d).output)["items"]
        assert key["id"] in {k["id"] for k in listed} and len(listed) == 2
        assert "cli-imported" in invoke("keys", "get", key["id"], *d).output
        assert invoke("signers", "list", *d).output.count("valid") == 3
        assert invoke("signatures", "list", key["id"], "--json", *d).exit_code == 0

        # a service account made by the CLI acts with its own credential (P-256)
        p256 = ec.generate_private_key(ec.SECP256R1())
        pem_file = tmp_path / "svc.pem"
        pem_file.write_bytes(
            p256.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        result = invoke(
            "admin", "create-service-account", "--name", "ci", "--public-key-file",
            str(pem_file), "--permissions", "Keys:Create, Keys:Read", *d,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        account = json.loads(result.output)
        assert set(account) == {"userId", "credentialId", "token"}
        private_pem = p256.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        signer = UserActionSigner(account["credentialId"], private_pem)
        body = {"scheme": "EdDSA", "curve": "ed25519", "name": "by-ci"}
        with Client(up.base_url, token=account["token"], signer=signer) as client:
            assert client.request("POST", "/keys", json_body=body)["name"] == "by-ci"
        with Client(up.base_url, token=account["token"]) as client:  # unsigned
            with pytest.raises(ShardvaultApiError) as refused:
                client.request("POST", "/keys", json_body=body)
        assert refused.value.code == "UserActionRequired"

        result = invoke("keys", "get", "key-nope", *d)
        assert result.exit_code == 1 and re.match(r"error \w*NotFound: ", result.output)

        out = tmp_path / "exported.key"
        result = invoke("export-key", key["id"], "--out", str(out), *d)
        assert result.exit_code == 1 and "error " in result.output  # export is off by default
        assert not out.exists()
        assert invoke("admin", "enable-export", *d).exit_code == 0
        result = invoke("export-key", key["id"], "--out", str(out), *d)
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        scalar = ed25519_scalar_from_seed(seed).to_bytes(32, "little")
        assert out.read_text() == scalar.hex() + "\n"
        assert invoke("export-key", key["id"], "--out", str(out), *d).exit_code == 1  # exists
        result = invoke("admin", "enable-export", "--sign-after-export", *d)
        assert result.exit_code == 0 and "may still sign" in result.output
        result = invoke("admin", "enable-export", "--disable", "--no-sign-after-export", *d)
        assert result.exit_code == 0 and "stop signing" in result.output

        # while the key is live, a second import of it is refused (docs/security.md
        # item 33); once it is deleted, the exported scalar imports again, as the same
        # public key
        result = invoke(
            "import-key", "--curve", "ed25519", "--protocol", "FROST", "--min-signers", "3",
            "--ed25519-format", "scalar", "--key-file", str(out), "--json", *d,
        )  # fmt: skip
        assert result.exit_code == 1 and "DuplicateKey" in result.output
        assert invoke("keys", "delete", key["id"], *d).exit_code == 0
        result = invoke(
            "import-key", "--curve", "ed25519", "--protocol", "FROST", "--min-signers", "3",
            "--ed25519-format", "scalar", "--key-file", str(out), "--json", *d,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        again = json.loads(result.output)
        assert again["publicKey"] == key["publicKey"] and again["minSigners"] == 3
    finally:
        rc = up.stop()
    assert rc == 0, up.output
    assert "signers stopped" in up.output and "Traceback" not in up.output
    assert "ECDSA (CGGMP24)" in up.output  # readiness is reported (plain lines: not a TTY)

    wrong_kek = subprocess.run(
        [sys.executable, "-m", "shardvault.cli", "up", *d, "--port", "0"],
        env={**os.environ, "SHARDVAULT_KEK": os.urandom(32).hex()},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert wrong_kek.returncode == 1
    assert wrong_kek.stderr.startswith("error DecryptionFailed: ")
    assert "Traceback" not in wrong_kek.stderr + wrong_kek.stdout

    up = UpProcess(data_dir, kek)  # restart: the keys are still there and still sign
    try:
        result = invoke("sign", again["id"], "--message", "0x00", "--json", *d)
        assert result.exit_code == 0, result.output
        encoded = json.loads(result.output)["signature"]["encoded"]
        SigningKey(seed).verify_key.verify(b"\x00", bytes.fromhex(encoded[2:]))
    finally:
        assert up.stop() == 0


def test_server_text_is_printed_literally_and_locals_never_shown(mock_api: Any) -> None:
    assert app.pretty_exceptions_show_locals is False
    key = {
        "id": "key-1",
        "scheme": "EdDSA",
        "curve": "ed25519",
        "publicKey": "00" * 32,
        "name": "[/oops] [bold]x",
        "status": "Active",
        "imported": False,
        "exported": False,
        "exportable": True,
        "dateCreated": "2024-05-01T12:00:00Z",
        "protocol": "FROST",
        "minSigners": 2,
        "signers": ["sgn-a", "sgn-b", "sgn-c"],
    }
    mock_api(lambda request: httpx.Response(200, json=key if "key-1" in str(request.url)
                                            else {"items": [key]}))  # fmt: skip
    result = invoke("keys", "get", "key-1")
    assert result.exit_code == 0, result.output
    assert "[/oops] [bold]x" in result.output
    result = invoke("keys", "list")
    assert result.exit_code == 0 and "[/oops]" in result.output


def test_sign_reports_a_request_waiting_for_approval(mock_api: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        rejected = body.get("externalId") == "no"
        return httpx.Response(
            200 if rejected else 202,
            json={
                "id": "sig-2",
                "keyId": "key-1",
                "status": "Rejected" if rejected else "Pending",
                "approvalId": "ap-1",
                "reason": "PolicyDenied: not today",
                "requestBody": body,
                "dateRequested": "2024-05-01T12:00:00Z",
            },
        )

    mock_api(handler)
    result = invoke("sign", "key-1", "--message", "0x00")
    assert result.exit_code == 1
    assert "error ApprovalPending: signature sig-2 waits for policy approval ap-1" in (
        " ".join(result.output.split())
    )
    result = invoke("sign", "key-1", "--message", "0x00", "--external-id", "no")
    assert result.exit_code == 1
    assert "error SigningFailed: PolicyDenied: not today" in result.output
