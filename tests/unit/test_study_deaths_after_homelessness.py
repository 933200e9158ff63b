"""Deaths after homelessness by the ONS cause definitions, on a hand-built extract with answers worked by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from bold.studies import statistics as st
from bold.studies.builtin import deaths_after_homelessness
from tests.extract_builder import d, extract

STUDY = deaths_after_homelessness.STUDIES[0]
DAY0 = d("2022-01-01")
END = d("2024-06-30")  # the data end (day 911 after DAY0): an application is made on it
DAYS = 365.25
TYPES = {"homelessness": {"support_need_drug": "boolean", "support_need_alcohol": "boolean"}}


def days(n: int, date: dt.date = DAY0) -> dt.date:
    return date + dt.timedelta(days=n)


def application(person, date=DAY0, drug=False):
    return {"person_id": person, "application_date": date, "support_need_drug": drug, "support_need_alcohol": False}


def death(person, day, cause, flagged=False, date=DAY0):
    return {"person_id": person, "date_of_death": days(day, date), "underlying_cause": cause, "drug_related": flagged}


def tables_():
    apps = [
        application(p, drug=p in ("x44", "f11"))
        for p in ("x44", "x39", "k703", "k71", "g312", "g313", "f11", "before", "alive")
    ]
    apps += [
        application("k703", days(30)),  # a second application: followed from the first only
        application("late", END),  # followed for day 0 only
        application("long", d("2018-01-01")),  # followed to day 1825, the five years
    ]
    deaths = [
        death("x44", 10, "X44", flagged=True),  # drug poisoning (X40-X44)
        death("x39", 20, "X39", flagged=True),  # just off the drug list; flagged by ONS all the same
        death("k703", 100, "K703"),  # alcohol-specific (K70 and every code under it)
        death("k71", 0, "K710"),  # just off the alcohol list (K71 is not K70); died on day 0
        death("g312", 5, "G312"),  # alcohol-specific (four characters: G31.2)
        death("g313", 5, "G313"),  # just off it
        death("f11", 6, "F11.2", flagged=True),  # drug poisoning; a dot is ignored
        death("before", -1, "X42", flagged=True),  # recorded dead before applying: an impossible event, left out
        death("long", 1900, "X42", flagged=True, date=d("2018-01-01")),  # after day 1825: not counted
    ]
    people = sorted({a["person_id"] for a in apps})
    person = [{"person_id": p, "sex": "F" if p == "x44" else "M"} for p in people]
    return {"homelessness": apps, "deaths": deaths, "person": person}


def run(tmp_path, **params):
    return STUDY.compute(extract(tmp_path, tables_(), TYPES), STUDY.resolve(params)).tables


# days at risk: x44 11, x39 21, k703 101, k71 1, g312 6, g313 6, f11 7, alive 912, late 1, long 1826
PERSON_DAYS = 11 + 21 + 101 + 1 + 6 + 6 + 7 + 912 + 1 + 1826


def test_deaths_by_the_ons_definitions_with_codes_on_and_just_off_the_lists(tmp_path):
    tables = run(tmp_path)
    for name, events in (("all_cause", 7), ("drug_poisoning", 2), ("alcohol_specific", 2)):
        row = tables[name].iloc[0]
        assert (row.n, row.people, row.events) == (10, 10, events), name  # not "before"
        assert row.person_years == pytest.approx(PERSON_DAYS / DAYS), name
        assert row.rate == pytest.approx(1000 * events / (PERSON_DAYS / DAYS)), name
    causes = tables["causes_of_death"].iloc[0]
    assert (causes.n, causes.drug_poisoning, causes.alcohol_specific, causes.flagged_drug_related) == (7, 2, 2, 3)
    need = tables["drug_poisoning_by_support_need"].set_index("support_need")
    assert need.loc["drug or alcohol", ["people", "events"]].tolist() == [2, 2]
    sex = tables["all_cause_by_sex"].set_index("sex")
    assert sex.loc["F", ["people", "events"]].tolist() == [1, 1]
    assert sex.loc["F", "person_years"] == pytest.approx(11 / DAYS)


def test_person_years_are_cut_at_the_end_of_follow_up(tmp_path):
    row = run(tmp_path, last_day=10)["all_cause"].iloc[0]
    # days 0-10: x44 dies on day 10 (counts), x39 on day 20 (not); k71, g312, g313 and f11 die before
    assert row.events == 5
    assert row.person_years == pytest.approx((11 + 11 + 11 + 1 + 6 + 6 + 7 + 11 + 1 + 11) / DAYS)


def test_code_lists_match_by_prefix(tmp_path):
    import ibis

    codes = ["X40", "X44", "X45", "X39", "Y15", "Y16", "K852", "K851", "Q860", None]
    t = ibis.memtable({"c": codes})
    con = ibis.duckdb.connect()
    drug = con.execute(deaths_after_homelessness.on_list(t.c, deaths_after_homelessness.DRUG_POISONING).name("x"))
    alcohol = con.execute(deaths_after_homelessness.on_list(t.c, deaths_after_homelessness.ALCOHOL_SPECIFIC).name("x"))
    assert drug.tolist() == [True, True, False, False, False, False, False, False, False, False]
    assert alcohol.tolist() == [False, False, True, False, True, False, True, False, True, False]


def test_every_column_is_typed(tmp_path):
    tables = run(tmp_path)
    assert {name: st.untyped(t) for name, t in tables.items() if st.untyped(t)} == {}
