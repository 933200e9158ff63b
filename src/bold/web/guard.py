"""Who is asking, and whether they may: the session behind a request, CSRF tokens, and the page-level checks.

A browser is known by its session cookie only (HttpOnly, SameSite=Strict, Secure over TLS); the JSON API by a
bearer token only, never a cookie, so a page on another site can make a browser send neither. Every form a
browser posts carries the session's CSRF token (before sign-in, a token bound to a random cookie); a post
without the right one is refused before its route runs.

A page's permission is checked here, on the server, with the same role table and audited refusal as the
actions (``bold.actions.access.require``); the actions then check again, with the rules that depend on a record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from bold.actions import access
from bold.actions import sessions as session_actions
from bold.errors import BoldError, Kind
from bold.governance.people import User
from bold.governance.permissions import Permission, allows
from bold.governance.sessions import Session
from bold.workspace import Workspace

SESSION_COOKIE = "bold_session"
BROWSER_COOKIE = "bold_browser"  # random, before sign-in: what the sign-in form's CSRF token is bound to
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInNeeded(BoldError):
    """No open session: a page sends the browser to sign in, the API answers 401."""

    kind = Kind.REFUSED


class CsrfRefused(BoldError):
    kind = Kind.REFUSED


@dataclass(frozen=True)
class Caller:
    """The workspace and the signed-in person of one request (``session`` is None when signed out)."""

    ws: Workspace
    session: Session | None

    @property
    def user(self) -> User:
        if self.session is None:
            raise SignInNeeded("sign in first")
        return self.session.user

    def may(self, permission: Permission) -> bool:
        return self.session is not None and allows(self.session.user.roles, permission)


def workspace(request: Request) -> Workspace:
    return request.app.state.ws


def caller(request: Request) -> Caller:
    """The request's session, from its cookie (pages) or its bearer token (the API); looked up once per request."""
    if hasattr(request.state, "caller"):
        return request.state.caller
    ws = workspace(request)
    if request.url.path.startswith("/api/"):
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else None
        found = session_actions.resume(ws, token)
        found = found if found is not None and found.via == "api" else None
    else:
        found = session_actions.resume(ws, request.cookies.get(SESSION_COOKIE))
        found = found if found is not None and found.via == "web" else None
    request.state.caller = Caller(ws, found)
    return request.state.caller


def signed_in(request: Request) -> Caller:
    found = caller(request)
    if found.session is None:
        raise SignInNeeded("sign in first")
    return found


def needs(permission: Permission):
    """A dependency: the caller, signed in and allowed ``permission`` (a refusal is audited, then 403)."""

    def check(request: Request) -> Caller:
        found = signed_in(request)
        access.require(found.ws, found.user, permission)
        return found

    check.permission = permission  # read by the route x role test (tests/integration/test_web_routes.py)
    return Depends(check)


# --- CSRF -------------------------------------------------------------------------------------------------


def browser_token(request: Request, browser: str) -> str:
    """The CSRF token of a signed-out browser: bound to its random cookie by the server's own secret."""
    return hmac.new(request.app.state.secret, f"csrf:{browser}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token this request's forms must carry."""
    found = caller(request)
    if found.session is not None:
        return found.session.csrf
    browser = request.cookies.get(BROWSER_COOKIE) or getattr(request.state, "new_browser", None)
    if browser is None:
        browser = request.state.new_browser = secrets.token_urlsafe(24)  # set on the response (app.py)
    return browser_token(request, browser)


async def csrf_checked(request: Request) -> None:
    """Every unsafe request of a browser carries the right token in its form (``csrf``) or header
    (``X-CSRF-Token``, which htmx sends); the API's bearer token is not sent by browsers, so it needs none."""
    if request.method in SAFE_METHODS or request.url.path.startswith("/api/"):
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get("csrf")
    found = caller(request)
    if found.session is not None:
        expected = found.session.csrf
    else:
        browser = request.cookies.get(BROWSER_COOKIE)
        expected = browser_token(request, browser) if browser else None
    if not (isinstance(sent, str) and expected and hmac.compare_digest(sent, expected)):
        raise CsrfRefused(
            "this form has expired or did not come from this site: go back, reload the page and send it again"
        )


# --- redirects ---------------------------------------------------------------------------------------------


def local_path(target: str | None, default: str = "/home") -> str:
    """``target`` if it is a path on this site (``/projects``), else ``default``: a sign-in link never sends
    anyone to another site (``//evil.example``, ``https://...``, ``/\\evil``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return default
    return target


def sign_in_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/sign-in?next={quote(here, safe='/')}"
