"""Helpers for the web application's tests: a workspace with one person per role, and a test client that signs in
and sends each form's CSRF token as a browser would."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from bold.actions import people
from bold.actions import workspace as workspace_actions
from bold.web.app import create_app
from tests.conftest import clear

PASSWORD = "web-test-password"  # every test person's; at least 12 characters
PEOPLE = {
    "adam": ["admin"],
    "cara": ["custodian"],
    "lin": ["linker"],
    "ana": ["analyst"],
    "ali": ["analyst"],
    "grace": ["governance"],
    "oscar": ["output_checker"],
    "olivia": ["output_checker"],
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def people_workspace(root: Path) -> Path:
    """A new workspace at ``root`` with the people of ``PEOPLE`` (adam is the admin who made it)."""
    ws = workspace_actions.init(root, "adam", PASSWORD, name="web-test")
    admin = people.sign_in(ws, "adam", PASSWORD)
    for name, roles in PEOPLE.items():
        if name != "adam":
            people.add(ws, admin, name, roles, PASSWORD)
    clear(ws, *PEOPLE)
    return root


def add_people(ws, names=PEOPLE) -> None:
    """Add the people of ``PEOPLE`` (but adam) to an existing workspace whose admin is adam."""
    admin = people.sign_in(ws, "adam", PASSWORD)
    known = {u.name for u in people.list_people(ws, admin)}
    for name in names:
        if name not in known:
            people.add(ws, admin, name, PEOPLE[name], PASSWORD)
            clear(ws, name)


class Browser(TestClient):
    """A test client that behaves as a browser: it keeps cookies, and ``post`` sends the form's CSRF token."""

    csrf: str | None = None

    def page(self, url: str, **kwargs):
        response = self.get(url, **kwargs)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, url: str, data=None, files=None, csrf: bool = True, **kwargs):
        if csrf:
            if self.csrf is None:
                self.page("/sign-in" if "bold_session" not in self.cookies else "/account")
            data = {**(data or {}), "csrf": self.csrf}
        kwargs.setdefault("follow_redirects", False)
        return super().post(url, data=data, files=files, **kwargs)

    def sign_in(self, name: str, password: str = PASSWORD):
        self.csrf = None
        response = self.post("/sign-in", {"name": name, "password": password, "next": "/home"})
        self.csrf = None  # a new session: a new token
        if response.status_code == 303:
            self.page("/account")
        return response


def browser(root: Path, name: str | None = None, base_url: str = "http://testserver", **app_options) -> Browser:
    """A client of a new app on the workspace at ``root``, signed in as ``name`` if given."""
    client = Browser(create_app(root, **app_options), base_url=base_url)
    if name:
        response = client.sign_in(name)
        assert response.status_code == 303, response.text
    return client
