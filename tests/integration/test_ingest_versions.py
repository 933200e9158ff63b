"""Records sent again: an update supersedes the stored version (kept as history), an identical re-send adds
nothing, every row is accounted for, opt-outs reach the history, and a kill midway loses no version."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import bold
from bold import store
from bold.governance import optouts
from bold.ingest.pipeline import batch_report, ingest
from bold.workspace import Workspace
from tests.integration.test_ingest import prison_file, row

TODAY = dt.date(2026, 11, 22)


def run(ws, path, **kwargs):
    return ingest(ws, "prison", path, today=TODAY, by="cara", **kwargs)


def versions(ws: Workspace) -> dict[str, list[tuple]]:
    """Each zone's current rows and its history, as (record id or key, value) pairs, sorted."""
    with ws.ingest_session() as con:
        current = con.execute(
            """select i.source_record_id, i.date_of_birth::varchar, c.release_date::varchar, i.record_key::varchar
               from identifiers.prison i join content.prison c using (record_key) order by 1"""
        ).fetchall()
        tables = {t for (t,) in con.execute("select schema_name || '.' || table_name from duckdb_tables()").fetchall()}
        history = {}
        for zone, column in (("identifiers", "date_of_birth"), ("content", "release_date")):
            if "history.prison" in tables:
                history[zone] = con.execute(
                    f"select record_key::varchar, {column}::varchar, superseded_by from {zone}.history.prison order by all"
                ).fetchall()
    return {"current": current, **history}


@pytest.fixture()
def ws(tmp_path):
    return Workspace.init(tmp_path / "ws")


def test_a_record_sent_again_updates_unchanged_ones_add_nothing_and_every_row_is_counted(ws, tmp_path):
    first = run(ws, prison_file(tmp_path, [row(1), row(2)], "a.csv"))
    assert (first.accepted, first.updated, first.unchanged) == (2, 0, 0)
    before = versions(ws)["current"]

    # Month two: record 1 as before, record 2 released later (a content change), record 3 new.
    second = run(ws, prison_file(tmp_path, [row(1), row(2, RELEASE_DATE="15/06/2020"), row(3)], "b.csv"))
    assert (second.rows_read, second.accepted, second.updated, second.unchanged) == (3, 2, 1, 0 + 1)
    assert (second.new, second.quarantined, second.relink) == (1, 0, 0) and second.balanced
    assert not second.reasons  # nothing quarantined as a duplicate any more
    now = versions(ws)
    assert [(r[0], r[2]) for r in now["current"]] == [("B1", "2020-05-01"), ("B2", "2020-06-15"), ("B3", "2020-05-01")]
    assert now["current"][1][3] == before[1][3]  # the update keeps the record's key, so its links hold
    assert now["content"] == [(before[1][3], "2020-05-01", second.batch_id)]  # the earlier version, as history
    assert now["identifiers"] == [(before[1][3], "1980-03-07", second.batch_id)]

    # A corrected date of birth: an identifier change, to be linked again.
    third = run(ws, prison_file(tmp_path, [row(1, DATE_OF_BIRTH="08/03/1980")], "c.csv"))
    assert (third.accepted, third.updated, third.relink) == (1, 1, 1)
    assert versions(ws)["current"][0][1] == "1980-03-08"  # what linkage now reads

    # The whole of month two again, rows in another order (another file, so not skipped by its checksum).
    stored_before = versions(ws)
    again = run(ws, prison_file(tmp_path, [row(3), row(2, RELEASE_DATE="15/06/2020")], "d.csv"))
    assert (again.rows_read, again.accepted, again.unchanged, again.quarantined) == (2, 0, 2, 0)
    assert versions(ws) == stored_before  # nothing stored, nothing moved to history

    stored = batch_report(ws, second.batch_id)
    assert (stored.accepted, stored.updated, stored.unchanged, stored.relink) == (2, 1, 1, 0) and stored.balanced
    assert batch_report(ws, again.batch_id).unchanged == 2
    entry = store.audit.entries(ws, action="ingest")[0]  # the newest
    assert '"unchanged": 2' in entry["details"]


def test_a_record_twice_in_one_file_is_still_quarantined(ws, tmp_path):
    report = run(ws, prison_file(tmp_path, [row(1), row(1, RELEASE_DATE="15/06/2020")]))
    assert report.accepted == 1 and report.reasons["BOOKING_ID: duplicate record id (also earlier in this file)"] == 1


def test_an_opt_out_deletes_every_version_even_one_matched_only_by_its_old_identifiers(ws, tmp_path):
    run(ws, prison_file(tmp_path, [row(1), row(2)], "a.csv"))
    run(ws, prison_file(tmp_path, [row(1, SURNAME="Corrected", DATE_OF_BIRTH="08/03/1980")], "b.csv"))
    register = tmp_path / "optouts.csv"  # the name and date of birth the record had before its correction
    register.write_text("forename,surname,date_of_birth\nJosé,O'Brien-Smith,1980-03-07\n")
    optouts.apply(ws, register, by="cara")
    left = versions(ws)
    assert [r[0] for r in left["current"]] == []  # B2 has the same old identifiers: gone too
    assert left["identifiers"] == [] and left["content"] == []


