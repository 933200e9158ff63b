"""People and sign-in: each person has a name, one or more roles (``bold.governance.permissions``) and a
password stored only as an argon2id hash.

Nothing here reads who is acting from the environment: the faces sign a person in (``sign_in``) and pass
the resulting ``User`` to the actions, which check permissions. A deactivated person can no longer sign
in; their record and everything they did stay in the store and the audit chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bold import store
from bold.errors import BoldError, Kind
from bold.governance.permissions import ROLES, Role, incompatible
from bold.security.paths import PathError, check_name
from bold.workspace import Workspace, now

MIN_PASSWORD = 12
_hasher = PasswordHasher()


class AccessError(BoldError):
    """Sign-in failed, or the person's roles do not allow the action."""

    kind = Kind.REFUSED


@dataclass(frozen=True)
class User:
    """A signed-in person (or, from ``people``, a person on record)."""

    name: str
    roles: frozenset[Role]
    active: bool = True


def _roles(text: str) -> frozenset[Role]:
    return frozenset(Role(r) for r in text.split(","))


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccessError(f"a password needs at least {MIN_PASSWORD} characters", kind=Kind.INVALID)


def add_person(ws: Workspace, name: str, roles: list[str], password: str, *, by: str) -> User:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise AccessError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}", kind=Kind.INVALID)
    if not roles:
        raise AccessError("a person needs at least one role", kind=Kind.INVALID)
    try:
        check_name(name, "user name")
    except PathError as exc:
        raise AccessError(str(exc), kind=Kind.INVALID) from None
    clash = incompatible(roles)
    if clash:
        pairs = "; ".join(f"{a} with {b}" for a, b in clash)
        raise AccessError(
            f"{name} cannot hold {pairs}: whoever links records sees identifiers and may never see content "
            "(separation of duties)",
            kind=Kind.INVALID,
        )
    check_password(password)
    with store.transaction(ws) as tx:
        if tx.execute("select 1 from people where name = ?", (name,)).fetchone():
            raise AccessError(f"{name} already exists", kind=Kind.CONFLICT)
        tx.execute(
            "insert into people (name, roles, password_hash, created_at, created_by) values (?, ?, ?, ?, ?)",
            (name, ",".join(sorted(set(roles))), _hasher.hash(password), now(), by),
        )
        tx.audit(by, "person added", name, {"roles": sorted(set(roles))})
    return User(name, _roles(",".join(roles)))


def people(ws: Workspace) -> list[User]:
    with store.connect(ws) as db:
        rows = db.execute("select name, roles, active from people order by name").fetchall()
    return [User(r["name"], _roles(r["roles"]), bool(r["active"])) for r in rows]


def sign_in(ws: Workspace, name: str, password: str) -> User:
    """The person, if the password is theirs and they are active; a failed attempt is audited."""
    with store.connect(ws) as db:
        row = db.execute("select name, roles, password_hash, active from people where name = ?", (name,)).fetchone()
    try:
        if row is None or not row["active"]:
            raise VerificationError("no such active person")
        _hasher.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        store.audit.record(ws, "failed sign-in", name, by=name or "(no name)")
        raise AccessError(f"sign-in failed for {name!r}") from None
    return User(row["name"], _roles(row["roles"]))


def _person_row(tx, name: str):
    row = tx.execute("select name, active from people where name = ?", (name,)).fetchone()
    if row is None:
        raise AccessError(f"no person {name!r}", kind=Kind.NOT_FOUND)
    return row


def deactivate(ws: Workspace, name: str, *, by: str) -> None:
    """Stop a person signing in; their record and history stay."""
    with store.transaction(ws) as tx:
        if not _person_row(tx, name)["active"]:
            raise AccessError(f"{name} is already deactivated", kind=Kind.CONFLICT)
        tx.execute("update people set active = 0, changed_at = ?, changed_by = ? where name = ?", (now(), by, name))
        tx.audit(by, "person deactivated", name)


def change_password(ws: Workspace, name: str, password: str, *, by: str) -> None:
    check_password(password)
    with store.transaction(ws) as tx:
        _person_row(tx, name)
        tx.execute(
            "update people set password_hash = ?, changed_at = ?, changed_by = ? where name = ?",
            (_hasher.hash(password), now(), by, name),
        )
        tx.audit(by, "password changed", name)
