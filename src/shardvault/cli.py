"""The ``shardvault`` command line.

Every command that talks to a vault takes ``--data-dir`` (default ``./.shardvault``)
and reads ``<data-dir>/credentials.json`` (written by ``shardvault up``) unless
``--base-url`` and ``--token`` (or ``SHARDVAULT_BASE_URL`` / ``SHARDVAULT_TOKEN``)
are given. Errors are printed as ``error <code>: <message>`` with exit status 1;
bad arguments exit with status 2 and a usage message.

Private keys are read from a file or standard input, never from the command line
(argv is visible to every user of the machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import signal
import stat
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shardvault import __version__
from shardvault.errors import ShardvaultError

if TYPE_CHECKING:
    from shardvault.coordinator.backend import EcdsaStatus
    from shardvault.sdk import Client, Key, Signature, Wallet

app = typer.Typer(
    name="shardvault",
    help="Self-hosted threshold-signing (MPC) key vault.",
    no_args_is_help=True,
    add_completion=False,
    # An unexpected error must never print local variables (tokens, key material).
    pretty_exceptions_show_locals=False,
)
keys_app = typer.Typer(help="Create, list, show and delete keys.", no_args_is_help=True)
signatures_app = typer.Typer(help="Show a key's signature requests.", no_args_is_help=True)
signers_app = typer.Typer(help="Show the signer nodes.", no_args_is_help=True)
admin_app = typer.Typer(help="Administration of the local vault.", no_args_is_help=True)
wallets_app = typer.Typer(
    help="Create, list and show wallets (a key on a network).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(wallets_app, name="wallets")
app.add_typer(signatures_app, name="signatures")
app.add_typer(signers_app, name="signers")
app.add_typer(admin_app, name="admin")

DEFAULT_DATA_DIR = Path(".shardvault")
CREDENTIALS_FILE = "credentials.json"
API_DATABASE_FILE = "api.sqlite3"
#: Largest key file read (a key is at most 64 bytes; hex/JSON text a few hundred).
MAX_KEY_FILE_SIZE = 4096

_P = ParamSpec("_P")
_R = TypeVar("_R")

# --------------------------------------------------------------------------------------
# Shared options
# --------------------------------------------------------------------------------------

DataDirOpt = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="SHARDVAULT_DATA_DIR",
        help="Vault data directory (holds credentials.json).",
        file_okay=False,
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="SHARDVAULT_BASE_URL",
        help="API URL (default: baseUrl of <data-dir>/credentials.json).",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SHARDVAULT_TOKEN",
        help="API token (default: token of <data-dir>/credentials.json). "
        "Prefer the SHARDVAULT_TOKEN variable: argv is visible to other users.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PageTokenOpt = Annotated[str | None, typer.Option(help="nextPageToken of the previous page.")]


# --------------------------------------------------------------------------------------
# Output and errors
# --------------------------------------------------------------------------------------


def _out() -> Console:
    """Standard output. Markup is off: server-supplied text (names, ids) is printed
    literally; styles are applied with ``rich.text.Text``."""
    return Console(highlight=False, markup=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False, markup=False)


def _fail(code: str, message: str, details: Any = None) -> typer.Exit:
    console = _err()
    console.print(f"error {code}: {message}", soft_wrap=True)
    if details not in (None, {}, []):
        console.print(f"  details: {json.dumps(details, default=str)}", soft_wrap=True)
    return typer.Exit(1)


def _cli_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Print shardvault/OS errors as ``error <code>: <message>`` and exit 1 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except ShardvaultError as exc:
            details = getattr(exc, "details", None)
            signers = getattr(exc, "signers", ())
            if details is None and signers:
                details = {"signers": list(signers)}
            raise _fail(exc.code, exc.message, details) from None
        except OSError as exc:
            what = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
            raise _fail(type(exc).__name__, what) from None

    return wrapper


def _listing(
    api: Any, limit: int | None, pagination_token: str | None
) -> tuple[list[Any], str | None]:
    """Every item of a paginated SDK collection (``api.iter_all``), or the one page
    asked for with ``--limit`` / ``--pagination-token``, and the next page's token."""
    if limit is None and pagination_token is None:
        return list(api.iter_all()), None
    page = api.list(limit=limit, pagination_token=pagination_token)
    return list(page.items), page.next_page_token


