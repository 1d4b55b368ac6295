"""``shardvault admin``: settings of the local vault, changed in its database
directly (so it needs access to the data directory or the database URL)."""

from __future__ import annotations

from typing import Annotated

import typer

from shardvault.cli.common import DEFAULT_DATA_DIR, DataDirOpt, cli_errors, out

__all__ = ["admin_app"]

admin_app = typer.Typer(help="Administration of the local vault.", no_args_is_help=True)


@admin_app.command("enable-export")
@cli_errors
def admin_enable_export(
    disable: Annotated[bool, typer.Option("--disable", help="Turn key export off.")] = False,
    org_id: Annotated[
        str | None, typer.Option(help="Org to change (default: every org of the vault).")
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    database_url: Annotated[
        str | None,
        typer.Option(help="API database URL. Default: sqlite:///<data-dir>/api.sqlite3."),
    ] = None,
) -> None:
    """Allow (or, with --disable, forbid) key export for the org (off by default).

    Works on the vault's database directly, so it needs access to the data dir.
    """
    from shardvault.sdk.errors import InvalidArgument
    from shardvault.server.serving import API_DATABASE_FILE, default_database_url

    if database_url is None:
        db_file = data_dir / API_DATABASE_FILE
        if not db_file.exists():
            raise InvalidArgument(
                f"no vault database at {db_file}: run `shardvault up --data-dir {data_dir}` "
                "first, or pass --database-url",
                code="NotInitialized",
            )
        database_url = default_database_url(data_dir)
    from shardvault.api.bootstrap import set_key_export

    changed = set_key_export(database_url, not disable, org_id)
    out().print(f"key export {'disabled' if disable else 'enabled'} for org {changed}.")
