"""``shardvault admin``: settings and accounts of the local vault, changed in its
database directly (so it needs access to the data directory or the database URL):
``enable-export``, ``create-service-account``; and ``admin refresh``, a refresh epoch
of the running vault through its API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shardvault.cli import common
from shardvault.cli.common import (
    DEFAULT_DATA_DIR,
    BaseUrlOpt,
    DataDirOpt,
    JsonOpt,
    TokenOpt,
    cli_errors,
    echo_json,
    out,
)

__all__ = ["admin_app"]

admin_app = typer.Typer(help="Administration of the local vault.", no_args_is_help=True)

DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(help="API database URL. Default: sqlite:///<data-dir>/api.sqlite3."),
]


def _database_url(data_dir: Path, database_url: str | None) -> str:
    """The database URL given, else the data dir's (which must exist)."""
    from shardvault.sdk.errors import InvalidArgument
    from shardvault.server.serving import API_DATABASE_FILE, default_database_url

    if database_url is not None:
        return database_url
    db_file = data_dir / API_DATABASE_FILE
    if not db_file.exists():
        raise InvalidArgument(
            f"no vault database at {db_file}: run `shardvault up --data-dir {data_dir}` "
            "first, or pass --database-url",
            code="NotInitialized",
        )
    return default_database_url(data_dir)


@admin_app.command("enable-export")
@cli_errors
def admin_enable_export(
    disable: Annotated[bool, typer.Option("--disable", help="Turn key export off.")] = False,
    sign_after_export: Annotated[
        bool | None,
        typer.Option(
            "--sign-after-export/--no-sign-after-export",
            help="Also set the org setting signAfterExport: may an exported key still "
            "sign (default: unchanged; off for a new org).",
        ),
    ] = None,
    org_id: Annotated[
        str | None, typer.Option(help="Org to change (default: every org of the vault).")
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Allow (or, with --disable, forbid) key export for the org (off by default).

    Works on the vault's database directly, so it needs access to the data dir. Over
    the API: PUT /org/settings {keyExport, signAfterExport}.
    """
    database_url = _database_url(data_dir, database_url)
    from shardvault.api.bootstrap import set_org_settings

    changed = set_org_settings(
        database_url, org_id, key_export=not disable, sign_after_export=sign_after_export
    )
    out().print(f"key export {'disabled' if disable else 'enabled'} for org {changed}.")
    if sign_after_export is not None:
        state = "may still sign" if sign_after_export else "stop signing"
        out().print(f"exported keys of org {changed} {state}.")


@admin_app.command("create-service-account")
@cli_errors
def admin_create_service_account(
    name: Annotated[str, typer.Option("--name", help="Name of the service account.")],
    public_key_file: Annotated[
        Path,
        typer.Option(
            "--public-key-file",
            help="PEM public key (SubjectPublicKeyInfo) of its credential: Ed25519, "
            "ECDSA P-256 or secp256k1, or RSA.",
        ),
    ],
    org_id: Annotated[
        str | None, typer.Option(help="Org of the account (default: the vault's only org).")
    ] = None,
    permissions: Annotated[
        str | None,
        typer.Option(
            "--permissions",
            metavar="OPS",
            help="Comma-separated Dfns operations to grant it, e.g. "
            "Keys:Create,Keys:Read,Keys:Signatures:Create (default: none).",
        ),
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Create a (non-admin) service account whose credential is the given public key,
    with a permission granting --permissions; prints {userId, credentialId, token} as
    JSON (the token is shown only once).

    Works on the vault's database directly, so it needs access to the data dir.
    """
    from shardvault.sdk.errors import InvalidArgument

    try:
        pem = public_key_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read {public_key_file}: {exc}") from None
    database_url = _database_url(data_dir, database_url)
    from shardvault.api.bootstrap import create_service_account

    ops = [op.strip() for op in (permissions or "").split(",") if op.strip()]
    echo_json(create_service_account(database_url, name, pem, org_id, ops))


@admin_app.command("refresh")
@cli_errors
def admin_refresh(
    fresh_primes: Annotated[
        bool,
        typer.Option(
            "--fresh-primes",
            help="Generate the signers' new Paillier primes during the epoch instead of "
            "taking their in-memory spare stock (slower; nothing prepared in advance).",
        ),
    ] = False,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a refresh epoch of the running vault (admin token): every signer gets new
    Paillier primes and ring-Pedersen parameters, every key new shares (same public
    keys), and the old primes, shares and presignatures are erased."""
    with common.connect(data_dir, base_url, token) as client:
        result = client.request("POST", "/admin/refresh", json_body={"freshPrimes": fresh_primes})
    if as_json:
        echo_json(result)
        return
    keys = result["keys"]
    out().print(
        f"epoch {result['epoch']} {result['state']} in {result.get('durationMs')} ms: "
        f"{keys['ecdsa']} ECDSA and {keys['frost']} FROST keys re-dealt, "
        f"new aux info on every signer ({result['primes']} primes).",
        soft_wrap=True,
    )
