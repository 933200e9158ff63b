"""State you can prove: red-team findings against the audit chain, each caught by ``bold audit verify``.

Someone with file access but without the audit key could cut the chain (delete the newest entries, then let
the next action re-seal the head), roll it back (restore old copies of governance.db and audit.head), wipe it,
edit the governance tables directly (roles, approvals, batch counts, output authors, the opt-out register), or
edit a pending output's table and its manifest together; verify used to say "intact" to each of these.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bold.actions import audit as audit_actions
from bold.actions import people as people_actions
from bold.actions import workspace as workspace_actions
from bold.cli import app
from bold.errors import Invalid, NotFound
from bold.governance import optouts as optouts_stage
from bold.governance import projects, register
from bold.governance.people import add_person
from bold.linkage.run import link_workspace, model_path
from bold.security.private import private_dir, write_private
from bold.store import audit, transaction
from bold.studies import outputs, runner
from bold.workspace import Workspace
from tests.conftest import DPIA, approved_and_built, board_answers, ingested
from tests.old_workspace import OLD_ENTRIES, UPGRADE_ENTRIES, extract_fixture
from tests.old_workspace import PASSWORD as OLD_PASSWORD

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
TODAY = dt.date(2026, 11, 22)
PASSWORD = "a-long-governance-password"
GRACE = {"BOLD_USER": "grace", "BOLD_PASSWORD": PASSWORD}
PROJECT = "bold-questions"  # approved and built, with one pending output
SUBMITTED = "continuity-of-care"  # waiting for the board

runner_cli = CliRunner()


def nhs_numbers(count: int, start: int = 400_000_000) -> list[str]:
    """Valid NHS numbers (modulus 11 check digit)."""
    found, base = [], start
    while len(found) < count:
        digits = [int(c) for c in str(base)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            found.append(f"{base}{0 if check == 11 else check}")
        base += 1
    return found


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, small_population) -> Path:
    """A workspace after a normal pipeline: ingest, opt-outs, link, a project approved and built, another
    submitted, a study run (one pending output); grace (governance) can sign in. Linkage uses the model the
    old fixture's own run trained, as a workspace's later runs do (training has its own tests; it takes a
    minute)."""
    out, _ = small_population
    tmp = tmp_path_factory.mktemp("provable")
    ws = ingested(tmp / "ws", out)
    add_person(ws, "grace", ["governance"], PASSWORD, by="adam")
    optouts = tmp / "optout.csv"
    optouts.write_text("nhs_number\n" + "\n".join(nhs_numbers(5)) + "\n")
    optouts_stage.apply(ws, optouts, by="cara")
    trained = model_path(Workspace(extract_fixture(tmp / "old")))
    private_dir(model_path(ws).parent)
    write_private(model_path(ws), trained.read_bytes())
    assert not link_workspace(ws, by="lin").trained
    approved_and_built(ws, EXAMPLES / f"{PROJECT}.yaml", TODAY)
    projects.submit(ws, EXAMPLES / f"{SUBMITTED}.yaml", by="ana")
    runner.run(ws, PROJECT, "continuity-of-care", by="ana", today=TODAY)
    return ws.root


@pytest.fixture()
def ws(pipeline, tmp_path) -> Workspace:
    """A copy of the pipeline's workspace for one test to attack."""
    return Workspace.open(shutil.copytree(pipeline, tmp_path / "ws"))


def sql(ws: Workspace, statement: str) -> None:
    """An edit made past BOLD, straight into the store's file."""
    db = sqlite3.connect(ws.governance_path)
    try:
        with db:
            db.execute(statement)
    finally:
        db.close()


def verify(ws: Workspace, *published: Path) -> audit.Verification:
    grace = people_actions.sign_in(ws, "grace", PASSWORD)
    return audit_actions.verify(ws, grace, list(published)) if published else audit_actions.verify(ws, grace)


def cli_verify(ws: Workspace, *args: str):
    return runner_cli.invoke(app, ["audit", "verify", "-w", str(ws.root), *args], env=GRACE)


def publish(ws: Workspace, folder: Path) -> Path:
    """Publish the register outside the workspace, as a governance board would; its register.json."""
    return register.build(ws, folder, by="grace") / "register.json"


