"""Projects as data sharing agreements: the team submits, amends or withdraws; the board approves, refuses
or closes; the admin builds the extract. Each move is checked against the role table here and against the
project's lifecycle and separation of duties in ``bold.governance.projects``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bold.actions.access import require
from bold.governance import projects
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.governance.projects import Project
from bold.workspace import Workspace


def submit(ws: Workspace, user: User, agreement: Path) -> Project:
    require(ws, user, Permission.PROJECT_SUBMIT)
    return projects.submit(ws, agreement, by=user.name)


def approve(ws: Workspace, user: User, project_id: str) -> Project:
    require(ws, user, Permission.PROJECT_APPROVE)
    return projects.approve(ws, project_id, by=user.name)


def refuse(ws: Workspace, user: User, project_id: str, reason: str) -> Project:
    require(ws, user, Permission.PROJECT_REFUSE)
    return projects.refuse(ws, project_id, reason, by=user.name)


def amend(ws: Workspace, user: User, project_id: str, agreement: Path) -> Project:
    require(ws, user, Permission.PROJECT_AMEND)
    return projects.amend(ws, project_id, agreement, by=user.name)


def withdraw(ws: Workspace, user: User, project_id: str) -> Project:
    require(ws, user, Permission.PROJECT_WITHDRAW)
    return projects.withdraw(ws, project_id, by=user.name)


def build(ws: Workspace, user: User, project_id: str, today: dt.date | None = None) -> Path:
    require(ws, user, Permission.PROJECT_BUILD)
    return projects.build(ws, project_id, today, by=user.name)


def close(ws: Workspace, user: User, project_id: str) -> None:
    require(ws, user, Permission.PROJECT_CLOSE)
    projects.close(ws, project_id, by=user.name)


def show(ws: Workspace, user: User, project_id: str) -> Project:
    require(ws, user, Permission.PROJECT_SHOW)
    return projects.get(ws, project_id)


def list_projects(ws: Workspace, user: User) -> list[Project]:
    require(ws, user, Permission.PROJECT_LIST)
    return projects.all_projects(ws)
