"""``shardvault import-key`` and ``shardvault export-key``.

The key is split and sealed (import), or opened and recombined (export), by the SDK
in this process. Private keys are read from a file or standard input, never from
the command line (argv is visible to every user of the machine); the file formats
are the SDK's (``shardvault.sdk.keyfiles``). An exported key is written to a new
0600 file created before the (irreversible) export.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Literal

import typer

from shardvault.cli import common
from shardvault.cli.common import (
    DEFAULT_DATA_DIR,
    BaseUrlOpt,
    DataDirOpt,
    JsonOpt,
    KeyIdArg,
    TokenOpt,
    cli_errors,
    err,
    out,
)
from shardvault.cli.keys import print_key

__all__ = ["export_key", "import_key", "open_exclusive", "read_key"]


def read_key(spec: str) -> bytearray:
    """The private key in the file ``spec``, or on standard input for ``-`` (a hidden
    prompt on a terminal). A key file other users can read is read, with a warning."""
    from shardvault.sdk.errors import InvalidArgument
    from shardvault.sdk.keyfiles import read_private_key, read_private_key_file

    if spec == "-":
        if sys.stdin is None:
            raise InvalidArgument("no standard input to read the key from")
        if sys.stdin.isatty():
            text = str(typer.prompt("private key (hex)", hide_input=True, err=True))
            return read_private_key(io.BytesIO(text.encode()))
        return read_private_key(sys.stdin.buffer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return read_private_key_file(spec)
        finally:
            for warning in caught:
                err().print(f"warning: {warning.message}")


@cli_errors
def import_key(
    curve: Annotated[Literal["ed25519", "secp256k1"], typer.Option(help="Curve of the key.")],
    min_signers: Annotated[int, typer.Option(min=2, help="Signers needed to sign (at least 2).")],
    key_file: Annotated[
        str,
        typer.Option(
            help="File holding the private key, or - for standard input: raw 32/64 bytes, hex "
            "(0x optional) or a JSON byte array. Never pass a key on the command line.",
        ),
    ],
    protocol: Annotated[
        Literal["FROST", "FROST_BITCOIN", "CGGMP24", "CGGMP21"] | None,
        typer.Option(
            help="Threshold protocol: FROST (EdDSA ed25519), FROST_BITCOIN (Schnorr BIP 340 "
            "secp256k1), CGGMP24 (ECDSA secp256k1; CGGMP21 is an alias). Or give --scheme.",
        ),
    ] = None,
    scheme: Annotated[
        Literal["EdDSA", "Schnorr", "ECDSA"] | None,
        typer.Option(
            help="Signature scheme instead of --protocol: EdDSA (ed25519, FROST), Schnorr "
            "(secp256k1, FROST_BITCOIN), ECDSA (secp256k1, CGGMP24).",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for the key.")] = None,
    ed25519_format: Annotated[
        Literal["seed", "solana", "scalar"] | None,
        typer.Option(
            help="ed25519 keys: 32-byte RFC 8032 seed (default for 32 bytes), 64-byte Solana "
            "keypair (default for 64 bytes) or 32-byte little-endian signing scalar (what "
            "export-key returns).",
        ),
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import an existing private key; it is split and sealed to the signers locally.

    Each share is encrypted to one signer on this machine; the key itself is never sent.
    """
    from shardvault.protocols.registry import (
        canonical_protocol,
        protocol_for_scheme,
        scheme_for_protocol,
    )

    if curve != "ed25519" and ed25519_format is not None:
        raise typer.BadParameter("only for ed25519 keys", param_hint="'--ed25519-format'")
    if protocol is None and scheme is None:
        raise typer.BadParameter("give --protocol or --scheme", param_hint="'--protocol'")
    chosen = (
        canonical_protocol(protocol)
        if protocol is not None
        else protocol_for_scheme(str(scheme), curve)
    )
    if chosen is None or scheme_for_protocol(chosen, curve) is None:
        what = f"protocol {protocol}" if protocol is not None else f"scheme {scheme}"
        raise typer.BadParameter(
            f"{what} does not exist on curve {curve}",
            param_hint="'--protocol'" if protocol is not None else "'--scheme'",
        )
    if scheme is not None and scheme_for_protocol(chosen, curve) != scheme:
        raise typer.BadParameter(
            f"--scheme {scheme} does not match --protocol {protocol}", param_hint="'--scheme'"
        )
    material = read_key(key_file)
    try:
        with common.connect(data_dir, base_url, token) as client:
            key = client.keys.import_key(
                bytes(material),
                curve=curve,
                protocol=chosen,
                min_signers=min_signers,
                name=name,
                ed25519_format=ed25519_format,
            )
    finally:
        material[:] = bytes(len(material))
    print_key(key, as_json)


def open_exclusive(path: Path) -> int:
    """A new file at ``path``, mode 0600, open for writing (FileExistsError if present)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


@cli_errors
def export_key(
    key_id: KeyIdArg,
    out_file: Annotated[
        Path, typer.Option("--out", help="File to write the private key to (mode 0600).")
    ],
    force: Annotated[bool, typer.Option(help="Overwrite OUT if it exists.")] = False,
    key_format: Annotated[
        Literal["hex", "raw"],
        typer.Option(
            "--format",
            help="hex: lowercase hex and a newline; raw: the 32 bytes.",
        ),
    ] = "hex",
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Export a key's private key to a 0600 file. The key stops signing afterwards.

    secp256k1: the 32-byte big-endian private key. ed25519: the 32-byte little-endian
    signing scalar (the seed cannot be recovered: the scalar is a hash of it); import it
    again with --ed25519-format scalar.
    """
    from shardvault.sdk.errors import InvalidArgument

    if out_file.is_dir():
        raise InvalidArgument(f"{out_file} is a directory")
    if out_file.exists() and not force:
        raise InvalidArgument(f"{out_file} exists; pass --force to overwrite it", code="FileExists")
    # Create the output file before the (irreversible) export, so a write failure
    # cannot lose the exported key.
    target = out_file
    if force:
        target = out_file.with_name(f".{out_file.name}.{os.getpid()}.tmp")
    try:
        fd = open_exclusive(target)
    except FileExistsError:
        raise InvalidArgument(
            f"{target} exists; pass --force to overwrite it", code="FileExists"
        ) from None
    written = False
    try:
        with common.connect(data_dir, base_url, token) as client:
            key = client.keys.get(key_id)
            private_key = client.keys.export_key(key.id)
        payload = (private_key.hex() + "\n").encode() if key_format == "hex" else private_key
        del private_key
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        del payload
        if target != out_file:
            os.replace(target, out_file)
        written = True
    finally:
        if fd >= 0:
            os.close(fd)
        if not written:
            with contextlib.suppress(OSError):
                target.unlink()
    note = (
        " (the ed25519 signing scalar; re-import with --ed25519-format scalar)"
        if key.curve == "ed25519"
        else ""
    )
    out().print(f"wrote the private key of {key.id} to {out_file} (mode 0600){note}.")
    out().print(f"{key.id} is marked exported and no longer signs.")
