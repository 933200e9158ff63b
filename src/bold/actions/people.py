"""Signing in, and people and their roles."""

from __future__ import annotations

from bold.actions.access import require
from bold.governance import people
from bold.governance.people import User
from bold.governance.permissions import Permission
from bold.workspace import Workspace


def sign_in(ws: Workspace, name: str, password: str) -> User:
    """The signed-in user every other action takes; a failed attempt is audited."""
    return people.sign_in(ws, name, password)


def add(ws: Workspace, user: User, name: str, roles: list[str], password: str) -> User:
    require(ws, user, Permission.USER_ADD)
    return people.add_person(ws, name, roles, password, by=user.name)


def list_people(ws: Workspace, user: User) -> list[User]:
    require(ws, user, Permission.USER_LIST)
    return people.people(ws)


def deactivate(ws: Workspace, user: User, name: str) -> None:
    require(ws, user, Permission.USER_DEACTIVATE)
    if name == user.name:
        raise people.AccessError("you cannot deactivate yourself; ask another admin")
    people.deactivate(ws, name, by=user.name)


def change_password(ws: Workspace, user: User, new_password: str) -> None:
    """Change one's own password (the old one was checked at sign-in)."""
    require(ws, user, Permission.USER_PASSWORD)
    people.change_password(ws, user.name, new_password, by=user.name)