SCRIPT = """
import sys, datetime as dt
from pathlib import Path
from bold.workspace import Workspace
from bold.ingest.pipeline import ingest
ingest(Workspace.open(Path(sys.argv[1])), "prison", Path(sys.argv[2]), today=dt.date(2026, 11, 22), by="cara")
"""


HISTORY_POINTS = ("ingest:identifiers-history-copied", "ingest:content-history-copied")


@pytest.mark.parametrize("point", HISTORY_POINTS)
def test_an_update_killed_midway_loses_no_version_and_runs_again_as_if_never_killed(ws, tmp_path, point):
    run(ws, prison_file(tmp_path, [row(1), row(2)], "a.csv"))
    before = versions(ws)
    update = prison_file(tmp_path, [row(1), row(2, RELEASE_DATE="15/06/2020")], "b.csv")
    env = {"BOLD_FAULT": point, "PYTHONPATH": str(Path(bold.__file__).parents[1]), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ws.root), str(update)], env=env, capture_output=True)
    assert done.returncode == -9, done.stderr.decode()[-2000:]

    again = run(ws, update)  # its sweep first puts the superseded version back
    recovered = store.audit.entries(ws, action="ingest recovered")
    assert len(recovered) == 1 and "versions_restored" in recovered[0]["details"]
    assert (again.accepted, again.updated, again.unchanged) == (1, 1, 1)
    after = versions(ws)
    assert [r[:3] for r in after["current"]] == [("B1", "1980-03-07", "2020-05-01"), ("B2", "1980-03-07", "2020-06-15")]
    assert [r[3] for r in after["current"]] == [r[3] for r in before["current"]]
    assert after["content"] == [(before["current"][1][3], "2020-05-01", again.batch_id)]  # one version, not two
    assert after["identifiers"] == [(before["current"][1][3], "1980-03-07", again.batch_id)]
    assert store.audit.verify(ws).ok


def test_a_journey_sent_open_then_closed_reaches_the_rebuilt_extract_with_its_discharge_date(tmp_path):
    from bold.governance import projects
    from bold.linkage.run import link_workspace
    from bold.security import encryption
    from tests.conftest import approved_and_built, ingested, make_population

    out, _ = make_population(tmp_path, people=300, seed=4)
    ws = ingested(tmp_path / "ws", out)
    link_workspace(ws, retrain=True, by="lin")
    agreement = Path(__file__).parents[2] / "docs" / "examples" / "bold-questions.yaml"
    project = approved_and_built(ws, agreement, TODAY)

    def closed_journeys() -> int:
        with duckdb.connect() as con:
            encryption.attach(con, projects.extract_path(ws, project), "x", projects.extract_key(ws, project), True)
            return con.execute("select count(discharge_date) from x.treatment").fetchone()[0]

    closed_before = closed_journeys()
    month_two = tmp_path / "treatment-month-two.parquet"  # the same journeys, the first open one now closed
    duckdb.sql(
        f"""copy (select * replace (case when JOURNEY_ID = (select min(JOURNEY_ID) from '{out}/treatment.parquet'
                                               where DISCHARGE_DATE is null)
                                    then '31/10/2026' else DISCHARGE_DATE end as DISCHARGE_DATE)
                  from '{out}/treatment.parquet') to '{month_two}' (format parquet)"""
    )
    report = ingest(ws, "treatment", month_two, by="cara")
    assert (report.updated, report.relink, report.quarantined) == (1, 0, 0)
    assert report.unchanged == report.rows_read - 1 - report.opted_out

    projects.build(ws, project, today=TODAY, by="adam")  # the record keeps its key, so its links: no re-link needed
    assert closed_journeys() == closed_before + 1


def test_withdrawing_an_update_gives_the_earlier_version_back_and_withdrawing_an_original_drops_its_history(
    ws, tmp_path
):
    from bold.governance import withdrawals

    first = run(ws, prison_file(tmp_path, [row(1), row(2)], "a.csv"))
    keys = {r[0]: r[3] for r in versions(ws)["current"]}
    update = run(ws, prison_file(tmp_path, [row(2, RELEASE_DATE="15/06/2020"), row(3)], "b.csv"))
    assert update.updated == 1

    done = withdrawals.apply(ws, "prison", update.batch, by="cara")  # sent in error: B2's update and B3 go
    assert done.records["versions_restored"] == 1
    now = versions(ws)
    assert [(r[0], r[2], r[3]) for r in now["current"]] == [
        ("B1", "2020-05-01", keys["B1"]),
        ("B2", "2020-05-01", keys["B2"]),  # the earlier version, under its own key
    ]
    assert now["content"] == now["identifiers"] == []

    later = run(ws, prison_file(tmp_path, [row(1, RELEASE_DATE="20/07/2020")], "c.csv"))
    assert later.updated == 1
    withdrawals.apply(ws, "prison", first.batch, by="cara")  # B2 leaves; B1 stays as the later batch sent it
    now = versions(ws)
    assert [(r[0], r[2]) for r in now["current"]] == [("B1", "2020-07-20")]
    assert now["content"] == now["identifiers"] == []  # the withdrawn batch's version left the history too
