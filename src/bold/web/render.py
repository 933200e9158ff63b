"""Rendering pages: the shared template tree (``bold.html``) with the web's own templates, and the navigation,
which shows each person only what their roles let them use."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import HTMLResponse

from bold import html
from bold.governance.permissions import Permission
from bold.web.guard import BROWSER_COOKIE, caller, csrf_token


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    permission: Permission | None  # None: everyone signed in


# The signed-in navigation: one place, each item shown only to those who may use it.
NAV = (
    NavItem("/home", "Home", None),
    NavItem("/sources", "Sources and batches", Permission.INGEST),
    NavItem("/linkage", "Linkage", Permission.LINK),
    NavItem("/linkage/report", "Linkage quality", Permission.LINK_REPORT),
    NavItem("/projects", "Projects", Permission.PROJECT_LIST),
    NavItem("/studies", "Question library", Permission.STUDY_LIST),
    NavItem("/review", "Review queue", Permission.OUTPUTS_REVIEW),
    NavItem("/audit", "Audit chain", Permission.AUDIT_SHOW),
    NavItem("/people", "People", Permission.USER_LIST),
    NavItem("/jobs", "Background work", None),
)
PUBLIC_NAV = (
    NavItem("/register", "Transparency register", None),
    NavItem("/promises", "What we will and won't do", None),
    NavItem("/opt-out", "Opting out", None),
    NavItem("/data", "Data we hold", None),
)


@functools.cache
def environment():
    return html.environment("bold.web")


def nav_for(request: Request) -> list[NavItem]:
    found = caller(request)
    if found.session is None:
        return list(PUBLIC_NAV)
    return [item for item in NAV if item.permission is None or found.may(item.permission)]


def page(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    found = caller(request)
    text = (
        environment()
        .get_template(template)
        .render(
            request=request,
            user=found.session.user if found.session else None,
            nav=nav_for(request),
            here=request.url.path,
            csrf=csrf_token(request),
            workspace_name=found.ws.settings["workspace"]["name"],
            **context,
        )
    )
    response = HTMLResponse(text, status_code=status_code)
    new = getattr(request.state, "new_browser", None)
    if new is not None:  # a signed-out browser given a CSRF token gets the random cookie the token is bound to
        secure = request.url.scheme == "https"
        response.set_cookie(BROWSER_COOKIE, new, httponly=True, samesite="strict", secure=secure, path="/")
    return response
