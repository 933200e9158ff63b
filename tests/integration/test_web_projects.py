"""The projects and governance pages against the real app, actions, stages and store: an analyst submits an
agreement, the board decides (never on its own submission, never refusing without a reason), asks for changes
and the team amends, the admin builds the extract in the background, the board closes with a confirmation,
and the audit page lists and verifies the chain, finding a store edited behind BOLD's back."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from bold.actions import people as people_actions
from bold.actions import projects as project_actions
from bold.errors import BoldError
from bold.governance import projects as project_stage
from bold.governance.people import User
from bold.governance.permissions import Role
from bold.workspace import Workspace
from tests.conftest import DPIA, board_answers
from tests.web import PASSWORD, PEOPLE, browser

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
P = "continuity-of-care"
TITLE = "Substance use after leaving prison"


@pytest.fixture(scope="module")
def snapshot(web_linked) -> Path:
    """The shared web workspace: one person per role (tests/web.py), four sources of a thousand synthetic people
    ingested and linked, enough to approve and build the example agreement. Each test works on a copy
    (milliseconds), so the shared one is never changed."""
    return web_linked


@pytest.fixture()
def root(snapshot, tmp_path) -> Path:
    return shutil.copytree(snapshot, tmp_path / "ws")


def agreement_text(**changes) -> str:
    """The example agreement, running from a month ago to a year from now (so it can be built today)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    today = dt.date.today()
    data.update(start=today - dt.timedelta(days=30), end=today + dt.timedelta(days=365), **changes)
    return yaml.safe_dump(data, sort_keys=False)


def submitted(root: Path, name: str = "ana", **changes):
    """``name``'s browser, after uploading the agreement as a file."""
    b = browser(root, name)
    b.page("/projects/submit")
    r = b.post("/projects/submit", files={"file": ("agreement.yaml", agreement_text(**changes), "application/yaml")})
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{P}?done=submitted", r.text
    return b


ANSWERS = {f"answer_{c}": "yes" for c in project_actions.HUMAN_CRITERIA} | {
    f"reason_{c}": f"the board's reason on {c}" for c in project_actions.HUMAN_CRITERIA
}


def with_dpia(board):
    """``board`` (a governance browser) after recording the example DPIA of the version under review."""
    r = board.post(f"/projects/{P}/dpia", files={"file": ("dpia.yaml", DPIA.read_text(), "application/yaml")})
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{P}?done=dpia", r.text
    return board


def adam_cannot_build_yet(root: Path) -> bool:
    """The admin's build of a project some custodian has not signed off is refused, saying which sources."""
    with pytest.raises(BoldError, match=r"not signed off by the custodians of treatment, deaths, hospital"):
        project_actions.build(Workspace.open(root), User("adam", frozenset({Role.ADMIN})), P)
    return True


def state(root: Path) -> str:
    return project_stage.get(Workspace.open(root), P).status.value


