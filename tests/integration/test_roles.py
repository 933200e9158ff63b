"""People and roles: every workspace action checks the role; passwords are argon2 hashes; refusals are audited."""

from __future__ import annotations

import pytest

from bold.actions.access import require
from bold.actions.people import sign_in
from bold.governance.people import AccessError, add_person, people
from bold.governance.permissions import PERMISSIONS, ROLES, Permission
from bold.store import audit
from bold.workspace import Workspace
from tests.conftest import clear

PASSWORD = "a-long-test-password"


def authorise(ws, action, name, password=PASSWORD):
    """Sign in as ``name`` and check ``action``, as every command does."""
    return require(ws, sign_in(ws, name, password), Permission(action))


# The table of action x role (docs/design/DOMAIN.md section 4): who may do what.
EXPECTED = {
    "ingest": {"custodian", "admin"},
    "link": {"linker", "admin"},
    "project submit": {"analyst", "governance", "admin"},
    "project approve": {"governance"},
    "project build": {"admin"},
    "project close": {"governance", "admin"},
    "audit verify": {"governance", "admin"},
    "user add": {"admin"},
    "project list": set(ROLES),
    "study list": set(ROLES),
    "study run": {"analyst"},
    "outputs list": {"analyst", "output_checker", "governance", "admin"},
    "outputs show": {"output_checker"},
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = Workspace.init(tmp_path_factory.mktemp("roles") / "ws")
    for role in ROLES:
        add_person(ws, role, [role], PASSWORD, by="test")
        clear(ws, role)
    return ws


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_only_what_it_should(ws, action, role):
    assert PERMISSIONS[action] == EXPECTED[action]
    if role in EXPECTED[action]:
        assert authorise(ws, action, role).name == role
    else:
        with pytest.raises(AccessError, match=f"{role} \\({role}\\) may not {action}"):
            authorise(ws, action, role)


def test_an_analyst_can_never_approve_anything(ws):
    for action in ("project approve", "project build", "audit verify", "user add"):
        with pytest.raises(AccessError):
            authorise(ws, action, "analyst")
    assert audit.entries(ws, action="refused", who="analyst")


def test_passwords_are_argon2_hashes_and_bad_sign_ins_are_audited(ws):
    stored = ws.governance_path.read_bytes()
    assert PASSWORD.encode() not in stored and b"$argon2id$" in stored
    with pytest.raises(AccessError, match="sign-in failed"):
        authorise(ws, "link", "linker", "wrong-password-here")
    with pytest.raises(AccessError, match="sign-in failed"):
        authorise(ws, "link", "nobody", "wrong-password-here")
    assert {e["object"] for e in audit.entries(ws, action="failed sign-in")} >= {"linker", "nobody"}


def test_people_need_known_roles_and_long_passwords(ws):
    with pytest.raises(AccessError, match="unknown role"):
        add_person(ws, "x", ["wizard"], PASSWORD, by="test")
    with pytest.raises(AccessError, match="12 characters"):
        add_person(ws, "y", ["analyst"], "short", by="test")
    with pytest.raises(AccessError, match="already exists"):
        add_person(ws, "admin", ["admin"], PASSWORD, by="test")
    assert {p.name for p in people(ws)} == set(ROLES)
