"""``shardvault signatures``: a key's signature requests (list, get), and the detail
view of one signature that ``sign`` prints too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from shardvault.cli import common
from shardvault.cli.common import (
    DEFAULT_DATA_DIR,
    BaseUrlOpt,
    DataDirOpt,
    JsonOpt,
    KeyIdArg,
    TokenOpt,
    WideOpt,
    cli_errors,
    echo_json,
    iso_date,
    joined,
    kv_table,
    listing,
    out,
    print_listing,
)

if TYPE_CHECKING:
    from shardvault.sdk import Signature

__all__ = ["print_signature", "signatures_app", "signatures_table"]

signatures_app = typer.Typer(help="Show a key's signature requests.", no_args_is_help=True)


def print_signature(sig: Signature, as_json: bool) -> None:
    if as_json:
        echo_json(sig.to_json_dict())
        return
    value = sig.signature
    out().print(
        kv_table(
            [
                ("id", sig.id),
                ("keyId", sig.key_id),
                ("walletId", sig.wallet_id),
                ("network", sig.network),
                ("status", sig.status),
                ("reason", sig.reason),
                ("externalId", sig.external_id),
                ("encoded", value.encoded if value else None),
                ("r", value.r if value else None),
                ("s", value.s if value else None),
                ("recid", value.recid if value else None),
                ("signedData", sig.signed_data),
                ("signedInputs", joined(sig.signed_inputs)),
                ("skippedInputs", joined([i.get("index") for i in sig.skipped_inputs or []])),
                ("dateRequested", iso_date(sig.date_requested)),
                ("dateSigned", iso_date(sig.date_signed)),
            ]
        )
    )


def signatures_table(sigs: Sequence[Signature], *, wide: bool = False) -> Table:
    """The ``signatures list`` table: id, status, kind, dateRequested to the second
    (fits 80 columns); ``wide`` adds the encoded signature."""
    columns = ("id", "status", "kind", "dateRequested") + (("encoded",) if wide else ())
    table = listing(*columns)
    for s in sigs:
        requested = s.date_requested.replace(microsecond=0)
        row = [s.id, s.status, str(s.request_body.get("kind", "")), iso_date(requested)]
        if wide:
            row.append(s.signature.encoded if s.signature and s.signature.encoded else "")
        table.add_row(*row)
    return table


@signatures_app.command("list")
@cli_errors
def signatures_list(
    key_id: KeyIdArg,
    wide: WideOpt = False,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a key's signature requests.

    --wide adds the encoded signatures.
    """
    with common.connect(data_dir, base_url, token) as client:
        sigs = client.keys.list_signatures(key_id)
    if as_json:
        echo_json({"items": [s.to_json_dict() for s in sigs]})
        return
    if sigs:
        print_listing(signatures_table(sigs, wide=wide), wide=wide)
    else:
        out().print("no signatures")


@signatures_app.command("get")
@cli_errors
def signatures_get(
    key_id: KeyIdArg,
    signature_id: Annotated[str, typer.Argument(help="Signature id (sig-…).")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one signature request."""
    with common.connect(data_dir, base_url, token) as client:
        sig = client.keys.get_signature(key_id, signature_id)
    print_signature(sig, as_json)