def test_an_analyst_submits_and_the_board_sees_it_waiting_and_approves(root):
    ana = submitted(root)
    page = ana.page(f"/projects/{P}?done=submitted")
    assert page.status_code == 200 and TITLE in page.text and "The agreement is submitted" in page.text
    assert "mortality by OST at release" in page.text  # a field with its reason
    assert "No red line is crossed" in page.text and "two output checkers are named" in page.text
    assert f'action="/projects/{P}/approve"' not in page.text and f'action="/projects/{P}/refuse"' not in page.text
    assert f'href="/projects/{P}/amend"' in page.text  # the team's moves only
    assert not list((root / "tmp").glob("agreement-*"))  # the uploaded file is gone once submitted

    grace = browser(root, "grace")
    listing = grace.page("/projects").text
    waiting = listing.split("Waiting for a decision")[1].split("All other projects")[0]
    assert f'href="/projects/{P}"' in waiting
    page = grace.page(f"/projects/{P}").text
    assert f'action="/projects/{P}/approve"' in page and f'action="/projects/{P}/refuse"' in page

    r = grace.post(f"/projects/{P}/refuse", {"reason": "  ", "decision": "refuse"})
    assert r.status_code == 422 and "a refusal needs a reason" in r.text and TITLE in r.text
    assert state(root) == "submitted"

    r = ana.post(f"/projects/{P}/approve", ANSWERS)
    assert r.status_code == 403 and "may not project approve" in r.text
    assert state(root) == "submitted"

    r = grace.post(f"/projects/{P}/approve", ANSWERS)
    assert r.status_code == 403 and "has no DPIA" in r.text and state(root) == "submitted"
    assert ana.post(f"/projects/{P}/dpia", files={"file": ("d.yaml", "x: 1", "text/yaml")}).status_code == 403
    r = grace.post(f"/projects/{P}/dpia", files={"file": ("d.yaml", "summary: s\n", "text/yaml")})
    assert r.status_code == 422 and "the DPIA sent: line 1: risks: Field required" in r.text
    with_dpia(grace)
    r = grace.post(f"/projects/{P}/approve", {**ANSWERS, "reason_impact": " "})
    assert r.status_code == 422 and "the answer on impact: reason" in r.text and state(root) == "submitted"
    r = grace.post(f"/projects/{P}/approve", {**ANSWERS, "answer_no-stigma": "no"})
    assert r.status_code == 422 and "answered no to no-stigma" in r.text and state(root) == "submitted"
    r = grace.post(f"/projects/{P}/approve", ANSWERS)
    assert r.status_code == 303
    page = grace.page(r.headers["location"]).text
    assert "The project is approved" in page and f'action="/projects/{P}/approve"' not in page
    assert state(root) == "approved"
    assert "Waiting for a decision" in grace.page("/projects").text
    assert "No project is waiting for a decision" in grace.page("/projects").text


def test_a_bad_agreement_shows_its_one_line_error_on_the_form(root):
    ana = browser(root, "ana")
    bad = agreement_text().replace("start:", "begins:")
    r = ana.post("/projects/submit", {"text": bad})
    assert r.status_code == 422 and "start: Field required" in r.text and "Submit a project" in r.text
    assert "begins:" in r.text  # the pasted text is kept on the form to be corrected
    assert "/tmp/" not in r.text.split("<textarea")[0]  # the temporary file's name is never shown
    r = ana.post("/projects/submit", {"text": "id: [unclosed"})
    assert r.status_code == 422 and "not valid YAML" in r.text
    r = ana.post("/projects/submit", {"text": ""})
    assert r.status_code == 422 and "choose the agreement&#39;s file, or paste its text" in r.text
    assert not list((root / "tmp").glob("agreement-*"))
    assert project_stage.all_projects(Workspace.open(root)) == []
    assert browser(root, "lin").page("/projects/submit").status_code == 403  # a linker submits nothing


def test_the_team_withdraws_with_a_confirmation(root):
    ana = browser(root, "ana")  # a browser sends an empty file part when no file is chosen: the text is used
    r = ana.post("/projects/submit", {"text": agreement_text()}, files={"file": ("", b"", "application/octet-stream")})
    assert r.status_code == 303 and state(root) == "submitted"
    assert "cannot be resubmitted" in ana.page(f"/projects/{P}/withdraw").text
    r = ana.post(f"/projects/{P}/withdraw", {})
    assert r.status_code == 422 and "nothing was withdrawn" in r.text and state(root) == "submitted"
    assert browser(root, "ali").post(f"/projects/{P}/withdraw", {"confirm": "yes"}).status_code == 403
    assert state(root) == "submitted"  # ali is an analyst, but not of this project
    r = ana.post(f"/projects/{P}/withdraw", {"confirm": "yes"})
    assert r.status_code == 303 and state(root) == "withdrawn"
    page = ana.page(r.headers["location"]).text
    assert "The project is withdrawn" in page and "Nothing for you to do" in page


def test_the_submitter_cannot_decide_their_own_project(root):
    grace = submitted(root, "grace")  # governance may submit too, but then another member decides
    page = grace.page(f"/projects/{P}").text
    assert f'action="/projects/{P}/approve"' not in page and "another member of the governance board" in page
    r = grace.post(f"/projects/{P}/approve", ANSWERS)
    assert r.status_code == 403 and TITLE in r.text  # the project page, with the stage's refusal as its error
    assert "grace submitted continuity-of-care and cannot also approve it" in r.text
    assert state(root) == "submitted"
    entries = grace.page("/audit?action=project approval refused").text
    assert "project approval refused" in entries.split("Audit entries, newest first")[-1]


