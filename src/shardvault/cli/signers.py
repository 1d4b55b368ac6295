"""``shardvault signers list``: the signer nodes, each with the check of its
encryption-key signature under its identity key (the SDK's, as import and export
do it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.text import Text

from shardvault.cli import common
from shardvault.cli.common import (
    DEFAULT_DATA_DIR,
    BaseUrlOpt,
    DataDirOpt,
    JsonOpt,
    TokenOpt,
    cli_errors,
    echo_json,
    fail,
    out,
    table,
)

if TYPE_CHECKING:
    pass

__all__ = ["signers_app"]

signers_app = typer.Typer(help="Show the signer nodes.", no_args_is_help=True)


@signers_app.command("list")
@cli_errors
def signers_list(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the signer nodes and check each one's encryption-key signature."""
    from shardvault.sdk import SignerVerificationError
    from shardvault.sdk._signers import verify_signer

    with common.connect(data_dir, base_url, token) as client:
        clusters = client.signers.list()
    if as_json:
        echo_json({"clusters": [c.to_json_dict() for c in clusters]})
        return
    listing = table("signerId", "cluster", "identityKey", "encryptionKeySignature")
    bad = 0
    for cluster in clusters:
        for s in cluster.signers:
            try:
                verify_signer(s)
                verdict = Text("valid", style="green")
            except SignerVerificationError:
                verdict, bad = Text("INVALID", style="bold red"), bad + 1
            listing.add_row(s.signer_id, cluster.cluster_id, s.identity_key, verdict)
    out().print(listing)
    if bad:
        raise fail("SignerVerificationFailed", f"{bad} signer(s) failed the signature check")
