"""People's lifecycle: a deactivated person cannot sign in, a changed password replaces the old one, and
both are in the audit chain."""

from __future__ import annotations

import pytest

from bold.actions import people
from bold.governance.people import AccessError, add_person
from bold.store import audit
from bold.workspace import Workspace

PASSWORD = "a-long-test-password"


@pytest.fixture()
def ws(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    add_person(ws, "adam", ["admin"], PASSWORD, by="test")
    add_person(ws, "cara", ["custodian"], PASSWORD, by="adam")
    return ws


def test_a_deactivated_person_cannot_sign_in_and_keeps_their_history(ws):
    adam = people.sign_in(ws, "adam", PASSWORD)
    people.deactivate(ws, adam, "cara")
    with pytest.raises(AccessError, match="sign-in failed for 'cara'"):
        people.sign_in(ws, "cara", PASSWORD)
    listed = {p.name: p.active for p in people.list_people(ws, adam)}
    assert listed == {"adam": True, "cara": False}
    assert audit.entries(ws, action="person deactivated", who="adam")[0]["object"] == "cara"
    with pytest.raises(AccessError, match="already deactivated"):
        people.deactivate(ws, adam, "cara")
    with pytest.raises(AccessError, match="cannot deactivate yourself"):
        people.deactivate(ws, adam, "adam")
    with pytest.raises(AccessError, match="no person 'nobody'"):
        people.deactivate(ws, adam, "nobody")


def test_a_changed_password_replaces_the_old_one(ws):
    cara = people.sign_in(ws, "cara", PASSWORD)
    with pytest.raises(AccessError, match="12 characters"):
        people.change_password(ws, cara, "short")
    people.change_password(ws, cara, "another-long-password")
    with pytest.raises(AccessError, match="sign-in failed"):
        people.sign_in(ws, "cara", PASSWORD)
    assert people.sign_in(ws, "cara", "another-long-password").name == "cara"
    assert audit.entries(ws, action="password changed")[0]["actor"] == "cara"
    assert audit.verify(ws).ok


def test_user_names_are_checked(ws):
    adam = people.sign_in(ws, "adam", PASSWORD)
    for bad in ("", "two words", "semi;colon", "../etc"):
        with pytest.raises(AccessError, match="is not a user name"):
            people.add(ws, adam, bad, ["analyst"], PASSWORD)