def use_witness(ws: Workspace, path: Path) -> None:
    with ws.settings_path.open("a") as settings:
        settings.write(f'\n[audit]\nwitness = "{path}"\n')


def the_output(ws: Workspace) -> outputs.PendingOutput:
    (output,) = outputs.list_outputs(ws, PROJECT)
    return output


def test_after_a_normal_pipeline_verify_is_intact(ws):
    result = verify(ws)
    assert result.ok, result.problems
    assert result.state_from is not None and result.changed_tables == []
    assert result.outputs_checked == 1 and result.damaged_outputs == {}
    shown = cli_verify(ws)
    assert (
        shown.exit_code == 0
        and "intact" in shown.output
        and "1 outputs and 0 releases match their manifests" in shown.output
    )


EDITS = {
    "people": "update people set roles = 'admin,analyst' where name = 'grace'",
    "projects": f"update projects set status = 'approved', approved_by = 'grace' where id = '{SUBMITTED}'",
    "batches": "update batches set rows_accepted = rows_accepted - 1 where source = 'prison'",
    "outputs": "update outputs set created_by = 'oscar'",
    "optout_entries": "delete from optout_entries where rowid = (select min(rowid) from optout_entries)",
}


@pytest.mark.parametrize("table", sorted(EDITS))
def test_a_direct_edit_of_a_governance_table_is_detected_and_named(ws, table):
    sql(ws, EDITS[table])
    result = verify(ws)
    assert not result.ok and result.changed_tables == [table]
    assert any(p.startswith(f"{table} was changed outside BOLD") for p in result.problems), result.problems
    shown = cli_verify(ws)
    assert shown.exit_code == 5 and f"{table} was changed outside BOLD" in shown.output
    assert "intact" not in shown.output


def test_an_output_released_by_sql_and_a_project_unapproved_are_named_together(ws):
    sql(ws, "update outputs set status = 'released'")
    sql(ws, f"update projects set approved_by = 'mallory' where id = '{PROJECT}'")
    result = verify(ws)
    assert not result.ok and result.changed_tables == ["projects", "outputs"]
    assert (
        result.problem == "projects was changed outside BOLD (2 rows, as the chain records, but their contents differ)"
    )


def test_an_edit_is_not_folded_into_the_next_action(ws):
    """The next transaction moves the sealed state on by its own rows only: an edit made before stays visible,
    even when the next action writes to the same table."""
    sql(ws, "update people set roles = 'admin,governance' where name = 'grace'")
    add_person(ws, "nadia", ["analyst"], "a-new-person-password", by="adam")  # writes to people too
    result = verify(ws)
    assert not result.ok and result.changed_tables == ["people"]


def test_a_deleted_opt_out_entry_is_caught_with_the_count(ws):
    sql(ws, "delete from optout_entries where rowid = (select max(rowid) from optout_entries)")
    result = verify(ws)
    assert "optout_entries was changed outside BOLD (4 rows, the chain records 5)" in result.problems


