"""``shardvault signatures``: a key's signature requests (list, get), and the detail
view of one signature that ``sign`` prints too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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
    echo_json,
    iso_date,
    joined,
    kv_table,
    out,
    short,
    table,
)

if TYPE_CHECKING:
    from shardvault.sdk import Signature

__all__ = ["print_signature", "signatures_app"]

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


@signatures_app.command("list")
@cli_errors
def signatures_list(
    key_id: KeyIdArg,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a key's signature requests."""
    with common.connect(data_dir, base_url, token) as client:
        sigs = client.keys.list_signatures(key_id)
    if as_json:
        echo_json({"items": [s.to_json_dict() for s in sigs]})
        return
    if not sigs:
        out().print("no signatures")
        return
    listing = table("id", "status", "kind", "encoded", "dateRequested")
    for s in sigs:
        encoded = s.signature.encoded if s.signature and s.signature.encoded else ""
        listing.add_row(
            s.id,
            s.status,
            str(s.request_body.get("kind", "")),
            short(encoded, 12),
            iso_date(s.date_requested),
        )
    out().print(listing)


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
