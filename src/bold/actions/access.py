"""The permission check every action makes first, audited when it refuses."""

from __future__ import annotations

from bold import store
from bold.governance.people import AccessError, User
from bold.governance.permissions import PERMISSIONS, Permission, allows
from bold.workspace import Workspace


def require(ws: Workspace, user: User, permission: Permission) -> User:
    """``user`` if their roles allow ``permission``; otherwise the refusal is audited and raised."""
    if not isinstance(user, User):
        raise TypeError("an action needs the signed-in User (bold.actions.people.sign_in)")
    if not allows(user.roles, permission):
        store.audit.record(ws, "refused", permission.value, {"roles": sorted(user.roles)}, by=user.name)
        raise AccessError(
            f"{user.name} ({', '.join(sorted(user.roles))}) may not {permission.value}; "
            f"this needs one of: {', '.join(sorted(PERMISSIONS[permission]))}"
        )
    return user
