"""Identifier errors appear at the rates configured for each source, measured from the files."""

from __future__ import annotations

import pytest

from bold.synth.config import SOURCES, CorruptionRates, default_rates
from bold.synth.extracts import SPECS
from tests.conftest import make_population

RATES = dict(
    forename_typo=0.1,
    surname_typo=0.1,
    nickname=0.2,
    alias=0.2,
    dob_day_month_swap=0.25,
    dob_wrong_year=0.15,
    nhs_missing=0.1,
    nhs_missing_homeless=0.5,
    nino_missing=0.3,
    nfa_homeless=0.6,
    nfa_other=0.05,
    duplicate=0.1,
)
TOLERANCE = 0.035


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory):
    corruption = {s: CorruptionRates(**RATES) for s in SOURCES}
    out, _figures = make_population(tmp_path_factory.mktemp("corrupt"), people=8_000, seed=21, corruption=corruption)
    return out


def _joined(sql, out, source):
    spec = SPECS[source]
    sql.execute(
        f"""create or replace temp view j as
            select x.*, r.duplicate, p.forename as t_forename, p.alias_forename as t_alias_forename,
                   p.date_of_birth as t_dob, p.homeless as t_homeless, p.ni_number as t_ni_number
            from '{out}/{source}.parquet' x
            join '{out}/truth/records.parquet' r on r.source = '{source}' and r.record_id = x."{spec.record_id}"
            join '{out}/truth/people.parquet' p using (person_id)"""
    )


@pytest.mark.parametrize(("source", "column"), [("hospital", "DOB"), ("prison", "DATE_OF_BIRTH"), ("treatment", "DOB")])
def test_date_of_birth_errors(corrupted, sql, source, column):
    _joined(sql, corrupted, source)
    fmt = SPECS[source].date_format
    swapped, swappable, wrong_year, n = sql.execute(
        f"""with d as (select strptime("{column}", '{fmt}')::date as got, t_dob as truth from j)
            select count(*) filter (where day(got) = month(truth) and month(got) = day(truth)
                                    and day(truth) <= 12 and day(truth) != month(truth)),
                   count(*) filter (where day(truth) <= 12 and day(truth) != month(truth)),
                   count(*) filter (where year(got) != year(truth)),
                   count(*)
            from d"""
    ).fetchone()
    assert abs(swapped / swappable - RATES["dob_day_month_swap"]) < TOLERANCE
    assert abs(wrong_year / n - RATES["dob_wrong_year"]) < TOLERANCE


def test_missing_nhs_numbers_are_far_more_common_for_homeless_people(corrupted, sql):
    _joined(sql, corrupted, "hospital")
    rates = dict(sql.execute("select t_homeless, avg((NHS_NUMBER is null)::int) from j group by 1").fetchall())
    assert abs(rates[False] - RATES["nhs_missing"]) < TOLERANCE
    assert abs(rates[True] - RATES["nhs_missing_homeless"]) < TOLERANCE


def test_no_fixed_abode(corrupted, sql):
    _joined(sql, corrupted, "mental_health")
    rates = dict(sql.execute("select t_homeless, avg((POSTCODE = 'ZZ99 3VZ')::int) from j group by 1").fetchall())
    assert abs(rates[True] - RATES["nfa_homeless"]) < TOLERANCE
    assert abs(rates[False] - RATES["nfa_other"]) < TOLERANCE


@pytest.mark.parametrize("source", ["prison", "hospital", "homelessness"])
def test_duplicate_records_within_a_source(corrupted, sql, source):
    _joined(sql, corrupted, source)
    share = sql.execute("select avg(duplicate::int) from j").fetchone()[0]
    expected = RATES["duplicate"] / (1 + RATES["duplicate"])  # copies among originals plus copies
    assert abs(share - expected) < TOLERANCE


def test_aliases_and_nicknames_in_justice_data(corrupted, sql):
    _joined(sql, corrupted, "prison")
    alias_share, has_alias = sql.execute(
        """select avg((upper(FORENAME) = upper(t_alias_forename))::int), count(*) from j
           where t_alias_forename != '' and t_alias_forename != t_forename"""
    ).fetchone()
    assert has_alias > 200
    # booked under the alias, less the few whose alias forename was then mistyped
    assert abs(alias_share - RATES["alias"] * (1 - RATES["forename_typo"])) < TOLERANCE
    exact = sql.execute(
        "select avg((upper(FORENAME) = upper(t_forename))::int) from j where t_alias_forename = ''"
    ).fetchone()[0]
    assert exact < 1 - RATES["forename_typo"]  # typos and nicknames both change names


def test_missing_ni_numbers(corrupted, sql):
    _joined(sql, corrupted, "homelessness")
    share = sql.execute("select avg((NI_NUMBER is null)::int) from j where t_ni_number != ''").fetchone()[0]
    assert abs(share - RATES["nino_missing"]) < TOLERANCE


def test_default_rates_cover_every_source():
    defaults = default_rates()
    assert set(defaults) == set(SOURCES)
    assert defaults["hospital"]["nhs_missing_homeless"] > 5 * defaults["hospital"]["nhs_missing"]