def test_a_pending_output_edited_together_with_its_manifest_is_detected(ws):
    output = the_output(ws)
    forged = b"n,share\n1,1.0\n"
    (output.folder / "overall.csv").write_bytes(forged)
    manifest = output.manifest()
    manifest["files"]["overall.csv"] = hashlib.sha256(forged).hexdigest()
    (output.folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert outputs.verify_files(output) == ["manifest.json"]  # what an output checker is shown, too
    result = verify(ws)
    assert not result.ok and result.damaged_outputs == {output.id: ["manifest.json"]}
    assert output.id in result.problem


def test_a_deleted_manifest_is_detected(ws):
    output = the_output(ws)
    (output.folder / "manifest.json").unlink()
    assert verify(ws).damaged_outputs == {output.id: ["manifest.json"]}


def test_a_cut_chain_is_detected_against_a_published_head(ws, tmp_path):
    audit.record(ws, "output viewed", PROJECT, by="oscar")  # entries that change no table
    audit.record(ws, "output viewed", PROJECT, by="olivia")
    published = publish(ws, tmp_path / "published")  # its head: olivia's viewing
    sql(ws, "delete from audit where seq >= (select max(seq) - 1 from audit)")  # cut olivia's viewing onwards
    audit.record(ws, "output viewed", PROJECT, by="oscar")  # the next action re-seals the head
    assert verify(ws).ok  # nothing in the workspace can tell: only a head kept elsewhere can
    result = verify(ws, published)
    assert not result.ok and "history was rewritten" in result.problem and str(published) in result.problem
    shown = cli_verify(ws, "--published", str(published))
    assert shown.exit_code == 5 and "history was rewritten" in shown.output


def test_a_cut_that_removes_a_change_is_caught_by_the_state_alone(ws):
    """Cutting the entry of a change that is still in the tables leaves state the chain never sealed."""
    sql(ws, "delete from audit where seq = (select max(seq) from audit)")  # the study run's entry
    audit.record(ws, "output viewed", PROJECT, by="oscar")
    result = verify(ws)
    assert not result.ok and result.changed_tables == ["outputs"]


def test_a_rollback_is_detected_against_a_later_published_head(ws, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    for name in ("governance.db", "audit/audit.head"):
        shutil.copy2(ws.root / name, old / Path(name).name)
    add_person(ws, "mallory", ["analyst"], "a-new-person-password", by="adam")
    published = publish(ws, tmp_path / "published")
    for name in ("governance.db", "audit/audit.head"):  # restore the old copies together
        shutil.copy2(old / Path(name).name, ws.root / name)
    assert verify(ws).ok
    result = verify(ws, published)
    assert not result.ok and "history was cut, rolled back or wiped" in result.problem


def test_a_rollback_is_detected_against_the_witness_by_default(ws, tmp_path):
    witness = tmp_path / "outside" / "witness.jsonl"
    witness.parent.mkdir()
    use_witness(ws, witness)
    old = tmp_path / "old"
    old.mkdir()
    for name in ("governance.db", "audit/audit.head"):
        shutil.copy2(ws.root / name, old / Path(name).name)
    add_person(ws, "mallory", ["analyst"], "a-new-person-password", by="adam")
    projects.record_dpia(ws, SUBMITTED, DPIA, by="grace")
    projects.approve(ws, SUBMITTED, board_answers(), by="grace")
    assert len(witness.read_text().splitlines()) == 3  # every commit appended its head
    for name in ("governance.db", "audit/audit.head"):
        shutil.copy2(old / Path(name).name, ws.root / name)
    result = verify(ws)  # no --published: bold.toml names the witness
    assert not result.ok and result.witness == str(witness)
    assert str(witness) in result.problem and "rolled back" in result.problem
    # and rolling back, then acting again (which appends the new head to the witness): still caught
    audit.record(ws, "output viewed", PROJECT, by="oscar")
    result = verify(ws)
    assert not result.ok and str(witness) in result.problem


def test_a_wiped_store_is_detected_against_the_witness(ws, tmp_path):
    witness = tmp_path / "witness.jsonl"
    shown = runner_cli.invoke(app, ["audit", "witness", "-w", str(ws.root), "--out", str(witness)], env=GRACE)
    assert shown.exit_code == 0 and str(witness) in shown.output
    (ws.root / "governance.db").unlink()
    audit.head_path(ws).unlink()
    assert "wiped" in audit.verify(ws).problem
    wiped = cli_verify(ws)  # nobody is left to sign in, and nothing says intact
    assert wiped.exit_code != 0 and "intact" not in wiped.output
    # whoever wiped it, with the key, starts a new chain that is consistent on its own ...
    add_person(ws, "grace", ["governance"], PASSWORD, by="adam")
    assert verify(ws).ok
    # ... but not with the witness kept outside
    shown = cli_verify(ws, "--published", str(witness))
    assert shown.exit_code == 5 and "intact" not in shown.output
    assert "history was rewritten" in shown.output or "cut, rolled back or wiped" in shown.output
    use_witness(ws, witness)  # or named in bold.toml, checked by default
    assert not verify(ws).ok


def test_a_witness_line_edited_without_the_key_is_caught(ws, tmp_path):
    witness = tmp_path / "witness.jsonl"
    seq, _ = audit_actions.witness(ws, people_actions.sign_in(ws, "grace", PASSWORD), witness)
    line = json.loads(witness.read_text())
    assert line["seq"] == seq and len(line["seal"]) == 64
    assert verify(ws, witness).ok and verify(ws, witness).heads_checked == 1
    line["seq"] -= 1
    line["hash"] = audit.entries(ws, limit=2)[1]["hash"]  # a real earlier head, but not one this file sealed
    witness.write_text(json.dumps(line) + "\n")
    assert "broken seal" in verify(ws, witness).problem


def test_bad_witness_and_published_paths_are_refused(ws, tmp_path):
    grace = people_actions.sign_in(ws, "grace", PASSWORD)
    with pytest.raises(Invalid, match="inside the workspace"):
        audit_actions.witness(ws, grace, ws.root / "witness.jsonl")
    with pytest.raises(NotFound, match="not a folder"):
        audit_actions.witness(ws, grace, tmp_path / "missing" / "witness.jsonl")
    not_a_head = tmp_path / "notes.json"
    not_a_head.write_text('{"hello": "world"}')
    with pytest.raises(Invalid, match=r"not a register\.json, an audit head or a witness file"):
        verify(ws, not_a_head)
    shown = cli_verify(ws, "--published", str(tmp_path / "nowhere.json"))
    assert shown.exit_code == 3 and "no such file" in shown.output
    inside = runner_cli.invoke(app, ["audit", "witness", "-w", str(ws.root), "--out", str(ws.root / "w")], env=GRACE)
    assert inside.exit_code == 2 and "inside the workspace" in inside.output
    for other in (not_a_head, tmp_path / "junk.txt"):  # a witness is never appended to someone else's file
        other.write_text(other.read_text() if other.exists() else "minutes of the board meeting\n")
        before = other.read_bytes()
        with pytest.raises(Invalid):
            audit_actions.witness(ws, grace, other)
        assert other.read_bytes() == before
    register = tmp_path / "register.json"  # a published register holds a head but is not a witness file
    register.write_text(json.dumps({"audit_head": {"entry": 1, "hash": "a" * 64}}))
    with pytest.raises(Invalid, match="not a witness file"):
        audit_actions.witness(ws, grace, register)
    audit_actions.witness(ws, grace, tmp_path / "w.jsonl")
    audit_actions.witness(ws, grace, tmp_path / "w.jsonl")  # a witness file is appended to
    assert len((tmp_path / "w.jsonl").read_text().splitlines()) == 2


def test_a_missing_witness_named_in_the_settings_is_a_problem(ws, tmp_path):
    use_witness(ws, tmp_path / "never-written.jsonl")
    result = verify(ws)
    assert not result.ok and "is missing" in result.problem and "bold audit witness" in result.problem


def test_a_change_without_an_audit_entry_is_rolled_back(ws):
    """Every stage gets its state sealed by the commit path; a change that records nothing cannot be sealed."""
    with pytest.raises(RuntimeError, match="needs an audit entry"), transaction(ws) as tx:
        tx.execute("update people set roles = 'admin' where name = 'grace'")
    assert verify(ws).ok


def test_an_old_workspace_verifies_and_is_sealed_from_its_first_new_action(tmp_path):
    ws = workspace_actions.open_workspace(extract_fixture(tmp_path))
    grace = people_actions.sign_in(ws, "grace", OLD_PASSWORD)
    result = audit_actions.verify(ws, grace)
    assert result.ok, result.problems
    # opening it encrypted its zones, audited in one entry, which is the first to seal the state
    assert result.state_from == OLD_ENTRIES + UPGRADE_ENTRIES and result.notes == []
    assert result.outputs_checked == 1 and result.damaged_outputs == {}

    people_actions.add(ws, people_actions.sign_in(ws, "adam", OLD_PASSWORD), "nadia", ["analyst"], "a-long-password")
    result = audit_actions.verify(ws, grace)
    assert result.ok and result.state_from == OLD_ENTRIES + UPGRADE_ENTRIES and result.notes == []
    db = sqlite3.connect(ws.governance_path)
    with db:
        db.execute("update people set roles = 'governance' where name = 'ana'")
    db.close()
    assert audit_actions.verify(ws, grace).changed_tables == ["people"]
