"""People and sign-in: each person has a name, one or more roles (``bold.governance.permissions``) and a
password stored only as an argon2id hash.

Nothing here reads who is acting from the environment: the faces sign a person in (``sign_in``) and pass
the resulting ``User`` to the actions, which check permissions. A deactivated person can no longer sign
in; their record and everything they did stay in the store and the audit chain.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
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


MAX_FAILED_SIGN_INS = 5  # consecutive failures before a person is locked out
LOCKOUT = dt.timedelta(minutes=15)
SIGN_IN_FAILED = "sign-in failed for {name!r} (after {max} failures in a row sign-in is locked for {minutes} minutes)"


@functools.cache
def _dummy_hash() -> str:
    """A hash of no one's password, verified when the name is unknown or inactive, so that signing in takes
    as long whether or not the name exists (no user-enumeration by timing)."""
    return _hasher.hash(secrets.token_hex(16))


def sign_in(ws: Workspace, name: str, password: str) -> User:
    """The person, if the password is theirs, they are active and not locked out.

    Every attempt verifies one argon2 hash (a dummy one for an unknown or inactive name), and every failure
    says the same, so neither the time taken nor the message tells whether the name exists. Failures are
    audited; after ``MAX_FAILED_SIGN_INS`` in a row the person is locked out for ``LOCKOUT`` (audited too), and
    a successful sign-in resets the count."""
    with store.connect(ws) as db:
        row = db.execute(
            "select name, roles, password_hash, active, failed_sign_ins, locked_until from people where name = ?",
            (name,),
        ).fetchone()
    usable = row is not None and bool(row["active"])
    try:
        _hasher.verify(row["password_hash"] if usable else _dummy_hash(), password)
        verified = usable
    except (VerificationError, InvalidHashError):
        verified = False
    at = dt.datetime.now(dt.UTC)
    locked = usable and row["locked_until"] is not None and dt.datetime.fromisoformat(row["locked_until"]) > at
    if verified and not locked:
        if row["failed_sign_ins"] or row["locked_until"]:
            with store.transaction(ws) as tx:
                tx.execute("update people set failed_sign_ins = 0, locked_until = null where name = ?", (name,))
                tx.audit(name, "signed in after failed attempts", name, {"failures": row["failed_sign_ins"]})
        return User(row["name"], _roles(row["roles"]))
    with store.transaction(ws) as tx:  # the count is re-read under the write lock: concurrent failures all count
        current = tx.execute("select failed_sign_ins, locked_until from people where name = ?", (name,)).fetchone()
        failures = (current["failed_sign_ins"] if current else 0) + (0 if locked else 1)
        lock = usable and not locked and failures >= MAX_FAILED_SIGN_INS
        tx.execute(  # for an unknown name this changes no row, at the same cost
            "update people set failed_sign_ins = ?, locked_until = coalesce(?, locked_until) where name = ?",
            (0 if lock else failures, (at + LOCKOUT).isoformat(timespec="seconds") if lock else None, name),
        )
        tx.audit(name or "(no name)", "failed sign-in", name, {"locked_out": True} if locked else None)
        if lock:
            tx.audit(
                name,
                "sign-in locked",
                name,
                {"failures": failures, "until": (at + LOCKOUT).isoformat(timespec="seconds")},
            )
    raise AccessError(SIGN_IN_FAILED.format(name=name, max=MAX_FAILED_SIGN_INS, minutes=LOCKOUT.seconds // 60))


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
