"""People, for the admin (and governance, who may list them): each person's roles, state, training and approval,
and the admin's moves: deactivate, reactivate, unlock, record training, approve. Every move is the action's,
with its checks (never oneself, never the last admin) and its audit entry."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from bold.actions import people
from bold.errors import HTTP_STATUSES, BoldError, Invalid
from bold.governance.permissions import Permission
from bold.web.guard import Caller, needs
from bold.web.render import page

router = APIRouter()


def _people_page(request: Request, who: Caller, error: str | None = None, status: int = 200):
    listed = people.list_people(who.ws, who.user)
    manage = who.may(Permission.USER_TRAIN)
    standing = {p.name: people.show(who.ws, who.user, p.name) for p in listed} if manage else {}
    return page(
        request,
        "people.html",
        status_code=status,
        people=listed,
        standing=standing,
        manage=manage,
        error=error,
        done=request.query_params.get("done"),
    )


@router.get("/people")
def people_list(request: Request, who: Caller = needs(Permission.USER_LIST)):
    return _people_page(request, who)


def _move(request: Request, who: Caller, move, done: str):
    try:
        move()
    except BoldError as exc:
        return _people_page(request, who, error=str(exc), status=HTTP_STATUSES[exc.kind])
    return RedirectResponse(f"/people?done={done}", status_code=303)


def _date(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"{field} {text!r} is not a date; expected YYYY-MM-DD") from None


@router.post("/people/{name}/deactivate")
def deactivate(request: Request, name: str, who: Caller = needs(Permission.USER_DEACTIVATE)):
    return _move(request, who, lambda: people.deactivate(who.ws, who.user, name), "deactivated")


@router.post("/people/{name}/reactivate")
def reactivate(request: Request, name: str, who: Caller = needs(Permission.USER_REACTIVATE)):
    return _move(request, who, lambda: people.reactivate(who.ws, who.user, name), "reactivated")


@router.post("/people/{name}/unlock")
def unlock(request: Request, name: str, who: Caller = needs(Permission.USER_UNLOCK)):
    return _move(request, who, lambda: people.unlock(who.ws, who.user, name), "unlocked")


@router.post("/people/train")
def train(
    request: Request,
    person: str = Form(""),
    course: str = Form(""),
    completed: str = Form(""),
    expires: str = Form(""),
    who: Caller = needs(Permission.USER_TRAIN),
):
    def move():
        until = _date(expires, "expires") if expires.strip() else None
        people.train(who.ws, who.user, person, course, _date(completed, "completed"), until)

    return _move(request, who, move, "trained")


@router.post("/people/approve")
def approve(
    request: Request,
    person: str = Form(""),
    expires: str = Form(""),
    note: str = Form(""),
    who: Caller = needs(Permission.USER_APPROVE),
):
    return _move(
        request, who, lambda: people.approve(who.ws, who.user, person, _date(expires, "expires"), note), "approved"
    )
