"""Publishing the transparency register."""

from __future__ import annotations

from pathlib import Path

from bold.actions.access import require
from bold.disclosure import release
from bold.governance import register
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.workspace import Workspace


def build(ws: Workspace, user: User, out: Path | None = None) -> Path:
    require(ws, user, Permission.REGISTER_BUILD)
    return register.build(ws, out, by=user.name, released=lambda project_id: release.register_entries(ws, project_id))
