"""People's lifecycle end to end: reactivation, lockout and unlock (the limit from bold.toml, the count surviving a
killed process, no account enumeration), training and approval with their expiry dates (a person without either
is refused on every action on data), the last-admin guard, and the audit entries of each."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bold
from bold.actions import people as people_actions
from bold.actions import workspace as workspace_actions
from bold.cli import app
from bold.errors import EXIT_CODES, Kind
from bold.governance import people
from bold.governance.people import AccessError, User
from bold.governance.permissions import NEEDS_CLEARANCE, PERMISSIONS, Permission, Role
from bold.store import audit
from bold.workspace import Workspace
from tests.integration.test_permissions_matrix import CALLS
from tests.web import browser

PASSWORD = "a-long-test-password"
SIGN_IN_POINT = "sign-in:counted"  # the fault point exercised here (test_crash_safety checks every one is)
runner = CliRunner()
TODAY = people.today()


def cli(name: str | None, *args: str, password: str = PASSWORD, new_password: str | None = None):
    env = {"BOLD_USER": name or "", "BOLD_PASSWORD": password}
    if new_password:
        env["BOLD_NEW_PASSWORD"] = new_password
    result = runner.invoke(app, list(args), env=env)
    assert "Traceback" not in result.output
    return result


def _admins(root: Path) -> Workspace:
    """A workspace whose two admins trained and approved each other, through the actions."""
    ws = workspace_actions.init(root, "adam", PASSWORD, name="lifecycle")
    adam = people_actions.sign_in(ws, "adam", PASSWORD)
    people_actions.add(ws, adam, "alex", ["admin"], PASSWORD)
    alex = people_actions.sign_in(ws, "alex", PASSWORD)
    for admin, other in ((adam, alex), (alex, adam)):
        people_actions.train(ws, admin, other.name, "data protection", TODAY - dt.timedelta(days=10))
        people_actions.approve(ws, admin, other.name, TODAY + dt.timedelta(days=365), "board minute 12")
    return ws


@pytest.fixture()
def ws(tmp_path) -> Workspace:
    ws = _admins(tmp_path / "ws")
    adam = people_actions.sign_in(ws, "adam", PASSWORD)
    people_actions.add(ws, adam, "cara", ["custodian"], PASSWORD)
    return ws


def _set(ws: Workspace, text: str) -> None:
    ws.settings_path.write_text(ws.settings_path.read_text() + text)


# --- deactivate and reactivate ------------------------------------------------------------------------
def test_a_reactivated_person_signs_in_again_and_their_history_keeps_their_name(ws):
    w = str(ws.root)
    assert cli("cara", "user", "list", "-w", w).exit_code == EXIT_CODES[Kind.REFUSED]  # an entry in her name
    assert cli("adam", "user", "deactivate", "cara", "-w", w).exit_code == 0
    refused = cli("cara", "status", "-w", w)
    assert refused.exit_code == EXIT_CODES[Kind.REFUSED] and "sign-in failed for 'cara'" in refused.output
    assert "deactivated" in cli("adam", "user", "list", "-w", w).output
    again = cli("adam", "user", "reactivate", "cara", "-w", w)
    assert again.exit_code == 0 and "cara reactivated" in again.output
    assert cli("cara", "status", "-w", w).exit_code == 0  # with the password she had
    twice = cli("adam", "user", "reactivate", "cara", "-w", w)
    assert twice.exit_code == EXIT_CODES[Kind.CONFLICT] and "nothing to reactivate" in twice.output
    missing = cli("adam", "user", "reactivate", "nobody", "-w", w)
    assert missing.exit_code == EXIT_CODES[Kind.NOT_FOUND]
    assert cli("cara", "user", "reactivate", "cara", "-w", w).exit_code == EXIT_CODES[Kind.REFUSED]  # admin only
    assert [e["object"] for e in audit.entries(ws, action="person reactivated", who="adam")] == ["cara"]
    assert [e["object"] for e in audit.entries(ws, action="refused", who="cara")][-1] == "user list"  # still hers
    assert audit.verify(ws).ok


# --- lockout and unlock -------------------------------------------------------------------------------
def test_lockout_after_the_failures_bold_toml_allows_and_an_admin_unlocks(ws):
    _set(ws, "\n[people]\nmax_failed_sign_ins = 3\n")
    w = str(ws.root)
    messages = set()
    for _ in range(3):
        wrong = cli("cara", "status", "-w", w, password="not-her-password")
        assert wrong.exit_code == EXIT_CODES[Kind.REFUSED]
        messages.add(wrong.output.replace("'cara'", "NAME"))
    assert "after 3 failed sign-ins in a row an account is locked until an admin unlocks it" in wrong.output
    locked = cli("cara", "status", "-w", w)  # the right password, but locked
    unknown = cli("nobody", "status", "-w", w, password="any-password-at-all")
    assert locked.exit_code == unknown.exit_code == EXIT_CODES[Kind.REFUSED]
    messages |= {locked.output.replace("'cara'", "NAME"), unknown.output.replace("'nobody'", "NAME")}
    assert len(messages) == 1 and "locked" in locked.output  # no enumeration: one message for every failure
    assert "locked" in cli("adam", "user", "list", "-w", w).output
    lock = audit.entries(ws, action="sign-in locked")
    assert [(e["actor"], e["object"], json.loads(e["details"])["failures"]) for e in lock] == [("bold", "cara", 3)]
    assert cli("cara", "user", "unlock", "cara", "-w", w).exit_code == EXIT_CODES[Kind.REFUSED]  # admin only
    unlocked = cli("adam", "user", "unlock", "cara", "-w", w)
    assert unlocked.exit_code == 0 and "cara unlocked" in unlocked.output
    assert cli("cara", "status", "-w", w).exit_code == 0
    assert cli("adam", "user", "unlock", "cara", "-w", w).exit_code == EXIT_CODES[Kind.CONFLICT]  # not locked
    assert [e["object"] for e in audit.entries(ws, action="person unlocked", who="adam")] == ["cara"]
    assert audit.verify(ws).ok


def test_a_successful_sign_in_resets_the_count(ws):
    _set(ws, "\n[people]\nmax_failed_sign_ins = 3\n")
    for _ in range(3):
        for _ in range(2):
            with pytest.raises(AccessError):
                people.sign_in(ws, "cara", "not-her-password")
        assert people.sign_in(ws, "cara", PASSWORD).name == "cara"
    assert not audit.entries(ws, action="sign-in locked")


@pytest.mark.parametrize("value", ["3", "0", "-1", "true", "2.5"])
def test_a_bad_lockout_setting_is_a_clear_error(ws, value):
    written = '"3"' if value == "3" else value  # "3" as a string, not a number
    _set(ws, f"\n[people]\nmax_failed_sign_ins = {written}\n")
    result = cli("adam", "status", "-w", str(ws.root))
    assert result.exit_code == EXIT_CODES[Kind.INVALID]
    assert "bold.toml: [people] max_failed_sign_ins" in result.output and "whole number" in result.output


def test_the_count_survives_a_killed_sign_in(ws):
    """Each sign-in killed after counting its attempt (before its password is checked, as a person trying
    passwords would kill a slow answer) stays counted; at the limit the right password is refused."""
    _set(ws, "\n[people]\nmax_failed_sign_ins = 2\n")
    env = {**os.environ, "PYTHONPATH": str(Path(bold.__file__).parents[1]), "BOLD_FAULT": SIGN_IN_POINT}
    env.update(BOLD_USER="cara", BOLD_PASSWORD=PASSWORD)
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", "from bold.cli import app; app()", "status", "-w", str(ws.root)],
            env=env,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == -9, done.stderr  # SIGKILL, as kill -9 would
    with pytest.raises(AccessError, match="sign-in failed for 'cara'"):
        people.sign_in(ws, "cara", PASSWORD)
    assert [e["object"] for e in audit.entries(ws, action="sign-in locked", who="bold")] == ["cara"]
    assert {p.name: p.locked for p in people.people(ws)}["cara"]
    people_actions.unlock(ws, people_actions.sign_in(ws, "adam", PASSWORD), "cara")
    assert people.sign_in(ws, "cara", PASSWORD).name == "cara"
    assert audit.verify(ws).ok


def test_web_sign_in_locks_out_and_an_unlock_lets_the_person_back(ws):
    _set(ws, "\n[people]\nmax_failed_sign_ins = 2\n")
    client = browser(ws.root)
    assert "After 2 failed attempts in a row" in client.page("/sign-in").text
    for _ in range(2):
        response = client.sign_in("cara", "not-her-password")
        assert response.status_code == 403 and "sign-in failed" in response.text
    response = client.sign_in("cara", PASSWORD)
    assert response.status_code == 403 and "locked" in response.text
    unknown = client.sign_in("nobody", PASSWORD)
    assert unknown.status_code == 403
    assert audit.entries(ws, action="sign-in locked", who="bold")
    people_actions.unlock(ws, people_actions.sign_in(ws, "adam", PASSWORD), "cara")
    assert client.sign_in("cara", PASSWORD).status_code == 303


# --- training and approval ----------------------------------------------------------------------------
# Pinned by hand: the actions that act on data. Changing which do means changing this too.
DATA_ACTIONS = {
    "ingest", "optout add", "batch withdraw", "link", "project build", "study run", "outputs show", "outputs check",
    "outputs report", "outputs request", "outputs withdraw", "outputs review", "outputs decide", "outputs release",
}  # fmt: skip
GAPS = ("untrained", "expired-training", "unapproved", "expired-approval", "deactivated")


def test_the_data_actions_are_the_policy():
    assert {p.value for p in NEEDS_CLEARANCE} == DATA_ACTIONS
    assert Permission.RETENTION_APPLY not in NEEDS_CLEARANCE  # a policy applied, also automatically
    assert not {p for p in NEEDS_CLEARANCE if p.value.startswith(("user ", "project approve", "audit", "register"))}


def _role_for(permission: Permission) -> Role:
    return sorted(PERMISSIONS[permission])[0]


@pytest.fixture(scope="module")
def gaps_ws(tmp_path_factory) -> Workspace:
    """For each role, a person with each gap; every record made through the actions, by the two admins."""
    ws = _admins(tmp_path_factory.mktemp("gaps") / "ws")
    adam = people_actions.sign_in(ws, "adam", PASSWORD)
    long_ago, soon = TODAY - dt.timedelta(days=800), TODAY + dt.timedelta(days=1)
    for role in {_role_for(p) for p in NEEDS_CLEARANCE}:
        for gap in GAPS:
            name = f"{gap}-{role.value.replace('_', '-')}"
            people_actions.add(ws, adam, name, [role.value], PASSWORD)
            if gap != "untrained":
                expires = TODAY - dt.timedelta(days=400) if gap == "expired-training" else None
                people_actions.train(ws, adam, name, "safe researcher", long_ago, expires)
            if gap != "unapproved":
                people_actions.approve(ws, adam, name, soon if gap == "expired-approval" else TODAY + dt.timedelta(400))
            if gap == "deactivated":
                people_actions.deactivate(ws, adam, name)
    return ws


EXPECTED_GAP = {
    "untrained": "they have no training on record",
    "expired-training": f"their training expired on {TODAY - dt.timedelta(days=400)} (safe researcher)",
    "unapproved": "they have no approval to work on data on record",
    "expired-approval": f"their approval expired on {TODAY + dt.timedelta(days=1)}",
    "deactivated": "they are deactivated",
}


@pytest.mark.parametrize("gap", GAPS)
@pytest.mark.parametrize("permission", sorted(NEEDS_CLEARANCE), ids=lambda p: p.value)
def test_a_person_not_cleared_is_refused_on_every_data_action(gaps_ws, monkeypatch, permission, gap):
    role = _role_for(permission)
    name = f"{gap}-{role.value.replace('_', '-')}"
    user = User(name, frozenset({role}))  # as signed in before any record lapsed (a session, a notebook)
    if gap == "expired-approval":
        monkeypatch.setattr(people, "today", lambda: TODAY + dt.timedelta(days=2))  # two days on
    calls = CALLS[permission]
    for call in calls if isinstance(calls, tuple) else (calls,):
        before = len(audit.entries(gaps_ws, action="refused", who=name, limit=10_000))
        with pytest.raises(AccessError) as refused:
            call(gaps_ws, user)
        assert f"{name} may not {permission.value}: it acts on data" in str(refused.value)
        assert EXPECTED_GAP[gap] in str(refused.value)
        entries = audit.entries(gaps_ws, action="refused", who=name, limit=10_000)
        assert len(entries) == before + 1 and "not cleared" in entries[0]["details"]


def test_train_approve_and_show_through_the_command_line(ws):
    w = str(ws.root)
    blocked = cli("cara", "ingest", "missing.csv", "--source", "prison", "-w", w)
    assert blocked.exit_code == EXIT_CODES[Kind.REFUSED]
    assert "cara may not ingest: it acts on data" in blocked.output and "no training on record" in blocked.output
    trained = cli("adam", "user", "train", "cara", "--course", "data protection", "--completed", "2026-01-05",
                  "--expires", (TODAY + dt.timedelta(days=300)).isoformat(), "-w", w)  # fmt: skip
    assert trained.exit_code == 0 and "Training recorded for cara" in trained.output
    still = cli("cara", "ingest", "missing.csv", "--source", "prison", "-w", w)
    assert "no approval" in still.output and "training" not in still.output.split("and", 1)[1]
    until = (TODAY + dt.timedelta(days=200)).isoformat()
    approved = cli("alex", "user", "approve", "cara", "--expires", until, "--by-note", "vetted, ref 9", "-w", w)
    assert approved.exit_code == 0 and f"cara approved to work on data until {until}" in approved.output
    past = cli("cara", "ingest", "missing.csv", "--source", "prison", "-w", w)
    assert past.exit_code == EXIT_CODES[Kind.INVALID] and "may not" not in past.output  # past it: no such file
    shown = cli("cara", "user", "show", "-w", w)
    assert shown.exit_code == 0 and "cara: custodian; active" in shown.output
    assert "data protection" in shown.output and until in shown.output and "May act on data" in shown.output
    assert cli("adam", "user", "show", "cara", "-w", w).exit_code == 0  # an admin sees anyone's
    other = cli("cara", "user", "show", "adam", "-w", w)
    assert other.exit_code == EXIT_CODES[Kind.REFUSED] and "their own record only" in other.output
    assert audit.entries(ws, action="refused", who="cara")
    assert audit.entries(ws, action="training recorded", who="adam")[0]["object"] == "cara"
    assert "vetted, ref 9" in audit.entries(ws, action="person approved", who="alex")[0]["details"]
    assert audit.verify(ws).ok


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("approve", "adam", "--expires", "2099-01-01"), "cannot approve yourself"),
        (("approve", "cara", "--expires", "2020-01-01"), "expected a date after today"),
        (("approve", "cara", "--expires", "soon"), "--expires 'soon' is not a date; expected YYYY-MM-DD"),
        (("train", "cara", "--course", "dp", "--completed", "2099-01-01"), "completed in the future"),
        (("train", "cara", "--course", "dp", "--completed", "2026-01-02", "--expires", "2026-01-01"), "after"),
        (("train", "cara", "--course", " ", "--completed", "2026-01-02"), "name the training course"),
        (("train", "nobody", "--course", "dp", "--completed", "2026-01-02"), "no person 'nobody'"),
    ],
)
def test_bad_training_and_approval_records_are_refused(ws, args, expected):
    result = cli("adam", "user", *args, "-w", str(ws.root))
    assert result.exit_code != 0 and expected in result.output, result.output
    assert not people.standing(ws, "cara").training and not people.standing(ws, "cara").approvals


def test_an_admin_without_clearance_can_still_manage_people(tmp_path):
    ws = workspace_actions.init(tmp_path / "ws", "adam", PASSWORD)
    adam = people_actions.sign_in(ws, "adam", PASSWORD)
    people_actions.add(ws, adam, "cara", ["custodian"], PASSWORD)
    people_actions.add(ws, adam, "alex", ["admin"], PASSWORD)
    people_actions.train(ws, adam, "cara", "data protection", TODAY)
    people_actions.approve(ws, adam, "cara", TODAY + dt.timedelta(days=30))
    people_actions.deactivate(ws, adam, "cara")
    people_actions.reactivate(ws, adam, "cara")
    assert people_actions.show(ws, adam, "cara").gaps == []
    assert people_actions.show(ws, adam, "adam").gaps  # adam himself is not cleared ...
    with pytest.raises(AccessError, match="adam may not ingest: it acts on data"):
        CALLS[Permission.INGEST][0](ws, adam)  # ... so he may not act on data
    cara = people_actions.sign_in(ws, "cara", PASSWORD)
    with pytest.raises(Exception) as past:  # cara, trained and approved, gets past the check
        CALLS[Permission.INGEST][0](ws, cara)
    assert "may not" not in str(past.value)


# --- the last admin -----------------------------------------------------------------------------------
def test_the_last_active_admin_cannot_be_deactivated(ws):
    adam, alex = (people_actions.sign_in(ws, n, PASSWORD) for n in ("adam", "alex"))
    people_actions.deactivate(ws, adam, "alex")  # two admins: one may go
    with pytest.raises(AccessError, match="adam is the last active admin") as refused:
        people_actions.deactivate(ws, alex, "adam")  # alex's session from before, as an attacker would keep it
    assert refused.value.kind is Kind.CONFLICT
    assert people.standing(ws, "adam").state == "active"
    with pytest.raises(AccessError, match="last active admin"):
        people.deactivate(ws, "adam", by="someone")  # the stage holds the rule, not only the action
    people_actions.reactivate(ws, adam, "alex")
    assert people_actions.sign_in(ws, "alex", PASSWORD).name == "alex"
    assert [e["object"] for e in audit.entries(ws, action="person deactivated")] == ["alex"]
    assert audit.verify(ws).ok


def test_the_people_page_lets_an_admin_manage_people(ws):
    client = browser(ws.root)
    assert client.sign_in("adam", PASSWORD).status_code == 303
    listed = client.page("/people")
    assert listed.status_code == 200 and "cara" in listed.text and "no training on record" in listed.text
    done = client.post(
        "/people/train", {"person": "cara", "course": "data protection", "completed": "2026-01-05", "expires": ""}
    )
    assert done.status_code == 303
    client.page("/people")
    until = (TODAY + dt.timedelta(days=100)).isoformat()
    assert client.post("/people/approve", {"person": "cara", "expires": until, "note": "ref 7"}).status_code == 303
    assert until in client.page("/people").text
    assert people.standing(ws, "cara").gaps == []
    client.page("/people")
    self_approval = client.post("/people/approve", {"person": "adam", "expires": until, "note": ""})
    assert self_approval.status_code == 403 and "cannot approve yourself" in self_approval.text
    client.page("/people")
    bad = client.post("/people/train", {"person": "cara", "course": "x", "completed": "soon", "expires": ""})
    assert bad.status_code == 422 and "is not a date" in bad.text
    client.page("/people")
    assert client.post("/people/cara/deactivate", {}).status_code == 303
    assert people.standing(ws, "cara").state == "deactivated"
    client.page("/people")
    assert client.post("/people/cara/reactivate", {}).status_code == 303
    client.page("/people")
    last = client.post("/people/adam/deactivate", {})
    assert last.status_code == 403 and "cannot deactivate yourself" in last.text
    for _ in range(5):
        with pytest.raises(AccessError):
            people.sign_in(ws, "cara", "not-her-password")
    page = client.page("/people")
    assert "Unlock cara" in page.text
    assert client.post("/people/cara/unlock", {}).status_code == 303
    assert people.sign_in(ws, "cara", PASSWORD).name == "cara"
    cara = browser(ws.root)
    assert cara.sign_in("cara", PASSWORD).status_code == 303
    assert cara.page("/people").status_code == 403  # a custodian may not list people
    assert [e["actor"] for e in audit.entries(ws, action="person unlocked")] == ["adam"]