def _echo_page_json(items: list[Any], next_token: str | None) -> None:
    data: dict[str, Any] = {"items": [item.to_json_dict() for item in items]}
    if next_token:
        data["nextPageToken"] = next_token
    _echo_json(data)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def _kv_table(rows: Sequence[tuple[str, Any]]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        if value is None or value == "":
            continue
        table.add_row(label, str(value))
    return table


def _table(*columns: str) -> Table:
    """A table whose first column (an id) never wraps."""
    table = Table()
    for n, column in enumerate(columns):
        table.add_column(column, no_wrap=n == 0, overflow="fold")
    return table


def _date(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------


def _client(data_dir: Path, base_url: str | None, token: str | None) -> Client:
    """A :class:`shardvault.sdk.Client` from the options, else the credentials file."""
    from shardvault.sdk import Client, CredentialsError

    if base_url is None or token is None:
        path = data_dir / CREDENTIALS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CredentialsError(
                f"no credentials at {path}: start the vault with "
                f"`shardvault up --data-dir {data_dir}` or pass --base-url and --token"
            ) from None
        except (ValueError, UnicodeDecodeError):
            raise CredentialsError(f"{path} is not valid JSON") from None
        if not isinstance(data, dict):
            raise CredentialsError(f"{path} must hold a JSON object")
        base_url = base_url if base_url is not None else data.get("baseUrl")
        token = token if token is not None else data.get("token")
        if not isinstance(base_url, str) or not isinstance(token, str) or not token:
            raise CredentialsError(f"{path} must have string fields baseUrl and token")
    return Client(base_url, token=token)


# --------------------------------------------------------------------------------------
# version / demo
# --------------------------------------------------------------------------------------


@app.callback()
def main() -> None:
    """shardvault: private keys exist only as shares on independent signers."""


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
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


# --------------------------------------------------------------------------------------
# up
# --------------------------------------------------------------------------------------


def default_database_url(data_dir: Path) -> str:
    """``sqlite:///<absolute data dir>/api.sqlite3``."""
    return f"sqlite:///{(data_dir.resolve() / API_DATABASE_FILE).as_posix()}"


def _redact_url(url: str) -> str:
    """The database URL without its password, for printing."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def _make_server(config: Any) -> Any:
    """A uvicorn server that stops on SIGINT/SIGTERM without re-raising the signal
    afterwards, so the caller can shut the signers down cleanly."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return _Server(config)


ECDSA_LABEL = "ECDSA (CGGMP24)"


async def watch_ecdsa(
    status: Callable[[], Awaitable[EcdsaStatus]],
    console: Console,
    *,
    interval: float = 0.5,
    plain_interval: float = 30.0,
) -> bool:
    """Show ECDSA readiness (``status()`` polled every ``interval`` seconds) until it is
    ready, then say so; returns True then. On a terminal: a rich progress bar; otherwise
    a plain line when the stage changes and at most every ``plain_interval`` seconds.
    A failing ``status()`` is shown and polled again. Cancel it to stop watching."""
    from shardvault.coordinator.backend import EcdsaStatus

    async def poll() -> EcdsaStatus:
        try:
            st = await status()
        except Exception as exc:
            return EcdsaStatus(False, 0.0, f"status unavailable ({type(exc).__name__})")
        value = float(st.progress)
        value = min(max(value, 0.0), 1.0) if value == value else 0.0  # NaN: 0
        return EcdsaStatus(st.ready is True, 1.0 if st.ready is True else value, st.detail)

    def done() -> None:
        console.print(
            Text.assemble(
                (f"{ECDSA_LABEL} is ready", "bold green"),
                ": ECDSA keys can be created, imported and used.",
            )
        )

    st = await poll()
    if st.ready:
        done()
        return True
    if console.is_terminal:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            SpinnerColumn(),
            TextColumn(ECDSA_LABEL, markup=False),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}", markup=False),
            console=console,
            redirect_stdout=False,
            redirect_stderr=False,
        ) as progress:
            task = progress.add_task(st.detail, total=1000, completed=round(st.progress * 1000))
            while not st.ready:
                await asyncio.sleep(interval)
                st = await poll()
                progress.update(task, completed=round(st.progress * 1000), description=st.detail)
    else:
        console.print(
            f"{ECDSA_LABEL} is getting ready in the background (EdDSA and Schnorr work now)",
            soft_wrap=True,
        )
        shown: tuple[str, float] | None = None
        while not st.ready:
            now = time.monotonic()
            if shown is None or st.detail != shown[0] or now - shown[1] >= plain_interval:
                detail = f" ({st.detail})" if st.detail else ""
                console.print(f"{ECDSA_LABEL}: {st.progress:.0%}{detail}", soft_wrap=True)
                shown = (st.detail, now)
            await asyncio.sleep(interval)
            st = await poll()
    done()
    return True


