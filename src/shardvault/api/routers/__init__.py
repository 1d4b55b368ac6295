"""The API's routes, one router per resource: ``health`` (public), ``signers``,
``keys``, ``signatures`` (of a key), ``networks``, ``wallets``, ``permissions``,
``org_settings``, ``policies`` and ``policy_approvals`` (Dfns's policy engine),
``audit``, ``admin`` and ``auth`` (user actions, service accounts, credentials).
Each router declares what it needs as FastAPI dependencies (``api/dependencies.py``,
``api/permissions.py``)."""

from fastapi import APIRouter

from shardvault.api.routers import (
    admin,
    audit,
    auth,
    health,
    keys,
    networks,
    org_settings,
    permissions,
    policies,
    policy_approvals,
    signatures,
    signers,
    wallets,
)

__all__ = ["ROUTERS"]

#: In the order the app includes them (the order of the OpenAPI document).
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    signers.router,
    keys.router,
    signatures.router,
    networks.router,
    wallets.router,
    permissions.router,
    org_settings.router,
    policies.router,
    policy_approvals.router,
    admin.router,
    audit.router,
    auth.router,
)
