"""Opt-outs reach everything: rows of an opted-out person never reach quarantine; an opt-out added later removes
them from the zones, the links and every built extract (and marks outputs made from it); and adding a file says
what it will do first, so a wrong file is caught before it deletes anything."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bold
from bold import keyed, store
from bold.actions import ingest as ingest_actions
from bold.cli import app
from bold.errors import EXIT_CODES, Invalid, Kind
from bold.governance import optouts, projects
from bold.governance.people import User, add_person
from bold.governance.permissions import Role
from bold.ingest.pipeline import ingest
from bold.ingest.reader import IngestError
from bold.studies import outputs, runner
from bold.workspace import Workspace
from tests import zones
from tests.conftest import approved_and_built, clear, linked_copy

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "continuity-of-care.yaml"
TODAY = dt.date(2026, 11, 22)
PASSWORD = "a-long-test-password"
cli = CliRunner()
CARA = User("cara", frozenset({Role.CUSTODIAN}))


@pytest.fixture(scope="module")
def built(tmp_path_factory, linked_four):
    """Four sources ingested and linked, the continuity-of-care extract built, one pending output: never changed
    by a test (each that changes anything works on a copy)."""
    ws = linked_copy(linked_four, tmp_path_factory.mktemp("everywhere") / "ws")
    for name, role in (("cara", "custodian"), ("oscar", "output_checker")):  # before the team is added
        add_person(ws, name, [role], PASSWORD, by="test")
        clear(ws, name)
    approved_and_built(ws, EXAMPLE, TODAY)
    runner.run(ws, "continuity-of-care", "continuity-of-care", by="ana", today=TODAY)
    return ws


@pytest.fixture()
def ws(built, tmp_path):
    shutil.copytree(built.root, tmp_path / "ws", symlinks=True)
    return Workspace.open(tmp_path / "ws")


def _run(ws: Workspace, user: str, *args):
    env = {"BOLD_USER": user, "BOLD_PASSWORD": PASSWORD}
    return cli.invoke(app, [*(str(a) for a in args), "-w", str(ws.root)], env=env)


def _hospital_nhs_numbers(ws: Workspace, n: int) -> list[str]:
    with ws.identifiers(read_only=True) as con:
        rows = con.execute(
            f"select distinct nhs_number from identifiers.hospital where nhs_number is not null "
            f"order by nhs_number limit {n}"
        ).fetchall()
    return [r[0] for r in rows]


def _records_of(ws: Workspace, nhs: list[str]) -> list[str]:
    """record keys of every stored record carrying one of these NHS numbers (read straight from the zone)."""
    with ws.identifiers(read_only=True) as con:
        return [
            str(r[0])
            for source in ("hospital", "deaths")
            for r in con.execute(
                f"select record_key from identifiers.{source} where nhs_number in (select unnest(?::varchar[]))",
                [nhs],
            ).fetchall()
        ]


def _optout_file(tmp_path: Path, nhs: list[str], name: str = "optouts.csv") -> Path:
    path = tmp_path / name
    path.write_text("nhs_number\n" + "\n".join(nhs) + "\n")
    return path


def _counts(ws: Workspace) -> tuple:
    """Everything an opt-out may change: the register, the zones, the links and the extract."""
    with store.connect(ws) as db:
        register = db.execute("select count(*) from optout_entries").fetchone()[0]
    with ws.identifiers(read_only=True) as con:
        ids = con.execute("select count(*) from identifiers.hospital").fetchone()[0]
    with zones.links(ws) as con:
        links = con.execute("select count(*) from record_person").fetchone()[0]
    with zones.extract(ws, "continuity-of-care") as con:
        extract = con.execute("select count(*) from person").fetchone()[0]
    return register, ids, links, extract


def test_an_opted_out_persons_invalid_rows_never_reach_quarantine(tmp_path):
    """Opt-outs are applied before quarantine, on normalised identifiers, so a row that is both opted out and
    invalid is counted as opted out and stored nowhere; the rows still add up."""
    ws = Workspace.init(tmp_path / "ws")
    optouts.apply(ws, _optout_file(tmp_path, ["9434765919"]), by="cara")
    header = "EPIKEY,NHS_NUMBER,DOB,SEX,POSTCODE,ADMIDATE,DISDATE,ADMIMETH,DIAG_4_01,DIAG_4_02\n"
    rows = [
        "E1,9434765919,1980-02-03,1,NE4 7QX,2024-01-05,2024-01-09,21,NOT-A-CODE,",  # opted out, invalid diagnosis
        "E2,943 476 5919,03/02/1980,1,NE4 7QX,2024-02-05,,99,F112,",  # opted out (spaced), bad date and method
        "E2,9434765919,1980-02-03,1,NE4 7QX,2024-03-05,,21,F112,",  # opted out, duplicate record id
        "E3,4010232137,1975-06-07,2,LS1 4AP,2024-01-05,,21,NOT-A-CODE,",  # someone else, invalid: quarantined
        "E4,4010232137,1975-06-07,2,LS1 4AP,2024-01-07,,21,F112,",  # someone else, valid: accepted
    ]
    hospital = tmp_path / "hospital.csv"
    hospital.write_text(header + "\n".join(rows) + "\n")
    report = ingest(ws, "hospital", hospital, by="cara")
    assert (report.rows_read, report.accepted, report.quarantined, report.opted_out) == (5, 1, 1, 3)
    assert report.balanced
    with ws.duckdb_connection() as con:
        con.execute(f"pragma add_parquet_key('quarantine', '{ws.key('quarantine')}')")
        kept = con.execute(
            f"select EPIKEY, NHS_NUMBER from read_parquet('{report.quarantine_file}', "
            "encryption_config = {footer_key: 'quarantine'})"
        ).fetchall()
    assert kept == [("E3", "4010232137")]
    with ws.identifiers(read_only=True) as con:
        assert con.execute("select source_record_id from identifiers.hospital").fetchall() == [("E4",)]


def test_an_opt_out_added_later_leaves_no_trace_in_links_extracts_or_outputs(ws, tmp_path):
    """The records go from both zones, from the links of every run and, by project pseudonym, from the built
    extract; the pending output made before is marked for the checkers; the audit holds counts only."""
    nhs = _hospital_nhs_numbers(ws, 6)
    keys = _records_of(ws, nhs)
    project_key = ws.key("projects/continuity-of-care").encode()
    with zones.links(ws) as con:
        people = {
            (r[0], level, str(r[i + 1]))
            for r in con.execute(
                "select run_id, person_high, person_medium, person_low from record_person "
                "where record_key in (select unnest(?::uuid[]))",
                [keys],
            ).fetchall()
            for i, level in enumerate(("high", "medium", "low"))
        }
    threshold = projects.get(ws, "continuity-of-care").agreement.linkage_threshold
    pseudonyms = sorted({keyed.digest(project_key, f"person:{p}") for _, level, p in people if level == threshold})
    tables = ("person", "prison", "treatment", "deaths", "hospital")

    def held() -> dict[str, int]:
        with zones.extract(ws, "continuity-of-care") as con:
            return {
                t: con.execute(
                    f"select count(*) from {t} where person_id in (select unnest(?::varchar[]))", [pseudonyms]
                ).fetchone()[0]
                for t in tables
            }

    def total_rows() -> int:
        with zones.extract(ws, "continuity-of-care") as con:
            return sum(con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables)

    before, rows_before = held(), total_rows()
    assert before["hospital"] > 0 and before["person"] == len(pseudonyms)  # the extract holds them

    result = optouts.apply(ws, _optout_file(tmp_path, nhs), by="cara")

    assert sum(result.records_removed.values()) == len(keys)
    with zones.links(ws) as con:
        unkeyed = "(select unnest(?::uuid[]))"
        assert (
            con.execute(f"select count(*) from record_person where record_key in {unkeyed}", [keys]).fetchone()[0] == 0
        )
        assert (
            con.execute(
                f"select count(*) from pairs where record_key_l in {unkeyed} or record_key_r in {unkeyed}", [keys, keys]
            ).fetchone()[0]
            == 0
        )
        attributes = {(r[0], r[1], str(r[2])) for r in con.execute("select * from person_attributes").fetchall()}
    assert not people & {(run, level, p) for run, level, p, *_ in attributes}
    assert held() == dict.fromkeys(tables, 0)
    [change] = result.extracts
    assert (change.project, change.people) == ("continuity-of-care", len(pseudonyms))
    assert total_rows() == rows_before - change.rows == rows_before - sum(before.values())

    [output] = outputs.list_outputs(ws, "continuity-of-care")
    assert output.optout_people == len(pseudonyms) and change.pending_outputs == 1
    listed = _run(ws, "oscar", "outputs", "list", "continuity-of-care")
    assert listed.exit_code == 0, listed.output
    assert f"{len(pseudonyms)} opted out since" in listed.output and "run the study again" in listed.output
    again = runner.run(ws, "continuity-of-care", "continuity-of-care", by="ana", today=TODAY)
    assert outputs.get(ws, "continuity-of-care", again.id).optout_people == 0  # made after: clean

    [entry] = store.audit.entries(ws, action="opt-out register updated")
    details = entry["details"] if isinstance(entry["details"], str) else json.dumps(entry["details"])
    for secret in [*nhs, *keys, *pseudonyms, *(p for _, _, p in people)]:
        assert secret not in details
    assert json.loads(details)["extracts_changed"] == {
        "continuity-of-care": {"people": len(pseudonyms), "rows": change.rows}
    }


def test_dry_run_says_what_it_would_do_and_changes_nothing(ws, tmp_path):
    """The plan counts exactly what adding the file then does."""
    nhs = _hospital_nhs_numbers(ws, 4)
    file = _optout_file(tmp_path, nhs)
    before = _counts(ws)
    dry = _run(ws, "cara", "optout", "add", file, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Dry run: nothing changed." in dry.output and "4 entries to add" in dry.output
    assert "hospital" in dry.output and "extract of continuity-of-care" in dry.output
    assert _counts(ws) == before
    plan = ingest_actions.optout_plan(ws, CARA, file)
    result = ingest_actions.optout_add(ws, CARA, file, confirmed=True)
    assert plan.entries_new == result.added == 4
    assert {s: n for s, n in plan.records.items() if n} == {s: n for s, n in result.records_removed.items() if n}
    assert plan.links == result.links_removed and sum(plan.links.values()) > 0
    assert [(e.project, e.people, e.pending_outputs) for e in plan.extracts] == [
        (e.project, e.people, e.pending_outputs) for e in result.extracts
    ]


def test_without_yes_and_no_terminal_nothing_is_deleted(ws, tmp_path):
    file = _optout_file(tmp_path, _hospital_nhs_numbers(ws, 3))
    before = _counts(ws)
    refused = _run(ws, "cara", "optout", "add", file)
    assert refused.exit_code == EXIT_CODES[Kind.INVALID]
    assert "pass --yes" in refused.output and "Traceback" not in refused.output
    assert _counts(ws) == before
    done = _run(ws, "cara", "optout", "add", file, "--yes")
    assert done.exit_code == 0 and "3 entries added" in done.output
    assert _counts(ws)[0] == before[0] + 3


def test_a_source_extract_given_as_opt_outs_is_refused_even_with_yes(ws, small_population):
    """The red team's case: a hospital extract would have deleted nearly half the hospital records."""
    out, _ = small_population
    before = _counts(ws)
    result = _run(ws, "cara", "optout", "add", out / "hospital.csv", "--yes")
    assert result.exit_code == EXIT_CODES[Kind.INVALID], result.output
    assert "looks like a hospital extract" in result.output and "nothing changed" in result.output
    assert _counts(ws) == before
    with pytest.raises(IngestError, match="looks like a hospital extract"):
        optouts.plan(ws, out / "hospital.csv")


