"""shardvault.api: the Dfns-shaped REST API (FastAPI).

* :func:`create_app` -- the ASGI application over a ``SigningBackend``.
* :func:`ensure_admin` -- first-run org/admin/token and ``credentials.json``.
* :func:`set_key_export`, :func:`set_org_settings` -- the org settings behind
  ``shardvault admin enable-export``.
"""

from shardvault.api.app import create_app
from shardvault.api.bootstrap import (
    OrgAdmin,
    create_org,
    create_service_account,
    ensure_admin,
    set_key_export,
    set_org_settings,
)

__all__ = [
    "OrgAdmin",
    "create_app",
    "create_org",
    "create_service_account",
    "ensure_admin",
    "set_key_export",
    "set_org_settings",
]
