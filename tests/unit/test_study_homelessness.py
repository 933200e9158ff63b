"""Homelessness applications with a drug or alcohol need reaching treatment, on hand-built extracts."""

from __future__ import annotations

import datetime as dt

import pytest

from bold.sources.geography import local_authorities
from bold.studies.builtin import common, homelessness
from bold.studies.guard import check_aggregate
from tests.extract_builder import d, extract

STUDY = homelessness.STUDIES[0]
END = d("2024-03-31")  # the data end: a treatment journey starts on it
DAY0 = d("2023-01-01")
EVENTS = {"reached": "reached", "already": "already"}
TYPES = {"treatment": {"discharge_date": "date"}}


def days(n: int, date: dt.date = DAY0) -> dt.date:
    return date + dt.timedelta(days=n)


def application(person, date=DAY0, drug=True, alcohol=False, duty="PREV", la=0):
    codes = local_authorities().drop_duplicates("region")["local_authority"].tolist()
    return {
        "person_id": person,
        "application_date": date,
        "duty": duty,
        "support_need_drug": drug,
        "support_need_alcohol": alcohol,
        "support_need_mental_health": not (drug or alcohol),
        "local_authority": codes[la],
    }


def journey(person, start, discharge=None):
    return {"person_id": person, "treatment_start_date": start, "discharge_date": discharge}


def tables(with_discharge=True):
    apps = [
        application("a"),  # treatment on day 91: reached
        application("b", drug=False, alcohol=True, duty="RELF", la=1),  # treatment on day 92: not reached
        application("c", alcohol=True, la=1),  # both needs, treatment on day 0: reached
        application("d", drug=False),  # no drug or alcohol need: excluded despite treatment
        application("e"),  # journey from day -30, open: already in treatment
        application("f", drug=False, alcohol=True, duty="RELF"),  # journey days -100 to -1: not already (discharged)
        application("g", duty=None),  # journey from day -365, discharged on day 0: already in treatment
        application("h", date=days(-91, END)),  # 91 days of follow-up: in; no treatment
        application("i", date=days(-90, END)),  # 90 days: left out
        application("j", drug=None, alcohol=None),  # both needs missing: excluded
    ]
    journeys = [
        journey("a", days(91)),
        journey("b", days(92)),
        journey("c", DAY0),
        journey("d", days(5)),
        journey("e", days(-30)),
        journey("f", days(-100), days(-1)),
        journey("f", days(-366), days(-200)),  # started more than 365 days before: never counts
        journey("g", days(-365), DAY0),
        journey("i", days(10, d("2024-01-01"))),
        journey("j", days(3)),
        journey("x", END),
    ]
    if not with_discharge:
        journeys = [{k: v for k, v in j.items() if k != "discharge_date"} for j in journeys]
    people = sorted({r["person_id"] for r in apps + journeys})
    person = [{"person_id": p, "sex": "MF"[i % 2], "birth_year": 1960 + 5 * i} for i, p in enumerate(people)]
    return {"homelessness": apps, "treatment": journeys, "person": person}


def make(tmp_path, with_discharge=True):
    return extract(tmp_path, tables(with_discharge), types=TYPES if with_discharge else None)


def row(table, column, value):
    match = table[table[column] == value]
    assert len(match) == 1, (column, value)
    return match.iloc[0]


def test_reached_and_already_in_treatment_by_hand(tmp_path):
    ex = make(tmp_path)
    assert ex.data_end == END
    cohort = homelessness.applications(ex, STUDY.resolve({}))
    overall = common.shares(cohort, [], EVENTS).iloc[0]
    # Cohort: a, b, c, e, f, g, h (7). Reached on days 0-91: a, c. Already in treatment: e, g.
    assert overall[["n", "people", "reached", "already"]].tolist() == [7, 7, 2, 2]
    assert overall["reached_share"] == pytest.approx(2 / 7)
    assert overall["already_share"] == pytest.approx(2 / 7)
    needs = common.shares(cohort, ["support_need"], EVENTS)
    assert row(needs, "support_need", "drug only")[["n", "reached", "already"]].tolist() == [4, 1, 2]  # a e g h
    assert row(needs, "support_need", "alcohol only")[["n", "reached", "already"]].tolist() == [2, 0, 0]  # b f
    assert row(needs, "support_need", "both")[["n", "reached", "already"]].tolist() == [1, 1, 0]  # c


def test_without_discharge_dates_any_recent_start_counts(tmp_path):
    ex = make(tmp_path, with_discharge=False)
    cohort = homelessness.applications(ex, STUDY.resolve({}))
    overall = common.shares(cohort, [], EVENTS).iloc[0]
    # f's journey (days -100 to -1) now counts: already e, f, g.
    assert overall[["n", "reached", "already"]].tolist() == [7, 2, 3]
    assert "treatment.discharge_date" not in ex.used


def test_window_parameter_and_period(tmp_path):
    ex = make(tmp_path)
    wider = common.shares(homelessness.applications(ex, STUDY.resolve({"within_days": 92})), [], EVENTS)
    # Day 92 now counts (b), and h (91 days of follow-up) is left out.
    assert wider.iloc[0][["n", "reached"]].tolist() == [6, 3]
    early = common.shares(homelessness.applications(ex, STUDY.resolve({"end": "2023-12-30"})), [], EVENTS)
    assert early.iloc[0][["n", "reached"]].tolist() == [6, 2]  # h (applied 2023-12-31) is after the period


def test_compute_breakdowns_and_aggregate_tables(tmp_path):
    ex = make(tmp_path)
    out = STUDY.compute(ex, STUDY.resolve({}))
    assert set(out.tables) == {
        "overall",
        "by_support_need",
        "by_duty",
        "by_financial_year",
        "by_region",
        "by_sex",
        "by_age_band",
    }
    for name, table in out.tables.items():
        check_aggregate(name, table, people_in_extract=11)
    duty = out.tables["by_duty"]
    assert row(duty, "duty", "prevention")[["n", "reached_treatment"]].tolist() == [4, 2]  # a c e h
    assert row(duty, "duty", "relief")[["n", "reached_treatment"]].tolist() == [2, 0]  # b f
    assert row(duty, "duty", "missing")["n"] == 1  # g
    regions = local_authorities().drop_duplicates("region")["region"].tolist()
    region = out.tables["by_region"]
    assert row(region, "region", regions[1])[["n", "reached_treatment"]].tolist() == [2, 1]  # b c
    years = out.tables["by_financial_year"]
    assert row(years, "financial_year", "2022-23")["n"] == 6
    assert row(years, "financial_year", "2023-24")["n"] == 1  # h
    assert set(out.charts) == {"by_support_need", "by_region"}
    assert len(out.notes) == 2  # the look-back caveat, and the partial periods it and the data end make
    assert years["partial_period"].all()  # a year's look-back from the data start; the data end inside 2023-24


def test_compute_without_optional_fields(tmp_path):
    data = tables(with_discharge=False)
    data["homelessness"] = [
        {k: v for k, v in r.items() if k not in ("duty", "local_authority")} for r in data["homelessness"]
    ]
    del data["person"]
    ex = extract(tmp_path, data)
    out = STUDY.compute(ex, STUDY.resolve({}))
    assert set(out.tables) == {"overall", "by_support_need", "by_financial_year"}
    assert out.tables["overall"][["n", "reached_treatment", "already_in_treatment"]].iloc[0].tolist() == [7, 2, 3]
    assert len(out.notes) == 5  # look-back, no region, no duty, discharge date missing, partial periods
    for name, table in out.tables.items():
        check_aggregate(name, table, people_in_extract=11)
