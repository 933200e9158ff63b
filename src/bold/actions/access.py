"""The permission check every action makes first, audited when it refuses."""

from __future__ import annotations

from bold import store
from bold.governance import people
from bold.governance.people import AccessError, User
from bold.governance.permissions import NEEDS_CLEARANCE, PERMISSIONS, Permission, allows
from bold.workspace import Workspace


def require(ws: Workspace, user: User, permission: Permission) -> User:
    """``user`` if their roles allow ``permission`` and, for an action on data (``NEEDS_CLEARANCE``), they are
    active with current training and approval; otherwise the refusal is audited and raised."""
    if not isinstance(user, User):
        raise TypeError("an action needs the signed-in User (bold.actions.people.sign_in)")
    if not allows(user.roles, permission):
        store.audit.record(ws, "refused", permission.value, {"roles": sorted(user.roles)}, by=user.name)
        raise AccessError(
            f"{user.name} ({', '.join(sorted(user.roles))}) may not {permission.value}; "
            f"this needs one of: {', '.join(sorted(PERMISSIONS[permission]))}"
        )
    if permission in NEEDS_CLEARANCE:
        gaps = people.data_gaps(ws, user.name)
        if gaps:
            store.audit.record(ws, "refused", permission.value, {"not cleared": gaps}, by=user.name)
            raise AccessError(
                f"{user.name} may not {permission.value}: it acts on data, which needs current training and a "
                f"current approval, and {'; '.join(gaps)}"
            )
    return user
