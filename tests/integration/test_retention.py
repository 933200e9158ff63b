"""Retention: records past their source's period leave both zones (and their history), the links and built
extracts; an extract past its project's end is deleted and the project can no longer be built; each deletion is
audited and on the register; a second run deletes nothing, a killed run is finished by the next, and every command
that opens the workspace applies what is due."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import bold
from bold import store
from bold.actions import retention as retention_actions
from bold.cli import app
from bold.governance import projects, register, retention
from bold.governance.people import AccessError, User, add_person
from bold.governance.permissions import Role
from bold.ingest import pipeline
from bold.ingest.pipeline import ingest
from bold.linkage.run import link_workspace
from bold.security import encryption
from bold.sources import ContractError
from bold.workspace import Workspace
from tests.conftest import approved_and_built, clear, make_population

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
PROJECT = "continuity-of-care"
TODAY = dt.date(2026, 11, 22)  # the project runs until 2027-12-31; prison's first batch arrived in 2019
AFTER_END = dt.date(2028, 1, 2)  # past the project's end, within every batch's period but the first's
OLD = "2019-03-01T09:00:00+00:00"  # when the first prison batch arrived
UPDATED = 5  # records of the first batch that the second sends again, changed
PASSWORD = "a-long-test-password"
ADAM = User("adam", frozenset({Role.ADMIN}))
CARA = User("cara", frozenset({Role.CUSTODIAN}))
cli = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """300 people; prison in two batches, ``first`` (arrived in 2019) and ``second`` (now, which also sends five of
    the first's records again, changed); the other sources in one; linked, and the project's extract built."""
    root = tmp_path_factory.mktemp("retention")
    out, _ = make_population(root, people=300, seed=16)
    prison = out / "prison.parquet"
    with duckdb.connect() as con:
        numbered = f"(select *, row_number() over () as _n from '{prison}')"
        con.execute(f"copy (select * exclude (_n) from {numbered} where _n % 2 = 0) to '{out / 'first.parquet'}'")
        con.execute(
            f"""copy (select * exclude (_n) from {numbered} where _n % 2 = 1
                union all select * exclude (_n) replace ('HMP Elsewhere' as ESTABLISHMENT) from {numbered}
                where _n % 2 = 0 and _n <= {2 * UPDATED}) to '{out / "second.parquet"}'"""
        )
    ws = Workspace.init(root / "ws")
    with pytest.MonkeyPatch.context() as mp:  # the first batch arrived years ago
        mp.setattr(pipeline, "now", lambda: OLD)
        ingest(ws, "prison", out / "first.parquet", batch="first", by="cara")
    report = ingest(ws, "prison", out / "second.parquet", batch="second", by="cara")
    assert report.updated == UPDATED
    for source in ("treatment", "deaths", "hospital"):
        ingest(ws, source, out / f"{source}.parquet", by="cara")
    link_workspace(ws, retrain=True, by="lin")
    for name, role in (("adam", "admin"), ("cara", "custodian")):
        add_person(ws, name, [role], PASSWORD, by="test")
        clear(ws, name)
    approved_and_built(ws, EXAMPLE, TODAY)
    return ws


@pytest.fixture()
def ws(built, tmp_path):
    shutil.copytree(built.root, tmp_path / "ws", symlinks=True)
    return Workspace.open(tmp_path / "ws")


def _batch(ws: Workspace, name: str) -> pipeline.Batch:
    return next(b for b in pipeline.batches(ws) if (b.source, b.name) == ("prison", name))


def _rows(ws: Workspace, sql: str) -> list:
    with ws.ingest_session() as con:
        return con.execute(sql).fetchall()


def _prison(ws: Workspace) -> dict[str, set]:
    """The prison record keys in each zone table and each history table."""
    found = {}
    for zone in ("identifiers", "content"):
        for schema in ("main", "history"):
            rows = _rows(ws, f"select record_key::varchar from {zone}.{schema}.prison")
            found[f"{zone}.{schema}"] = {r[0] for r in rows}
    return found


def _first_only(ws: Workspace) -> list[str]:
    """Keys and surnames of the first batch's records that the second did not send again."""
    first = _batch(ws, "first").batch_id
    return _rows(ws, f"select record_key::varchar, surname from identifiers.prison where batch_id = {first}")


def _linked(ws: Workspace, keys: list[str]) -> int:
    with ws.links(read_only=True) as con:
        con.execute("create temp table k as select unnest(?::uuid[]) as record_key", [keys])
        return con.execute("select count(*) from links.record_person where record_key in (select * from k)").fetchone()[
            0
        ]


def _extract_rows(ws: Workspace) -> int:
    with duckdb.connect() as con:
        encryption.attach(con, projects.extract_path(ws, PROJECT), "x", projects.extract_key(ws, PROJECT), True)
        return con.execute("select count(*) from x.prison").fetchone()[0]


def _state(ws: Workspace) -> tuple:
    """What retention could change: the zones, the links, the store's batches and projects, the extract files."""
    with store.connect(ws) as db:
        batches = [tuple(r) for r in db.execute("select * from batches order by batch_id").fetchall()]
        rows = [tuple(r) for r in db.execute("select id, status, expired_at from projects order by id").fetchall()]
    with ws.links(read_only=True) as con:
        links = con.execute("select count(*) from links.record_person").fetchone()[0]
    extract = projects.extract_path(ws, PROJECT)
    return _prison(ws), links, batches, rows, extract.exists() and _extract_rows(ws)


def test_an_extract_past_its_projects_end_is_deleted_and_the_project_can_no_longer_be_built(ws):
    extract = projects.extract_path(ws, PROJECT)
    assert extract.exists() and retention.plan(ws, TODAY).projects == []  # the project runs until 2027-12-31

    result = retention_actions.apply(ws, ADAM, AFTER_END)

    assert [(p.project, p.end, p.extract) for p in result.projects] == [(PROJECT, "2027-12-31", True)]
    assert not extract.exists() and not any(projects.evidence_dir(ws, PROJECT).glob("*.duckdb*"))
    assert projects.get(ws, PROJECT).expired_at == result.applied_at
    with pytest.raises(projects.ProjectError, match="expired on 2027-12-31; its extract was deleted on"):
        projects.build(ws, PROJECT, AFTER_END, by="adam")
    entry = store.audit.entries(ws, action="project extract expired")
    assert len(entry) == 1 and entry[0]["object"] == PROJECT and entry[0]["actor"] == "adam"
    assert json.loads(entry[0]["details"]) == {"reason": "the project ended on 2027-12-31", "extract_deleted": True}
    listed = {p["id"]: p for p in register.contents(ws)["projects"]}
    assert listed[PROJECT]["extract_expired"] == result.applied_at[:10]
    assert store.audit.verify(ws).ok


def test_records_past_their_period_leave_both_zones_their_history_the_links_and_the_extract(ws):
    first, second = _batch(ws, "first"), _batch(ws, "second")
    gone = _first_only(ws)
    keys = [k for k, _ in gone]
    updated = {r[0] for r in _rows(ws, "select record_key::varchar from identifiers.history.prison")}
    assert len(updated) == UPDATED and len(keys) == first.rows_accepted - UPDATED
    assert _linked(ws, keys) == len(keys)
    extract_before = _extract_rows(ws)
    with store.connect(ws) as db:
        quarantine = db.execute("select quarantine_file from batches where batch_id = ?", (first.batch_id,))
        quarantine = quarantine.fetchone()[0]
    assert quarantine is None or (ws.root / quarantine).exists()
    before = _state(ws)

    plan = retention_actions.show(ws, CARA, TODAY)  # what is due, for the custodian; nothing changes
    assert _state(ws) == before
    due = {s.source: s for s in plan.sources}
    assert due["prison"].due_batches == ["first"] and (due["prison"].records, due["prison"].versions) == (
        len(keys),
        UPDATED,
    )
    assert due["prison"].period == "7 years" and due["prison"].set_in == "contract"
    assert all(not s.due_batches for s in plan.sources if s.source != "prison") and plan.projects == []

    result = retention_actions.apply(ws, ADAM, TODAY)

    prison = next(s for s in result.sources if s.source == "prison")
    assert (prison.records, prison.versions) == (len(keys), UPDATED) and result.links == plan.links
    assert result.extracts == plan.extracts and result.extracts[PROJECT] > 0
    after = _prison(ws)
    for zone in ("identifiers", "content"):
        assert not after[f"{zone}.main"] & set(keys)  # the expired records: gone from both zones
        assert after[f"{zone}.history"] == set()  # the first batch's versions superseded by the second: gone
        assert updated <= after[f"{zone}.main"]  # ... while their records, sent again since, stay
    assert len(after["identifiers.main"]) == second.rows_accepted
    assert _linked(ws, keys) == 0 and _extract_rows(ws) < extract_before
    assert quarantine is None or not (ws.root / quarantine).exists()  # its rejected rows: gone too
    assert retention.deleted(ws) == len(keys)
    # a build made now holds what is left: the second batch
    projects.build(ws, PROJECT, TODAY, by="adam")
    assert _extract_rows(ws) == second.rows_accepted


def test_deleted_records_are_gone_from_the_files_on_disk(ws):
    """A deleted row's bytes stay in a DuckDB file (test below), so the zones and links are written afresh: the
    files are new, and no file in the workspace holds a deleted person's name."""
    gone = {s for _, s in _first_only(ws)}
    inodes = {z: ws.zone_path(z).stat().st_ino for z in ("identifiers", "content", "links")}

    retention_actions.apply(ws, ADAM, TODAY)

    kept = {r[0] for t in ("prison", "deaths") for r in _rows(ws, f"select surname from identifiers.{t}")}
    surname = max(gone - kept, key=len).encode()  # a name only deleted records had

    assert all(ws.zone_path(z).stat().st_ino != n for z, n in inodes.items())  # each zone rewritten
    for path in ws.root.rglob("*"):
        assert not path.is_file() or surname not in path.read_bytes(), path
    assert not list(ws.root.glob("*.rewrite")) and not list(ws.root.glob(".*.rewrite"))


def test_duckdb_keeps_a_deleted_rows_bytes_until_the_file_is_written_afresh(tmp_path):
    """Why the zones are rewritten: a delete and a checkpoint leave the row in the file; a copy does not."""
    con = duckdb.connect()
    con.execute(f"attach '{tmp_path / 'old.duckdb'}' as old")
    con.execute(
        "create table old.t as select range as id, md5(range::varchar) || 'Quex' || range || ';' as n from range(99)"
    )
    con.execute("checkpoint old")
    con.execute("delete from old.t where id = 7")
    con.execute("checkpoint old")
    assert b"Quex7;" in (tmp_path / "old.duckdb").read_bytes()
    con.execute(f"attach '{tmp_path / 'new.duckdb'}' as new")
    con.execute("copy from database old to new")
    con.execute("detach new")
    data = (tmp_path / "new.duckdb").read_bytes()
    assert b"Quex7;" not in data and b"Quex8;" in data


def test_each_deletion_is_audited_and_on_the_register(ws, tmp_path):
    gone = _first_only(ws)
    result = retention_actions.apply(ws, ADAM, TODAY)

    entries = store.audit.entries(ws, action="records expired")
    assert len(entries) == 1 and entries[0]["object"] == "prison" and entries[0]["actor"] == "adam"
    details = json.loads(entries[0]["details"])
    assert details["reason"] == "kept 7 years after their batch arrived (contract)"
    assert details["batches"] == ["first"] and details["records_deleted"] == len(gone)
    assert details["superseded_versions_deleted"] == UPDATED
    summary = json.loads(store.audit.entries(ws, action="retention applied")[0]["details"])
    assert summary["link_rows_deleted"] == result.links and summary["extract_people_removed"] == result.extracts
    first = _batch(ws, "first")
    with store.connect(ws) as db:
        row = db.execute("select expired_at, expiry from batches where batch_id = ?", (first.batch_id,)).fetchone()
    assert row[0] == result.applied_at
    assert json.loads(row[1]) == {"period": "7 years", "records": len(gone), "versions": UPDATED}
    assert store.audit.verify(ws).ok  # the batches' rows changed with their entries: the sealed state agrees

    out = register.build(ws, tmp_path / "site", by="adam")
    listed = {s["source"]: s for s in json.loads((out / "register.json").read_text())["retention"]}
    assert listed["prison"] == {
        "source": "prison",
        "period": "7 years",
        "set_in": "contract",
        "records_deleted": len(gone),
        "last_deleted": result.applied_at[:10],
    }
    assert listed["deaths"]["records_deleted"] == 0 and listed["deaths"]["last_deleted"] is None
    page = (out / "index.html").read_text()
    assert 'id="retention"' in page and f"<td>prison</td><td>7 years</td>\n<td>{len(gone)}</td>" in page


def test_a_second_run_deletes_nothing(ws):
    retention_actions.apply(ws, ADAM, AFTER_END)
    before, entries = _state(ws), len(store.audit.entries(ws))

    again = retention_actions.apply(ws, ADAM, AFTER_END)

    assert not again.due and again.applied_at is None
    assert _state(ws) == before and len(store.audit.entries(ws)) == entries
    assert not retention.due(ws, AFTER_END)


def test_a_workspace_setting_overrides_the_contract_and_a_bad_one_is_refused(ws):
    text = ws.settings_path.read_text()
    ws.settings_path.write_text(text + '\n[retention]\nprison = "20 years"\n')
    periods = {s.source: s for s in retention.plan(ws, TODAY).sources}
    assert (periods["prison"].period, periods["prison"].set_in, periods["prison"].due_batches) == (
        "20 years",
        "bold.toml",
        [],
    )
    for bad, message in (('prison = "forever"', "'forever' is not a retention period"), ("prisons = 3", "no source")):
        ws.settings_path.write_text(text + f"\n[retention]\n{bad}\n")
        with pytest.raises(ContractError, match=message):
            retention.plan(ws, TODAY)


def test_only_an_admin_applies_retention(ws):
    before = _state(ws)
    with pytest.raises(AccessError, match="cara \\(custodian\\) may not retention apply"):
        retention_actions.apply(ws, CARA, TODAY)
    assert _state(ws) == before


RETENTION_POINTS = ("retention:after-extracts", "retention:after-records", "retention:before-commit")
SCRIPT = """
import datetime as dt, sys
from pathlib import Path
from bold.governance import retention
from bold.workspace import Workspace
retention.apply(Workspace.open(Path(sys.argv[1])), dt.date.fromisoformat(sys.argv[2]), by="adam")
"""


@pytest.mark.parametrize("point", (*RETENTION_POINTS, "optout:between-zones"))
def test_a_run_killed_midway_is_finished_by_the_next(built, tmp_path, point):
    """Everything commits with the store transaction that marks the batches and projects: a run killed midway
    marks nothing, and the next finds the same batches and projects due and ends as an uninterrupted run."""
    day = AFTER_END  # the project's extract and the first batch's records, both
    reference = Workspace.open(shutil.copytree(built.root, tmp_path / "reference", symlinks=True))
    retention.apply(reference, day, by="adam")
    expected = _state(reference)

    ws = Workspace.open(shutil.copytree(built.root, tmp_path / "killed", symlinks=True))
    env = {**os.environ, "PYTHONPATH": str(Path(bold.__file__).parents[1]), "BOLD_FAULT": point}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ws.root), day.isoformat()], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert not store.audit.entries(ws, action="records expired") and retention.due(ws, day)

    retention.apply(ws, day, by="adam")

    state, want = _state(ws), expected
    assert state[:2] == want[:2] and state[4] == want[4]  # zones, links, extract: as an uninterrupted run
    assert [b[:-2] for b in state[2]] == [b[:-2] for b in want[2]]  # batches alike but for when they expired
    assert len(store.audit.entries(ws, action="records expired")) == 1 and store.audit.verify(ws).ok
    assert not retention.due(ws, day)


