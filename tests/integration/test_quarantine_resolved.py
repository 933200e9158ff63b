"""Quarantined rows that a corrected batch resolves: the custodian fixes rows and sends them again, and the
quarantine share the acceptability assessment reads, ``bold status`` and the sender's export count only the rows
still unresolved; withdrawing the correcting batch brings them back. The store never holds a record id."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bold
from bold import store
from bold.cli import app
from bold.governance import people, projects, withdrawals
from bold.ingest import pipeline, quarantine, resolved
from bold.ingest.pipeline import ingest
from bold.workspace import Workspace
from tests.conftest import clear

HEADER = "REG_ID,NHS_NO,FORENAMES,SURNAME,DOB,SEX,USUAL_RES_POSTCODE,DOD,UNDERLYING_CAUSE,DRUG_RELATED"
GOOD = [
    "RQ-1001,,Ann,Lee,19800307,2,NE4 7QX,20240501,X42,Y",
    "RQ-1002,,Bob,Ray,19751231,1,,20230115,I21.9,N",
    "RQ-1003,,Cat,Day,19900228,9,,20250809,X44,Y",
]
BAD = [
    "RQ-1004,,Dan,Fox,07/03/1980,1,,20240501,X42,Y",  # DOB in another format
    "RQ-1005,,Eve,Gray,19810101,X,,20240501,X42,Y",  # an unknown sex code
    "RQ-1006,,Fay,Hill,19900228,2,,19800101,X44,Y",  # died before being born
]
FIXED = ["RQ-1004,,Dan,Fox,19800307,1,,20240501,X42,Y", "RQ-1005,,Eve,Gray,19810101,2,,20240501,X42,Y"]
PASSWORD = "a-long-password-for-cara"


@pytest.fixture()
def ws(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    people.add_person(ws, "cara", ["custodian"], PASSWORD, by="adam")
    clear(ws, "cara")
    return ws


def sent(tmp_path: Path, rows: list[str], name: str) -> Path:
    path = tmp_path / f"{name}.csv"
    path.write_text(HEADER + "\n" + "".join(r + "\n" for r in rows))
    return path


def first_batch(ws: Workspace, tmp_path: Path):
    report = ingest(ws, "deaths", sent(tmp_path, GOOD + BAD, "registrations"), by="cara")
    assert (report.accepted, report.quarantined, report.resolved) == (3, 3, 0)
    return report


def unresolved(ws: Workspace) -> dict[int, int]:
    return {b.batch_id: b.quarantine_unresolved for b in pipeline.batches(ws)}


def exported(ws: Workspace, batch_id: int, out: Path) -> dict[str, str]:
    """Record id -> resolved_by_batch, as the sender's export gives them."""
    quarantine.export(ws, batch_id, out, by="cara")
    return {r["REG_ID"]: r["resolved_by_batch"] for r in csv.DictReader(out.open())}


def test_a_corrected_resend_resolves_its_rows_and_withdrawing_it_brings_them_back(ws, tmp_path):
    first = first_batch(ws, tmp_path)
    assert projects.source_quality(ws)["deaths"] == pytest.approx(3 / 6)

    checked = ingest(ws, "deaths", sent(tmp_path, FIXED, "corrected"), by="cara", check=True)
    assert checked.resolved == 2 and unresolved(ws) == {first.batch_id: 3}  # a check changes nothing
    corrected = ingest(ws, "deaths", sent(tmp_path, FIXED, "corrected"), by="cara")

    assert (corrected.accepted, corrected.quarantined, corrected.resolved) == (2, 0, 2)
    listed = {b.batch_id: b for b in pipeline.batches(ws)}
    assert listed[corrected.batch_id].rows_resolved == 2
    assert unresolved(ws) == {first.batch_id: 1, corrected.batch_id: 0}
    assert projects.source_quality(ws)["deaths"] == pytest.approx(1 / 8)  # 1 unresolved of the 8 rows read
    report = pipeline.batch_report(ws, first.batch_id)
    assert (report.quarantined, report.quarantine_unresolved) == (3, 1)
    assert pipeline.batch_report(ws, corrected.batch_id).resolved == 2
    resolver = str(corrected.batch_id)
    assert exported(ws, first.batch_id, tmp_path / "q.csv") == {"RQ-1004": resolver, "RQ-1005": resolver, "RQ-1006": ""}
    entry = store.audit.entries(ws, action="ingest")[0]
    assert json.loads(entry["details"])["quarantine_resolved"] == 2

    plan = withdrawals.plan(ws, "deaths", "corrected")
    assert plan.unresolved == 2 and unresolved(ws)[first.batch_id] == 1  # a plan changes nothing
    done = withdrawals.apply(ws, "deaths", "corrected", by="cara")

    assert done.unresolved == 2
    assert unresolved(ws) == {first.batch_id: 3, corrected.batch_id: 0}
    assert projects.source_quality(ws)["deaths"] == pytest.approx(3 / 6)  # the withdrawn batch no longer counts
    assert exported(ws, first.batch_id, tmp_path / "q.csv") == {"RQ-1004": "", "RQ-1005": "", "RQ-1006": ""}
    assert pipeline.batch_report(ws, corrected.batch_id).resolved == 2  # what it did when it arrived, kept
    withdrawn = store.audit.entries(ws, action="batch withdrawn")[0]
    assert json.loads(withdrawn["details"])["quarantine_unresolved_again"] == 2
    assert store.audit.verify(ws).ok  # the index is sealed with the rest of the governance state


