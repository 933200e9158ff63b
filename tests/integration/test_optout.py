"""Opt-outs: stored only as keyed hashes; matching records are never stored, or deleted if already stored."""

from __future__ import annotations

import pytest

from bold import store
from bold.governance.optouts import apply as add
from bold.ingest.pipeline import ingest
from bold.ingest.reader import IngestError
from bold.workspace import Workspace


@pytest.fixture()
def ws(tmp_path):
    return Workspace.init(tmp_path / "ws")


def _people(sql, out, where, limit):
    return sql.execute(
        f"select nhs_number, forename, surname, strftime(date_of_birth, '%Y-%m-%d') from '{out}/truth/people.parquet' "
        f"where {where} order by person_id limit {limit}"
    ).fetchall()


def _records_of(sql, out, source, nhs_numbers):
    ids = ", ".join(f"'{n}'" for n in nhs_numbers)
    return sql.execute(
        f"""select count(*) from '{out}/truth/records.parquet' r join '{out}/truth/people.parquet' p using (person_id)
            where r.source = '{source}' and p.nhs_number in ({ids})"""
    ).fetchone()[0]


def test_nhs_opt_out_deletes_stored_records_and_blocks_later_ones(ws, small_population, sql, tmp_path):
    out, _ = small_population
    people = _people(sql, out, "true", 80)
    nhs = [p[0] for p in people]
    f = tmp_path / "optout.csv"
    f.write_text("nhs_number\n" + "\n".join(nhs) + "\n")
    first = ingest(ws, "hospital", out / "hospital.csv", by="cara")
    assert first.opted_out == 0
    result = add(ws, f, by="cara")
    assert result.added == 80
    # hospital records whose NHS number is present are deleted from both zones
    with ws.identifiers(read_only=True) as con:
        left = con.execute(
            f"select count(*) from identifiers.hospital where nhs_number in ({', '.join(repr(n) for n in nhs)})"
        ).fetchone()[0]
        stored_ids = con.execute("select count(*) from identifiers.hospital").fetchone()[0]
    with ws.content(read_only=True) as con:
        stored_content = con.execute("select count(*) from content.hospital").fetchone()[0]
    assert left == 0 and result.records_removed["hospital"] > 0
    assert stored_ids == stored_content == first.accepted - result.records_removed["hospital"]
    # and never stored from later batches
    later = ingest(ws, "mental_health", out / "mental_health.csv", by="cara")
    assert later.balanced
    expected = sql.execute(
        f"""select count(*) from '{out}/mental_health.parquet' where NHS_NUMBER in ({", ".join(repr(n) for n in nhs)})"""
    ).fetchone()[0]
    assert later.opted_out == expected > 0
    assert _records_of(sql, out, "mental_health", nhs) >= expected


def test_the_register_holds_no_plaintext(ws, small_population, sql, tmp_path):
    out, _ = small_population
    people = _people(sql, out, "true", 20)
    f = tmp_path / "optout.csv"
    f.write_text("nhs_number,forename,surname,date_of_birth\n" + "\n".join(",".join(p) for p in people) + "\n")
    assert add(ws, f, by="cara").added == 40
    stored = ws.governance_path.read_bytes()
    for nhs, _forename, surname, _ in people:
        assert nhs.encode() not in stored and surname.upper().encode() not in stored
    with store.connect(ws) as db:
        digests = [d for (d,) in db.execute("select digest from optout_entries").fetchall()]
    assert all(len(d) == 64 for d in digests)
    again = add(ws, f, by="cara")
    assert again.already_added_file


def test_name_and_date_of_birth_opt_out_at_ingest(ws, small_population, sql, tmp_path):
    out, _ = small_population
    people = _people(sql, out, "true", 300)
    f = tmp_path / "names.csv"
    f.write_text("forename,surname,date_of_birth\n" + "\n".join(f"{p[1]},{p[2]},{p[3]}" for p in people) + "\n")
    add(ws, f, by="cara")
    report = ingest(ws, "deaths", out / "deaths.csv", by="cara")
    assert report.balanced
    exact = sql.execute(
        f"""select count(*) from '{out}/deaths.parquet' d
            join (values {", ".join(f"('{p[1].upper()}', '{p[2].upper()}', '{p[3]}')" for p in people)}) v(f, s, b)
            on upper(d.FORENAMES) = v.f and upper(d.SURNAME) = v.s
               and strptime(d.DOB, '%Y%m%d')::date = v.b::date"""
    ).fetchone()[0]
    assert report.opted_out >= exact


def test_unusable_opt_out_rows_are_reported_without_values(ws, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("nhs_number,forename,surname,date_of_birth\n1234567890,,,\n,Ann,,1980-01-01\n,,,\n")
    result = add(ws, f, by="cara")
    assert result.added == 0
    assert result.rejected == [
        "row 1: nhs_number is not a valid NHS number",
        "row 2: forename, surname and date_of_birth (YYYY-MM-DD) are all needed",
        "row 3: empty",
    ]
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name\nAnn\n")
    with pytest.raises(IngestError, match="expected a column nhs_number"):
        add(ws, wrong, by="cara")


def test_name_opt_outs_reach_the_initials_only_treatment_source(ws, small_population, sql, tmp_path):
    out, _ = small_population
    people = _people(sql, out, "drug or alcohol", 200)
    f = tmp_path / "names.csv"
    f.write_text("forename,surname,date_of_birth\n" + "\n".join(f"{p[1]},{p[2]},{p[3]}" for p in people) + "\n")
    add(ws, f, by="cara")
    report = ingest(ws, "treatment", out / "treatment.csv", by="cara")
    assert report.balanced
    truly = sql.execute(
        f"""select count(*) from '{out}/treatment.parquet' t
            join (values {", ".join(f"('{(p[1][0] + p[2][0]).upper()}', '{p[3]}')" for p in people)}) v(i, b)
              on t.INITIALS = v.i and strptime(t.DOB, '%d/%m/%Y')::date = v.b::date"""
    ).fetchone()[0]
    assert report.opted_out == truly > 0
