"""What every command of the ``shardvault`` CLI shares: the Typer application, the
option types, the client seam (``connect``), output helpers and the error printing
path (``cli_errors``).

Output: standard output without markup (server-supplied text is printed literally);
detail views are label/value lines (``kv_table``); listings are one line per row
without a box (``listing``, ``print_listing``) and fit 80 columns with every id in
full: a free-text column is shortened with ``…``, long values in the middle
(``short``), and ``--wide`` adds columns and prints every value in full.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shardvault.errors import ShardvaultError

if TYPE_CHECKING:
    from shardvault.sdk import Client

__all__ = [
    "CREDENTIALS_FILE",
    "DEFAULT_DATA_DIR",
    "BaseUrlOpt",
    "DataDirOpt",
    "JsonOpt",
    "KeyIdArg",
    "PageTokenOpt",
    "TokenOpt",
    "WideOpt",
    "app",
    "cli_errors",
    "clip",
    "connect",
    "echo_json",
    "echo_page_json",
    "err",
    "fail",
    "iso_date",
    "joined",
    "kv_table",
    "listing",
    "main",
    "out",
    "page_of",
    "print_listing",
    "short",
    "show_page",
]

app = typer.Typer(
    name="shardvault",
    help="Self-hosted threshold-signing (MPC) key vault.",
    no_args_is_help=True,
    add_completion=False,
    # An unexpected error must never print local variables (tokens, key material).
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main() -> None:
    """shardvault: private keys exist only as shares on independent signers."""


DEFAULT_DATA_DIR = Path(".shardvault")
CREDENTIALS_FILE = "credentials.json"

_P = ParamSpec("_P")
_R = TypeVar("_R")

# -- shared options ---------------------------------------------------------------------

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
KeyIdArg = Annotated[str, typer.Argument(help="Key id (key-…).")]
WideOpt = Annotated[
    bool,
    typer.Option("--wide", help="More columns, and values in full (for a wide terminal)."),
]


# -- the client ---------------------------------------------------------------------------


def connect(data_dir: Path, base_url: str | None, token: str | None) -> Client:
    """A :class:`shardvault.sdk.Client` from the options, else the credentials file
    (whose cluster roster it then pins, as ``Client.from_credentials_file`` does,
    and whose credential, ``credentialId`` and ``privateKey``, signs the user action
    of every state-changing request).

    Every command gets its client here, as ``common.connect(...)``: the one seam
    tests replace (tests/clihelpers.py ``route_cli_to``)."""
    from shardvault.sdk import Client, CredentialsError
    from shardvault.sdk._signers import roster_from_credentials
    from shardvault.sdk.user_actions import UserActionSigner

    roster = None
    signer = None
    path = data_dir / CREDENTIALS_FILE
    data = None
    if base_url is None or token is None:
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
        roster = roster_from_credentials(data, path)
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            data = None
    if isinstance(data, dict):
        cred_id, private_key = data.get("credentialId"), data.get("privateKey")
        if isinstance(cred_id, str) and isinstance(private_key, str):
            try:
                signer = UserActionSigner(cred_id, private_key)
            except (ValueError, TypeError):
                raise CredentialsError(f"{path}: privateKey is not a usable PEM key") from None
    return Client(base_url, token=token, roster=roster, signer=signer)


# -- errors -------------------------------------------------------------------------------


def out() -> Console:
    """Standard output. Markup is off: server-supplied text (names, ids) is printed
    literally; styles are applied with ``rich.text.Text``."""
    return Console(highlight=False, markup=False)


def err() -> Console:
    return Console(stderr=True, highlight=False, markup=False)


def fail(code: str, message: str, details: Any = None) -> typer.Exit:
    """Print ``error <code>: <message>`` (and the details) to stderr; raise the result
    to exit with status 1."""
    console = err()
    console.print(f"error {code}: {message}", soft_wrap=True)
    if details not in (None, {}, []):
        console.print(f"  details: {json.dumps(details, default=str)}", soft_wrap=True)
    return typer.Exit(1)


def cli_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
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
            raise fail(exc.code, exc.message, details) from None
        except OSError as exc:
            what = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
            raise fail(type(exc).__name__, what) from None

    return wrapper


# -- output -------------------------------------------------------------------------------


def page_of(
    api: Any, limit: int | None, pagination_token: str | None
) -> tuple[list[Any], str | None]:
    """Every item of a paginated SDK collection (``api.iter_all``), or the one page
    asked for with ``--limit`` / ``--pagination-token``, and the next page's token."""
    if limit is None and pagination_token is None:
        return list(api.iter_all()), None
    page = api.list(limit=limit, pagination_token=pagination_token)
    return list(page.items), page.next_page_token


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def echo_page_json(items: list[Any], next_token: str | None) -> None:
    data: dict[str, Any] = {"items": [item.to_json_dict() for item in items]}
    if next_token:
        data["nextPageToken"] = next_token
    echo_json(data)


def kv_table(rows: Sequence[tuple[str, Any]]) -> Table:
    """Label/value lines (empty values left out); long values fold."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        if value is None or value == "":
            continue
        table.add_row(label, str(value))
    return table


def listing(*columns: str, flexible: str | None = None) -> Table:
    """A listing: a bold header, then one line per row, columns two spaces apart and
    no box. Values never wrap; the ``flexible`` column (free text, filled with
    :func:`clip`) gives up its width first and is shortened with ``…``."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        if column == flexible:
            table.add_column(column, overflow="ellipsis")
        else:
            table.add_column(column, no_wrap=True)
    return table


def print_listing(table: Table, *, wide: bool = False) -> None:
    """Print a listing to standard output. It fits the terminal by shortening its
    flexible column; ``wide`` prints every value in full instead, on lines as long as
    they need (the terminal wraps them)."""
    console = out()
    if wide:
        unbounded = console.options.update_width(1 << 16)
        console.width = max(console.width, console.measure(table, options=unbounded).maximum)
    console.print(table)


def show_page(
    items: list[Any],
    next_token: str | None,
    table: Callable[..., Table],
    *,
    noun: str,
    wide: bool,
    as_json: bool,
) -> None:
    """A page of a paginated listing: JSON, or the listing ``table(items, wide=wide)`` (or
    ``no <noun>``), then the option that fetches the next page when there is one."""
    if as_json:
        echo_page_json(items, next_token)
        return
    if items:
        print_listing(table(items, wide=wide), wide=wide)
    else:
        out().print(f"no {noun}")
    if next_token:
        out().print(f"next page: --pagination-token {next_token}")


def clip(text: str | None) -> Text:
    """A cell of a listing's flexible column: one line, ``…`` where it is cut."""
    return Text(text or "", no_wrap=True, overflow="ellipsis")


def short(text: str, keep: int = 10) -> str:
    """``text`` with its middle replaced by ``…`` when longer than ``2 * keep + 1``."""
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep:]}"


def iso_date(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def joined(values: Sequence[Any] | None) -> str | None:
    return ", ".join(str(v) for v in values) if values else None
