"""Shared pieces of the interop suite (tests/interop): the vault's admin credentials,
Dfns Python SDK clients built from them, independent signature checks, and the Node
toolchain that runs the Dfns TypeScript SDK.

Nothing here uses shardvault's own SDK: the clients are the published ``dfns-sdk``
(PyPI) and ``@dfns/sdk`` + ``@dfns/sdk-keysigner`` (npm), configured only with what a
Dfns user has (base URL, bearer token, credential id, private key)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import coincurve
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from dfns_sdk import DfnsClient, DfnsClientConfig, KeySigner
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

#: The committed Node project that pins the TS SDKs (package.json, package-lock.json).
TS_DIR = Path(__file__).resolve().parent / "ts"
#: What ``npm ci`` needs of it.
TS_PROJECT_FILES = ("package.json", "package-lock.json", ".npmrc")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class Credentials:
    """``<data-dir>/credentials.json`` as ``shardvault up`` writes it:
    ``{baseUrl, orgId, userId, credentialId, token, privateKey, roster}`` (the private
    key is a PKCS#8 PEM string of the admin's Ed25519 credential)."""

    base_url: str
    org_id: str
    user_id: str
    credential_id: str
    token: str
    private_key: str = field(repr=False)

    @classmethod
    def load(cls, path: Path) -> Credentials:
        data = json.loads(path.read_text(encoding="utf-8"))
        missing = [
            name
            for name in ("baseUrl", "orgId", "userId", "credentialId", "token", "privateKey")
            if not isinstance(data.get(name), str) or not data[name]
        ]
        assert not missing, f"credentials.json lacks {missing} (has {sorted(data)})"
        assert (path.stat().st_mode & 0o777) == 0o600
        return cls(
            base_url=data["baseUrl"],
            org_id=data["orgId"],
            user_id=data["userId"],
            credential_id=data["credentialId"],
            token=data["token"],
            private_key=data["privateKey"],
        )


def dfns_client(base_url: str, token: str, credential_id: str, private_key_pem: str) -> DfnsClient:
    """A Dfns Python SDK client exactly as Dfns documents it: the bearer token for
    reads, a ``KeySigner`` over the credential for user actions (its ``clientData``
    carries ``origin``: the vault's base URL, an allowed origin by default)."""
    signer = KeySigner(credential_id, private_key_pem, app_origin=base_url)
    return DfnsClient(DfnsClientConfig(auth_token=token, base_url=base_url, signer=signer))


def new_ed25519_pem() -> tuple[str, str]:
    """A fresh Ed25519 key: (PKCS#8 PEM private key, SPKI PEM public key)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def unhex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def check_ed25519(public_key_hex: str, message: bytes, signature: Mapping[str, Any]) -> None:
    """``{r, s}`` (0x-hex, 32 bytes each) is an Ed25519 signature of ``message`` (PyNaCl)."""
    sig = unhex(signature["r"]) + unhex(signature["s"])
    assert len(sig) == 64
    VerifyKey(unhex(public_key_hex)).verify(message, sig)
    tampered = bytes([message[0] ^ 1]) + message[1:]
    with pytest.raises(BadSignatureError):
        VerifyKey(unhex(public_key_hex)).verify(tampered, sig)


def check_secp256k1(public_key_hex: str, digest: bytes, signature: Mapping[str, Any]) -> None:
    """``{r, s, recid}`` is a low-s ECDSA signature of the 32-byte ``digest`` by the key,
    and ``recid`` recovers that key (coincurve, i.e. libsecp256k1)."""
    r, s = int(signature["r"], 16), int(signature["s"], 16)
    assert 0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2
    compact = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(compact))
    public = coincurve.PublicKey(unhex(public_key_hex))
    assert public.verify(der, digest, hasher=None)
    recovered = coincurve.PublicKey.from_signature_and_message(
        compact + bytes([signature["recid"]]), digest, hasher=None
    )
    assert recovered.format() == public.format()


def wait_for(probe: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 120) -> Any:
    """Poll ``probe`` until ``done`` holds for its answer (or fail after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still waiting: {value}"
        time.sleep(0.2)


# -- Node + the TypeScript SDK ------------------------------------------------------
def node_tools() -> tuple[str, str] | None:
    """(node, npm) executables, or None when either is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    return (node, npm) if node and npm else None


def require_node() -> tuple[str, str]:
    """Node and npm, else skip with the reason (a failure under ``CI=true``: CI must
    run the TypeScript SDK check, never silently skip it)."""
    tools = node_tools()
    if tools is not None:
        return tools
    reason = "node and npm are not installed: the Dfns TypeScript SDK interop test needs them"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: this may not be skipped)")
    pytest.skip(reason)


def ts_cache_dir() -> Path:
    """Where ``npm ci`` installs the pinned SDKs: outside the source tree, keyed by the
    lock file so a changed pin installs afresh (``SHARDVAULT_NODE_CACHE`` overrides)."""
    lock = (TS_DIR / "package-lock.json").read_bytes()
    base = os.environ.get("SHARDVAULT_NODE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"), "shardvault-interop-ts"
    )
    return Path(base) / hashlib.sha256(lock).hexdigest()[:16]


def install_ts_sdk(npm: str) -> Path:
    """``npm ci`` of tests/interop/ts (package.json, package-lock.json, .npmrc) into
    :func:`ts_cache_dir`, once: it installs into a fresh sibling directory and renames
    it into place, so concurrent sessions never see half an install. Returns the
    directory (run.mjs loads the SDKs from it: ``SHARDVAULT_NODE_PROJECT``)."""
    where = ts_cache_dir()
    if (where / "node_modules" / "@dfns" / "sdk-keysigner" / "package.json").exists():
        return where
    where.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=where.name + ".", dir=where.parent))
    try:
        for name in TS_PROJECT_FILES:
            shutil.copyfile(TS_DIR / name, staging / name)
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
        if where.exists():  # an older or unfinished install
            shutil.rmtree(where, ignore_errors=True)
        try:
            staging.rename(where)
        except OSError:  # another session renamed its install first
            if not (where / "node_modules").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return where
