"""Every route of the web application and its API, for every role and signed out: each cell the role table refuses
is refused by the server (403, audited; signed out, a page sends to sign-in and the API answers 401), each cell it
allows is not. The table is read from the app itself (the permission each route declares with ``needs``), so a
route added later is covered without editing this file, and a route that declares nothing must be on the public
list below or this test fails.
"""

from __future__ import annotations

import re

import pytest

from bold import store
from bold.actions import sessions
from bold.governance.permissions import ROLE_PERMISSIONS, Role, allows
from bold.web import routes
from bold.web.app import create_app
from bold.web.render import NAV
from bold.workspace import Workspace
from tests.web import PASSWORD, PEOPLE, browser, people_workspace

# Routes anyone may use without signing in: the public register and its files, the public pages, signing in.
PUBLIC = {
    "/",
    "/register",
    "/register.json",
    "/register/{project_id}",
    "/register/{project_id}/releases/{release_id}/{name}",
    "/promises",
    "/opt-out",
    "/data",
    "/sign-in",
    "/sign-out",
    "/static/style.css",
    "/api/token",
}
# One person per role (tests/web.py); "signed out" is None.
BY_ROLE = {Role(roles[0]): name for name, roles in PEOPLE.items() if name not in ("ali", "olivia")}


@pytest.fixture(scope="module")
def app_and_root(tmp_path_factory):
    root = people_workspace(tmp_path_factory.mktemp("routes") / "ws")
    return create_app(root), root


def _routes(app):
    for route in routes.api_routes(app.routes):
        for method in sorted(route.methods - {"HEAD"}):
            yield route, method


def _url(path: str) -> str:
    """The route with each id in it replaced by one that names nothing."""
    return re.sub(r"\{[^}]+\}", "no-such-id", path)


def test_every_route_is_public_or_declares_who_may_use_it(app_and_root):
    app, _ = app_and_root
    undeclared = sorted(
        f"{method} {route.path}"
        for route, method in _routes(app)
        if routes.declared(route) == "public"
        and route.path not in PUBLIC
        and not route.path.startswith("/api/docs")
        and route.path != "/api/openapi.json"
    )
    assert undeclared == [], "routes that neither need a permission nor sign-in, and are not on the public list"


def test_route_by_role(app_and_root):
    app, root = app_and_root
    ws = Workspace.open(root)
    clients = {None: browser(root)}
    tokens = {None: None}
    for role, name in BY_ROLE.items():
        clients[role] = browser(root, name)
        tokens[role] = sessions.start(ws, name, PASSWORD, via="api").token
    refused_before = len([e for e in store.audit.entries(ws, limit=100000) if e["action"] == "refused"])
    expected_refusals = 0
    cells = []
    for route, method in _routes(app):
        declared = routes.declared(route)
        if route.path in ("/sign-out", "/api/sign-out") or (route.path, method) == ("/sign-in", "POST"):
            continue  # signing in and out, with its failures and lockout: tested in test_web_security.py
        url = _url(route.path)
        api = route.path.startswith("/api/")
        for role, client in clients.items():
            headers = {"authorization": f"Bearer {tokens[role]}"} if api and tokens[role] else {}
            if method == "GET":
                response = client.get(url, headers=headers, follow_redirects=False)
            else:
                response = client.post(url, data={}, headers=headers, csrf=not api)
            status = response.status_code
            if declared == "public":
                ok = status not in (401, 403) and not response.headers.get("location", "").startswith("/sign-in")
            elif role is None:
                if api:
                    ok = status == 401
                elif method == "GET":
                    ok = status == 303 and response.headers["location"].startswith("/sign-in")
                else:
                    ok = status == 403
            elif declared == "signed in" or allows({role}, declared):
                ok = status not in (401, 403) and status < 500
            else:
                ok = status == 403
                expected_refusals += 1
            cells.append((f"{method} {route.path}", role.value if role else "signed out", status, ok))
    wrong = [c for c in cells if not c[3]]
    assert wrong == [], "\n".join(f"{r} as {who}: {status}" for r, who, status, _ in wrong)
    assert len(cells) > 40  # the table is really walked
    refused = len([e for e in store.audit.entries(ws, limit=100000) if e["action"] == "refused"])
    assert refused - refused_before >= expected_refusals  # every refusal by the role table is audited


def test_navigation_shows_each_person_what_they_may_use(app_and_root):
    _, root = app_and_root
    for role, name in BY_ROLE.items():
        client = browser(root, name)
        page = client.get("/home").text
        nav = page[page.index('<nav class="roles"') : page.index("</nav>")]
        shown = set(re.findall(r'href="([^"]+)"', nav)) - {"/register"}
        expected = {i.href for i in NAV if i.permission is None or i.permission in ROLE_PERMISSIONS[role]}
        assert shown == expected, role
        for href in shown:
            assert client.get(href).status_code == 200, f"{name} ({role}) is shown {href} but cannot open it"