async def _run_up(
    *,
    data_dir: Path,
    host: str,
    port: int,
    signers: int,
    threshold: int,
    kek_file: Path | None,
    database_url: str,
    log_level: str,
    ecdsa: bool = True,
    presig_pool: int = 8,
) -> None:
    from shardvault.server import bind_socket, serve_embedded
    from shardvault.signer.kek import load_or_create_kek

    console = _out()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    kek = load_or_create_kek(data_dir, kek_file)
    sock = bind_socket(host, port)
    try:
        console.print(f"starting {signers} signer nodes …")
        async with serve_embedded(
            data_dir=data_dir,
            kek=kek,
            sock=sock,
            signers=signers,
            threshold=threshold,
            database_url=database_url,
            log_level=log_level,
            server_factory=_make_server,
            ecdsa_primes="generate" if ecdsa else "off",
            presig_pool_target=presig_pool,
        ) as running:
            del kek
            base_url = running.base_url
            console.print(
                _kv_table(
                    [
                        ("API", f"{base_url}  (OpenAPI: {base_url}/openapi.json)"),
                        (
                            "signers",
                            f"{signers} in-process nodes, threshold {threshold}-of-{signers}",
                        ),
                        ("data dir", str(data_dir.resolve())),
                        ("database", _redact_url(database_url)),
                        ("credentials", f"{running.credentials.resolve()} (0600)"),
                    ]
                )
            )
            console.print(
                Text.assemble(
                    ("shardvault is running", "bold green"), f" on {base_url} — Ctrl-C to stop."
                )
            )
            # The API serves (FROST keys work) while the signers prepare ECDSA.
            watcher = asyncio.create_task(
                watch_ecdsa(running.vault.ecdsa_status, console) if ecdsa else asyncio.sleep(0)
            )
            try:
                await running.serving
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watcher
        console.print("signers stopped; bye.")
    finally:
        sock.close()


@app.command()
@_cli_errors
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
) -> None:
    """Run the embedded vault: the REST API and SIGNERS signer nodes in one process.

    The first start creates an org and an admin service account and writes
    <data-dir>/credentials.json (0600); later starts reuse every key.
    """
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
    url = database_url or default_database_url(data_dir)
    try:
        asyncio.run(
            _run_up(
                data_dir=data_dir,
                host=host,
                port=port,
                signers=signers,
                threshold=threshold,
                kek_file=kek_file,
                database_url=url,
                log_level=log_level,
                ecdsa=ecdsa,
                presig_pool=presig_pool,
            )
        )
    except KeyboardInterrupt:
        _err().print("interrupted")
        raise typer.Exit(130) from None


# --------------------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------------------


def _short(text: str, keep: int = 10) -> str:
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep:]}"


def _print_key(key: Key, as_json: bool) -> None:
    if as_json:
        _echo_json(key.to_json_dict())
        return
    _out().print(
        _kv_table(
            [
                ("id", key.id),
                ("name", key.name),
                ("scheme", key.scheme),
                ("curve", key.curve),
                ("protocol", key.protocol),
                ("status", key.status),
                ("publicKey", key.public_key),
                ("threshold", f"{key.min_signers}-of-{len(key.signers)}"),
                ("signers", ", ".join(key.signers)),
                ("imported", "yes" if key.imported else None),
                ("exported", "yes" if key.exported else None),
                ("dateExported", _date(key.date_exported)),
                ("dateCreated", _date(key.date_created)),
            ]
        )
    )


