"""People, roles and sign-in: who may do what.

Each person has a name, one or more roles and a password stored only as an argon2 hash. Every command
that touches a workspace signs the person in (``BOLD_USER`` and ``BOLD_PASSWORD``, or a prompt) and checks
the action against ``PERMISSIONS``; refusals and failed sign-ins go to the audit chain. Rules that depend
on a project (the submitter may not approve it, an analyst may not check their own outputs) are applied
by the project code on top of these.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from bold import audit
from bold.governance.agreement import ROLES
from bold.workspace import Workspace, now

SCHEMA = """
create table if not exists people (
    name text primary key,
    roles text not null,
    password_hash text not null,
    created_at text not null,
    created_by text not null
);
"""
ALL = set(ROLES)
PERMISSIONS: dict[str, set[str]] = {
    "status": ALL,
    "ingest": {"custodian", "admin"},
    "optout add": {"custodian", "admin"},
    "optout count": {"custodian", "governance", "admin"},
    "link": {"linker", "admin"},
    "link report": {"linker", "governance", "admin"},
    "project submit": {"analyst", "governance", "admin"},
    "project approve": {"governance"},
    "project show": ALL,
    "project list": ALL,
    "project build": {"admin"},
    "project close": {"governance", "admin"},
    "audit verify": {"governance", "admin"},
    "audit show": {"governance", "admin"},
    "user add": {"admin"},
    "register build": {"governance", "admin"},
    "study list": ALL,
    "study run": {"analyst"},
    "outputs list": {"analyst", "output_checker", "governance", "admin"},
    "outputs show": {"output_checker"},
    "user list": {"governance", "admin"},
}
_hasher = PasswordHasher()


class AccessError(Exception):
    """Sign-in failed, or the person's roles do not allow the action."""


@dataclass(frozen=True)
class Person:
    name: str
    roles: frozenset[str]


def add_person(ws: Workspace, name: str, roles: list[str], password: str, by: str) -> Person:
    unknown = sorted(set(roles) - ALL)
    if unknown:
        raise AccessError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    if not roles:
        raise AccessError("a person needs at least one role")
    if len(password) < 12:
        raise AccessError("a password needs at least 12 characters")
    with ws.governance() as db:
        db.executescript(SCHEMA)
        if db.execute("select 1 from people where name = ?", (name,)).fetchone():
            raise AccessError(f"{name} already exists")
        db.execute(
            "insert into people values (?, ?, ?, ?, ?)",
            (name, ",".join(sorted(set(roles))), _hasher.hash(password), now(), by),
        )
    audit.record(ws, "person added", name, {"roles": sorted(set(roles))}, who=by)
    return Person(name, frozenset(roles))


def people(ws: Workspace) -> list[Person]:
    with ws.governance() as db:
        db.executescript(SCHEMA)
        rows = db.execute("select name, roles from people order by name").fetchall()
    return [Person(r["name"], frozenset(r["roles"].split(","))) for r in rows]


def _credentials() -> tuple[str, str]:
    name = os.environ.get("BOLD_USER")
    password = os.environ.get("BOLD_PASSWORD")
    if name and password:
        return name, password
    if not sys.stdin.isatty():
        raise AccessError("sign in: set BOLD_USER and BOLD_PASSWORD (no terminal to ask on)")
    name = name or input("BOLD user: ")
    return name, getpass.getpass(f"Password for {name}: ")


def sign_in(ws: Workspace, name: str, password: str) -> Person:
    with ws.governance() as db:
        db.executescript(SCHEMA)
        row = db.execute("select name, roles, password_hash from people where name = ?", (name,)).fetchone()
    try:
        if row is None:
            raise VerificationError("no such person")
        _hasher.verify(row["password_hash"], password)
    except VerificationError:
        audit.record(ws, "failed sign-in", name, who=name)
        raise AccessError(f"sign-in failed for {name!r}") from None
    return Person(row["name"], frozenset(row["roles"].split(",")))


def authorise(ws: Workspace, action: str) -> Person:
    """Sign in and check that the person's roles allow ``action``; the signed-in name becomes the actor."""
    name, password = _credentials()
    person = sign_in(ws, name, password)
    allowed = PERMISSIONS[action]
    if not person.roles & allowed:
        audit.record(ws, "refused", action, {"roles": sorted(person.roles)}, who=person.name)
        raise AccessError(
            f"{person.name} ({', '.join(sorted(person.roles))}) may not {action}; "
            f"this needs one of: {', '.join(sorted(allowed))}"
        )
    os.environ["BOLD_USER"] = person.name  # what audit and governance record as the actor
    return person
