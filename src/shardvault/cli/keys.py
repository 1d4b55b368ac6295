"""``shardvault keys``: create (DKG), refresh, list, get, update (rename), delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from shardvault.cli import common
from shardvault.cli.common import (
    DEFAULT_DATA_DIR,
    BaseUrlOpt,
    DataDirOpt,
    JsonOpt,
    KeyIdArg,
    PageTokenOpt,
    TokenOpt,
    WideOpt,
    cli_errors,
    clip,
    echo_json,
    iso_date,
    kv_table,
    listing,
    out,
    page_of,
    show_page,
)

if TYPE_CHECKING:
    from shardvault.sdk import Key

__all__ = ["keys_app", "keys_table", "print_key"]

keys_app = typer.Typer(help="Create, list, show and delete keys.", no_args_is_help=True)


def print_key(key: Key, as_json: bool) -> None:
    if as_json:
        echo_json(key.to_json_dict())
        return
    out().print(
        kv_table(
            [
                ("id", key.id),
                ("name", key.name),
                ("scheme", key.scheme),
                ("curve", key.curve),
                ("protocol", key.protocol),
                ("status", key.status),
                ("publicKey", key.public_key),
                ("threshold", f"{key.min_signers}-of-{len(key.signers)}"),
                ("signers", ", ".join(key.signers)),
                ("imported", "yes" if key.imported else None),
                ("exported", "yes" if key.exported else None),
                ("dateExported", iso_date(key.date_exported)),
                ("dateCreated", iso_date(key.date_created)),
            ]
        )
    )


def keys_table(keys: Sequence[Key], *, wide: bool = False) -> Table:
    """The ``keys list`` table: id, name, scheme, status, t-of-n (fits 80 columns);
    ``wide`` adds curve, protocol and the public key."""
    columns: tuple[str, ...]
    if wide:
        columns = ("id", "name", "scheme", "curve", "protocol", "status", "t-of-n", "publicKey")
    else:
        columns = ("id", "name", "scheme", "status", "t-of-n")
    table = listing(*columns, flexible="name")
    for k in keys:
        status = k.status + (" (exported)" if k.exported else "")
        threshold = f"{k.min_signers}-of-{len(k.signers)}"
        if wide:
            table.add_row(
                k.id, clip(k.name), k.scheme, k.curve, k.protocol, status, threshold, k.public_key
            )
        else:
            table.add_row(k.id, clip(k.name), k.scheme, status, threshold)
    return table


@keys_app.command("create")
@cli_errors
def keys_create(
    scheme: Annotated[Literal["EdDSA", "Schnorr", "ECDSA"], typer.Option(help="Signature scheme.")],
    curve: Annotated[Literal["ed25519", "secp256k1"], typer.Option(help="Curve.")],
    name: Annotated[str | None, typer.Option(help="A name for the key.")] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key by distributed key generation (no party ever holds it whole)."""
    with common.connect(data_dir, base_url, token) as client:
        key = client.keys.create(scheme=scheme, curve=curve, name=name)
    print_key(key, as_json)


@keys_app.command("refresh")
@cli_errors
def keys_refresh(
    key_id: KeyIdArg,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Refresh a key: runs a refresh epoch of the signer group (new Paillier primes and
    new shares of every key; the old ones erased; the public key does not change).
    Needs every signer."""
    with common.connect(data_dir, base_url, token) as client:
        key = client.keys.refresh(key_id)
    if as_json:
        echo_json(key.to_json_dict())
    else:
        out().print(
            f"key {key.id} refreshed: new shares on {len(key.signers)} signers, "
            f"same public key {key.public_key}.",
            soft_wrap=True,
        )


@keys_app.command("list")
@cli_errors
def keys_list(
    limit: Annotated[
        int | None, typer.Option(min=1, help="One page of at most LIMIT keys (default: all).")
    ] = None,
    pagination_token: PageTokenOpt = None,
    wide: WideOpt = False,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List keys.

    --wide adds the curve, the protocol and the public key.
    """
    with common.connect(data_dir, base_url, token) as client:
        items, next_token = page_of(client.keys, limit, pagination_token)
    show_page(
        items,
        next_token,
        keys_table,
        noun="keys",
        wide=wide,
        as_json=as_json,
    )


@keys_app.command("get")
@cli_errors
def keys_get(
    key_id: KeyIdArg,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one key."""
    with common.connect(data_dir, base_url, token) as client:
        key = client.keys.get(key_id)
    print_key(key, as_json)


@keys_app.command("update")
@cli_errors
def keys_update(
    key_id: KeyIdArg,
    name: Annotated[str, typer.Option(help="The new name.")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename a key."""
    with common.connect(data_dir, base_url, token) as client:
        key = client.keys.update(key_id, name=name)
    print_key(key, as_json)


@keys_app.command("delete")
@cli_errors
def keys_delete(
    key_id: KeyIdArg,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Archive a key: the signers erase their shares; it can never sign again."""
    with common.connect(data_dir, base_url, token) as client:
        key = client.keys.delete(key_id)
    if as_json:
        echo_json(key.to_json_dict())
    else:
        out().print(f"key {key.id} is {key.status}; its shares are erased.")