def test_a_row_stays_resolved_while_any_batch_that_resolved_it_stands(ws, tmp_path):
    first = first_batch(ws, tmp_path)
    second = ingest(ws, "deaths", sent(tmp_path, FIXED, "corrected"), by="cara")
    third = ingest(ws, "deaths", sent(tmp_path, FIXED[:1], "corrected-again"), by="cara")  # RQ-1004 again
    assert (second.resolved, third.resolved) == (2, 0)  # nothing new resolved by the third
    assert third.unchanged == 1  # sent exactly as the second stored it

    withdrawals.apply(ws, "deaths", "corrected", by="cara")

    assert unresolved(ws)[first.batch_id] == 2  # RQ-1004 still resolved, by the third batch
    assert exported(ws, first.batch_id, tmp_path / "q.csv") == {"RQ-1004": str(third.batch_id), "RQ-1005": "",
                                                               "RQ-1006": ""}  # fmt: skip


def test_a_row_quarantined_as_an_update_is_resolved_by_a_resend_of_the_stored_version(ws, tmp_path):
    ingest(ws, "deaths", sent(tmp_path, GOOD, "registrations"), by="cara")
    update = [GOOD[0].replace("19800307", "1980-03-07"), GOOD[2]]  # a broken update of RQ-1001
    broken = ingest(ws, "deaths", sent(tmp_path, update, "update"), by="cara")
    assert (broken.quarantined, broken.unchanged) == (1, 1)
    again = ingest(ws, "deaths", sent(tmp_path, [GOOD[0], GOOD[1].replace("I21.9", "I21.0")], "again"), by="cara")
    assert (again.unchanged, again.updated, again.resolved) == (1, 1, 1)
    assert unresolved(ws)[broken.batch_id] == 0


def test_the_store_holds_a_keyed_digest_of_each_record_id_never_the_id(ws, tmp_path):
    no_id = ",,Gil,Ash,19700101,1,,20240501,X42,Y"
    first = ingest(ws, "deaths", sent(tmp_path, [*GOOD, *BAD, no_id], "r"), by="cara")
    with store.connect(ws) as db:
        index = db.execute(
            "select file_row, record_digest, reasons from quarantined_rows where batch_id = ? order by file_row",
            (first.batch_id,),
        ).fetchall()
    key = ws.key("quarantine")
    assert [tuple(r) for r in index] == [
        (4, resolved.digest(key, "deaths", "RQ-1004"), "DOB: not a date in the format yyyymmdd"),
        (5, resolved.digest(key, "deaths", "RQ-1005"), "SEX: not one of the allowed codes (1, 2, 9)"),
        (6, resolved.digest(key, "deaths", "RQ-1006"), "DOD: before the date of birth (expected on or after DOB)"),
        (7, None, "REG_ID: missing required value"),  # no record id to read: this row can never be resolved
    ]
    stored = b"".join(p.read_bytes() for p in ws.root.glob("governance.db*"))
    assert not any(f"RQ-100{n}".encode() in stored for n in range(1, 8))


def test_an_opted_out_persons_resend_is_dropped_and_resolves_nothing(ws, tmp_path):
    from bold.governance import optouts

    first = first_batch(ws, tmp_path)
    optout_file = tmp_path / "optouts.csv"
    optout_file.write_text("forename,surname,date_of_birth\nDan,Fox,1980-03-07\n")
    optouts.apply(ws, optout_file, by="cara")
    corrected = ingest(ws, "deaths", sent(tmp_path, FIXED, "corrected"), by="cara")
    assert (corrected.opted_out, corrected.accepted, corrected.resolved) == (1, 1, 1)
    assert unresolved(ws)[first.batch_id] == 2


def test_bold_status_shows_the_unresolved_rows_per_source(ws, tmp_path):
    first_batch(ws, tmp_path)
    ingest(ws, "deaths", sent(tmp_path, FIXED, "corrected"), by="cara")
    env = {"BOLD_USER": "cara", "BOLD_PASSWORD": PASSWORD}
    shown = CliRunner().invoke(app, ["status", "-w", str(ws.root)], env=env)
    assert shown.exit_code == 0, shown.output
    assert (
        "unresolved" in shown.output and "Quarantined rows not yet resolved by a later batch: deaths 1" in shown.output
    )
    as_json = json.loads(CliRunner().invoke(app, ["status", "--json", "-w", str(ws.root)], env=env).output)
    assert as_json["quarantine_unresolved"] == {"deaths": 1}
    assert [b["rows_resolved"] for b in as_json["batches"]] == [0, 2]


SCRIPT = """
import sys
from pathlib import Path
from bold.workspace import Workspace
ws = Workspace.open(Path(sys.argv[1]))
if sys.argv[2] == "ingest":
    from bold.ingest.pipeline import ingest
    ingest(ws, "deaths", Path(sys.argv[3]), batch="corrected", by="cara")
else:
    from bold.governance import withdrawals
    withdrawals.apply(ws, "deaths", "corrected", by="cara")
"""


def killed(ws: Workspace, point: str, *args) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(bold.__file__).parents[1]), "BOLD_FAULT": point}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ws.root), *map(str, args)], env=env, timeout=120,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr


def test_a_kill_before_the_batch_commits_resolves_nothing_and_a_killed_withdrawal_unresolves_nothing(ws, tmp_path):
    first = first_batch(ws, tmp_path)
    fixed = sent(tmp_path, FIXED, "corrected")
    killed(ws, "ingest:before-commit", "ingest", fixed)
    assert unresolved(ws) == {first.batch_id: 3}
    again = ingest(ws, "deaths", fixed, batch="corrected", by="cara")
    assert again.resolved == 2 and unresolved(ws)[first.batch_id] == 1

    killed(ws, "withdraw:before-commit", "withdraw")
    assert unresolved(ws)[first.batch_id] == 1
    withdrawals.apply(ws, "deaths", "corrected", by="cara")
    assert unresolved(ws)[first.batch_id] == 3 and store.audit.verify(ws).ok
