"""The audit chain for governance and the admin: its entries, newest first and filtered, and verifying that
the chain, its head, the governance state it seals, outputs and releases are as they were made."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request

from bold.actions import audit
from bold.governance.permissions import Permission
from bold.web.guard import Caller, needs
from bold.web.render import page

router = APIRouter()

LIMIT, MAX_LIMIT = 50, 1000


def _filters(request: Request) -> tuple[dict, str | None, int, str | None]:
    """The filters asked for (as typed), the start of the period in the entries' form, the limit, and the
    problem with them, if any."""
    q = request.query_params
    filters = {name: q.get(name, "").strip() for name in ("action", "actor", "object", "since")}
    problem, limit = None, LIMIT
    text = q.get("limit", "").strip()
    if text:
        try:
            limit = int(text)
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError
        except ValueError:
            problem, limit = f"show: give a whole number of entries from 1 to {MAX_LIMIT}", LIMIT
    since = filters["since"]
    if since:
        try:  # entries are stamped 2026-03-01T09:30:00+00:00 (UTC) and compared as text: give the same form
            parsed = dt.datetime.fromisoformat(since)
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
            since = since if len(since) == 10 else parsed.isoformat(timespec="seconds")
        except ValueError:
            problem = "since: give a date as YYYY-MM-DD (or a date and time in UTC, 2026-03-01 09:30)"
    return filters, since or None, limit, problem


def _audit_page(request: Request, who: Caller, verification=None):
    filters, since, limit, problem = _filters(request)
    entries, may_show = [], who.may(Permission.AUDIT_SHOW)
    if problem is None and may_show:
        entries = audit.show(
            who.ws,
            who.user,
            action=filters["action"] or None,
            actor=filters["actor"] or None,
            obj=filters["object"] or None,
            since=since,
            limit=limit,
        )
    for entry in entries:
        entry["said"] = audit.describe(entry.get("details"))
    return page(
        request,
        "audit_list.html",
        status_code=422 if problem else 200,
        entries=entries,
        filters=filters,
        limit=limit,
        max_limit=MAX_LIMIT,
        error=problem,
        verification=verification,
        may_verify=who.may(Permission.AUDIT_VERIFY),
        may_show=may_show,
    )


@router.get("/audit")
def audit_list(request: Request, who: Caller = needs(Permission.AUDIT_SHOW)):
    return _audit_page(request, who)


@router.post("/audit/verify")
def verify(request: Request, who: Caller = needs(Permission.AUDIT_VERIFY)):
    """Verify, then show the result above the newest entries (when the person may read them)."""
    return _audit_page(request, who, verification=audit.verify(who.ws, who.user))
