"""``shardvault up``: run the embedded vault in the foreground until Ctrl-C.

``run_up`` resolves the key-encryption key, binds the socket, serves the vault
(``serving.serve_embedded``), prints where everything is and shows the ECDSA
readiness (``watch_ecdsa``) while the signers prepare CGGMP24 in the background.
The uvicorn server of ``make_server`` leaves SIGINT/SIGTERM to it so the signers
shut down cleanly. The command line only parses options and calls ``run_up``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import uvicorn
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shardvault.coordinator.backend import EcdsaStatus
from shardvault.server.serving import bind_socket, serve_embedded
from shardvault.signer.kek import load_or_create_kek

__all__ = ["ECDSA_LABEL", "make_server", "redact_url", "run_up", "watch_ecdsa"]

ECDSA_LABEL = "ECDSA (CGGMP24)"


def redact_url(url: str) -> str:
    """The database URL without its password, for printing."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def make_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server that stops on SIGINT/SIGTERM without re-raising the signal
    afterwards, so the caller can shut the signers down cleanly."""

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


def _summary(rows: list[tuple[str, str]]) -> Table:
    """Label/value lines without a box (labels bold)."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


async def run_up(
    *,
    data_dir: Path,
    host: str,
    port: int,
    signers: int,
    threshold: int,
    kek_file: Path | None,
    database_url: str,
    log_level: str,
    console: Console,
    ecdsa: bool = True,
    presig_pool: int = 8,
    refresh_every_seconds: float | None = None,
    rate_limit_per_second: float = 0.0,
    rate_limit_burst: int = 0,
    allowed_origins: tuple[str, ...] = (),
) -> None:
    """Serve the embedded vault on ``host:port`` until SIGINT/SIGTERM, reporting to
    ``console``. The KEK comes from ``SHARDVAULT_KEK``, else ``kek_file``, else the
    default file (created on first start; see ``signer.kek``)."""
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
            server_factory=make_server,
            ecdsa_primes="generate" if ecdsa else "off",
            presig_pool_target=presig_pool,
            refresh_every_seconds=refresh_every_seconds,
            rate_limit_per_second=rate_limit_per_second,
            rate_limit_burst=rate_limit_burst,
            allowed_origins=allowed_origins,
        ) as running:
            del kek
            base_url = running.base_url
            console.print(
                _summary(
                    [
                        ("API", f"{base_url}  (OpenAPI: {base_url}/openapi.json)"),
                        (
                            "signers",
                            f"{signers} in-process nodes, threshold {threshold}-of-{signers}",
                        ),
                        ("data dir", str(data_dir.resolve())),
                        ("database", redact_url(database_url)),
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
