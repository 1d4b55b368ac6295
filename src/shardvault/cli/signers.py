"""``shardvault signers list``: the signer nodes, each with the check of its
encryption-key signature under its identity key (the SDK's, as import and export
do it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from shardvault.cli import common
from shardvault.cli.common import (
    DEFAULT_DATA_DIR,
    BaseUrlOpt,
    DataDirOpt,
    JsonOpt,
    TokenOpt,
    WideOpt,
    cli_errors,
    echo_json,
    fail,
    listing,
    print_listing,
    short,
)

if TYPE_CHECKING:
    from shardvault.sdk import Cluster

__all__ = ["signers_app", "signers_table"]

signers_app = typer.Typer(help="Show the signer nodes.", no_args_is_help=True)


def signers_table(clusters: Sequence[Cluster], *, wide: bool = False) -> tuple[Table, int]:
    """The ``signers list`` table: signerId, cluster, identityKey (shortened unless
    ``wide``) and whether the encryption-key signature verifies; and the number of
    signers that fail that check."""
    from shardvault.sdk import SignerVerificationError
    from shardvault.sdk._signers import verify_signer

    table = listing("signerId", "cluster", "identityKey", "signature")
    bad = 0
    for cluster in clusters:
        for s in cluster.signers:
            try:
                verify_signer(s)
                verdict = Text("valid", style="green")
            except SignerVerificationError:
                verdict, bad = Text("INVALID", style="bold red"), bad + 1
            identity = s.identity_key if wide else short(s.identity_key, 6)
            table.add_row(s.signer_id, cluster.cluster_id, identity, verdict)
    return table, bad


@signers_app.command("list")
@cli_errors
def signers_list(
    wide: WideOpt = False,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the signer nodes and check each one's encryption-key signature.

    --wide shows the identity keys in full.
    """
    with common.connect(data_dir, base_url, token) as client:
        clusters = client.signers.list()
    if as_json:
        echo_json({"clusters": [c.to_json_dict() for c in clusters]})
        return
    table, bad = signers_table(clusters, wide=wide)
    print_listing(table, wide=wide)
    if bad:
        raise fail("SignerVerificationFailed", f"{bad} signer(s) failed the signature check")
