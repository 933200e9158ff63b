"""Projects as data sharing agreements: the team submits, amends or withdraws; the board approves, refuses
or closes; the admin builds the extract. Each move is checked against the role table here and against the
project's lifecycle and separation of duties in ``bold.governance.projects``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bold.actions.access import require
from bold.errors import Invalid
from bold.governance import projects
from bold.governance.decisions import HUMAN_CRITERIA, Answer, Version, answers_from, load_answers

__all__ = ["HUMAN_CRITERIA", "answers_from", "load_answers"]  # how faces read the board's answers
from bold.governance.lifecycle import PROJECT, ProjectState
from bold.governance.people import User
from bold.governance.permissions import Permission, allows
from bold.governance.projects import Project
from bold.workspace import Workspace


def submit(ws: Workspace, user: User, agreement: Path) -> Project:
    require(ws, user, Permission.PROJECT_SUBMIT)
    return projects.submit(ws, agreement, by=user.name)


def approve(ws: Workspace, user: User, project_id: str, answers: list[Answer] | None) -> Project:
    """Approve the version under review: ``answers`` is the board's answer and reason on each human criterion."""
    require(ws, user, Permission.PROJECT_APPROVE)
    return projects.approve(ws, project_id, answers, by=user.name)


def refuse(ws: Workspace, user: User, project_id: str, reason: str, answers: list[Answer] | None = None) -> Project:
    require(ws, user, Permission.PROJECT_REFUSE)
    return projects.refuse(ws, project_id, reason, answers, by=user.name)


def record_dpia(ws: Workspace, user: User, project_id: str, dpia: Path) -> Project:
    require(ws, user, Permission.PROJECT_DPIA)
    return projects.record_dpia(ws, project_id, dpia, by=user.name)


def sign_off(ws: Workspace, user: User, project_id: str, source: str, conditions: str | None = None) -> Project:
    """A custodian signs off the version's use of their source (``conditions``: any they attach)."""
    require(ws, user, Permission.PROJECT_SIGN_OFF)
    return projects.sign_off(ws, project_id, source, conditions, by=user.name)


def versions(ws: Workspace, user: User, project_id: str) -> list[Version]:
    """Every version of the project's agreement with what was decided about it (public, as on the register)."""
    require(ws, user, Permission.PROJECT_SHOW)
    return projects.versions(ws, project_id)


CHANGES_REQUESTED = "Changes requested: "  # how a refusal that asks for an amendment begins


def ask_for_changes(ws: Workspace, user: User, project_id: str, changes: str) -> Project:
    """The board asks the team to amend the agreement. The lifecycle has no state of its own for this: it is a
    refusal whose reason begins ``CHANGES_REQUESTED`` and says what to change, after which the team may amend
    (sending the project back to the board) or withdraw, as after any refusal."""
    require(ws, user, Permission.PROJECT_REFUSE)
    if not changes.strip():
        raise Invalid("say which changes the team should make")
    return projects.refuse(ws, project_id, CHANGES_REQUESTED + changes.strip(), by=user.name)


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


# The moves a page offers, in the order it shows them; "build" is the admin's, made on an approved project.
MOVES = ("dpia", "approve", "refuse", "sign-off", "amend", "withdraw", "build", "close")
_RECORDS = {  # the moves that record something about the version without changing the project's state
    "dpia": (Permission.PROJECT_DPIA, (ProjectState.SUBMITTED,)),
    "sign-off": (Permission.PROJECT_SIGN_OFF, (ProjectState.SUBMITTED, ProjectState.APPROVED)),
}


def moves(ws: Workspace, user: User, project_id: str) -> list[str]:
    """The moves ``user`` may make on the project now, so a face offers those and no others: allowed by their
    roles, from the project's state, and by the rules of the record that the stage enforces (the submitter never
    decides their own project, a project crossing red lines is never approved, only its team amends or withdraws).
    The stage still checks each move when it is made; this only says which to offer."""
    project = show(ws, user, project_id)
    found = []
    for move in MOVES:
        if move == "build":
            permission, possible = Permission.PROJECT_BUILD, project.status == ProjectState.APPROVED
        elif move in _RECORDS:
            permission, states = _RECORDS[move]
            possible = project.status in states
        else:
            t = PROJECT.transitions[move]
            permission, possible = t.permission, project.status in t.sources
        if not (possible and allows(user.roles, permission)):
            continue
        if move in ("approve", "refuse") and user.name == project.submitted_by:
            continue
        if move == "approve" and not project.assessment["acceptable"]:
            continue
        if (
            move in ("amend", "withdraw")
            and user.name != project.submitted_by
            and user.name not in project.team("analyst")
        ):
            continue
        found.append(move)
    return found
