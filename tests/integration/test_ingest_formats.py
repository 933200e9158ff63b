"""Custodians' own formats through a mapping, ``ingest --check`` storing nothing, and a file that is mostly
quarantined refused with a failing exit: what a custodian relies on when sending a file that is not yet right."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from typer.testing import CliRunner

from bold import store
from bold.cli import app
from bold.ingest.pipeline import ingest
from bold.ingest.reader import IngestError
from bold.sources import load_contract, load_mapping
from bold.store import audit
from bold.workspace import Workspace
from tests.conftest import clear

TODAY = dt.date(2026, 11, 22)
ADMIN = {"BOLD_USER": "adam", "BOLD_PASSWORD": "a-long-admin-password"}
# A registrar's own extract: ISO dates, M/F sex codes, their own name for the registration number
HEADER = "RegNo,NHS_NO,FORENAMES,SURNAME,DOB,SEX,USUAL_RES_POSTCODE,DateOfDeath,UNDERLYING_CAUSE,DRUG_RELATED"
ROWS = [
    "D1,,Ann,Lee,1980-03-07,F,NE4 7QX,2024-05-01,X42,Y",
    "D2,,Bob,Ray,1975-12-31,M,,2023-01-15,I21.9,N",
    "D3,,Cat,Day,1990-02-28,9,,2025-08-09,X44,Y",  # the contract's own code for unknown still holds
]
MAPPING = """\
RegNo: REG_ID            # a rename, as before
DOB:
  format: "%Y-%m-%d"
DateOfDeath:
  column: DOD
  format: "%Y-%m-%d"
SEX:
  codes: {M: 1, F: 2}
