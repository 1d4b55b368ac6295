"""The commands that need no vault API: ``up`` (run the embedded vault here; the
wiring is ``shardvault.server.up``), ``demo`` (the protocol tour of
``shardvault.demo``) and ``version``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from shardvault import __version__
from shardvault.cli.common import DEFAULT_DATA_DIR, DataDirOpt, cli_errors, err, out

__all__ = ["demo", "up", "version"]


def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def demo() -> None:
    """A tour: split a fresh key 2-of-3, run a DKG, sign with two of three parties
    for every ciphersuite, verify with independent libraries, print timings."""
    from shardvault.demo import run_demo

    console = Console()
    console.rule("[bold]shardvault[/bold] — threshold signing tour (2-of-3, in one process)")
    steps = run_demo()
    table = Table(show_lines=False)
    table.add_column("scheme", style="bold")
    table.add_column("step")
    table.add_column("result", no_wrap=True)
    table.add_column("ms", justify="right")
    table.add_column("verified by")
    for s in steps:
        verdict = ""
        if s.verified_by:
            verdict = ("[green]✔ " if s.ok else "[red]✘ ") + s.verified_by
        table.add_row(s.suite, s.what, s.detail, f"{s.millis:.1f}", verdict)
    console.print(table)
    console.print(
        "Verifiers: PyNaCl = libsodium Ed25519; coincurve = libsecp256k1 BIP 340 "
        "schnorrsig_verify; FROST(secp256k1) has no standard verifier, so its equation "
        "is checked with libsecp256k1 point arithmetic."
    )
    failed = [s for s in steps if not s.ok]
    if failed:
        console.print(f"[red]{len(failed)} signature(s) failed independent verification[/red]")
        raise typer.Exit(1)
    console.print(
        "[green]Every signature verified with an independent library.[/green] "
        "Signing never reassembled a key: each party used only its own share."
    )


@cli_errors
def up(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 8080,
    signers: Annotated[int, typer.Option(min=1, max=255, help="Number of signer nodes.")] = 3,
    threshold: Annotated[
        int, typer.Option(min=1, help="Signers needed to sign (minSigners of new keys).")
    ] = 2,
    kek_file: Annotated[
        Path | None,
        typer.Option(
            help="Key-encryption-key file (0600, outside the data dir). Default: "
            "$SHARDVAULT_KEK, else ~/.config/shardvault/kek-<hash of data dir>.",
            dir_okay=False,
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="API database URL. Default: sqlite:///<data-dir>/api.sqlite3."),
    ] = None,
    log_level: Annotated[
        Literal["critical", "error", "warning", "info", "debug"],
        typer.Option(help="uvicorn log level."),
    ] = "info",
    ecdsa: Annotated[
        bool,
        typer.Option(
            help="Prepare ECDSA (CGGMP24): Paillier safe primes and aux info in the "
            "background at first start."
        ),
    ] = True,
    presig_pool: Annotated[
        int,
        typer.Option(
            min=0, max=1000, help="Presignatures kept warm per ECDSA key (0: presign per request)."
        ),
    ] = 8,
    refresh_every: Annotated[
        str | None,
        typer.Option(
            help="Run a refresh epoch (new aux info and shares of every key) on this "
            "schedule, e.g. 24h or 30m."
        ),
    ] = None,
    rate_limit: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Requests per second each API token may make on average (0: no limit); "
            "beyond that 429 with Retry-After.",
        ),
    ] = 0.0,
    rate_limit_burst: Annotated[
        int,
        typer.Option(
            min=0, help="Requests a token may make at once (0: one second's worth of --rate-limit)."
        ),
    ] = 0,
    allowed_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-origin",
            metavar="URL",
            help="An origin a signed user action's clientData may name (repeatable); "
            "the vault's own base URL and http://localhost always may.",
        ),
    ] = None,
) -> None:
    """Run the embedded vault: the REST API and SIGNERS signer nodes in one process.

    The first start creates an org and an admin service account and writes
    <data-dir>/credentials.json (0600); later starts reuse every key.
    """
    from shardvault.server.serving import default_database_url
    from shardvault.server.up import run_up

    every = None if refresh_every is None else parse_duration(refresh_every)
    if threshold > signers:
        raise typer.BadParameter(
            f"threshold {threshold} is larger than the number of signers ({signers})",
            param_hint="'--threshold'",
        )
    if kek_file is not None and kek_file.resolve().is_relative_to(data_dir.resolve()):
        raise typer.BadParameter(
            "the KEK file must not live inside the data directory it protects",
            param_hint="'--kek-file'",
        )
    try:
        asyncio.run(
            run_up(
                data_dir=data_dir,
                host=host,
                port=port,
                signers=signers,
                threshold=threshold,
                kek_file=kek_file,
                database_url=database_url or default_database_url(data_dir),
                log_level=log_level,
                console=out(),
                ecdsa=ecdsa,
                presig_pool=presig_pool,
                refresh_every_seconds=every,
                rate_limit_per_second=rate_limit,
                rate_limit_burst=rate_limit_burst,
                allowed_origins=tuple(allowed_origin or ()),
            )
        )
    except KeyboardInterrupt:
        err().print("interrupted")
        raise typer.Exit(130) from None


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``24h``, ``30m``, ``90s``, ``7d`` -> seconds (at least one minute)."""
    value, unit = text.strip()[:-1], text.strip()[-1:].lower()
    if unit not in _UNITS or not value.isdigit() or int(value) * _UNITS[unit] < 60:
        raise typer.BadParameter(
            f"{text!r}: a duration such as 24h, 30m or 7d (at least 1m)",
            param_hint="'--refresh-every'",
        )
    return float(int(value) * _UNITS[unit])
