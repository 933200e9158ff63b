"""Sessions of the web application and its API: a person signs in once and is then known by a token.

The token is a random 256-bit value given to the browser (in an HttpOnly cookie) or to an API client (a
bearer token). The store keeps only an HMAC of it under the audit key, so a copy of ``governance.db`` holds no
usable token and nobody without the key can add a session row that a token would match. Each session has
its own CSRF token for the forms it posts.

A session ends when the person signs out, when it has been idle for ``IDLE`` or open for ``LONGEST``, or when
the person is deactivated; an ended session is never resumed. Sign-ins and sign-outs are in the audit chain
(failed sign-ins and lockouts are audited by ``people.sign_in``); the ``sessions`` table itself is not governed
state (``bold.store.state``): it changes on every request and a forged row would match no token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from bold import store
from bold.governance import people
from bold.governance.people import User
from bold.governance.permissions import Role
from bold.workspace import Workspace

IDLE = dt.timedelta(minutes=30)
LONGEST = dt.timedelta(hours=12)
SEEN_EVERY = dt.timedelta(seconds=60)  # ``seen_at`` is written at most this often (one write per minute, not per page)
VIA = ("web", "api")


@dataclass(frozen=True)
class Session:
    token: str  # only ever in the person's cookie or client; the store has its digest
    user: User
    csrf: str
    via: str
    started_at: str


def _digest(ws: Workspace, token: str) -> str:
    return hmac.new(ws.key("audit").encode(), f"session:{token}".encode(), hashlib.sha256).hexdigest()


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def start(ws: Workspace, name: str, password: str, via: str) -> Session:
    """Sign in (``people.sign_in``: one argon2 check, failures audited, lockout) and open a new session: a new
    token every time, so a token planted before sign-in is never the one that is signed in."""
    if via not in VIA:
        raise ValueError(f"via must be one of {VIA}")
    user = people.sign_in(ws, name, password)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    at = _now().isoformat(timespec="seconds")
    with store.transaction(ws) as tx:
        tx.execute(
            "insert into sessions (digest, name, via, csrf, started_at, seen_at) values (?, ?, ?, ?, ?, ?)",
            (_digest(ws, token), user.name, via, csrf, at, at),
        )
        tx.audit(user.name, "signed in", user.name, {"via": via})
    return Session(token, user, csrf, via, at)


def resume(ws: Workspace, token: str | None) -> Session | None:
    """The open session of ``token``, or None (no such token, ended, idle too long, too old, person gone).
    A session found expired is ended here and its end audited."""
    if not token:
        return None
    digest = _digest(ws, token)
    with store.connect(ws) as db:
        row = db.execute(
            "select s.name, s.via, s.csrf, s.started_at, s.seen_at, s.ended_at, p.roles, p.active"
            " from sessions s left join people p on p.name = s.name where s.digest = ?",
            (digest,),
        ).fetchone()
    if row is None or row["ended_at"] is not None:
        return None
    at = _now()
    why = None
    if not row["active"]:
        why = "person deactivated"
    elif at - _at(row["seen_at"]) > IDLE:
        why = "idle timeout"
    elif at - _at(row["started_at"]) > LONGEST:
        why = "session too old"
    if why:
        _end(ws, digest, row["name"], why)
        return None
    if at - _at(row["seen_at"]) > SEEN_EVERY:
        with store.transaction(ws) as tx:
            tx.execute("update sessions set seen_at = ? where digest = ?", (at.isoformat(timespec="seconds"), digest))
    user = User(row["name"], frozenset(Role(r) for r in row["roles"].split(",")))
    return Session(token, user, row["csrf"], row["via"], row["started_at"])


def end(ws: Workspace, token: str | None) -> None:
    """Sign out: the session is ended (and the token useless from now on)."""
    session = resume(ws, token)
    if session is not None:
        _end(ws, _digest(ws, token), session.user.name, "signed out")


def _end(ws: Workspace, digest: str, name: str, why: str) -> None:
    with store.transaction(ws) as tx:
        ended = tx.execute(
            "update sessions set ended_at = ?, ended_why = ? where digest = ? and ended_at is null",
            (_now().isoformat(timespec="seconds"), why, digest),
        ).rowcount
        if ended:
            tx.audit(name, "signed out" if why == "signed out" else "session ended", name, {"why": why})


def open_sessions(ws: Workspace, name: str) -> int:
    with store.connect(ws) as db:
        return db.execute("select count(*) from sessions where name = ? and ended_at is null", (name,)).fetchone()[0]
