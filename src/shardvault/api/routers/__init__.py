"""The API's routes, one router per resource: ``health`` (public), ``signers``,
``keys``, ``signatures`` (of a key), ``networks``, ``wallets``, ``admin`` and ``auth``
(user actions, service accounts, credentials). Each router declares what it needs
as FastAPI dependencies (``api/dependencies.py``)."""

from fastapi import APIRouter

from shardvault.api.routers import (
    admin,
    auth,
    health,
    keys,
    networks,
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
    admin.router,
    auth.router,
)
