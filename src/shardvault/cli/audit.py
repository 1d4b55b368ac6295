"""``shardvault audit verify``: recompute the audit log's hash chains in the vault's
database (docs/governance-audit.md) and name the first bad row of each broken chain
(exit status 1). ``--checkpoint`` compares with heads saved by an earlier run
(``--save-checkpoint``; keep that file away from the database, e.g. on another
machine): a tail deleted together with its head row then shows too. ``--remote``
checks the caller's org chain through ``GET /audit`` instead, without database
access."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    err,
    out,
)

if TYPE_CHECKING:
    from shardvault.api.audit_chain import VerifyReport

__all__ = ["audit_app"]

audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)

_CHECKPOINT_VERSION = 1


def _database_url(data_dir: Path, database_url: str | None) -> str:
    from shardvault.sdk.errors import InvalidArgument
    from shardvault.server.serving import API_DATABASE_FILE, default_database_url

    if database_url is not None:
        return database_url
    db_file = data_dir / API_DATABASE_FILE
    if not db_file.exists():
        raise InvalidArgument(
            f"no vault database at {db_file}: pass --data-dir or --db", code="NotInitialized"
        )
    return default_database_url(data_dir)


def _read_checkpoint(path: Path) -> dict[str, tuple[int, str]]:
    from shardvault.sdk.errors import InvalidArgument

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        chains = data["chains"]
        if data.get("version") != _CHECKPOINT_VERSION or not isinstance(chains, dict):
            raise ValueError("unknown checkpoint version")
        return {str(k): (int(v["seq"]), str(v["hash"])) for k, v in chains.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidArgument(
            f"{path} is not an audit checkpoint ({type(exc).__name__})", code="BadCheckpoint"
        ) from None


def _write_checkpoint(path: Path, heads: dict[str, tuple[int, str]]) -> None:
    data = {
        "version": _CHECKPOINT_VERSION,
        "chains": {k: {"seq": s, "hash": h} for k, (s, h) in sorted(heads.items())},
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _verify_database(
    url: str, org_id: str | None, expected: dict[str, tuple[int, str]] | None
) -> VerifyReport:
    from shardvault.api.audit_chain import verify_chains
    from shardvault.db.engine import make_engine, read_sessionmaker

    engine = make_engine(url)
    try:
        with read_sessionmaker(engine)() as session:
            return verify_chains(session, org_id=org_id, checkpoint=expected)
    finally:
        engine.dispose()


def _verify_remote(
    data_dir: Path,
    base_url: str | None,
    token: str | None,
    expected: dict[str, tuple[int, str]] | None,
) -> VerifyReport:
    """The caller's org chain, every page of GET /audit, oldest first."""
    from shardvault.api.audit_chain import ChainProblem, verify_items

    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    with common.connect(data_dir, base_url, token) as client:
        while True:
            page = client.request("GET", "/audit", params=params)
            items.extend(page["items"])
            if not page.get("nextPageToken"):
                break
            params["paginationToken"] = page["nextPageToken"]
    items.reverse()
    org_id = str(items[0]["orgId"]) if items else "?"
    report = verify_items(org_id, items)
    saved = (expected or {}).get(org_id)
    if report.ok and saved is not None:
        seen = {int(i["seq"]): str(i["hash"]) for i in items}
        if seen.get(saved[0]) != saved[1]:
            report.problems.append(
                ChainProblem(
                    org_id,
                    saved[0],
                    None,
                    "missing or different from the checkpoint (deleted or rewritten)",
                )
            )
    return report


@audit_app.command("verify")
@cli_errors
def audit_verify(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--db",
            "--database-url",
            help="API database URL. Default: sqlite:///<data-dir>/api.sqlite3.",
        ),
    ] = None,
    org_id: Annotated[str | None, typer.Option("--org", help="Verify this org only.")] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="Heads saved by an earlier --save-checkpoint: each chain must still hold "
            "those rows unchanged.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    save_checkpoint: Annotated[
        Path | None,
        typer.Option("--save-checkpoint", help="After a clean run, write every chain's head here."),
    ] = None,
    remote: Annotated[
        bool,
        typer.Option(
            "--remote",
            help="Verify your org's chain through GET /audit of the running vault "
            "(credentials.json, or --base-url and --token) instead of its database.",
        ),
    ] = False,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the audit log's hash chains; exit 1 naming the first bad row of each
    chain that was edited, reordered, cut short or deleted."""
    expected = _read_checkpoint(checkpoint) if checkpoint is not None else None
    if remote:
        report = _verify_remote(data_dir, base_url, token, expected)
    else:
        report = _verify_database(_database_url(data_dir, database_url), org_id, expected)
    if as_json:
        data: dict[str, Any] = {
            "ok": report.ok,
            "rows": report.rows,
            "chains": {k: {"seq": s, "hash": h} for k, (s, h) in sorted(report.heads.items())},
            "problems": [
                {"orgId": p.org_id, "seq": p.seq, "id": p.row_id, "message": p.message}
                for p in report.problems
            ],
        }
        echo_json(data)
    if not report.ok:
        console = err()
        for problem in report.problems:
            console.print(f"error AuditChainBroken: {problem}", soft_wrap=True)
        raise typer.Exit(1)
    if save_checkpoint is not None:
        _write_checkpoint(save_checkpoint, report.heads)
    if not as_json:
        console = out()
        console.print(
            f"audit log intact: {report.rows} rows in {len(report.heads)} chains.",
            soft_wrap=True,
        )
        for chain, (seq, digest) in sorted(report.heads.items()):
            console.print(f"  {chain}  {seq}  {digest}", soft_wrap=True)
