"""A Justice Data Lab style evaluation end to end: an organisation's participant list (the generator's, with a planted
effect) is ingested by its custodian and linked like any source, a project that agrees to it sees only pseudonyms,
the study recovers the planted effect on one-year re-imprisonment, and the list is then deleted, audited, with
nothing of it left in the workspace."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bold import store
from bold.actions import ingest as ingest_actions
from bold.cli import app
from bold.errors import BoldError
from bold.governance import projects
from bold.governance.people import User
from bold.governance.permissions import Role
from bold.ingest.pipeline import ingest
from bold.linkage.run import link_workspace
from bold.security import encryption
from bold.store import audit
from bold.studies import runner
from bold.studies.builtin.participant_outcomes import DELETE, MAIN, OUTCOMES
from bold.studies.language import StudyError
from tests.conftest import TEAM_PASSWORD, add_cleared, approved_and_built, linked_copy

AGREEMENT = Path(__file__).parents[2] / "docs" / "examples" / "participant-outcomes.yaml"
TODAY = dt.date(2026, 11, 22)
CARA = User("cara", frozenset({Role.CUSTODIAN}))
ANA = User("ana", frozenset({Role.ANALYST}))


@pytest.fixture(scope="module")
def jdl(tmp_path_factory, small_population, linked_small):
    """The linked small population with the generator's participant list ingested (a CSV, as an organisation would
    send it), linked incrementally, and the participant-outcomes project built."""
    out, _ = small_population
    ws = linked_copy(linked_small, tmp_path_factory.mktemp("jdl") / "ws")
    add_cleared(ws, "cara", ["custodian"])  # the organisation's custodian: sends the list, deletes it after
    ingest(ws, "participants", out / "participants.csv", by="cara")
    link_workspace(ws, incremental_run=True, by="lin")
    project = approved_and_built(ws, AGREEMENT, TODAY)
    return ws, out, project


def _extract_tables(ws, project: str) -> dict[str, list[str]]:
    with ws.duckdb_connection() as con:
        key = projects.extract_key(ws, project)
        encryption.attach(con, projects.extract_path(ws, project), "x", key, read_only=True)
        tables = [
            t for (t,) in con.execute("select table_name from duckdb_tables() where database_name = 'x'").fetchall()
        ]
        return {
            t: [c for (c,) in con.execute(f"select name from pragma_table_info('x.{t}')").fetchall()] for t in tables
        }


def _holding(ws, values: set[str]) -> list[str]:
    """Every place in the zones (decrypted) and on disk (raw bytes) where any of ``values`` appears."""
    found = []
    for zone in ("identifiers", "content", "links"):
        with ws.duckdb_connection() as con:
            ws.attach(con, zone, read_only=True)
            tables = con.execute(f"select table_name from duckdb_tables() where database_name = '{zone}'").fetchall()
            for (table,) in tables:
                frame = con.execute(f'select * from {zone}."{table}"').df()
                for column in frame.columns:
                    if frame[column].astype(str).isin(values).any():
                        found.append(f"{zone}.{table}.{column}")
    for path in ws.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(v.encode() in data for v in values):
                found.append(str(path.relative_to(ws.root)))
    return found


def test_the_list_is_linked_like_any_source_and_the_project_sees_only_pseudonyms(jdl):
    ws, out, project = jdl
    sent = pd.read_csv(out / "participants.csv", dtype=str)
    with ws.identifiers(read_only=True) as con:
        stored = con.execute("select count(*) from identifiers.participants").fetchone()[0]
        identifier_columns = {
            c for (c,) in con.execute("select column_name from (describe identifiers.participants)").fetchall()
        }
    with ws.content(read_only=True) as con:
        content_columns = {
            c for (c,) in con.execute("select column_name from (describe content.participants)").fetchall()
        }
    assert stored == len(sent) > 60
    assert {"forename", "surname", "date_of_birth", "postcode"} <= identifier_columns
    assert content_columns == {"record_key", "batch_id", "programme", "intervention_date"}
    columns = _extract_tables(ws, project)["participants"]
    assert set(columns) == {"person_id", "person_id_high", "person_id_medium", "person_id_low", "programme",
                            "intervention_date"}  # fmt: skip


def test_the_study_recovers_the_planted_effect_then_the_list_is_deleted_and_audited(jdl):
    ws, out, project = jdl
    truth = json.loads((out / "truth" / "participants.json").read_text())
    output = runner.run(ws, project, "participant-outcomes", by="ana", today=TODAY)
    estimates = output.table("estimates").set_index(["outcome", "measure"])
    effect = estimates.loc[(OUTCOMES["reoffended"], MAIN)]
    assert effect.ci_low <= truth["true_effect_percentage_points"] <= effect.ci_high
    assert effect.ci_high < 0 and effect.p_value < 0.05  # found, not only not ruled out
    assert DELETE in output.manifest()["notes"]

    sent = pd.read_csv(out / "participants.csv", dtype=str)
    ids = set(sent.PARTICIPANT_ID)
    assert _holding(ws, ids)  # the check can fail: before deletion the identifiers zone holds them
    plan = ingest_actions.delete_list_plan(ws, CARA, "participants")
    assert plan.records == {"identifiers": len(sent), "content": len(sent)} and project in plan.extracts
    with pytest.raises(BoldError, match="cannot be undone"):
        ingest_actions.delete_list(ws, CARA, "participants")
    with pytest.raises(BoldError):
        ingest_actions.delete_list(ws, ANA, "participants", confirmed=True)  # not a custodian
    with pytest.raises(BoldError, match="not a participant list"):
        ingest_actions.delete_list(ws, CARA, "prison", confirmed=True)

    cara = {"BOLD_USER": "cara", "BOLD_PASSWORD": TEAM_PASSWORD}
    cli = ["batch", "delete-list", "participants", "-w", str(ws.root)]
    dry = CliRunner().invoke(app, [*cli, "--dry-run"], env=cara)
    assert dry.exit_code == 0 and "Dry run: nothing changed." in dry.output and _holding(ws, ids)
    ran = CliRunner().invoke(app, [*cli, "--yes", "--json"], env=cara)
    assert ran.exit_code == 0, ran.output
    done = json.loads(ran.output)
    assert done["deleted_by"] == "cara" and len(done["batches"]) == 1
    [entry] = audit.entries(ws, action="participant list deleted")
    details = json.loads(entry["details"])
    assert entry["actor"] == "cara" and details["records"] == plan.records and details["links"]["record_person"] > 0
    assert details["extracts"][project] > 0 and details["zones_rewritten"] == ["identifiers", "content", "links"]
    assert store.audit.verify(ws).ok
    assert _holding(ws, ids) == []
    with ws.identifiers(read_only=True) as con:
        assert con.execute("select count(*) from identifiers.participants").fetchone()[0] == 0
    with ws.links(read_only=True) as con:
        assert con.execute("select count(*) from links.record_person where source = 'participants'").fetchone()[0] == 0
    assert "participants" not in _extract_tables(ws, project)
    with pytest.raises(StudyError):
        runner.run(ws, project, "participant-outcomes", by="ana", today=TODAY)
    with pytest.raises(BoldError, match="no standing participants batch"):
        ingest_actions.delete_list(ws, CARA, "participants", confirmed=True)
