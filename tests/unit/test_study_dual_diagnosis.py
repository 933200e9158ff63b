"""Dual diagnosis (docs/design/DOMAIN.md 6.4): mental-health contact around treatment start, on hand-built extracts."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from bold.studies.builtin import dual_diagnosis
from bold.studies.guard import check_aggregate
from tests.extract_builder import d, extract

STUDY = dual_diagnosis.STUDIES[0]
DAY0 = d("2023-01-01")
END = d("2024-12-31")  # the data end (j7's referral); END - 365 days = 2024-01-01
TYPES = {"treatment": {"receiving_mental_health_treatment": "boolean"}, "person": {"birth_year": "integer"}}


def days(n: int, date: dt.date = DAY0) -> dt.date:
    return date + dt.timedelta(days=n)


def journey(person, flag, group="OPI", source="SLF", start=DAY0):
    return {
        "person_id": person,
        "treatment_start_date": start,
        "substance_group": group,
        "referral_source": source,
        "receiving_mental_health_treatment": flag,
    }


def referral(person, day, date=DAY0):
    return {"person_id": person, "referral_date": days(day, date)}


def tables(flag=True):
    journeys = [
        journey("p1", True, source="PRI"),  # referral on day -1: before
        journey("p2", False, group="NOP"),  # referral on day 0: after
        journey("p3", True, group="ALC"),  # referrals on days -365 and 365: both
        journey("p4", False),  # referrals on days -366 and 366: neither
        journey("p5", None, group="NOA"),  # no referral; flag missing
        journey("p6", True),  # referral on day 366 only: neither, so the flag disagrees
        journey("p7", None, group="ALC", source=None, start=d("2024-01-01")),  # 365 days of follow-up: kept
        journey("p8", True, start=d("2024-01-02")),  # 364 days: left out despite a referral the next day
    ]
    referrals = [
        referral("p1", -1),
        referral("p2", 0),
        referral("p3", -365),
        referral("p3", 365),
        referral("p4", -366),
        referral("p4", 366),
        referral("p6", 366),
        referral("p7", 365, d("2024-01-01")),
        referral("p8", 1, d("2024-01-02")),
    ]
    people = [{"person_id": f"p{i}", "sex": "F" if i <= 3 else "M", "birth_year": 1990} for i in range(1, 9)]
    if not flag:
        for row in journeys:
            del row["receiving_mental_health_treatment"]
    return {"treatment": journeys, "mental_health": referrals, "person": people}


@pytest.fixture()
def ex(tmp_path):
    return extract(tmp_path, tables(), types=TYPES)


def run(ex, **params):
    return STUDY.compute(ex, STUDY.resolve(params))


def test_overall_hand_worked(ex):
    row = run(ex).tables["overall"].iloc[0]
    assert row["n"] == 7  # p1-p7; p8 lacks a full year of follow-up
    assert row["mh_before"] == 2  # p1 (day -1), p3 (day -365); not p4 (day -366)
    assert row["mh_after"] == 3  # p2 (day 0), p3 (day 365), p7 (day 365); not p4, p6 (day 366)
    assert row["mh_both"] == 1  # p3
    assert row["mh_neither"] == 3  # p4, p5, p6
    for name, count in (("mh_before", 2), ("mh_after", 3), ("mh_both", 1), ("mh_neither", 3)):
        assert row[f"{name}_share"] == pytest.approx(count / 7)
        assert row[f"{name}_share_low"] < count / 7 < row[f"{name}_share_high"]
    assert row["ndtms_mh"] == 3  # p1, p3, p6 flagged; missing flags (p5, p7) count as not recorded
    assert row["ndtms_mh_share"] == pytest.approx(3 / 7)
    assert row["flag_recorded_n"] == 5  # p1, p2, p3, p4, p6
    assert row["agree"] == 3  # p1 yes/yes, p3 yes/yes, p4 no/no; p2 no/yes and p6 yes/no disagree
    assert row["agree_share"] == pytest.approx(3 / 5)


def test_agreement_cross_tabulation(ex):
    table = run(ex).tables["agreement"]
    cells = {(r.ndtms_flag, r.mhsds_contact): r.n for r in table.itertuples()}
    expected = {("no", "no"): 1, ("no", "yes"): 1, ("yes", "no"): 1, ("yes", "yes"): 2}
    assert cells == {**expected, ("missing", "no"): 1, ("missing", "yes"): 1}  # p4, p2, p6, p1+p3, p5, p7
    assert table["share"].sum() == pytest.approx(1)
    assert table.set_index(["ndtms_flag", "mhsds_contact"]).loc[("yes", "yes"), "share"] == pytest.approx(2 / 7)


def test_breakdowns_use_readable_labels(ex):
    out = run(ex)
    groups = out.tables["by_substance_group"].set_index("substance_group")
    assert groups["n"].to_dict() == {"alcohol": 2, "non-opiate": 1, "non-opiate and alcohol": 1, "opiate": 3}
    assert groups["mh_neither"].to_dict() == {"alcohol": 0, "non-opiate": 0, "non-opiate and alcohol": 1, "opiate": 2}
    sources = out.tables["by_referral_source"].set_index("referral_source")
    assert sources["n"].to_dict() == {"missing": 1, "prison": 1, "self": 5}
    assert out.tables["by_financial_year"].set_index("financial_year")["n"].to_dict() == {"2022-23": 6, "2023-24": 1}
    assert out.tables["by_sex"].set_index("sex")["mh_before"].to_dict() == {"F": 2, "M": 0}
    assert out.tables["by_age_band"]["n"].tolist() == [7]


def test_window_parameters_move_the_boundaries(ex):
    row = run(ex, after_days=366).tables["overall"].iloc[0]
    assert row["n"] == 6  # p7 no longer has a full follow-up
    assert row["mh_after"] == 4  # p2, p3, p4 and p6 (day 366)
    assert run(ex, before_days=366).tables["overall"].iloc[0]["mh_before"] == 3  # p4's day -366 counts


def test_without_optional_fields(tmp_path):
    ex = extract(tmp_path, tables(flag=False), types={"person": {"birth_year": "integer"}})
    del ex.agreed["treatment"][ex.agreed["treatment"].index("substance_group")]
    out = run(ex)
    assert "agreement" not in out.tables and "by_substance_group" not in out.tables
    assert "ndtms_mh" not in out.tables["overall"].columns
    assert out.tables["overall"].iloc[0]["mh_neither"] == 3
    assert len([n for n in out.notes if "not in the agreement" in n]) == 1
    # the first year's journeys have less than a year's look-back: said, and their year marked partial
    assert any("shorter look-back" in n for n in out.notes)
    assert out.tables["by_financial_year"]["partial_period"].iloc[0]
    assert set(out.charts) == {"by_financial_year"}


def test_charts_and_fields_used(ex):
    out = run(ex)
    assert set(out.charts) == {"by_substance_group", "by_financial_year"}
    for chart in out.charts.values():
        chart.to_dict()
    assert set(STUDY.needs) <= ex.used <= set(STUDY.needs) | set(STUDY.optional)


def test_every_table_is_aggregate(tmp_path):
    rng = random.Random(4)
    journeys, referrals, people = [], [], []
    for i in range(80):
        p = f"p{i}"
        people.append({"person_id": p, "sex": rng.choice("MF"), "birth_year": rng.randint(1960, 2000)})
        start = d("2019-01-01") + dt.timedelta(days=rng.randint(0, 1800))
        flag = rng.choice([True, False, None])
        journeys.append(
            journey(p, flag, rng.choice(list(dual_diagnosis.SUBSTANCE_GROUPS)), rng.choice(["SLF", "GP"]), start)
        )
        for _ in range(rng.randint(0, 2)):
            referrals.append(referral(p, rng.randint(-500, 500), start))
    referrals.append(referral("p0", 0, END))
    ex = extract(tmp_path, {"treatment": journeys, "mental_health": referrals, "person": people}, types=TYPES)
    out = run(ex)
    assert out.tables["overall"].iloc[0]["n"] > 20
    for name, table in out.tables.items():
        check_aggregate(name, table, people_in_extract=80)
