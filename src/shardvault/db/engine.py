"""Engines, sessions and migrations.

SQLite (the default, one file under the data directory) and PostgreSQL
(``postgresql+psycopg://...``; ``postgresql://`` and ``postgres://`` are accepted
and mean psycopg 3) are supported.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed signature record or
idempotency claim survives a power cut), foreign keys on and a busy timeout.
Write transactions are opened with ``BEGIN IMMEDIATE`` (see :func:`write_sessionmaker`)
so two writers never deadlock on a lock upgrade.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "alembic_config",
    "default_database_url",
    "make_engine",
    "normalize_database_url",
    "read_sessionmaker",
    "upgrade_database",
    "write_sessionmaker",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_SQLITE_BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "shardvault_sqlite_begin"


def default_database_url(data_dir: Path) -> str:
    """``sqlite:///<data-dir>/api.sqlite3`` (absolute path)."""
    return f"sqlite:///{(Path(data_dir).resolve() / 'api.sqlite3').as_posix()}"


def normalize_database_url(url: str) -> str:
    """Pin PostgreSQL URLs to the psycopg 3 driver (the only one installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit
    # transactions cannot do BEGIN IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; creates the SQLite file's directory if needed."""
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads (plain BEGIN)."""
    return sessionmaker(engine, expire_on_commit=False)


def write_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for read-modify-write transactions (``BEGIN IMMEDIATE`` on SQLite;
    on PostgreSQL callers lock rows with ``SELECT ... FOR UPDATE``)."""
    return sessionmaker(
        engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"}), expire_on_commit=False
    )


def alembic_config(url: str) -> Config:
    """An Alembic configuration without any ``alembic.ini`` (works from an installed
    package). Developers can pass it to ``alembic.command.revision`` too."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", normalize_database_url(url).replace("%", "%%"))
    return cfg


@functools.cache
def _head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (idempotent; run at startup).

    A database already at the latest revision is recognised without loading the
    migration scripts."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if revision == "head":
                current = MigrationContext.configure(connection).get_current_heads()
                if current and frozenset(current) == _head_revisions():
                    return
            cfg = alembic_config(url)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
