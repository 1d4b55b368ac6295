"""``/org/settings``: the caller's org settings ``keyExport`` (POST
/keys/{keyId}/export is refused unless on; off by default) and ``signAfterExport``
(an exported key may still sign; off by default). Dfns has no public endpoint for
these; the path is ours, the operations Dfns's (``Orgs:Settings:Read`` and
``Orgs:Settings:Update``). ``shardvault admin enable-export`` changes ``keyExport``
in the database directly."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from shardvault.api.dependencies import AUTHENTICATED, ERROR_RESPONSES, Audit, Caller
from shardvault.api.permission_schemas import OrgSettingsOut, UpdateOrgSettingsRequest
from shardvault.api.permissions import Permissions, require_permission
from shardvault.api.repository import in_thread
from shardvault.db.models import Org

__all__ = ["router"]

logger = logging.getLogger("shardvault.api")

router = APIRouter(
    prefix="/org/settings", tags=["org"], dependencies=AUTHENTICATED, responses=ERROR_RESPONSES
)


def settings_out(org: Org) -> OrgSettingsOut:
    return OrgSettingsOut(
        org_id=org.id, key_export=org.key_export_enabled, sign_after_export=org.sign_after_export
    )


@router.get(
    "", response_model=OrgSettingsOut, dependencies=[require_permission("Orgs:Settings:Read")]
)
async def get_org_settings(caller: Caller, permissions: Permissions) -> OrgSettingsOut:
    return settings_out(await in_thread(permissions.org_settings, caller.org_id))


@router.put(
    "", response_model=OrgSettingsOut, dependencies=[require_permission("Orgs:Settings:Update")]
)
async def update_org_settings(
    body: UpdateOrgSettingsRequest, caller: Caller, permissions: Permissions, audit: Audit
) -> OrgSettingsOut:
    """Change the settings given (the others stay)."""
    org = await in_thread(
        permissions.update_org_settings,
        caller.org_id,
        key_export=body.key_export,
        sign_after_export=body.sign_after_export,
        audit=audit,
    )
    logger.info(
        "org %s settings: keyExport=%s signAfterExport=%s",
        org.id,
        org.key_export_enabled,
        org.sign_after_export,
    )
    return settings_out(org)
