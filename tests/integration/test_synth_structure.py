"""Extracts look like each custodian's data and respect time; the truth accounts for every row."""

from __future__ import annotations

import datetime as dt
import json
import re

import nhs_number
import pyarrow.parquet as pq
import pytest

from bold.sources import geography
from bold.synth.config import SOURCES
from bold.synth.extracts import SPECS

# docs/design/DOMAIN.md section 5: the identifiers each source really carries.
EXPECTED_ROLES = {
    "prison": {
        "prison_number",
        "pnc_id",
        "forename",
        "surname",
        "aliases",
        "date_of_birth",
        "sex",
        "postcode",
    },
    "probation": {"crn", "pnc_id", "forename", "surname", "date_of_birth", "sex", "postcode"},
    "treatment": {"local_id", "initials", "date_of_birth", "sex", "postcode_district"},
    "hospital": {"nhs_number", "date_of_birth", "sex", "postcode"},
    "deaths": {"nhs_number", "forename", "surname", "date_of_birth", "sex", "postcode"},
    "homelessness": {"forename", "surname", "date_of_birth", "sex", "ni_number"},
    "mental_health": {"local_id", "nhs_number", "date_of_birth", "sex", "postcode"},
}
MAIN_DATE = {
    "prison": "RECEPTION_DATE",
    "probation": "ORDER_START_DATE",
    "treatment": "TREATMENT_START_DATE",
    "hospital": "ADMIDATE",
    "deaths": "DOD",
    "homelessness": "APPLICATION_DATE",
    "mental_health": "REFERRAL_DATE",
}


@pytest.mark.parametrize("source", SOURCES)
def test_each_extract_holds_only_its_sources_identifiers(small_population, source):
    out, _ = small_population
    spec = SPECS[source]
    assert set(spec.identifiers.values()) == EXPECTED_ROLES[source]
    for fmt in ("csv", "parquet"):
        path = out / f"{source}.{fmt}"
        columns = (
            pq.read_schema(path).names
            if fmt == "parquet"
            else path.open().readline().strip().replace('"', "").split(",")
        )
        assert tuple(columns) == spec.columns


def test_treatment_extract_has_initials_and_district_only(small_population, sql):
    out, _ = small_population
    rows = sql.execute(f"select INITIALS, PC_DISTRICT from '{out}/treatment.parquet'").fetchall()
    assert rows
    assert all(re.fullmatch(r"[A-Z]{2}", i) for i, _ in rows)
    assert all(re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]?|ZZ99", d) for _, d in rows)


@pytest.mark.parametrize("source", SOURCES)
def test_csv_and_parquet_hold_the_same_rows(small_population, sql, source):
    out, _ = small_population
    cols = ", ".join(f'"{c}"::varchar' for c in SPECS[source].columns)
    a = sql.execute(f"select * from read_csv('{out}/{source}.csv', all_varchar=true) order by 1").fetchall()
    b = sql.execute(f"select {cols} from '{out}/{source}.parquet' order by 1").fetchall()
    assert len(a) == len(b) > 0
    assert a == b


@pytest.mark.parametrize("source", SOURCES)
def test_dates_are_in_the_custodians_format(small_population, sql, source):
    out, _ = small_population
    spec = SPECS[source]
    date_cols = [c for c in spec.columns if "DATE" in c or c in {"DOB", "DOD", "ADMIDATE", "DISDATE"}]
    for col in date_cols:
        bad = sql.execute(
            f"""select count(*) from '{out}/{source}.parquet'
                where "{col}" is not null and try_strptime("{col}", '{spec.date_format}') is null"""
        ).fetchone()[0]
        assert bad == 0, (source, col)


@pytest.mark.parametrize(
    ("source", "column"), [("hospital", "NHS_NUMBER"), ("deaths", "NHS_NO"), ("mental_health", "NHS_NUMBER")]
)
def test_nhs_numbers_are_valid_and_from_the_test_range(small_population, sql, source, column):
    out, _ = small_population
    numbers = [
        r[0]
        for r in sql.execute(
            f'select "{column}" from \'{out}/{source}.parquet\' where "{column}" is not null'
        ).fetchall()
    ]
    assert numbers and all(n.startswith("9") and nhs_number.is_valid(n) for n in numbers)


def test_truth_accounts_for_every_extract_row(
    small_population,
    sql,
):
    out, figures = small_population
    for source in SOURCES:
        spec = SPECS[source]
        extract, matched = sql.execute(
            f"""select count(*), count(r.record_id) from '{out}/{source}.parquet' e
                left join '{out}/truth/records.parquet' r
                  on r.source = '{source}' and r.record_id = e."{spec.record_id}" """
        ).fetchone()
        assert extract == matched == figures["records"][source]
    n, distinct = sql.execute(
        f"select count(*), count(distinct (source, record_id)) from '{out}/truth/records.parquet'"
    ).fetchone()
    assert n == distinct == sum(figures["records"].values())


def test_no_event_after_death(small_population, sql):
    out, _ = small_population
    bad = sql.execute(
        f"""select count(*) from '{out}/truth/events.parquet' e join '{out}/truth/people.parquet' p using (person_id)
            where p.date_of_death is not null
              and (e.date > p.date_of_death or coalesce(e.end_date, e.date) > p.date_of_death)"""
    ).fetchone()[0]
    assert bad == 0
    # and as custodians see it: no record dated after the person's death registration
    for source in SOURCES:
        spec = SPECS[source]
        bad = sql.execute(
            f"""select count(*) from '{out}/{source}.parquet' x
                join '{out}/truth/records.parquet' r on r.source = '{source}' and r.record_id = x."{spec.record_id}"
                join '{out}/truth/people.parquet' p using (person_id)
                where strptime(x."{MAIN_DATE[source]}", '{spec.date_format}')::date > p.date_of_death"""
        ).fetchone()[0]
        assert bad == 0, source


