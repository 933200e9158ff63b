"""A workspace made by the previous release (commit d68ff1c, before migrations) upgrades in place: every row
is kept, the old audit chain still verifies and keeps verifying after new actions, a store newer than this
BOLD is refused, and a migration that fails halfway leaves the store as it was."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bold.actions import audit as audit_actions
from bold.actions import outputs as output_actions
from bold.actions import people as people_actions
from bold.actions import projects as project_actions
from bold.actions import workspace as workspace_actions
from bold.cli import app
from bold.errors import Conflict, Kind
from bold.governance import people
from bold.governance.lifecycle import OutputState, ProjectState
from bold.governance.people import AccessError
from bold.store import db as store_db
from bold.store import schema
from tests.old_workspace import OLD_ENTRIES, PASSWORD, UPGRADE_ENTRIES, extract_fixture, safe_members

PROJECT = "continuity-of-care"
PEOPLE = {
    "adam": "admin",
    "cara": "custodian",
    "lin": "linker",
    "ana": "analyst",
    "grace": "governance",
    "oscar": "output_checker",
    "olivia": "output_checker",
}
SOURCES = {"prison", "treatment", "deaths", "hospital"}

runner = CliRunner()


def _raw(root: Path, sql: str) -> list[tuple]:
    """Rows read straight from the store's file, past BOLD (which would migrate it)."""
    db = sqlite3.connect(root / "governance.db", isolation_level=None)
    try:
        return [tuple(r) for r in db.execute(sql).fetchall()]
    finally:
        db.close()


def _version(root: Path) -> int:
    return _raw(root, "pragma user_version")[0][0]


def _schema(root: Path) -> list[tuple]:
    return _raw(root, "select type, name, sql from sqlite_master order by type, name")


@pytest.fixture()
def old(tmp_path) -> Path:
    """The extracted workspace, untouched by this BOLD (version 0, the old schema)."""
    root = extract_fixture(tmp_path)
    assert _version(root) == 0
    assert "decided_by" not in {r[1] for r in _raw(root, "pragma table_info(projects)")}
    return root


def sign_in(ws, name):
    return people_actions.sign_in(ws, name, PASSWORD)


@pytest.mark.parametrize(
    ("name", "link", "problem"),
    [
        ("ws/../../escaped", None, "unsafe path"),
        ("/etc/escaped", None, "unsafe path"),
        ("ws/key", "/etc", "unexpected"),
    ],
)
def test_the_fixture_extraction_refuses_unsafe_members(tmp_path, name, link, problem):
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as archive:
        info = tarfile.TarInfo(name)
        if link:
            info.type, info.linkname = tarfile.SYMTYPE, link
        archive.addfile(info)
    with tarfile.open(bad) as archive, pytest.raises(ValueError, match=problem):
        list(safe_members(archive))


def test_an_old_workspace_upgrades_in_place_and_keeps_every_row(old):
    old_audit = _raw(old, "select seq, at, actor, action, object, details, prev_hash, hash from audit order by seq")
    old_people = _raw(old, "select name, roles, password_hash, created_at, created_by from people order by name")
    old_project = _raw(old, "select * from projects")
    assert len(old_audit) == OLD_ENTRIES

    ws = workspace_actions.open_workspace(old)
    # made by old code with files 0644: opening makes them owner-only (keys were 0600 already)
    assert old / "governance.db" in ws.tightened
    assert stat.S_IMODE((old / "governance.db").stat().st_mode) == 0o600
    assert not any(p.is_relative_to(ws.keys_dir) for p in ws.tightened)

    adam = sign_in(ws, "adam")  # the first read of the store migrates it
    assert _version(old) == schema.VERSION

    status = workspace_actions.status(ws, adam)
    assert status.store_version == schema.VERSION
    assert len(status.batches) == 4 and {b.source for b in status.batches} == SOURCES
    assert status.latest_run is not None and status.latest_run.run_id == 1
    assert status.projects[ProjectState.APPROVED] == 1 and sum(status.projects.values()) == 1
    assert status.outputs_waiting == 1

    # people: all seven, all active, roles and password hashes unchanged; each can still sign in
    everyone = people_actions.list_people(ws, adam)
    assert {u.name: ",".join(sorted(u.roles)) for u in everyone} == PEOPLE
    assert all(u.active for u in everyone)
    assert (
        _raw(old, "select name, roles, password_hash, created_at, created_by from people order by name") == old_people
    )
    for name in PEOPLE:
        assert sign_in(ws, name).name == name

    # the project: approved by grace, agreement intact, and the new decided_by filled from approved_by
    grace = sign_in(ws, "grace")
    project = project_actions.show(ws, grace, PROJECT)
    assert project.status == ProjectState.APPROVED
    assert project.approved_by == "grace" and project.decided_by == "grace"
    assert project.decided_at == project.approved_at == old_project[0][8]
    assert project.text == old_project[0][2] and project.agreement.id == PROJECT
    assert project.submitted_by == "ana" and project.built_at == old_project[0][11]
    assert project.amendments == 0 and project.decision_reason is None
    assert [p.id for p in project_actions.list_projects(ws, grace)] == [PROJECT]

    # the study output is still pending
    found = output_actions.list_outputs(ws, sign_in(ws, "oscar"), PROJECT)
    assert [(o.id, o.status, o.created_by) for o in found] == [
        ("continuity-of-care-20261201T085401-9c25", OutputState.PENDING, "ana")
    ]

    # the old chain is untouched and verifies (with the entry recording that its zones were encrypted)
    assert (
        _raw(
            old,
            f"select seq, at, actor, action, object, details, prev_hash, hash from audit where seq <= {OLD_ENTRIES} order by seq",
        )
        == old_audit
    )
    result = audit_actions.verify(ws, grace)
    assert result.ok and result.entries == OLD_ENTRIES + UPGRADE_ENTRIES, result.problem


