"""Every cell of role x action, and every cell of project state x transition x role, against the real actions.

The tables in ``bold.governance.permissions`` and ``bold.governance.lifecycle`` are pinned here by hand, and
every action function is called as a person holding each role: a refused call is refused by the action
itself (and audited), an allowed one gets past the check (it may then fail for other reasons, such as an
unknown project, which is not a refusal).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
from pathlib import Path

import pytest
import yaml

from bold import actions
from bold.actions import audit as audit_actions
from bold.actions import ingest as ingest_actions
from bold.actions import linkage as linkage_actions
from bold.actions import outputs as output_actions
from bold.actions import people as people_actions
from bold.actions import projects as project_actions
from bold.actions import register as register_actions
from bold.actions import retention as retention_actions
from bold.actions import sources as source_actions
from bold.actions import studies as study_actions
from bold.actions import workspace as workspace_actions
from bold.errors import BoldError, Kind
from bold.governance.lifecycle import OUTPUT, PROJECT, ProjectState
from bold.governance.people import AccessError, User
from bold.governance.permissions import PERMISSIONS, ROLES, Permission, Role
from bold.ingest.pipeline import ingest
from bold.store import audit
from bold.workspace import Workspace
from tests.conftest import DPIA, add_cleared, board_answers

PASSWORD = "a-long-test-password"
ALL = set(ROLES)

# Who may do what (DOMAIN.md section 4), written out by hand: changing the policy means changing this too.
EXPECTED = {
    "status": ALL,
    "sources": ALL,
    "ingest": {"custodian", "admin"},
    "optout add": {"custodian", "admin"},
    "optout count": {"custodian", "governance", "admin"},
    "batch withdraw": {"custodian", "admin"},
    "retention show": {"custodian", "governance", "admin"},
    "retention apply": {"admin"},
    "link": {"linker", "admin"},
    "link report": {"linker", "governance", "admin"},
    "project submit": {"analyst", "governance", "admin"},
    "project approve": {"governance"},
    "project refuse": {"governance"},
    "project dpia": {"governance"},
    "project sign-off": {"custodian"},
    "project amend": {"analyst", "governance", "admin"},
    "project withdraw": {"analyst", "governance", "admin"},
    "project show": ALL,
    "project list": ALL,
    "project build": {"admin"},
    "project close": {"governance", "admin"},
    "study list": ALL,
    "study run": {"analyst"},
    "outputs list": {"analyst", "output_checker", "governance", "admin"},
    "outputs show": {"output_checker"},
    "outputs check": {"analyst", "output_checker"},
    "outputs report": {"analyst", "output_checker"},
    "outputs request": {"analyst"},
    "outputs withdraw": {"analyst"},
    "outputs review": {"output_checker"},
    "outputs decide": {"output_checker"},
    "outputs release": {"output_checker"},
    "releases list": {"analyst", "output_checker", "governance", "admin"},
    "releases show": {"analyst", "output_checker"},
    "releases verify": {"analyst", "output_checker", "governance", "admin"},
    "releases impact": {"governance"},
    "audit verify": {"governance", "admin"},
    "audit show": {"governance", "admin"},
    "register build": {"governance", "admin"},
    "user add": {"admin"},
    "user list": {"governance", "admin"},
    "user deactivate": {"admin"},
    "user password": ALL,
    "user reactivate": {"admin"},
    "user unlock": {"admin"},
    "user train": {"admin"},
    "user approve": {"admin"},
    "user show": ALL,
}


def test_the_role_table_is_the_policy():
    assert {p.value for p in Permission} == set(EXPECTED)
    for permission, roles in PERMISSIONS.items():
        assert set(roles) == EXPECTED[permission.value], permission


# One call per permission, with arguments that fail quickly once past the check (nothing is ingested or linked).
CALLS = {
    Permission.STATUS: lambda ws, u: workspace_actions.status(ws, u),
    Permission.SOURCES: lambda ws, u: source_actions.sources(ws, u),
    Permission.INGEST: (
        lambda ws, u: ingest_actions.ingest(ws, u, ws.root / "missing.csv", "prison"),
        lambda ws, u: ingest_actions.sources(ws, u),
        lambda ws, u: ingest_actions.batch(ws, u, 999),
        lambda ws, u: ingest_actions.quarantine_export(ws, u, 999, ws.root.parent / "quarantine.csv"),
    ),
    Permission.OPTOUT_ADD: (
        lambda ws, u: ingest_actions.optout_plan(ws, u, ws.root / "missing.csv"),
        lambda ws, u: ingest_actions.optout_add(ws, u, ws.root / "missing.csv", confirmed=True),
    ),
    Permission.OPTOUT_COUNT: lambda ws, u: ingest_actions.optout_count(ws, u),
    Permission.BATCH_WITHDRAW: (
        lambda ws, u: ingest_actions.withdraw_plan(ws, u, "prison", "no-such-batch"),
        lambda ws, u: ingest_actions.withdraw(ws, u, "prison", "no-such-batch", confirmed=True),
        lambda ws, u: ingest_actions.delete_list_plan(ws, u, "participants"),
        lambda ws, u: ingest_actions.delete_list(ws, u, "participants", confirmed=True),
    ),
    Permission.RETENTION_SHOW: lambda ws, u: retention_actions.show(ws, u),
    Permission.RETENTION_APPLY: lambda ws, u: retention_actions.apply(ws, u),
    Permission.LINK: (
        lambda ws, u: linkage_actions.link(ws, u),
        lambda ws, u: linkage_actions.runs(ws, u),
        lambda ws, u: linkage_actions.explain(
            ws, u, "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
        ),
        lambda ws, u: linkage_actions.review_sample(ws, u),
        lambda ws, u: linkage_actions.review_labels(ws, u, ws.root / "missing.csv"),
        lambda ws, u: linkage_actions.report(ws, u, truth=ws.root / "no-truth"),  # records recall: links zone
    ),
    Permission.LINK_REPORT: lambda ws, u: linkage_actions.report(ws, u, run=999),
    Permission.PROJECT_SUBMIT: lambda ws, u: project_actions.submit(ws, u, ws.root / "missing.yaml"),
    Permission.PROJECT_APPROVE: lambda ws, u: project_actions.approve(ws, u, "no-such-project", board_answers()),
    Permission.PROJECT_DPIA: lambda ws, u: project_actions.record_dpia(ws, u, "no-such-project", DPIA),
    Permission.PROJECT_SIGN_OFF: lambda ws, u: project_actions.sign_off(ws, u, "no-such-project", "prison"),
    Permission.PROJECT_REFUSE: (
        lambda ws, u: project_actions.refuse(ws, u, "no-such-project", "a reason"),
        lambda ws, u: project_actions.ask_for_changes(ws, u, "no-such-project", "a change"),
    ),
    Permission.PROJECT_AMEND: lambda ws, u: project_actions.amend(ws, u, "no-such-project", ws.root / "x.yaml"),
    Permission.PROJECT_WITHDRAW: lambda ws, u: project_actions.withdraw(ws, u, "no-such-project"),
    Permission.PROJECT_SHOW: (
        lambda ws, u: project_actions.show(ws, u, "no-such-project"),
        lambda ws, u: project_actions.moves(ws, u, "no-such-project"),
        lambda ws, u: project_actions.versions(ws, u, "no-such-project"),
    ),
    Permission.PROJECT_LIST: lambda ws, u: project_actions.list_projects(ws, u),
    Permission.PROJECT_BUILD: lambda ws, u: project_actions.build(ws, u, "no-such-project"),
    Permission.PROJECT_CLOSE: lambda ws, u: project_actions.close(ws, u, "no-such-project"),
    Permission.STUDY_LIST: (
        lambda ws, u: study_actions.list_studies(ws, u),
        lambda ws, u: study_actions.show(ws, u, "continuity-of-care"),
    ),
    Permission.STUDY_RUN: (
        lambda ws, u: study_actions.run(ws, u, "no-such-project", "continuity-of-care"),
        lambda ws, u: study_actions.plan_all(ws, u, "no-such-project"),
    ),
    Permission.OUTPUTS_LIST: (
        lambda ws, u: output_actions.list_outputs(ws, u, "no-such-project"),
        lambda ws, u: output_actions.show_request(ws, u, "no-such-project", "no-such-request"),
        lambda ws, u: output_actions.request_of(ws, u, "no-such-project", "no-such-output"),
        lambda ws, u: output_actions.list_requests(ws, u, "no-such-project"),
    ),
    Permission.OUTPUTS_CHECK: lambda ws, u: output_actions.check(ws, u, "no-such-project", "no-such-output"),
    Permission.OUTPUTS_REPORT: lambda ws, u: output_actions.report(ws, u, "no-such-project", "no-such-output"),
    Permission.OUTPUTS_REQUEST: (
        lambda ws, u: output_actions.request(ws, u, "no-such-project", ["no-such-output"], "context", "controls"),
        lambda ws, u: output_actions.resubmit(ws, u, "no-such-project", "no-such-request"),
    ),
    Permission.OUTPUTS_WITHDRAW: lambda ws, u: output_actions.withdraw(ws, u, "no-such-project", "no-such-output"),
    Permission.OUTPUTS_REVIEW: (
        lambda ws, u: output_actions.review(ws, u, "no-such-project", "no-such-output", "approve", "a comment"),
        lambda ws, u: output_actions.review_queue(ws, u),
    ),
    Permission.OUTPUTS_DECIDE: lambda ws, u: output_actions.decide(ws, u, "no-such-project", "no-such-request"),
    Permission.OUTPUTS_RELEASE: lambda ws, u: output_actions.release_output(ws, u, "no-such-project", "no-such-output"),
    Permission.RELEASES_LIST: (
        lambda ws, u: output_actions.list_releases(ws, u, "no-such-project"),
        lambda ws, u: output_actions.release_report(ws, u, "no-such-project", ws.root.parent / "report.html"),
    ),
    Permission.RELEASES_SHOW: (
        lambda ws, u: output_actions.show_release(ws, u, "no-such-project", "no-such-release"),
        lambda ws, u: output_actions.release_view(ws, u, "no-such-project", "no-such-release"),
        lambda ws, u: output_actions.release_file(ws, u, "no-such-project", "no-such-release", "overall.csv"),
    ),
    Permission.RELEASES_VERIFY: lambda ws, u: output_actions.verify_release(
        ws, u, "no-such-project", "no-such-release"
    ),
    Permission.RELEASES_IMPACT: lambda ws, u: output_actions.add_impact_note(
        ws, u, "no-such-project", "no-such-release", "a note"
    ),
    Permission.OUTPUTS_SHOW: (
        lambda ws, u: output_actions.show(ws, u, "no-such-project", "no-such-output"),
        lambda ws, u: output_actions.checked_file(ws, u, "no-such-project", "no-such-output", "overall.csv"),
    ),
    Permission.AUDIT_VERIFY: (
        lambda ws, u: audit_actions.verify(ws, u),
        lambda ws, u: audit_actions.witness(ws, u, Path("/no-such-folder/witness.jsonl")),
    ),
    Permission.AUDIT_SHOW: lambda ws, u: audit_actions.show(ws, u),
    Permission.REGISTER_BUILD: lambda ws, u: register_actions.build(ws, u),
    Permission.USER_ADD: lambda ws, u: people_actions.add(ws, u, "admin", ["admin"], PASSWORD),
    Permission.USER_LIST: lambda ws, u: people_actions.list_people(ws, u),
    Permission.USER_DEACTIVATE: lambda ws, u: people_actions.deactivate(ws, u, "no-such-person"),
    Permission.USER_PASSWORD: lambda ws, u: people_actions.change_password(ws, u, PASSWORD),
    Permission.USER_REACTIVATE: lambda ws, u: people_actions.reactivate(ws, u, "no-such-person"),
    Permission.USER_UNLOCK: lambda ws, u: people_actions.unlock(ws, u, "no-such-person"),
    Permission.USER_TRAIN: lambda ws, u: people_actions.train(
        ws, u, "no-such-person", "data protection", dt.date(2026, 1, 1)
    ),
    Permission.USER_APPROVE: lambda ws, u: people_actions.approve(ws, u, "no-such-person", dt.date(2099, 1, 1)),
    Permission.USER_SHOW: lambda ws, u: people_actions.show(ws, u, u.name),
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = Workspace.init(tmp_path_factory.mktemp("matrix") / "ws")
    for role in ROLES:
        add_cleared(ws, role, [role], PASSWORD)
    return ws


def test_every_action_is_in_the_matrix(ws):
    """Each function of the actions layer that takes a signed-in user is called by some cell of the matrix."""
    import sys

    modules = [workspace_actions, people_actions, ingest_actions, linkage_actions, project_actions]
    modules += [study_actions, output_actions, audit_actions, register_actions, retention_actions, source_actions]
    taking_a_user = {
        (m.__name__, name)
        for m in modules
        for name, fn in inspect.getmembers(m, inspect.isfunction)
        if fn.__module__ == m.__name__ and list(inspect.signature(fn).parameters)[1:2] == ["user"]
    }
    called = set()

    def watch(frame, event, arg):
        if event == "call" and frame.f_globals.get("__name__", "").startswith("bold.actions."):
            called.add((frame.f_globals["__name__"], frame.f_code.co_name))

    everyone = User("admin", frozenset(Role))
    sys.setprofile(watch)
    try:
        for calls in CALLS.values():
            for call in calls if isinstance(calls, tuple) else (calls,):
                with contextlib.suppress(BoldError):
                    call(ws, everyone)
    finally:
        sys.setprofile(None)
    assert set(CALLS) == set(Permission)
    # run_all is plan_all then run, both called above; it yields, so it is driven only by a full run
    assert taking_a_user - called == {("bold.actions.studies", "run_all")}
    assert actions.__doc__


@pytest.mark.parametrize("permission", list(Permission), ids=lambda p: p.value)
@pytest.mark.parametrize("role", ROLES)
def test_every_action_checks_every_role(ws, role, permission):
    user = User(role, frozenset({Role(role)}))
    calls = CALLS[permission]
    for call in calls if isinstance(calls, tuple) else (calls,):
        before = len(audit.entries(ws, action="refused", who=role, limit=10_000))
        try:
            call(ws, user)
        except AccessError as exc:
            if "may not" in str(exc):
                assert role not in EXPECTED[permission.value], f"{role} refused {permission.value}: {exc}"
                assert f"may not {permission.value}" in str(exc)
                assert len(audit.entries(ws, action="refused", who=role, limit=10_000)) == before + 1
                continue
        except BoldError:
            pass  # past the check: the project, file or person does not exist, which is not a refusal
        assert role in EXPECTED[permission.value], f"{role} was allowed to {permission.value}"


def test_an_action_needs_a_signed_in_user(ws):
    with pytest.raises(TypeError, match="signed-in User"):
        workspace_actions.status(ws, "admin")


# --- project state x transition x role ----------------------------------------------------------------

# The lifecycle written out by hand: (state, move) -> the state it reaches; any other pair is refused.
MOVES = {
    ("submitted", "approve"): "approved",
    ("submitted", "refuse"): "refused",
    ("submitted", "amend"): "submitted",
    ("submitted", "withdraw"): "withdrawn",
    ("refused", "amend"): "submitted",
    ("refused", "withdraw"): "withdrawn",
    ("approved", "amend"): "submitted",
    ("approved", "close"): "closed",
}
OWNERS = {"submitted": "governance", "approved": "analyst", "refused": "analyst", "withdrawn": None, "closed": None}


def test_the_lifecycle_is_the_policy():
    table = {(s.value, name): t.target.value for name, t in PROJECT.transitions.items() for s in t.sources}
    assert table == MOVES
    assert {s.value: (o.value if o else None) for s, o in PROJECT.owners.items()} == OWNERS
    assert set(PROJECT.owners) == set(ProjectState) and set(OUTPUT.owners) == set(OUTPUT.states)
    assert PROJECT.initial == ProjectState.SUBMITTED


def _agreement(folder: Path, project_id: str, title: str = "A bounded question") -> Path:
    data = {
        "id": project_id,
        "title": title,
        "purpose": "How many people released from prison with a substance misuse need.",
        "questions": [{"id": "q", "text": "Releases by need.", "needs": ["prison.release_date"]}],
        "public_benefit": "Better hand-over from prison to treatment.",
        "legal_basis": "Digital Economy Act 2017.",
        "controllers": [{"name": "Ministry of Justice", "sector": "criminal justice"}],
        "datasets": {"prison": {"release_date": "index date"}},
        "people": [
            {"name": "analyst", "role": "analyst"},
            {"name": "output_checker", "role": "output_checker"},
            {"name": "second_checker", "role": "output_checker"},
        ],
        "start": "2026-01-01",
        "end": "2027-12-31",
    }
    path = folder / f"{project_id}-{abs(hash(title))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def lifecycle_ws(tmp_path_factory, small_population):
    out, _ = small_population
    ws = Workspace.init(tmp_path_factory.mktemp("lifecycle") / "ws")
    ingest(ws, "prison", out / "prison.parquet", by="custodian")
    for role in ROLES:
        add_cleared(ws, role, [role], PASSWORD)
    add_cleared(ws, "second_checker", ["output_checker"], PASSWORD)  # named in every agreement
    return ws


def _user(role: str) -> User:
    return User(role, frozenset({Role(role)}))


def _project_in(ws: Workspace, folder: Path, state: str, project_id: str) -> None:
    """A project in ``state``, submitted by the analyst named in it and decided by the governance board."""
    project_actions.submit(ws, _user("analyst"), _agreement(folder, project_id))
    board, team = _user("governance"), _user("analyst")
    project_actions.record_dpia(ws, board, project_id, DPIA)  # what the board needs before it can approve
    steps = {
        "submitted": [],
        "approved": [lambda: project_actions.approve(ws, board, project_id, board_answers())],
        "refused": [lambda: project_actions.refuse(ws, board, project_id, "the purpose is too broad")],
        "withdrawn": [lambda: project_actions.withdraw(ws, team, project_id)],
        "closed": [
            lambda: project_actions.approve(ws, board, project_id, board_answers()),
            lambda: project_actions.close(ws, board, project_id),
        ],
    }[state]
    for step in steps:
        step()
    assert project_actions.show(ws, board, project_id).status == state


def _move(ws: Workspace, folder: Path, move: str, user: User, project_id: str):
    calls = {
        "approve": lambda: project_actions.approve(ws, user, project_id, board_answers()),
        "refuse": lambda: project_actions.refuse(ws, user, project_id, "not proportionate"),
        "amend": lambda: project_actions.amend(ws, user, project_id, _agreement(folder, project_id, "Amended")),
        "withdraw": lambda: project_actions.withdraw(ws, user, project_id),
        "close": lambda: project_actions.close(ws, user, project_id),
    }
    return calls[move]()


TEAM = {"analyst"}  # the agreement's analyst, who also submitted it
SUBMITTER = "analyst"


def _expected(state: str, move: str, role: str) -> str:
    """What should happen, from the hand-written tables: the new state, or why it is refused."""
    permission = PROJECT.transitions[move].permission
    if role not in EXPECTED[permission.value]:
        return "refused: role"
    if (state, move) not in MOVES:
        return "conflict: state"
    if move in ("amend", "withdraw") and role not in TEAM:
        return "refused: not the team"
    if move in ("approve", "refuse") and role == SUBMITTER:
        return "refused: submitter"
    return MOVES[(state, move)]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("move", sorted(PROJECT.transitions))
@pytest.mark.parametrize("state", [s.value for s in ProjectState])
def test_every_state_transition_and_role(lifecycle_ws, tmp_path, state, move, role):
    ws = lifecycle_ws
    project_id = f"p-{state}-{move}-{role}".replace("_", "-")
    _project_in(ws, tmp_path, state, project_id)
    expected = _expected(state, move, role)
    try:
        _move(ws, tmp_path, move, _user(role), project_id)
        outcome = project_actions.show(ws, _user("governance"), project_id).status.value
    except BoldError as exc:
        kind = {Kind.REFUSED: "refused", Kind.CONFLICT: "conflict"}[exc.kind]
        outcome = f"{kind}: " + (
            "role"
            if "may not" in str(exc)
            else "state"
            if "can be" in str(exc)
            else "not the team"
            if "neither the submitter" in str(exc)
            else "submitter"
        )
        # a refused or impossible move changes nothing
        assert project_actions.show(ws, _user("governance"), project_id).status == state
    assert outcome == expected
