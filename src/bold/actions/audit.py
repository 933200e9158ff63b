"""Governance actions on the audit chain: verify it, read it."""

from __future__ import annotations

from bold.actions.access import require
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.store import audit
from bold.store.audit import Verification
from bold.workspace import Workspace


def verify(ws: Workspace, user: User) -> Verification:
    require(ws, user, Permission.AUDIT_VERIFY)
    return audit.verify(ws)


def show(
    ws: Workspace,
    user: User,
    *,
    action: str | None = None,
    actor: str | None = None,
    obj: str | None = None,
    since: str | None = None,
    limit: int = 50,
) -> list[dict]:
    """Entries, newest first; ``*`` is a wildcard in action, actor and object."""
    require(ws, user, Permission.AUDIT_SHOW)
    return audit.entries(ws, action, actor, since, obj, limit)