def test_the_old_chain_keeps_verifying_after_new_actions(old, tmp_path):
    old_audit = _raw(old, "select seq, at, actor, action, object, details, prev_hash, hash from audit order by seq")
    ws = workspace_actions.open_workspace(old)
    adam, ana, grace, oscar = (sign_in(ws, n) for n in ("adam", "ana", "grace", "oscar"))

    people_actions.add(ws, adam, "nadia", ["analyst"], "a-new-person-password")
    assert people_actions.sign_in(ws, "nadia", "a-new-person-password").name == "nadia"
    people_actions.deactivate(ws, adam, "lin")  # the new 'active' column

    # amend (the extract is deleted, it goes back to the board), then refuse: states the old schema refused
    project = project_actions.show(ws, grace, PROJECT)
    amended = tmp_path / "amended.yaml"
    amended.write_text(project.text.replace("title: Substance use after leaving prison", "title: Amended title"))
    project = project_actions.amend(ws, ana, PROJECT, amended)
    assert project.status == ProjectState.SUBMITTED and project.amendments == 1
    assert project.approved_by is None and project.decided_by is None and project.agreement.title == "Amended title"
    project = project_actions.refuse(ws, grace, PROJECT, "the amendment needs a new legal basis")
    assert project.status == ProjectState.REFUSED
    assert project.decided_by == "grace" and project.decision_reason == "the amendment needs a new legal basis"
    # the old agreement became version 1 (approved, with no DPIA or answers then recorded), the amendment version 2
    first, second = project_actions.versions(ws, grace, PROJECT)
    assert (first.number, first.outcome, first.decided_by, first.dpia, first.answers) == (
        1,
        "approved",
        "grace",
        None,
        None,
    )
    assert "Amended title" not in first.agreement and (second.number, second.outcome) == (2, "refused")

    # reading the pending output needs oscar trained and approved (an old workspace's people are neither), and is
    # audited; the records are the new tables
    refused = output_actions.list_outputs(ws, oscar, PROJECT)
    with pytest.raises(AccessError, match="oscar may not outputs show: it acts on data"):
        output_actions.show(ws, oscar, PROJECT, refused[0].id, table="overall")
    people_actions.train(ws, adam, "oscar", "output checking", dt.date(2026, 1, 5))
    people_actions.approve(ws, adam, "oscar", people.today() + dt.timedelta(days=90))
    listed = output_actions.list_outputs(ws, oscar, PROJECT)
    view = output_actions.show(ws, oscar, PROJECT, listed[0].id, table="overall")
    assert not view.damaged and len(view.tables["overall"]) > 0

    new = ["person added", "person deactivated", "project amended", "project refused", "refused", "training recorded"]
    new += ["person approved", "output viewed"]
    shown = audit_actions.show(ws, grace, limit=100)
    assert [e["action"] for e in reversed(shown)][OLD_ENTRIES + UPGRADE_ENTRIES :] == new
    assert (
        _raw(
            old,
            f"select seq, at, actor, action, object, details, prev_hash, hash from audit where seq <= {OLD_ENTRIES} order by seq",
        )
        == old_audit
    )
    result = audit_actions.verify(ws, grace)
    assert result.ok and result.entries == OLD_ENTRIES + UPGRADE_ENTRIES + len(new), result.problem