def test_deleting_more_than_one_percent_of_a_source_is_warned_of(ws, tmp_path):
    with ws.identifiers(read_only=True) as con:
        stored = con.execute("select count(*) from identifiers.hospital").fetchone()[0]
    few = optouts.plan(ws, _optout_file(tmp_path, _hospital_nhs_numbers(ws, 1), "one.csv"))
    assert few.records["hospital"] > 0 and not few.warnings
    many = _optout_file(tmp_path, _hospital_nhs_numbers(ws, 200), "many.csv")
    plan = optouts.plan(ws, many)
    assert plan.records["hospital"] > stored // 100
    assert any("hospital" in w and "more than 1%" in w for w in plan.warnings)
    dry = _run(ws, "cara", "optout", "add", many, "--dry-run")
    assert "warning:" in dry.output and "more than 1%" in dry.output


def test_the_api_plans_and_applies_only_when_confirmed(ws, tmp_path):
    session = bold.open(ws.root, user="cara", password=PASSWORD)
    file = _optout_file(tmp_path, _hospital_nhs_numbers(ws, 2))
    before = _counts(ws)
    plan = session.optout_plan(file)
    assert plan.entries_new == 2 and plan.records["hospital"] > 0
    with pytest.raises(Invalid, match="confirm"):
        session.optout_add(file)
    assert _counts(ws) == before
    result = session.optout_add(file, confirmed=True)
    assert result.added == 2 and result.records_removed["hospital"] == plan.records["hospital"]