"""


@pytest.fixture()
def ws(tmp_path):
    return Workspace.init(tmp_path / "ws")


def deaths_file(tmp_path, rows: list[str], name: str = "registrations.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "".join(r + "\n" for r in rows))
    return path


def mapping_file(tmp_path, text: str = MAPPING, name: str = "map.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_own_date_format_and_codes_ingest_cleanly_through_a_mapping(ws, tmp_path):
    path = deaths_file(tmp_path, ROWS)
    renamed_only = load_mapping(
        mapping_file(tmp_path, "RegNo: REG_ID\nDateOfDeath: DOD\n", "rename.yaml"), load_contract("deaths")
    )
    with pytest.raises(IngestError, match=r"every row \(3\) would be quarantined, so nothing was stored; DOB: not a "):
        ingest(ws, "deaths", path, mapping=renamed_only, today=TODAY, by="cara")  # a rename alone: nothing fits

    mapping = load_mapping(mapping_file(tmp_path), load_contract("deaths"))
    report = ingest(ws, "deaths", path, mapping=mapping, today=TODAY, by="cara")
    assert (report.rows_read, report.accepted, report.quarantined) == (3, 3, 0), report.reasons
    with ws.identifiers(read_only=True) as con:
        stored = con.execute(
            "select source_record_id, date_of_birth, sex from identifiers.deaths order by 1"
        ).fetchall()
    assert stored == [
        ("D1", dt.date(1980, 3, 7), "F"),
        ("D2", dt.date(1975, 12, 31), "M"),
        ("D3", dt.date(1990, 2, 28), "U"),
    ]
    with ws.content(read_only=True) as con:
        deaths = con.execute("select date_of_death from content.deaths order by 1").fetchall()
    assert [d for (d,) in deaths] == [dt.date(2023, 1, 15), dt.date(2024, 5, 1), dt.date(2025, 8, 9)]


def test_rule_errors_name_the_custodians_format_row_and_column(ws, tmp_path):
    rows = [*ROWS, "D4,,Dan,Fox,07/03/1980,M,,2024-05-01,X42,Y", "D5,,Eve,Gray,1981-01-01,X,,2024-05-01,X42,Y"]
    mapping = load_mapping(mapping_file(tmp_path), load_contract("deaths"))
    report = ingest(ws, "deaths", deaths_file(tmp_path, rows), mapping=mapping, today=TODAY, by="cara")
    assert (report.accepted, report.quarantined) == (3, 2)
    assert report.examples == {
        "DOB: not a date in the format yyyy-mm-dd": [4],  # their format, not the contract's yyyymmdd
        "SEX: not one of the allowed codes (1, 2, 9, M, F)": [5],
    }
    # The quarantine keeps the values as they were sent, so the custodian can fix their own file
    con = duckdb.connect()
    con.execute(f"pragma add_parquet_key('q', '{ws.key('quarantine')}')")
    kept = con.execute(
        f"select _row, DOB, SEX from read_parquet('{report.quarantine_file}', encryption_config = {{footer_key: 'q'}})"
    ).fetchall()
    assert kept == [(4, "07/03/1980", "M"), (5, "1981-01-01", "X")]


def _stored(ws: Workspace) -> tuple:
    """Everything an ingest could leave: zone tables, batch rows, quarantine files, audit entries."""
    tables = []
    with ws.ingest_session() as con:
        for zone, table in con.execute(
            "select database_name, table_name from duckdb_tables() where database_name in ('identifiers', 'content')"
        ).fetchall():
            tables.append((zone, table, con.execute(f"select count(*) from {zone}.{table}").fetchone()[0]))
    with store.connect(ws) as db:
        batches = db.execute("select count(*) from batches").fetchone()[0]
    files = sorted(p.relative_to(ws.root) for p in (ws.root / "quarantine").rglob("*") if p.is_file())
    return sorted(tables), batches, files, len(audit.entries(ws))


def test_check_reports_what_ingest_would_do_and_stores_nothing(ws, tmp_path):
    rows = [*ROWS, "D4,,Dan,Fox,07/03/1980,M,,2024-05-01,X42,Y", "D4,,Dan,Fox,1980-03-07,M,,2024-05-01,X42,Y"]
    path = deaths_file(tmp_path, rows)
    mapping = load_mapping(mapping_file(tmp_path), load_contract("deaths"))
    before = _stored(ws)
    checked = ingest(ws, "deaths", path, mapping=mapping, today=TODAY, by="cara", check=True)
    assert checked.checked and checked.refusal is None and checked.batch_id is None
    assert (checked.rows_read, checked.accepted, checked.quarantined) == (5, 3, 2)
    assert checked.examples == {
        "DOB: not a date in the format yyyy-mm-dd": [4],
        "REG_ID: duplicate record id (also earlier in this file)": [5],
    }
    assert _stored(ws) == before  # no zone table or row, no batch, no quarantine file, no audit entry

    done = ingest(ws, "deaths", path, mapping=mapping, today=TODAY, by="cara")  # the check said what this does
    assert (done.accepted, done.quarantined, dict(done.examples)) == (3, 2, checked.examples)
    after = _stored(ws)
    again = ingest(ws, "deaths", deaths_file(tmp_path, ROWS, "next.csv"), mapping=mapping, today=TODAY, by="cara",
                   check=True)  # fmt: skip
    # Against what is stored, a check finds the records sent before exactly so, and still stores nothing
    assert (again.accepted, again.unchanged, again.quarantined, again.refusal) == (0, 3, 0, None)
    assert _stored(ws) == after
    changed = [*ROWS[:-1], ROWS[-1].replace("X44", "X45")]  # one record with another cause: an update
    update = ingest(ws, "deaths", deaths_file(tmp_path, changed, "third.csv"), mapping=mapping, today=TODAY,
                    by="cara", check=True)  # fmt: skip
    assert (update.accepted, update.updated, update.unchanged) == (1, 1, 2)
    assert _stored(ws) == after
    repeat = ingest(ws, "deaths", path, mapping=mapping, today=TODAY, by="cara", check=True)
    assert repeat.already_ingested_as == "registrations" and _stored(ws) == after  # not even the "repeated" entry


def test_a_share_quarantined_above_the_custodians_limit_is_refused_whole(ws, tmp_path):
    rows = [*ROWS, "D4,,Dan,Fox,07/03/1980,M,,2024-05-01,X42,Y"]  # 1 of 4 rows bad: 25%
    path = deaths_file(tmp_path, rows)
    mapping = load_mapping(mapping_file(tmp_path), load_contract("deaths"))
    before = _stored(ws)
    with pytest.raises(IngestError, match=r"1 of 4 rows \(25.0%\) would be quarantined, more than the 20.0% allowed"):
        ingest(ws, "deaths", path, mapping=mapping, today=TODAY, by="cara", max_quarantine=0.2)
    assert _stored(ws) == before
    with pytest.raises(IngestError, match="--max-quarantine must be a share from 0 to below 1"):
        ingest(ws, "deaths", path, mapping=mapping, today=TODAY, by="cara", max_quarantine=1.0)
    report = ingest(ws, "deaths", path, mapping=mapping, today=TODAY, by="cara", max_quarantine=0.3)
    assert (report.accepted, report.quarantined) == (3, 1) and report.batch_id is not None


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env=ADMIN)


def test_cli_fully_quarantined_ingest_exits_non_zero_and_check_stores_nothing(tmp_path):
    root = tmp_path / "ws"
    assert invoke("init", root).exit_code == 0
    clear(Workspace.open(root), "adam")  # trained and approved, as acting on data needs
    path = deaths_file(tmp_path, ROWS)

    renamed_only = mapping_file(tmp_path, "RegNo: REG_ID\nDateOfDeath: DOD\n", "rename.yaml")
    refused = invoke("ingest", path, "-s", "deaths", "-w", root, "--mapping", renamed_only)
    assert refused.exit_code == 2, refused.output
    assert "every row (3) would be quarantined, so nothing was stored" in refused.output
    assert "DOB: not a date in the format yyyymmdd (3 rows, first 1, 2, 3)" in refused.output

    checked = invoke("ingest", path, "-s", "deaths", "-w", root, "--check", "--mapping", mapping_file(tmp_path))
    assert checked.exit_code == 0, checked.output
    assert "Check only, nothing stored" in checked.output and "would be accepted 3" in checked.output
    failing_check = invoke("ingest", path, "-s", "deaths", "-w", root, "--check", "--mapping", renamed_only)
    assert failing_check.exit_code == 2, failing_check.output  # the report, then why ingest would refuse it
    assert "would be accepted 0 + unchanged 0 + would be quarantined 3" in failing_check.output
    assert "every row (3) would be quarantined" in failing_check.output

    ws = Workspace.open(root)
    assert _stored(ws)[:3] == ([], 0, [])
    done = invoke("ingest", path, "-s", "deaths", "-w", root, "--mapping", mapping_file(tmp_path))
    assert done.exit_code == 0 and "accepted 3 + unchanged 0 + quarantined 0" in done.output, done.output


def test_the_sender_exports_the_quarantine_to_fix_and_send_again(ws, tmp_path):
    import csv
    import json
    import stat

    from bold.errors import Kind, Refused
    from bold.governance import people
    from bold.ingest import quarantine

    for name, role in (("cara", "custodian"), ("dora", "custodian"), ("adam", "admin")):
        people.add_person(ws, name, [role], f"a-long-password-for-{name}", by="adam")
        clear(ws, name)
    rows = [*ROWS, "D4,,Dan,Fox,07/03/1980,M,,2024-05-01,X42,Y", "D5,,Eve,Gray,1981-01-01,X,,2024-05-01,X42,Y"]
    mapping = load_mapping(mapping_file(tmp_path), load_contract("deaths"))
    sent = ingest(ws, "deaths", deaths_file(tmp_path, rows), mapping=mapping, today=TODAY, by="cara")
    out = tmp_path / "to-fix" / "quarantine.csv"
    out.parent.mkdir()

    with pytest.raises(Refused, match=r"dora did not send batch 1 \(deaths/registrations\): only its sender"):
        quarantine.export(ws, sent.batch_id, out, by="dora")  # another custodian
    assert not out.exists() and audit.entries(ws, action="refused")[0]["object"] == "batch quarantine export"

    done = quarantine.export(ws, "deaths/registrations", out, by="cara")
    assert (done.batch_id, done.rows) == (sent.batch_id, 2)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    exported = list(csv.DictReader(out.open()))
    assert [(r["quarantined_row"], r["reasons"], r["REG_ID"], r["DOB"], r["SEX"]) for r in exported] == [
        ("4", "DOB: not a date in the format yyyy-mm-dd", "D4", "07/03/1980", "M"),
        ("5", "SEX: not one of the allowed codes (1, 2, 9, M, F)", "D5", "1981-01-01", "X"),
    ]
    entry = audit.entries(ws, action="quarantine export")[0]
    assert entry["object"] == "deaths/registrations" and json.loads(entry["details"])["rows"] == 2
    assert "D4" not in str(entry) and "07/03/1980" not in str(entry)  # counts, never a value

    assert quarantine.export(ws, sent.batch_id, out, by="adam").rows == 2  # an admin may; the export is overwritten
    # Fixed by the custodian and sent again, with the same mapping: the rows are accepted
    exported[0]["DOB"], exported[1]["SEX"] = "1980-03-07", "M"
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(exported[0]))
        writer.writeheader()
        writer.writerows(exported)
    again = ingest(ws, "deaths", fixed, mapping=mapping, today=TODAY, by="cara")
    assert (again.accepted, again.quarantined) == (2, 0)

    with pytest.raises(IngestError, match="has no quarantined rows") as caught:
        quarantine.export(ws, again.batch_id, tmp_path / "none.csv", by="cara")
    assert caught.value.kind == Kind.NOT_FOUND
