"""People and sign-in: each person has a name, one or more roles (``bold.governance.permissions``) and a
password stored only as an argon2id hash.

Nothing here reads who is acting from the environment: the faces sign a person in (``sign_in``) and pass
the resulting ``User`` to the actions, which check permissions. A deactivated person can no longer sign
in (until reactivated); their record and everything they did stay in the store and the audit chain. Too
many failed sign-ins in a row lock a person until an admin unlocks them. Acting on data also needs a
current training record and a current approval (``standing``, checked by ``bold.actions.access``), and the
last active admin can never be deactivated.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bold import faults, store
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
    locked: bool = False  # after repeated failed sign-ins, until an admin unlocks them


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
        rows = db.execute("select name, roles, active, locked_at from people order by name").fetchall()
    return [User(r["name"], _roles(r["roles"]), bool(r["active"]), r["locked_at"] is not None) for r in rows]


# --- sign-in and the lockout ------------------------------------------------------------------------------
DEFAULT_MAX_FAILED_SIGN_INS = 5  # failed sign-ins in a row before a person is locked; bold.toml [people] sets its own
SYSTEM = "bold"  # who the audit names for what BOLD does by itself (locking an account, automatic retention)
SIGN_IN_FAILED = (
    "sign-in failed for {name!r}: the name or password is wrong, or the account is locked (after {max} failed "
    "sign-ins in a row an account is locked until an admin unlocks it)"
)


def max_failed_sign_ins(ws: Workspace) -> int:
    """``[people] max_failed_sign_ins`` in ``bold.toml`` (a whole number, 1 or more), else 5."""
    value = ws.settings.get("people", {}).get("max_failed_sign_ins", DEFAULT_MAX_FAILED_SIGN_INS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AccessError(
            f"{ws.settings_path}: [people] max_failed_sign_ins = {value!r}: expected a whole number, 1 or more",
            kind=Kind.INVALID,
        )
    return value


@functools.cache
def _dummy_hash() -> str:
    """A hash of no one's password, verified when the name is unknown, inactive or locked, so that signing in
    takes as long whether or not the name exists (no user-enumeration by timing)."""
    return _hasher.hash(secrets.token_hex(16))


def _lock(tx, name: str, failures: int) -> None:
    tx.execute("update people set locked_at = ? where name = ?", (now(), name))
    tx.audit(SYSTEM, "sign-in locked", name, {"failures": failures})


def sign_in(ws: Workspace, name: str, password: str) -> User:
    """The person, if the password is theirs, they are active and not locked.

    The attempt is counted as a failure, under the write lock and committed, before the password is checked;
    a correct password then clears the count. So a process killed at any point (by the person trying
    passwords, say) leaves its attempt counted, and concurrent attempts all count. After
    ``max_failed_sign_ins`` failures in a row the person is locked (audited, by ``bold``) until an admin
    unlocks them. Every attempt verifies one argon2 hash (a dummy one for an unknown, inactive or locked
    name) and every failure says the same, so neither the time taken nor the message tells whether the
    name exists or why it failed. Failures are audited."""
    limit = max_failed_sign_ins(ws)
    with store.transaction(ws) as tx:  # the check and the count, in one transaction
        row = tx.execute(
            "select p.name, p.roles, p.password_hash, p.active, p.locked_at, coalesce(f.failures, 0) as failures "
            "from people p left join sign_in_failures f on f.name = p.name where p.name = ?",
            (name,),
        ).fetchone()
        usable = row is not None and bool(row["active"]) and row["locked_at"] is None
        if usable and row["failures"] >= limit:  # attempts counted by processes that never finished
            _lock(tx, name, row["failures"])
            usable = False
        tx.execute(  # for an unknown name this changes no row, at the same cost
            "insert into sign_in_failures (name, failures) select name, 1 from people where name = ? "
            "on conflict (name) do update set failures = failures + 1",
            (name,),
        )
    faults.point("sign-in:counted")
    try:
        _hasher.verify(row["password_hash"] if usable else _dummy_hash(), password)
        verified = usable
    except (VerificationError, InvalidHashError):
        verified = False
    with store.transaction(ws) as tx:
        if verified:
            tx.execute("delete from sign_in_failures where name = ?", (name,))
            if row["failures"]:
                tx.audit(name, "signed in after failed attempts", name, {"failures": row["failures"]})
            return User(row["name"], _roles(row["roles"]))
        current = tx.execute("select failures from sign_in_failures where name = ?", (name,)).fetchone()
        locked = row is not None and row["locked_at"] is not None
        tx.audit(name or "(no name)", "failed sign-in", name, {"locked_out": True} if locked else None)
        failures = current["failures"] if current else 0
        if usable and failures >= limit:
            still = tx.execute("select locked_at from people where name = ?", (name,)).fetchone()
            if still["locked_at"] is None:  # a concurrent attempt may have locked it first
                _lock(tx, name, failures)
    raise AccessError(SIGN_IN_FAILED.format(name=name, max=limit))


# --- the lifecycle: deactivate, reactivate, unlock, password ------------------------------------------------
def _person_row(tx, name: str):
    row = tx.execute("select name, roles, active, locked_at from people where name = ?", (name,)).fetchone()
    if row is None:
        raise AccessError(f"no person {name!r}", kind=Kind.NOT_FOUND)
    return row


def _keep_an_admin(tx, name: str, change: str) -> None:
    """Refuse ``change`` to ``name`` if it would leave no active admin (nobody could then manage people)."""
    others = tx.execute(
        "select count(*) from people where active = 1 and name != ? and (',' || roles || ',') like '%,admin,%'",
        (name,),
    ).fetchone()[0]
    if others == 0:
        raise AccessError(
            f"{name} is the last active admin: {change} would leave nobody to manage people; add another admin first",
            kind=Kind.CONFLICT,
        )


def deactivate(ws: Workspace, name: str, *, by: str) -> None:
    """Stop a person signing in; their record and history stay. The last active admin cannot be deactivated."""
    with store.transaction(ws) as tx:
        row = _person_row(tx, name)
        if not row["active"]:
            raise AccessError(f"{name} is already deactivated", kind=Kind.CONFLICT)
        if Role.ADMIN in _roles(row["roles"]):
            _keep_an_admin(tx, name, "deactivating them")
        tx.execute("update people set active = 0, changed_at = ?, changed_by = ? where name = ?", (now(), by, name))
        tx.audit(by, "person deactivated", name)


def reactivate(ws: Workspace, name: str, *, by: str) -> None:
    """Let a deactivated person sign in again (with the password they had); audited."""
    with store.transaction(ws) as tx:
        if _person_row(tx, name)["active"]:
            raise AccessError(f"{name} is active: nothing to reactivate", kind=Kind.CONFLICT)
        tx.execute("update people set active = 1, changed_at = ?, changed_by = ? where name = ?", (now(), by, name))
        tx.audit(by, "person reactivated", name)


def unlock(ws: Workspace, name: str, *, by: str) -> None:
    """Lift a lockout and clear the count of failed sign-ins; audited."""
    with store.transaction(ws) as tx:
        if _person_row(tx, name)["locked_at"] is None:
            raise AccessError(f"{name} is not locked", kind=Kind.CONFLICT)
        failures = tx.execute("select failures from sign_in_failures where name = ?", (name,)).fetchone()
        tx.execute(
            "update people set locked_at = null, changed_at = ?, changed_by = ? where name = ?", (now(), by, name)
        )
        tx.execute("delete from sign_in_failures where name = ?", (name,))
        tx.audit(by, "person unlocked", name, {"failures": failures["failures"] if failures else 0})


def change_password(ws: Workspace, name: str, password: str, *, by: str) -> None:
    check_password(password)
    with store.transaction(ws) as tx:
        _person_row(tx, name)
        tx.execute(
            "update people set password_hash = ?, changed_at = ?, changed_by = ? where name = ?",
            (_hasher.hash(password), now(), by, name),
        )
        tx.audit(by, "password changed", name)


# --- training and approval: what acting on data needs -----------------------------------------------------
@dataclass(frozen=True)
class Training:
    course: str
    completed_on: str
    expires_on: str | None  # None: does not expire
    recorded_by: str
    recorded_at: str


@dataclass(frozen=True)
class Approval:
    expires_on: str
    note: str | None
    approved_by: str
    approved_at: str


@dataclass(frozen=True)
class Standing:
    """A person's record as an admin (or the person) sees it: roles, state, training, approval, and what (if
    anything) stops them acting on data today."""

    name: str
    roles: frozenset[Role]
    state: str  # active, deactivated or locked
    training: list[Training]
    approvals: list[Approval]
    gaps: list[str]  # empty: cleared to act on data


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _current(expires_on: str | None, on: dt.date) -> bool:
    """A record is current until its expiry date: on that day it has expired."""
    return expires_on is None or on.isoformat() < expires_on


def record_training(
    ws: Workspace, name: str, course: str, completed: dt.date, expires: dt.date | None, *, by: str
) -> Training:
    """Record that ``name`` completed ``course`` on ``completed`` (valid until ``expires``, if given); audited."""
    course = course.strip()
    if not course:
        raise AccessError("--course: name the training course", kind=Kind.INVALID)
    if completed > today():
        raise AccessError(f"--completed {completed}: a course completed in the future", kind=Kind.INVALID)
    if expires is not None and expires <= completed:
        raise AccessError(f"--expires {expires}: expected a date after --completed {completed}", kind=Kind.INVALID)
    record = Training(course, completed.isoformat(), expires and expires.isoformat(), by, now())
    with store.transaction(ws) as tx:
        _person_row(tx, name)
        tx.execute(
            "insert into training (name, course, completed_on, expires_on, recorded_by, recorded_at) "
            "values (?, ?, ?, ?, ?, ?)",
            (name, record.course, record.completed_on, record.expires_on, by, record.recorded_at),
        )
        tx.audit(by, "training recorded", name, {"course": course, "completed": record.completed_on,
                                                  "expires": record.expires_on})  # fmt: skip
    return record


def approve(ws: Workspace, name: str, expires: dt.date, note: str | None, *, by: str) -> Approval:
    """Record that ``name`` is approved to work on data until ``expires``; never by themself; audited."""
    if by == name:
        raise AccessError("you cannot approve yourself to work on data; ask another admin")
    if expires <= today():
        raise AccessError(f"--expires {expires}: expected a date after today ({today()})", kind=Kind.INVALID)
    record = Approval(expires.isoformat(), (note or "").strip() or None, by, now())
    with store.transaction(ws) as tx:
        if not _person_row(tx, name)["active"]:
            raise AccessError(f"{name} is deactivated; reactivate them before approving them", kind=Kind.CONFLICT)
        tx.execute(
            "insert into approvals (name, expires_on, note, approved_by, approved_at) values (?, ?, ?, ?, ?)",
            (name, record.expires_on, record.note, by, record.approved_at),
        )
        tx.audit(by, "person approved", name, {"expires": record.expires_on, "note": record.note})
    return record


def _gaps(row, training: list[Training], approvals: list[Approval], on: dt.date) -> list[str]:
    if not row["active"]:
        return ["they are deactivated"]
    gaps = []
    if not any(_current(t.expires_on, on) for t in training):
        last = max(training, key=lambda t: t.expires_on or "", default=None)
        gaps.append(
            f"their training expired on {last.expires_on} ({last.course})"
            if last
            else "they have no training on record (bold user train)"
        )
    if not any(_current(a.expires_on, on) for a in approvals):
        last = max(approvals, key=lambda a: a.expires_on, default=None)
        gaps.append(
            f"their approval expired on {last.expires_on}"
            if last
            else "they have no approval to work on data on record (bold user approve, by another admin)"
        )
    return gaps


def standing(ws: Workspace, name: str, on: dt.date | None = None) -> Standing:
    """``name``'s roles, state, training and approval records (oldest first) and what stops them acting on data."""
    with store.connect(ws) as db:
        row = db.execute("select name, roles, active, locked_at from people where name = ?", (name,)).fetchone()
        if row is None:
            raise AccessError(f"no person {name!r}", kind=Kind.NOT_FOUND)
        training = [
            Training(r["course"], r["completed_on"], r["expires_on"], r["recorded_by"], r["recorded_at"])
            for r in db.execute("select * from training where name = ? order by completed_on, id", (name,)).fetchall()
        ]
        approvals = [
            Approval(r["expires_on"], r["note"], r["approved_by"], r["approved_at"])
            for r in db.execute("select * from approvals where name = ? order by approved_at, id", (name,)).fetchall()
        ]
    state = "deactivated" if not row["active"] else "locked" if row["locked_at"] else "active"
    return Standing(
        name, _roles(row["roles"]), state, training, approvals, _gaps(row, training, approvals, on or today())
    )


def data_gaps(ws: Workspace, name: str) -> list[str]:
    """What stops ``name`` acting on data today (not on the platform, deactivated, no current training, no
    current approval); empty when they may."""
    try:
        return standing(ws, name).gaps
    except AccessError:
        return ["they are not on the platform"]