def test_the_board_asks_for_changes_and_the_team_amends(root):
    ana = submitted(root)
    grace = browser(root, "grace")
    r = grace.post(f"/projects/{P}/refuse", {"reason": "", "decision": "changes"})
    assert r.status_code == 422 and "say which changes" in r.text and state(root) == "submitted"
    r = grace.post(f"/projects/{P}/refuse", {"reason": "name the prisons in the purpose", "decision": "changes"})
    assert r.status_code == 303 and state(root) == "refused"

    page = ana.page(f"/projects/{P}").text
    assert "The board asked for changes" in page and "name the prisons in the purpose" in page
    assert '<span class="state state-changes-requested">changes requested</span>' in ana.page("/projects").text
    assert 'accept=".yaml' in ana.page("/projects/submit").text  # the file chooser offers YAML files
    assert f'href="/projects/{P}/amend"' in page and f'href="/projects/{P}/withdraw"' in page
    form = ana.page(f"/projects/{P}/amend").text
    assert "id: continuity-of-care" in form  # the current agreement, ready to edit

    ali = browser(root, "ali")  # an analyst, but not of this agreement
    assert f'href="/projects/{P}/amend"' not in ali.page(f"/projects/{P}").text
    r = ali.post(f"/projects/{P}/amend", {"text": agreement_text()})
    assert r.status_code == 403 and "ali is neither the submitter nor an analyst" in r.text

    r = ana.post(f"/projects/{P}/amend", {"text": agreement_text(id="another-project")})
    assert r.status_code == 422 and "is the agreement of &#39;another-project&#39;" in r.text
    assert "/tmp/" not in r.text.split("<textarea")[0]

    amended = agreement_text(purpose="Continuity of care after release from HMP Leeds and HMP Hull.")
    r = ana.post(f"/projects/{P}/amend", files={"file": ("a.yaml", amended, "application/yaml")})
    assert r.status_code == 303 and state(root) == "submitted"
    page = grace.page(f"/projects/{P}").text
    assert "HMP Leeds" in page and "amended 1 time" in page and f'action="/projects/{P}/approve"' in page


def test_the_admin_builds_in_the_background_and_the_board_closes_with_a_confirmation(root):
    ana = submitted(root)
    grace = with_dpia(browser(root, "grace"))
    assert grace.post(f"/projects/{P}/approve", ANSWERS).status_code == 303
    assert f'action="/projects/{P}/build"' not in ana.page(f"/projects/{P}").text
    assert ana.post(f"/projects/{P}/build").status_code == 403
    cara = browser(root, "cara")
    assert 'action="/projects/continuity-of-care/sign-off"' in cara.page(f"/projects/{P}").text
    r = cara.post(f"/projects/{P}/sign-off", {"source": "homelessness", "conditions": ""})
    assert r.status_code == 422 and "does not request &#39;homelessness&#39;" in r.text
    r = cara.post(f"/projects/{P}/sign-off", {"source": "prison", "conditions": ""})
    assert r.status_code == 303
    assert adam_cannot_build_yet(root)
    for source in ("prison", "treatment", "deaths", "hospital"):
        r = cara.post(f"/projects/{P}/sign-off", {"source": source, "conditions": "results by region only"})
        assert r.status_code == 303, r.text
    assert "treatment (cara: results by region only)" in grace.page(f"/projects/{P}").text

    adam = browser(root, "adam")
    assert f'action="/projects/{P}/build"' in adam.page(f"/projects/{P}").text
    r = adam.post(f"/projects/{P}/build")
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    status = r.headers["location"] + "/status"
    deadline = time.monotonic() + 60
    while 'data-state="done"' not in (text := adam.page(status).text):
        assert 'data-state="failed"' not in text, text
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert f'href="/projects/{P}"' in text
    extract = root / "projects" / P / "extract.duckdb"
    assert extract.exists()
    assert "extract built" in adam.page(f"/projects/{P}").text

    links = ana.page(f"/projects/{P}").text.split("Work on this project")[1].split("The agreement")[0]
    assert all(f'href="/projects/{P}/{where}"' in links for where in ("run", "outputs", "releases"))
    board = grace.page(f"/projects/{P}").text
    assert f'href="/projects/{P}/run"' not in board and f'href="/projects/{P}/close"' in board

    assert "closing deletes the project&#39;s extract" in grace.page(f"/projects/{P}/close").text
    r = grace.post(f"/projects/{P}/close", {})
    assert r.status_code == 422 and "tick the box" in r.text and state(root) == "approved" and extract.exists()
    assert ana.post(f"/projects/{P}/close", {"confirm": "yes"}).status_code == 403
    r = grace.post(f"/projects/{P}/close", {"confirm": "yes"})
    assert r.status_code == 303 and state(root) == "closed" and not extract.exists()
    page = grace.page(r.headers["location"]).text
    assert "The project is closed" in page and f'href="/projects/{P}/close"' not in page


