"""``shardvault sign``: sign with a key (KEY_ID) or a wallet (--wallet).

One payload per request: ``--hash`` (0x-hex), ``--message`` (0x-hex bytes) or
``--text`` (a text message, signed as its UTF-8 bytes), ``--transaction`` (0x-hex),
``--psbt`` (a file) or ``--eip712`` (a JSON file). Hex is checked here, so a typo
never reaches the vault.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from shardvault.cli import common
from shardvault.cli.common import (
    DEFAULT_DATA_DIR,
    BaseUrlOpt,
    DataDirOpt,
    JsonOpt,
    TokenOpt,
    cli_errors,
    fail,
)
from shardvault.cli.signatures import print_signature

__all__ = ["MAX_PAYLOAD_FILE_SIZE", "sign"]

#: Largest PSBT / EIP-712 file read by ``sign``.
MAX_PAYLOAD_FILE_SIZE = 1_000_000


def _hex_arg(value: str, option: str, hint: str = "") -> bytes:
    from shardvault.sdk.encoding import hex_decode
    from shardvault.sdk.errors import InvalidArgument

    try:
        return hex_decode(value.strip(), what=option)
    except InvalidArgument as exc:
        raise typer.BadParameter(exc.message + hint, param_hint=f"'{option}'") from None


def _text_arg(value: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise typer.BadParameter("not valid UTF-8 text", param_hint="'--text'") from None


def _read_payload_file(path: Path, option: str) -> bytes:
    from shardvault.sdk.errors import InvalidArgument

    if path.is_dir():
        raise InvalidArgument(f"{path} is a directory")
    with path.open("rb") as fh:
        data = fh.read(MAX_PAYLOAD_FILE_SIZE + 1)
    if len(data) > MAX_PAYLOAD_FILE_SIZE:
        raise InvalidArgument(f"{option}: {path} is larger than {MAX_PAYLOAD_FILE_SIZE} bytes")
    return data


def _psbt_file(path: Path) -> bytes | str:
    """A PSBT file: binary (``psbt\xff``…) or base64/hex text."""
    data = _read_payload_file(path, "--psbt")
    if data.startswith(b"psbt\xff"):
        return data
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise typer.BadParameter(
            "not a PSBT (binary, base64 or hex)", param_hint="'--psbt'"
        ) from None


def _eip712_file(path: Path) -> dict[str, Any]:
    data = _read_payload_file(path, "--eip712")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise typer.BadParameter("not a JSON file", param_hint="'--eip712'") from None
    if not isinstance(doc, dict):
        raise typer.BadParameter("must hold a JSON object", param_hint="'--eip712'")
    return doc


@cli_errors
def sign(
    key_id: Annotated[
        str | None, typer.Argument(help="Key id (key-…); or give --wallet instead.")
    ] = None,
    wallet_id: Annotated[
        str | None,
        typer.Option("--wallet", help="Sign with this wallet's key on its network (wa-…)."),
    ] = None,
    hash_hex: Annotated[
        str | None,
        typer.Option("--hash", help="32-byte hash to sign, 0x-hex (Schnorr/ECDSA keys)."),
    ] = None,
    message_hex: Annotated[
        str | None,
        typer.Option(
            "--message",
            help="Message to sign, 0x-hex (EdDSA keys; a Solana off-chain message on "
            "Solana wallets; with --kind Eip191 or Bip322). For text, use --text.",
        ),
    ] = None,
    message_text: Annotated[
        str | None,
        typer.Option(
            "--text",
            help='Message to sign given as text, e.g. --text "hello": its UTF-8 bytes are '
            "signed as --message would sign them.",
        ),
    ] = None,
    transaction_hex: Annotated[
        str | None,
        typer.Option(
            "--transaction", help="Unsigned EVM or Solana transaction, 0x-hex (needs a network)."
        ),
    ] = None,
    psbt_file: Annotated[
        Path | None,
        typer.Option("--psbt", help="PSBT file (binary, base64 or hex) to sign.", dir_okay=False),
    ] = None,
    eip712_file: Annotated[
        Path | None,
        typer.Option(
            "--eip712",
            help="EIP-712 JSON document {types, domain, primaryType, message}.",
            dir_okay=False,
        ),
    ] = None,
    kind: Annotated[
        Literal["Eip191", "Bip322"] | None,
        typer.Option(help="With --message or --text: sign it as EIP-191 or BIP 322 (simple)."),
    ] = None,
    network: Annotated[
        str | None,
        typer.Option(help="Network of a key-id request (a wallet brings its own)."),
    ] = None,
    taproot_merkle_root: Annotated[
        str | None,
        typer.Option(
            help='Schnorr keys: "" for the BIP 86 key-path tweak, a 32-byte 0x-hex root for '
            "the BIP 341 script-tree tweak; omit for plain BIP 340 under the untweaked key.",
        ),
    ] = None,
    external_id: Annotated[
        str | None,
        typer.Option(help="Idempotency id: a retry with the same id returns the first result."),
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sign with a key (KEY_ID) or a wallet (--wallet): a hash (--hash), a message
    (--message as 0x-hex, or --text as text), a transaction (--transaction), a PSBT
    (--psbt) or EIP-712 data (--eip712)."""
    if (key_id is None) == (wallet_id is None):
        raise typer.BadParameter("give a KEY_ID or --wallet (not both)")
    payloads = [
        v
        for v in (hash_hex, message_hex, message_text, transaction_hex, psbt_file, eip712_file)
        if v is not None
    ]
    if len(payloads) != 1:
        raise typer.BadParameter(
            "give exactly one of --hash or --message (or --text, --transaction, --psbt, --eip712)"
        )
    if kind is not None and message_hex is None and message_text is None:
        raise typer.BadParameter("--kind goes with --message or --text", param_hint="'--kind'")
    if wallet_id is not None and network is not None:
        raise typer.BadParameter("a wallet signs on its own network", param_hint="'--network'")
    digest = None if hash_hex is None else _hex_arg(hash_hex, "--hash")
    message = None
    if message_hex is not None:
        message = _hex_arg(message_hex, "--message", "; to sign text, use --text")
    elif message_text is not None:
        message = _text_arg(message_text)
    transaction = None if transaction_hex is None else _hex_arg(transaction_hex, "--transaction")
    root: bytes | None = None
    if taproot_merkle_root is not None:
        root = (
            b""
            if taproot_merkle_root.strip() == ""
            else _hex_arg(taproot_merkle_root, "--taproot-merkle-root")
        )
    psbt = None if psbt_file is None else _psbt_file(psbt_file)
    typed_data = None if eip712_file is None else _eip712_file(eip712_file)
    with common.connect(data_dir, base_url, token) as client:
        if wallet_id is not None:
            sig = client.wallets.sign(
                wallet_id,
                kind=kind,
                hash=digest,
                message=message,
                taproot_merkle_root=root,
                transaction=transaction,
                psbt=psbt,
                typed_data=typed_data,
                external_id=external_id,
            )
        else:
            assert key_id is not None
            sig = client.keys.sign(
                key_id,
                hash=digest,
                message=message,
                taproot_merkle_root=root,
                external_id=external_id,
                kind=kind,
                network=network,
                transaction=transaction,
                psbt=psbt,
                typed_data=typed_data,
            )
    print_signature(sig, as_json)
    if sig.status in ("Failed", "Rejected"):
        raise fail("SigningFailed", sig.reason or f"signature {sig.id} is {sig.status}")
    if sig.status == "Pending":
        raise fail(
            "ApprovalPending",
            f"signature {sig.id} waits for policy approval {sig.approval_id} "
            "(/v2/policy-approvals); it is signed once approved",
        )
