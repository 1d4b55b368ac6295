"""shardvault.db: the API's database (SQLAlchemy 2 models, Alembic migrations).

SQLite by default (``sqlite:///<data-dir>/api.sqlite3``), PostgreSQL by URL
(``postgresql+psycopg://...``). Signers never use this database.
"""

from shardvault.db.engine import (
    alembic_config,
    default_database_url,
    make_engine,
    normalize_database_url,
    read_sessionmaker,
    upgrade_database,
    write_sessionmaker,
)
from shardvault.db.ids import is_id, new_id
from shardvault.db.models import ApiToken, Base, KeyRow, Org, ServiceAccount, SignatureRow

__all__ = [
    "ApiToken",
    "Base",
    "KeyRow",
    "Org",
    "ServiceAccount",
    "SignatureRow",
    "alembic_config",
    "default_database_url",
    "is_id",
    "make_engine",
    "new_id",
    "normalize_database_url",
    "read_sessionmaker",
    "upgrade_database",
    "write_sessionmaker",
]