def test_the_audit_page_lists_entries_and_verifies_the_chain(root):
    submitted(root)
    grace = with_dpia(browser(root, "grace"))
    grace.post(f"/projects/{P}/approve", ANSWERS)
    page = grace.page("/audit").text
    table = page.split("Audit entries, newest first")[-1]
    assert "signed in" in table and "project approved" in table and "project submitted" in table
    assert table.index("project approved") < table.index("project submitted")  # newest first
    only = grace.page("/audit?action=project *&actor=grace").text.split("Audit entries, newest first")[-1]
    assert "project approved" in only and "signed in" not in only and "project submitted" not in only
    assert 'max="1000"' in page  # the limit box says its bounds
    r = grace.page("/audit?since=yesterday")
    assert r.status_code == 422 and "since: give a date" in r.text
    r = grace.page("/audit?limit=0")
    assert r.status_code == 422 and "whole number of entries" in r.text
    today = dt.datetime.now(dt.UTC)
    assert "No entries match" in grace.page(f"/audit?since={today.date() + dt.timedelta(days=1)}").text
    recent = grace.page(f"/audit?since={today.date()}").text.split("Audit entries, newest first")[-1]
    assert "project approved" in recent
    later = (today + dt.timedelta(hours=1)).astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()
    assert "No entries match" in grace.page("/audit", params={"since": later}).text  # an hour from now, in UTC+2
    r = grace.page("/audit?limit=1")
    assert r.text.split("Audit entries, newest first")[-1].count('<td class="num">') == 1

    history = grace.page(f"/projects/{P}").text.split("entries about this project")[-1]
    assert "project submitted" in history and "project approved" in history

    r = grace.post("/audit/verify")
    assert r.status_code == 200 and "The chain is intact" in r.text
    assert browser(root, "ana").page("/audit").status_code == 403
    assert f'href="/projects/{P}"' in grace.page("/audit?object=" + P).text


def test_a_store_edited_behind_boldsback_is_named_by_verify(root):
    grace = browser(root, "grace")
    db = sqlite3.connect(root / "governance.db")
    with db:
        db.execute("update people set roles = '[\"admin\", \"governance\"]' where name = 'ana'")
    db.close()
    r = grace.post("/audit/verify")
    assert r.status_code == 200 and "The chain is broken" in r.text and "The chain is intact" not in r.text
    problems = r.text.split("The chain is broken")[1]
    assert "people" in problems


def test_moves_are_offered_by_role_state_and_record(root):
    """The action behind the buttons: only the moves each person could make now."""
    submitted(root)
    ws = Workspace.open(root)

    def moves(name):  # the person as signing in gives them (without hashing a password for each)
        return project_actions.moves(ws, User(name, frozenset(Role(r) for r in PEOPLE[name])), P)

    assert moves("grace") == ["dpia", "approve", "refuse"]
    assert moves("ana") == ["amend", "withdraw"] and moves("cara") == ["sign-off"]
    assert moves("ali") == [] and moves("adam") == [] and moves("oscar") == []
    grace = people_actions.sign_in(ws, "grace", PASSWORD)  # signed in, as a face does
    project_actions.record_dpia(ws, grace, P, DPIA)
    project_actions.approve(ws, grace, P, board_answers())
    assert moves("grace") == ["close"] and moves("adam") == ["build", "close"] and moves("ana") == ["amend"]
    assert moves("cara") == ["sign-off"]
