"""Retention: each source's period and what is due (``show``), deleting it (``apply``), and the automatic run
every command makes when it opens the workspace (``enforce``)."""

from __future__ import annotations

import datetime as dt

from bold.actions.access import require
from bold.errors import Conflict
from bold.governance import retention
from bold.governance.people import SYSTEM, User
from bold.governance.permissions import Permission
from bold.governance.retention import Retention
from bold.workspace import Workspace, WorkspaceError


def show(ws: Workspace, user: User, today: dt.date | None = None) -> Retention:
    """Each source's period (and where it is set), what is due on ``today`` and what deleting it would remove."""
    require(ws, user, Permission.RETENTION_SHOW)
    return retention.plan(ws, today)


def apply(ws: Workspace, user: User, today: dt.date | None = None, *, dry_run: bool = False) -> Retention:
    """Delete every record past its source's period and every extract past its project's end (``dry_run``: say
    what would be deleted, and delete nothing). Applying a policy, not a choice: no confirmation is asked."""
    require(ws, user, Permission.RETENTION_APPLY)
    return retention.plan(ws, today) if dry_run else retention.apply(ws, today, by=user.name)


def enforce(ws: Workspace) -> Retention | None:
    """Apply retention if anything is due (a quick look at the store when nothing is), as ``bold``: what every
    command runs when it opens the workspace. Left to the next command when the workspace is busy, or when this
    account may not open every zone (a deployment of one user per service: run ``bold retention apply`` there)."""
    try:
        if not retention.due(ws):
            return None
        return retention.apply(ws, by=SYSTEM)
    except (Conflict, WorkspaceError, PermissionError):
        return None
