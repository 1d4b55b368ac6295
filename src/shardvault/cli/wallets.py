"""``shardvault wallets`` (create, list, get: a key on a network, and its address) and
``shardvault networks`` (the networks wallets can be created on)."""

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
    PageTokenOpt,
    TokenOpt,
    WideOpt,
    cli_errors,
    clip,
    echo_json,
    echo_page_json,
    iso_date,
    kv_table,
    listing,
    out,
    page_of,
    print_listing,
    short,
    show_page,
)

if TYPE_CHECKING:
    from shardvault.sdk import Network, Wallet

__all__ = ["networks", "networks_table", "print_wallet", "wallets_app", "wallets_table"]

wallets_app = typer.Typer(
    help="Create, list and show wallets (a key on a network).", no_args_is_help=True
)


def print_wallet(wallet: Wallet, as_json: bool) -> None:
    if as_json:
        echo_json(wallet.to_json_dict())
        return
    out().print(
        kv_table(
            [
                ("id", wallet.id),
                ("name", wallet.name),
                ("network", wallet.network),
                ("address", wallet.address),
                ("status", wallet.status),
                ("keyId", wallet.signing_key.id),
                ("scheme", f"{wallet.signing_key.scheme}/{wallet.signing_key.curve}"),
                ("publicKey", wallet.signing_key.public_key),
                ("tags", ", ".join(wallet.tags)),
                ("externalId", wallet.external_id),
                ("dateCreated", iso_date(wallet.date_created)),
            ]
        )
    )


def wallets_table(wallets: Sequence[Wallet], *, wide: bool = False) -> Table:
    """The ``wallets list`` table: id, name, network, address (shortened with ``…``;
    fits 80 columns); ``wide`` shows the address in full and adds status and keyId."""
    columns = ("id", "name", "network", "address") + (("status", "keyId") if wide else ())
    table = listing(*columns, flexible="name")
    for w in wallets:
        if wide:
            table.add_row(w.id, clip(w.name), w.network, w.address, w.status, w.signing_key.id)
        else:
            table.add_row(w.id, clip(w.name), w.network, short(w.address, 6))
    return table


def networks_table(networks: Sequence[Network]) -> Table:
    """The ``networks`` table: network, family, chainId, schemes, default scheme."""
    table = listing("network", "family", "chainId", "schemes", "default")
    for n in networks:
        table.add_row(
            n.network,
            n.family,
            "" if n.chain_id is None else str(n.chain_id),
            ", ".join(f"{s.scheme}/{s.curve}" for s in n.allowed_schemes),
            n.default_scheme.scheme,
        )
    return table


@wallets_app.command("create")
@cli_errors
def wallets_create(
    network: Annotated[str, typer.Option(help="Network (see `shardvault networks`).")],
    key_id: Annotated[
        str | None, typer.Option("--key-id", help="Use this existing key (key-…).")
    ] = None,
    scheme: Annotated[
        Literal["EdDSA", "Schnorr", "ECDSA"] | None,
        typer.Option(help="Scheme of a new key (default: the network's default)."),
    ] = None,
    curve: Annotated[
        Literal["ed25519", "secp256k1"] | None, typer.Option(help="Curve of a new key.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for the wallet.")] = None,
    external_id: Annotated[
        str | None, typer.Option(help="Idempotency id: a repeat returns the same wallet.")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a wallet: an existing key (--key-id) or a new one, and its address."""
    if key_id is not None and (scheme is not None or curve is not None):
        raise typer.BadParameter("give --key-id or --scheme/--curve, not both")
    if scheme is not None and curve is None:
        curve = "ed25519" if scheme == "EdDSA" else "secp256k1"
    if curve is not None and scheme is None:
        raise typer.BadParameter("--curve needs --scheme", param_hint="'--curve'")
    with common.connect(data_dir, base_url, token) as client:
        wallet = client.wallets.create(
            network,
            signing_key_id=key_id,
            scheme=scheme,
            curve=curve,
            name=name,
            external_id=external_id,
            tags=tag,
        )
    print_wallet(wallet, as_json)


@wallets_app.command("list")
@cli_errors
def wallets_list(
    limit: Annotated[
        int | None, typer.Option(min=1, help="One page of at most LIMIT wallets (default: all).")
    ] = None,
    pagination_token: PageTokenOpt = None,
    wide: WideOpt = False,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List wallets.

    --wide shows the addresses in full and adds the status and the key id.
    """
    with common.connect(data_dir, base_url, token) as client:
        items, next_token = page_of(client.wallets, limit, pagination_token)
    show_page(
        items,
        next_token,
        wallets_table,
        noun="wallets",
        wide=wide,
        as_json=as_json,
    )


@wallets_app.command("get")
@cli_errors
def wallets_get(
    wallet_id: Annotated[str, typer.Argument(help="Wallet id (wa-…).")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one wallet."""
    with common.connect(data_dir, base_url, token) as client:
        wallet = client.wallets.get(wallet_id)
    print_wallet(wallet, as_json)


@cli_errors
def networks(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the networks wallets can be created on."""
    with common.connect(data_dir, base_url, token) as client:
        items = client.networks.list()
    if as_json:
        echo_page_json(items, None)
        return
    print_listing(networks_table(items))
