"""Signing in and out, and one's own account."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from bold.actions import people, sessions
from bold.governance.people import MIN_PASSWORD, AccessError, max_failed_sign_ins
from bold.web.guard import SESSION_COOKIE, Caller, caller, local_path, signed_in, workspace
from bold.web.render import page

router = APIRouter()


def _sign_in_page(request: Request, next_path: str, name: str = "", error: str | None = None, status: int = 200):
    return page(
        request,
        "sign_in.html",
        status_code=status,
        next=local_path(next_path),
        name=name,
        error=error,
        max_failures=max_failed_sign_ins(workspace(request)),
    )


@router.get("/sign-in")
def sign_in_form(request: Request, next: str = "/home"):
    if caller(request).session is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return _sign_in_page(request, next)


@router.post("/sign-in")
def sign_in(request: Request, name: str = Form(""), password: str = Form(""), next: str = Form("/home")):
    ws = workspace(request)
    try:
        session = sessions.start(ws, name, password, via="web")
    except AccessError as exc:
        return _sign_in_page(request, next, name, str(exc), status=403)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        sessions.end(ws, old)  # a session the browser had before is never carried over
    response = RedirectResponse(local_path(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request):
    sessions.end(workspace(request), request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/register", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account")
def account(request: Request, who: Caller = Depends(signed_in)):
    return _account(request, who)


@router.post("/account/password")
def change_password(request: Request, current: str = Form(...), new: str = Form(...), who: Caller = Depends(signed_in)):
    """The current password is checked again (as a sign-in: a wrong one counts towards the lockout)."""
    try:
        people.sign_in(who.ws, who.user.name, current)
        people.change_password(who.ws, who.user, new)
    except AccessError as exc:
        return _account(request, who, error=str(exc), status_code=403)
    return _account(request, who, done="Your password is changed.")


def _account(request: Request, who: Caller, done: str | None = None, error: str | None = None, status_code: int = 200):
    return page(
        request,
        "account.html",
        status_code=status_code,
        session=who.session,
        min_password=MIN_PASSWORD,
        done=done,
        error=error,
    )
