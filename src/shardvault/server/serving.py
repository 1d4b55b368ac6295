"""Run the embedded vault behind its REST API: the one place that wires
EmbeddedVault + create_app + uvicorn + the admin credentials.

``serve_embedded`` is used by ``shardvault up`` (``server/up.py``); ``BackgroundVault``
runs the same thing in a background thread for end-to-end tests and benchmarks.
The admin credentials file (with the cluster's signed roster, which the SDK pins) is
written before the API answers its first request, so whoever sees ``GET /health``
answer can read ``credentials.json``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from shardvault.api import create_app, ensure_admin
from shardvault.api.repository import ApiRepository
from shardvault.db.engine import make_engine
from shardvault.errors import ShardvaultError
from shardvault.server.embedded import EmbeddedVault

__all__ = [
    "API_DATABASE_FILE",
    "BackgroundVault",
    "RunningVault",
    "base_url_for",
    "bind_socket",
    "default_database_url",
    "reconcile_imports_at_start",
    "serve_embedded",
]

log = logging.getLogger("shardvault.server")

#: The API's SQLite database in the data directory (the default database).
API_DATABASE_FILE = "api.sqlite3"


def default_database_url(data_dir: Path) -> str:
    """``sqlite:///<absolute data dir>/api.sqlite3``."""
    return f"sqlite:///{(data_dir.resolve() / API_DATABASE_FILE).as_posix()}"


def _live_key_ids(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        return ApiRepository(engine).live_key_ids()
    finally:
        engine.dispose()


async def reconcile_imports_at_start(
    vault: EmbeddedVault, database_url: str
) -> dict[str, list[str]]:
    """Erase the signers' shares left Pending by imports that died between commit and
    activate: every key id a signer holds that the API database does not know (as a
    key whose shares may exist) is offered to that signer, which erases it only if it
    is still Pending and past its grace period. Returns signer id -> erased key ids."""
    erased = await vault.reconcile_imports(await asyncio.to_thread(_live_key_ids, database_url))
    for signer_id, key_ids in erased.items():
        log.warning("signer %s: erased stray import shares %s", signer_id, ", ".join(key_ids))
    return erased


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this: without it, uvicorn's separate header and
        # body writes meet the client's delayed ACK and every keep-alive request
        # waits ~40 ms (Nagle).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def base_url_for(sock: socket.socket) -> str:
    """The ``http://host:port`` a bound socket serves."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass
class RunningVault:
    vault: EmbeddedVault
    server: uvicorn.Server
    serving: asyncio.Task[None]
    base_url: str
    credentials: Path


@asynccontextmanager
async def serve_embedded(
    *,
    data_dir: Path,
    kek: bytes,
    sock: socket.socket,
    signers: int = 3,
    threshold: int = 2,
    database_url: str | None = None,
    log_level: str = "warning",
    server_factory: Callable[[uvicorn.Config], uvicorn.Server] = uvicorn.Server,
    refresh_every_seconds: float | None = None,
    rate_limit_per_second: float = 0.0,
    rate_limit_burst: int = 0,
    allowed_origins: tuple[str, ...] = (),
    **vault_options: Any,
) -> AsyncIterator[RunningVault]:
    """Start the signers, write the admin credentials, then serve the API on ``sock``;
    stop them all when the block ends (or when the server exits on its own).
    ``database_url`` defaults to ``default_database_url(data_dir)``; ``vault_options``
    go to ``EmbeddedVault`` (``ecdsa_primes``, ``presig_pool_target``).
    ``allowed_origins``: origins a user action's ``clientData`` may name besides the
    base URL and ``http://localhost``."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database_url = database_url or default_database_url(data_dir)
    vault = EmbeddedVault(data_dir, signers=signers, threshold=threshold, kek=kek, **vault_options)
    await vault.start()
    try:
        base_url = base_url_for(sock)
        app = create_app(
            vault,
            database_url,
            default_min_signers=threshold,
            refresh_every_seconds=refresh_every_seconds,
            rate_limit_per_second=rate_limit_per_second,
            rate_limit_burst=rate_limit_burst,
            allowed_origins=(base_url, "http://localhost", *allowed_origins),
        )
        await reconcile_imports_at_start(vault, database_url)
        # Before the API answers anything: a script that waits for GET /health and
        # then reads credentials.json must find it (written atomically, 0600).
        roster = vault.roster
        credentials = await asyncio.to_thread(
            ensure_admin,
            database_url,
            data_dir,
            base_url,
            None if roster is None else roster.to_json(),
        )
        server = server_factory(uvicorn.Config(app, log_level=log_level, lifespan="auto"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started and not serving.done():
                await asyncio.sleep(0.01)
            if serving.done():
                await serving  # raises what made the start fail
                raise ShardvaultError("the API server did not start", code="StartupFailed")
            yield RunningVault(vault, server, serving, base_url, Path(credentials))
        finally:
            server.should_exit = True
            await serving
    finally:
        await vault.stop()


class BackgroundVault:
    """``shardvault up`` in a background thread (tests, benchmarks)::

    with BackgroundVault(tmp_path, kek) as live:
        client = Client.from_credentials_file(live.credentials)
    """

    def __init__(
        self,
        data_dir: Path,
        kek: bytes,
        *,
        signers: int = 3,
        threshold: int = 2,
        **vault_options: Any,
    ) -> None:
        self.vault_options = vault_options
        self.data_dir = data_dir
        self.kek = kek
        self.signers = signers
        self.threshold = threshold
        self.database_url = default_database_url(data_dir)
        self.base_url = ""
        self.credentials = data_dir / "credentials.json"
        self.vault: EmbeddedVault | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="shardvault-up")

    def __enter__(self) -> BackgroundVault:
        self._thread.start()
        if not self._ready.wait(120):
            raise TimeoutError("the vault did not start")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        if self._thread.is_alive():  # pragma: no cover - a hung shutdown
            raise TimeoutError("the vault did not stop")

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        sock = bind_socket("127.0.0.1", 0)
        try:
            async with serve_embedded(
                data_dir=self.data_dir,
                kek=self.kek,
                sock=sock,
                signers=self.signers,
                threshold=self.threshold,
                database_url=self.database_url,
                **self.vault_options,
            ) as running:
                self.vault = running.vault
                self.base_url = running.base_url
                self.credentials = running.credentials
                self._ready.set()
                await self._stop.wait()
        finally:
            sock.close()

    def on_loop(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's event-loop thread (e.g. to stop a signer)."""
        if self._loop is None:
            raise RuntimeError("the vault is not running")

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(30)