def test_opening_twice_does_not_migrate_again(old, monkeypatch):
    db = sqlite3.connect(old / "governance.db", isolation_level=None)
    try:
        assert store_db.migrate(db) == 0  # it was at version 0
        assert store_db.migrate(db) == schema.VERSION  # and now has nothing left to do
        ws = workspace_actions.open_workspace(old)  # opening migrates nothing more
    finally:
        db.close()
    upgraded = _schema(old)

    # were any migration run again, these would fail; opening and acting must not touch them
    broken = [(description, ["this is not sql"] * len(statements)) for description, statements in schema.MIGRATIONS]
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    ws = workspace_actions.open_workspace(old)
    grace = sign_in(ws, "grace")
    assert audit_actions.verify(ws, grace).ok
    ws = workspace_actions.open_workspace(old)
    assert project_actions.show(ws, sign_in(ws, "grace"), PROJECT).status == ProjectState.APPROVED
    assert _version(old) == schema.VERSION
    assert _schema(old) == upgraded


def test_a_store_newer_than_this_bold_is_refused(old):
    newer = schema.VERSION + 1
    _raw(old, f"pragma user_version = {newer}")
    before = _schema(old)

    with pytest.raises(Conflict, match=f"version {newer}, newer than this BOLD knows \\({schema.VERSION}\\)") as exc:
        sign_in(workspace_actions.open_workspace(old), "adam")
    assert exc.value.kind == Kind.CONFLICT
    assert _version(old) == newer and _schema(old) == before  # nothing was changed or "downgraded"

    result = runner.invoke(app, ["status", "-w", str(old)], env={"BOLD_USER": "adam", "BOLD_PASSWORD": PASSWORD})
    assert result.exit_code == 5, result.output
    assert "newer than this BOLD knows" in result.output


def test_a_migration_that_fails_halfway_leaves_the_store_at_its_old_version(old, monkeypatch):
    before = _schema(old)
    broken = len(schema.MIGRATIONS) + 1  # the version the failing migration would reach
    failing = (
        "a migration whose second statement is broken",
        ["create table half_done (x integer)", "this is not sql"],
    )
    broken = len(schema.MIGRATIONS) + 1  # the failing migration's number, whatever migrations come before it
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, failing])
    monkeypatch.setattr(schema, "VERSION", len(schema.MIGRATIONS))

    with pytest.raises(Conflict, match=rf"cannot upgrade the governance store to version {broken}: .*syntax error"):
        sign_in(workspace_actions.open_workspace(old), "adam")
    # at version 0 it had every migration to apply in one transaction: all of them are rolled back
    assert _version(old) == 0
    assert _schema(old) == before
    assert "half_done" not in {r[1] for r in _schema(old)}  # the first statement was rolled back too
    assert _raw(old, "select count(*) from audit") == [(OLD_ENTRIES,)]

    # at the current version, a failing next migration leaves it at the current version
    monkeypatch.undo()
    ws = workspace_actions.open_workspace(old)
    assert sign_in(ws, "adam").name == "adam"
    assert _version(old) == schema.VERSION
    upgraded = _schema(old)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, failing])
    monkeypatch.setattr(schema, "VERSION", len(schema.MIGRATIONS))
    with pytest.raises(Conflict, match="nothing was changed"):
        sign_in(ws, "adam")
    monkeypatch.undo()
    assert _version(old) == schema.VERSION
    assert _schema(old) == upgraded and "half_done" not in {r[1] for r in upgraded}

    # and the store is fine afterwards
    result = audit_actions.verify(ws, sign_in(ws, "grace"))
    assert result.ok and result.entries == OLD_ENTRIES + UPGRADE_ENTRIES


def test_the_cli_works_on_an_old_workspace(old):
    env = {"BOLD_USER": "adam", "BOLD_PASSWORD": PASSWORD}
    result = runner.invoke(app, ["status", "-w", str(old)], env=env)
    assert result.exit_code == 0, result.output
    assert _version(old) == schema.VERSION
    assert "Workspace v0" in result.output
    assert "Records stored: 1,971 from 4 batch(es)" in result.output
    assert "Latest linkage run: 1 " in result.output
    assert "1 approved" in result.output and "Study outputs waiting for output checkers: 1" in result.output

    result = runner.invoke(app, ["status", "-w", str(old), "--json"], env=env)
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["store_version"] == schema.VERSION and len(status["batches"]) == 4
    assert status["outputs_waiting"] == 1 and status["projects"]["approved"] == 1

    result = runner.invoke(app, ["audit", "verify", "-w", str(old)], env={**env, "BOLD_USER": "grace"})
    assert result.exit_code == 0, result.output
    assert f"Audit chain intact: {OLD_ENTRIES + UPGRADE_ENTRIES} entries" in result.output