def test_the_commands_show_and_apply_and_every_command_applies_what_is_due(ws):
    env = {"BOLD_USER": "adam", "BOLD_PASSWORD": PASSWORD}
    where = ["-w", str(ws.root), "--today", AFTER_END.isoformat()]
    before = _state(ws)
    shown = cli.invoke(app, ["retention", "show", *where], env={**env, "BOLD_USER": "cara"})
    assert shown.exit_code == 0, shown.output
    assert "prison" in shown.output and "7 years" in shown.output and "first" in shown.output
    dry = cli.invoke(app, ["retention", "apply", "--dry-run", *where], env=env)
    assert dry.exit_code == 0, dry.output
    assert f"Project {PROJECT} ended on 2027-12-31: its extract to be deleted" in dry.output
    assert _state(ws) == before

    done = cli.invoke(app, ["retention", "apply", "--json", *where], env=env)

    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["applied_at"] and data["projects"][0]["project"] == PROJECT
    assert next(s for s in data["sources"] if s["source"] == "prison")["due_batches"] == ["first"]
    again = cli.invoke(app, ["retention", "apply", *where], env=env)
    assert again.exit_code == 0 and "Nothing is due: nothing was deleted." in again.output
    refused = cli.invoke(app, ["retention", "apply", *where], env={**env, "BOLD_USER": "cara"})
    assert refused.exit_code != 0 and "may not retention apply" in refused.output


def test_any_command_that_opens_the_workspace_applies_what_is_due(ws):
    """The first prison batch arrived in 2019: today it is past its seven years, and ``bold status`` (any command)
    deletes its records before it answers, as ``bold``."""
    env = {"BOLD_USER": "cara", "BOLD_PASSWORD": PASSWORD}
    gone = len(_first_only(ws))
    quick = cli.invoke(app, ["status", "--json", "-w", str(ws.root)], env=env)
    assert quick.exit_code == 0, quick.output
    assert json.loads(quick.output)["deleted_after_retention"] == gone
    entry = store.audit.entries(ws, action="records expired")
    assert len(entry) == 1 and entry[0]["actor"] == "bold"
    entries = len(store.audit.entries(ws))
    cli.invoke(app, ["status", "-w", str(ws.root)], env=env)  # nothing due any more: nothing done
    assert len(store.audit.entries(ws)) == entries
