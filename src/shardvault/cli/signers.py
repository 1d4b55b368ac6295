"""``shardvault signers list``: the signer nodes, each with the check of its
encryption-key signature under its identity key and of its identity key against the
roster pinned from ``credentials.json`` (the SDK's checks, as import and export do
them), and the cluster's roster fingerprint beside the pinned one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def signers_table(
    clusters: Sequence[Cluster],
    *,
    wide: bool = False,
    pinned: Mapping[str, bytes] | None = None,
) -> tuple[Table, int]:
    """The ``signers list`` table: signerId, cluster, identityKey (shortened unless
    ``wide``) and whether the encryption-key signature verifies (and the identity key
    is the ``pinned`` one, when pins are given: "NOT PINNED" otherwise); and the
    number of signers that fail."""
    from shardvault.sdk import SignerVerificationError
    from shardvault.sdk._signers import verify_signer

    table = listing("signerId", "cluster", "identityKey", "signature")
    bad = 0
    for cluster in clusters:
        for s in cluster.signers:
            try:
                verify_signer(s, pinned)
                verdict = Text("valid", style="green")
            except SignerVerificationError as exc:
                label = "NOT PINNED" if exc.code == "SignerNotPinned" else "INVALID"
                verdict, bad = Text(label, style="bold red"), bad + 1
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
    """List the signer nodes and check each one's encryption-key signature and, when
    credentials.json carries the cluster roster, its identity key against the roster;
    then the roster fingerprints (the API's and the pinned one) to compare.

    --wide shows the identity keys in full.
    """
    with common.connect(data_dir, base_url, token) as client:
        clusters = client.signers.list()
        roster = client.roster
        pinned = client.pinned_identity_keys
    if as_json:
        echo_json({"clusters": [c.to_json_dict() for c in clusters]})
        return
    table, bad = signers_table(clusters, wide=wide, pinned=pinned)
    print_listing(table, wide=wide)
    console = common.out()
    for cluster in clusters:
        shown = cluster.roster_fingerprint or "none"
        console.print(f"roster of {cluster.cluster_id}: {shown}")
    if roster is not None:
        console.print(f"pinned roster:  {roster.fingerprint} (credentials.json)")
        if any(c.roster_fingerprint != roster.fingerprint for c in clusters):
            raise fail("RosterMismatch", "the API's roster is not the pinned one")
    if bad:
        raise fail("SignerVerificationFailed", f"{bad} signer(s) failed the signature check")