@keys_app.command("create")
@_cli_errors
def keys_create(
    scheme: Annotated[Literal["EdDSA", "Schnorr", "ECDSA"], typer.Option(help="Signature scheme.")],
    curve: Annotated[Literal["ed25519", "secp256k1"], typer.Option(help="Curve.")],
    name: Annotated[str | None, typer.Option(help="A name for the key.")] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key by distributed key generation (no party ever holds it whole)."""
    with _client(data_dir, base_url, token) as client:
        key = client.keys.create(scheme=scheme, curve=curve, name=name)
    _print_key(key, as_json)


@keys_app.command("refresh")
@_cli_errors
def keys_refresh(
    key_id: Annotated[str, typer.Argument(help="Key id (key-…).")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Refresh an ECDSA (CGGMP24) key's shares: every signer gets a new share of the
    same key and erases the old one (the public key does not change). Needs every signer."""
    with _client(data_dir, base_url, token) as client:
        key = client.keys.refresh(key_id)
    if as_json:
        _echo_json(key.to_json_dict())
    else:
        _out().print(
            f"key {key.id} refreshed: new shares on {len(key.signers)} signers, "
            f"same public key {key.public_key}.",
            soft_wrap=True,
        )


@keys_app.command("list")
@_cli_errors
def keys_list(
    limit: Annotated[
        int | None, typer.Option(min=1, help="One page of at most LIMIT keys (default: all).")
    ] = None,
    pagination_token: PageTokenOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List keys."""
    with _client(data_dir, base_url, token) as client:
        items, next_token = _listing(client.keys, limit, pagination_token)
    if as_json:
        _echo_page_json(items, next_token)
        return
    console = _out()
    if not items:
        console.print("no keys")
    else:
        table = _table("id", "name", "scheme", "curve", "status", "t-of-n", "publicKey")
        for k in items:
            status = k.status + (" (exported)" if k.exported else "")
            table.add_row(
                k.id,
                k.name or "",
                k.scheme,
                k.curve,
                status,
                f"{k.min_signers}-of-{len(k.signers)}",
                _short(k.public_key),
            )
        console.print(table)
    if next_token:
        console.print(f"next page: --pagination-token {next_token}")


@keys_app.command("get")
@_cli_errors
def keys_get(
    key_id: Annotated[str, typer.Argument(help="Key id (key-…).")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one key."""
    with _client(data_dir, base_url, token) as client:
        key = client.keys.get(key_id)
    _print_key(key, as_json)


@keys_app.command("update")
@_cli_errors
def keys_update(
    key_id: Annotated[str, typer.Argument(help="Key id (key-…).")],
    name: Annotated[str, typer.Option(help="The new name.")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename a key."""
    with _client(data_dir, base_url, token) as client:
        key = client.keys.update(key_id, name=name)
    _print_key(key, as_json)


@keys_app.command("delete")
@_cli_errors
def keys_delete(
    key_id: Annotated[str, typer.Argument(help="Key id (key-…).")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Archive a key: the signers erase their shares; it can never sign again."""
    with _client(data_dir, base_url, token) as client:
        key = client.keys.delete(key_id)
    if as_json:
        _echo_json(key.to_json_dict())
    else:
        _out().print(f"key {key.id} is {key.status}; its shares are erased.")


# --------------------------------------------------------------------------------------
# signers, signatures
# --------------------------------------------------------------------------------------


@signers_app.command("list")
@_cli_errors
def signers_list(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the signer nodes and check each one's encryption-key signature."""
    from shardvault.sdk import SignerVerificationError
    from shardvault.sdk._signers import verify_signer

    with _client(data_dir, base_url, token) as client:
        clusters = client.signers.list()
    if as_json:
        _echo_json({"clusters": [c.to_json_dict() for c in clusters]})
        return
    table = _table("signerId", "cluster", "identityKey", "encryptionKeySignature")
    bad = 0
    for cluster in clusters:
        for s in cluster.signers:
            try:
                verify_signer(s)
                verdict = Text("valid", style="green")
            except SignerVerificationError:
                verdict, bad = Text("INVALID", style="bold red"), bad + 1
            table.add_row(s.signer_id, cluster.cluster_id, s.identity_key, verdict)
    _out().print(table)
    if bad:
        raise _fail("SignerVerificationFailed", f"{bad} signer(s) failed the signature check")


def _join(values: Sequence[Any] | None) -> str | None:
    return ", ".join(str(v) for v in values) if values else None


def _print_signature(sig: Signature, as_json: bool) -> None:
    if as_json:
        _echo_json(sig.to_json_dict())
        return
    value = sig.signature
    _out().print(
        _kv_table(
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
                ("signedInputs", _join(sig.signed_inputs)),
                ("skippedInputs", _join([i.get("index") for i in sig.skipped_inputs or []])),
                ("dateRequested", _date(sig.date_requested)),
                ("dateSigned", _date(sig.date_signed)),
            ]
        )
    )


@signatures_app.command("list")
@_cli_errors
def signatures_list(
    key_id: Annotated[str, typer.Argument(help="Key id (key-…).")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a key's signature requests."""
    with _client(data_dir, base_url, token) as client:
        sigs = client.keys.list_signatures(key_id)
    if as_json:
        _echo_json({"items": [s.to_json_dict() for s in sigs]})
        return
    if not sigs:
        _out().print("no signatures")
        return
    table = _table("id", "status", "kind", "encoded", "dateRequested")
    for s in sigs:
        encoded = s.signature.encoded if s.signature and s.signature.encoded else ""
        table.add_row(
            s.id,
            s.status,
            str(s.request_body.get("kind", "")),
            _short(encoded, 12),
            _date(s.date_requested),
        )
    _out().print(table)


@signatures_app.command("get")
@_cli_errors
def signatures_get(
    key_id: Annotated[str, typer.Argument(help="Key id (key-…).")],
    signature_id: Annotated[str, typer.Argument(help="Signature id (sig-…).")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one signature request."""
    with _client(data_dir, base_url, token) as client:
        sig = client.keys.get_signature(key_id, signature_id)
    _print_signature(sig, as_json)


# --------------------------------------------------------------------------------------
# sign
# --------------------------------------------------------------------------------------


def _hex_arg(value: str, option: str) -> bytes:
    from shardvault.sdk.encoding import hex_decode
    from shardvault.sdk.errors import InvalidArgument

    try:
        return hex_decode(value.strip(), what=option)
    except InvalidArgument as exc:
        raise typer.BadParameter(exc.message, param_hint=f"'{option}'") from None


#: Largest PSBT / EIP-712 file read by ``sign``.
MAX_PAYLOAD_FILE_SIZE = 1_000_000


def _read_payload_file(path: Path, option: str) -> bytes:
    from shardvault.sdk.errors import InvalidArgument

    if path.is_dir():
        raise InvalidArgument(f"{path} is a directory")
    with path.open("rb") as fh:
        data = fh.read(MAX_PAYLOAD_FILE_SIZE + 1)
    if len(data) > MAX_PAYLOAD_FILE_SIZE:
        raise InvalidArgument(f"{option}: {path} is larger than {MAX_PAYLOAD_FILE_SIZE} bytes")
    return data


def _psbt_file(path: Path) -> bytes | str:
    """A PSBT file: binary (``psbt\xff``…) or base64/hex text."""
    data = _read_payload_file(path, "--psbt")
    if data.startswith(b"psbt\xff"):
        return data
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise typer.BadParameter(
            "not a PSBT (binary, base64 or hex)", param_hint="'--psbt'"
        ) from None


def _eip712_file(path: Path) -> dict[str, Any]:
    data = _read_payload_file(path, "--eip712")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise typer.BadParameter("not a JSON file", param_hint="'--eip712'") from None
    if not isinstance(doc, dict):
        raise typer.BadParameter("must hold a JSON object", param_hint="'--eip712'")
    return doc


@app.command()
@_cli_errors
def sign(
    key_id: Annotated[
        str | None, typer.Argument(help="Key id (key-…); or give --wallet instead.")
    ] = None,
    wallet_id: Annotated[
        str | None,
        typer.Option("--wallet", help="Sign with this wallet's key on its network (wa-…)."),
    ] = None,
    hash_hex: Annotated[
        str | None,
        typer.Option("--hash", help="32-byte hash to sign, 0x-hex (Schnorr/ECDSA keys)."),
    ] = None,
    message_hex: Annotated[
        str | None,
        typer.Option(
            "--message",
            help="Message to sign, 0x-hex (EdDSA keys; a Solana off-chain message on "
            "Solana wallets; with --kind Eip191 or Bip322).",
        ),
    ] = None,
    transaction_hex: Annotated[
        str | None,
        typer.Option(
            "--transaction", help="Unsigned EVM or Solana transaction, 0x-hex (needs a network)."
        ),
    ] = None,
    psbt_file: Annotated[
        Path | None,
        typer.Option("--psbt", help="PSBT file (binary, base64 or hex) to sign.", dir_okay=False),
    ] = None,
    eip712_file: Annotated[
        Path | None,
        typer.Option(
            "--eip712",
            help="EIP-712 JSON document {types, domain, primaryType, message}.",
            dir_okay=False,
        ),
    ] = None,
    kind: Annotated[
        Literal["Eip191", "Bip322"] | None,
        typer.Option(help="With --message: sign it as EIP-191 or BIP 322 (simple)."),
    ] = None,
    network: Annotated[
        str | None,
        typer.Option(help="Network of a key-id request (a wallet brings its own)."),
    ] = None,
    taproot_merkle_root: Annotated[
        str | None,
        typer.Option(
            help='Schnorr keys: "" for the BIP 86 key-path tweak, a 32-byte 0x-hex root for '
            "the BIP 341 script-tree tweak; omit for plain BIP 340 under the untweaked key.",
        ),
    ] = None,
    external_id: Annotated[
        str | None,
        typer.Option(help="Idempotency id: a retry with the same id returns the first result."),
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sign with a key (KEY_ID) or a wallet (--wallet): a hash (--hash), a message
    (--message), a transaction (--transaction), a PSBT (--psbt) or EIP-712 data (--eip712)."""
    if (key_id is None) == (wallet_id is None):
        raise typer.BadParameter("give a KEY_ID or --wallet (not both)")
    payloads = [
        v for v in (hash_hex, message_hex, transaction_hex, psbt_file, eip712_file) if v is not None
    ]
    if len(payloads) != 1:
        raise typer.BadParameter(
            "give exactly one of --hash or --message (or --transaction, --psbt, --eip712)"
        )
    if kind is not None and message_hex is None:
        raise typer.BadParameter("--kind goes with --message", param_hint="'--kind'")
    if wallet_id is not None and network is not None:
        raise typer.BadParameter("a wallet signs on its own network", param_hint="'--network'")
    digest = None if hash_hex is None else _hex_arg(hash_hex, "--hash")
    message = None if message_hex is None else _hex_arg(message_hex, "--message")
    transaction = None if transaction_hex is None else _hex_arg(transaction_hex, "--transaction")
    root: bytes | None = None
    if taproot_merkle_root is not None:
        root = (
            b""
            if taproot_merkle_root.strip() == ""
            else _hex_arg(taproot_merkle_root, "--taproot-merkle-root")
        )
    psbt = None if psbt_file is None else _psbt_file(psbt_file)
    typed_data = None if eip712_file is None else _eip712_file(eip712_file)
    with _client(data_dir, base_url, token) as client:
        if wallet_id is not None:
            sig = client.wallets.sign(
                wallet_id,
                kind=kind,
                hash=digest,
                message=message,
                taproot_merkle_root=root,
                transaction=transaction,
                psbt=psbt,
                typed_data=typed_data,
                external_id=external_id,
            )
        else:
            assert key_id is not None
            sig = client.keys.sign(
                key_id,
                hash=digest,
                message=message,
                taproot_merkle_root=root,
                external_id=external_id,
                kind=kind,
                network=network,
                transaction=transaction,
                psbt=psbt,
                typed_data=typed_data,
            )
    _print_signature(sig, as_json)
    if sig.status == "Failed":
        raise _fail("SigningFailed", sig.reason or f"signature {sig.id} is {sig.status}")


# --------------------------------------------------------------------------------------
# import-key / export-key
# --------------------------------------------------------------------------------------

_HEX_TEXT = re.compile(rb"(?:0[xX])?((?:[0-9a-fA-F]{2})+)")
_KEY_SIZES = (32, 64)


def parse_private_key_material(data: bytes) -> bytearray:
    """Private key bytes from a key file's content.

    Accepted: hex text (optionally ``0x``-prefixed, surrounding whitespace ignored), a
    JSON array of byte values (``solana-keygen`` keypair files), or the raw 32 or
    64 bytes. Raises :class:`InvalidArgument` otherwise (without echoing the content).
    """
    from shardvault.sdk.errors import InvalidArgument

    text = bytes(data).strip()
    match = _HEX_TEXT.fullmatch(text)
    if match is not None and len(match.group(1)) // 2 in _KEY_SIZES:
        return bytearray(bytes.fromhex(match.group(1).decode("ascii")))
    if text.startswith(b"[") and text.endswith(b"]"):
        try:
            values = json.loads(text)
        except ValueError:
            values = None
        if (
            isinstance(values, list)
            and len(values) in _KEY_SIZES
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 256 for v in values)
        ):
            return bytearray(values)
        raise InvalidArgument("the key file holds a JSON value that is not a 32/64-byte array")
    if len(data) in _KEY_SIZES:
        return bytearray(data)
    raise InvalidArgument(
        "the key file must hold a 32- or 64-byte key: raw bytes, hex text (0x optional) "
        "or a JSON byte array"
    )


def _read_key_file(spec: str) -> bytearray:
    from shardvault.sdk.errors import InvalidArgument

    if spec == "-":
        if sys.stdin is None:
            raise InvalidArgument("no standard input to read the key from")
        if sys.stdin.isatty():
            text = str(typer.prompt("private key (hex)", hide_input=True, err=True))
            raw = bytearray(text.encode())
        else:
            data = sys.stdin.buffer.read(MAX_KEY_FILE_SIZE + 1)
            raw = bytearray(data.encode() if isinstance(data, str) else data)
    else:
        path = Path(spec)
        if path.is_dir():
            raise InvalidArgument(f"{path} is a directory")
        with path.open("rb") as fh:
            raw = bytearray(fh.read(MAX_KEY_FILE_SIZE + 1))
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077 and path.is_file():
            _err().print(
                f"warning: {path} is readable by other users (mode {mode:o}); "
                "private keys belong in 0600 files"
            )
    try:
        if len(raw) > MAX_KEY_FILE_SIZE:
            raise InvalidArgument(f"the key file is larger than {MAX_KEY_FILE_SIZE} bytes")
        return parse_private_key_material(bytes(raw))
    finally:
        raw[:] = bytes(len(raw))


@app.command("import-key")
@_cli_errors
def import_key(
    curve: Annotated[Literal["ed25519", "secp256k1"], typer.Option(help="Curve of the key.")],
    min_signers: Annotated[int, typer.Option(min=1, help="Signers needed to sign.")],
    key_file: Annotated[
        str,
        typer.Option(
            help="File holding the private key, or - for standard input: raw 32/64 bytes, hex "
            "(0x optional) or a JSON byte array. Never pass a key on the command line.",
        ),
    ],
    protocol: Annotated[
        Literal["FROST", "FROST_BITCOIN", "CGGMP24", "CGGMP21"] | None,
        typer.Option(
            help="Threshold protocol: FROST (EdDSA ed25519), FROST_BITCOIN (Schnorr BIP 340 "
            "secp256k1), CGGMP24 (ECDSA secp256k1; CGGMP21 is an alias). Or give --scheme.",
        ),
    ] = None,
    scheme: Annotated[
        Literal["EdDSA", "Schnorr", "ECDSA"] | None,
        typer.Option(
            help="Signature scheme instead of --protocol: EdDSA (ed25519, FROST), Schnorr "
            "(secp256k1, FROST_BITCOIN), ECDSA (secp256k1, CGGMP24).",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name for the key.")] = None,
    ed25519_format: Annotated[
        Literal["seed", "solana", "scalar"] | None,
        typer.Option(
            help="ed25519 keys: 32-byte RFC 8032 seed (default for 32 bytes), 64-byte Solana "
            "keypair (default for 64 bytes) or 32-byte little-endian signing scalar (what "
            "export-key returns).",
        ),
    ] = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import an existing private key; it is split and sealed to the signers locally.

    Each share is encrypted to one signer on this machine; the key itself is never sent.
    """
    from shardvault.protocols.registry import (
        canonical_protocol,
        protocol_for_scheme,
        scheme_for_protocol,
    )

    if curve != "ed25519" and ed25519_format is not None:
        raise typer.BadParameter("only for ed25519 keys", param_hint="'--ed25519-format'")
    if protocol is None and scheme is None:
        raise typer.BadParameter("give --protocol or --scheme", param_hint="'--protocol'")
    chosen = (
        canonical_protocol(protocol)
        if protocol is not None
        else protocol_for_scheme(str(scheme), curve)
    )
    if chosen is None or scheme_for_protocol(chosen, curve) is None:
        what = f"protocol {protocol}" if protocol is not None else f"scheme {scheme}"
        raise typer.BadParameter(
            f"{what} does not exist on curve {curve}",
            param_hint="'--protocol'" if protocol is not None else "'--scheme'",
        )
    if scheme is not None and scheme_for_protocol(chosen, curve) != scheme:
        raise typer.BadParameter(
            f"--scheme {scheme} does not match --protocol {protocol}", param_hint="'--scheme'"
        )
    material = _read_key_file(key_file)
    try:
        with _client(data_dir, base_url, token) as client:
            key = client.keys.import_key(
                bytes(material),
                curve=curve,
                protocol=chosen,
                min_signers=min_signers,
                name=name,
                ed25519_format=ed25519_format,
            )
    finally:
        material[:] = bytes(len(material))
    _print_key(key, as_json)


def _open_exclusive(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


@app.command("export-key")
@_cli_errors
def export_key(
    key_id: Annotated[str, typer.Argument(help="Key id (key-…).")],
    out: Annotated[Path, typer.Option(help="File to write the private key to (mode 0600).")],
    force: Annotated[bool, typer.Option(help="Overwrite OUT if it exists.")] = False,
    key_format: Annotated[
        Literal["hex", "raw"],
        typer.Option(
            "--format",
            help="hex: lowercase hex and a newline; raw: the 32 bytes.",
        ),
    ] = "hex",
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Export a key's private key to a 0600 file. The key stops signing afterwards.

    secp256k1: the 32-byte big-endian private key. ed25519: the 32-byte little-endian
    signing scalar (the seed cannot be recovered: the scalar is a hash of it); import it
    again with --ed25519-format scalar.
    """
    from shardvault.sdk.errors import InvalidArgument

    if out.is_dir():
        raise InvalidArgument(f"{out} is a directory")
    if out.exists() and not force:
        raise InvalidArgument(f"{out} exists; pass --force to overwrite it", code="FileExists")
    # Create the output file before the (irreversible) export, so a write failure
    # cannot lose the exported key.
    target = out
    if force:
        target = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        fd = _open_exclusive(target)
    except FileExistsError:
        raise InvalidArgument(
            f"{target} exists; pass --force to overwrite it", code="FileExists"
        ) from None
    written = False
    try:
        with _client(data_dir, base_url, token) as client:
            key = client.keys.get(key_id)
            private_key = client.keys.export_key(key.id)
        payload = (private_key.hex() + "\n").encode() if key_format == "hex" else private_key
        del private_key
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        del payload
        if target != out:
            os.replace(target, out)
        written = True
    finally:
        if fd >= 0:
            os.close(fd)
        if not written:
            with contextlib.suppress(OSError):
                target.unlink()
    note = (
        " (the ed25519 signing scalar; re-import with --ed25519-format scalar)"
        if key.curve == "ed25519"
        else ""
    )
    _out().print(f"wrote the private key of {key.id} to {out} (mode 0600){note}.")
    _out().print(f"{key.id} is marked exported and no longer signs.")


# --------------------------------------------------------------------------------------
# wallets, networks
# --------------------------------------------------------------------------------------


def _print_wallet(wallet: Wallet, as_json: bool) -> None:
    if as_json:
        _echo_json(wallet.to_json_dict())
        return
    _out().print(
        _kv_table(
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
                ("dateCreated", _date(wallet.date_created)),
            ]
        )
    )


@wallets_app.command("create")
@_cli_errors
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
    with _client(data_dir, base_url, token) as client:
        wallet = client.wallets.create(
            network,
            signing_key_id=key_id,
            scheme=scheme,
            curve=curve,
            name=name,
            external_id=external_id,
            tags=tag,
        )
    _print_wallet(wallet, as_json)


@wallets_app.command("list")
@_cli_errors
def wallets_list(
    limit: Annotated[
        int | None, typer.Option(min=1, help="One page of at most LIMIT wallets (default: all).")
    ] = None,
    pagination_token: PageTokenOpt = None,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List wallets."""
    with _client(data_dir, base_url, token) as client:
        items, next_token = _listing(client.wallets, limit, pagination_token)
    if as_json:
        _echo_page_json(items, next_token)
        return
    console = _out()
    if not items:
        console.print("no wallets")
    else:
        table = _table("id", "name", "network", "address", "status", "keyId")
        for w in items:
            table.add_row(w.id, w.name or "", w.network, w.address, w.status, w.signing_key.id)
        console.print(table)
    if next_token:
        console.print(f"next page: --pagination-token {next_token}")


@wallets_app.command("get")
@_cli_errors
def wallets_get(
    wallet_id: Annotated[str, typer.Argument(help="Wallet id (wa-…).")],
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one wallet."""
    with _client(data_dir, base_url, token) as client:
        wallet = client.wallets.get(wallet_id)
    _print_wallet(wallet, as_json)


@app.command("networks")
@_cli_errors
def networks(
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    base_url: BaseUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the networks wallets can be created on."""
    with _client(data_dir, base_url, token) as client:
        items = client.networks.list()
    if as_json:
        _echo_page_json(items, None)
        return
    table = _table("network", "family", "chainId", "schemes", "default")
    for n in items:
        table.add_row(
            n.network,
            n.family,
            "" if n.chain_id is None else str(n.chain_id),
            ", ".join(f"{s.scheme}/{s.curve}" for s in n.allowed_schemes),
            n.default_scheme.scheme,
        )
    _out().print(table)


# --------------------------------------------------------------------------------------
# admin
# --------------------------------------------------------------------------------------


@admin_app.command("enable-export")
@_cli_errors
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
    _out().print(f"key export {'disabled' if disable else 'enabled'} for org {changed}.")


if __name__ == "__main__":  # pragma: no cover
    app()
