"""Signing in, and people: their roles, their lifecycle (deactivate, reactivate, unlock), training and approval."""

from __future__ import annotations

import datetime as dt

from bold import store
from bold.actions.access import require
from bold.governance import people
from bold.governance.people import Approval, Standing, Training, User
from bold.governance.permissions import Permission, Role
from bold.workspace import Workspace


def sign_in(ws: Workspace, name: str, password: str) -> User:
    """The signed-in user every other action takes; a failed attempt is audited and counts towards a lockout."""
    return people.sign_in(ws, name, password)


def add(ws: Workspace, user: User, name: str, roles: list[str], password: str) -> User:
    require(ws, user, Permission.USER_ADD)
    return people.add_person(ws, name, roles, password, by=user.name)


def list_people(ws: Workspace, user: User) -> list[User]:
    require(ws, user, Permission.USER_LIST)
    return people.people(ws)


def deactivate(ws: Workspace, user: User, name: str) -> None:
    """Stop a person signing in (never oneself, never the last active admin)."""
    require(ws, user, Permission.USER_DEACTIVATE)
    if name == user.name:
        raise people.AccessError("you cannot deactivate yourself; ask another admin")
    people.deactivate(ws, name, by=user.name)


def reactivate(ws: Workspace, user: User, name: str) -> None:
    """Let a deactivated person sign in again."""
    require(ws, user, Permission.USER_REACTIVATE)
    people.reactivate(ws, name, by=user.name)


def unlock(ws: Workspace, user: User, name: str) -> None:
    """Lift the lockout that repeated failed sign-ins put on a person."""
    require(ws, user, Permission.USER_UNLOCK)
    people.unlock(ws, name, by=user.name)


def train(
    ws: Workspace, user: User, name: str, course: str, completed: dt.date, expires: dt.date | None = None
) -> Training:
    """Record a person's training (what acting on data needs, with an approval)."""
    require(ws, user, Permission.USER_TRAIN)
    return people.record_training(ws, name, course, completed, expires, by=user.name)


def approve(ws: Workspace, user: User, name: str, expires: dt.date, note: str | None = None) -> Approval:
    """Approve a person to work on data until ``expires`` (another admin: never oneself)."""
    require(ws, user, Permission.USER_APPROVE)
    return people.approve(ws, name, expires, note, by=user.name)


def show(ws: Workspace, user: User, name: str) -> Standing:
    """A person's roles, state, training and approval: one's own, or anyone's for an admin."""
    require(ws, user, Permission.USER_SHOW)
    if name != user.name and Role.ADMIN not in user.roles:
        store.audit.record(ws, "refused", Permission.USER_SHOW.value, {"person": name}, by=user.name)
        raise people.AccessError(f"{user.name} may see their own record only; an admin may see anyone's")
    return people.standing(ws, name)


def change_password(ws: Workspace, user: User, new_password: str) -> None:
    """Change one's own password (the old one was checked at sign-in)."""
    require(ws, user, Permission.USER_PASSWORD)
    people.change_password(ws, user.name, new_password, by=user.name)