@pytest.mark.parametrize("event", ["prison_spell", "treatment_journey", "hospital_admission"])
def test_spells_of_one_person_never_overlap(small_population, sql, event):
    out, _ = small_population
    sql.execute(
        f"""create or replace temp view spells as
            select person_id, record_id, date, coalesce(end_date, date '2999-12-31') as end_date
            from '{out}/truth/events.parquet' where event = '{event}'"""
    )
    n, overlaps = sql.execute(
        """select (select count(*) from spells), count(*) from spells a join spells b
           on a.person_id = b.person_id and a.record_id < b.record_id
           and a.date <= b.end_date and b.date <= a.end_date"""
    ).fetchone()
    assert n > 100
    assert overlaps == 0


def test_events_lie_in_the_period(small_population, sql):
    out, _ = small_population
    lo, hi = sql.execute(
        f"""select min(date), max(date) from '{out}/truth/events.parquet' where event != 'prison_spell'"""
    ).fetchone()
    assert str(lo) >= "2018-01-01" and str(hi) <= "2024-12-31"


def test_local_authority_columns_are_ons_codes_from_the_lookup(small_population, sql):
    out, _ = small_population
    known = set(geography.local_authorities()["local_authority"])
    for source, column in (("prison", "RELEASE_LA"), ("treatment", "LA_CODE"), ("homelessness", "LA_CODE")):
        values = dict(sql.execute(f"select {column}, count(*) from '{out}/{source}.parquet' group by 1").fetchall())
        codes = set(values) - {None}
        assert len(codes) > 10, (source, codes)  # the population spreads over many local authorities
        assert all(re.fullmatch(r"E0[6-9][0-9]{6}", c) for c in codes), source
        assert codes <= known, (source, codes - known)
        if source != "prison":
            assert None not in values, source
    unreleased, without_la = sql.execute(
        f"select count(*) filter (where RELEASE_DATE is null), count(*) filter (where RELEASE_LA is null) "
        f"from '{out}/prison.parquet'"
    ).fetchone()
    assert unreleased == without_la > 0  # only spells not yet released lack a local authority
    both = sql.execute(
        f"select count(*) from '{out}/prison.parquet' where (RELEASE_DATE is null) != (RELEASE_LA is null)"
    ).fetchone()[0]
    assert both == 0


def test_release_local_authority_is_the_truths(small_population, sql):
    out, _ = small_population
    n, matched, same = sql.execute(
        f"""select count(*), count(t.person_id), count(*) filter (where t.local_authority = p.RELEASE_LA)
            from '{out}/prison.parquet' p
            join '{out}/truth/records.parquet' r on r.source = 'prison' and r.record_id = p.BOOKING_ID
            left join '{out}/truth/releases.parquet' t
              on t.person_id = r.person_id and t.release_date = strptime(p.RELEASE_DATE, '%d/%m/%Y')::date
            where p.RELEASE_DATE is not null"""
    ).fetchone()
    assert n > 500
    assert n == matched == same


def test_treatment_local_authority_is_where_the_person_lived_at_referral(small_population, sql):
    out, _ = small_population
    n, same, same_as_event = sql.execute(
        f"""select count(*),
                   count(*) filter (where x.LA_CODE = case
                       when strptime(x.REFERRAL_DATE, '%d/%m/%Y')::date >= p.move_date
                       then p.local_authority_after_move else p.local_authority end),
                   count(*) filter (where x.LA_CODE = e.local_authority)
            from '{out}/treatment.parquet' x
            join '{out}/truth/records.parquet' r on r.source = 'treatment' and r.record_id = x.JOURNEY_ID
            join '{out}/truth/people.parquet' p using (person_id)
            left join '{out}/truth/events.parquet' e on e.source = 'treatment' and e.record_id = x.JOURNEY_ID
            where not r.duplicate"""
    ).fetchone()
    assert n > 500
    assert n == same == same_as_event


def test_summary_names_the_pilot_and_the_extracts_recover_it(small_population, sql):
    out, _ = small_population
    summary = json.loads((out / "truth" / "summary.json").read_text())
    pilot = summary["pilot_local_authorities"]
    assert pilot and set(pilot) <= set(geography.local_authorities()["local_authority"])
    assert summary["pilot_start"] == summary["settings"]["pilot_start"]
    dt.date.fromisoformat(summary["pilot_start"])
    codes = ", ".join(f"'{c}'" for c in pilot)
    # a study sees only RELEASE_LA; it must give the same pilot areas as the truth
    disagree = sql.execute(
        f"""select count(*) from '{out}/prison.parquet' p
            join '{out}/truth/records.parquet' r on r.source = 'prison' and r.record_id = p.BOOKING_ID
            join '{out}/truth/releases.parquet' t
              on t.person_id = r.person_id and t.release_date = strptime(p.RELEASE_DATE, '%d/%m/%Y')::date
            where (p.RELEASE_LA in ({codes})) != t.pilot_area"""
    ).fetchone()[0]
    assert disagree == 0
