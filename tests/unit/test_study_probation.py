"""Treatment for people on probation (docs/design/DOMAIN.md 6.1), on hand-built extracts with hand-worked answers."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from bold.studies.builtin import probation
from bold.studies.guard import check_aggregate
from tests.extract_builder import d, extract

STUDY = probation.STUDIES[0]
DAY0 = d("2024-01-01")
END = d("2024-12-31")  # the data end: an unrelated journey starts on it; END - 182 days = 2024-07-02
FLAGS = {"drug_rehabilitation_requirement": "boolean", "alcohol_treatment_requirement": "boolean"}
TYPES = {"probation": {**FLAGS, "termination_reason": "varchar"}, "treatment": {"discharge_reason": "varchar"}}
PERSON = {"person": {"birth_year": "integer"}}


def days(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def order(person, kind="CO", drr=True, atr=False, start=DAY0, termination=None):
    return {
        "person_id": person,
        "order_type": kind,
        "order_start_date": start,
        "termination_reason": termination,
        "drug_rehabilitation_requirement": drr,
        "alcohol_treatment_requirement": atr,
    }


def journey(person, start, reason=None):
    return {"person_id": person, "treatment_start_date": start, "discharge_reason": reason}


def tables(completion=True):
    orders = [
        order("p1", termination="CMP"),  # journey on day 182, completed: in the window
        order("p2", termination="RVB"),  # journey on day 183: outside the window
        order("p3", kind="SSO", drr=False, atr=True),  # journey on day 0, discharge reason missing
        order("p4", atr=True, termination="CMP"),  # DRR and ATR; journeys on day -1 and day 10 (DRO)
        order("p5"),  # journey on day -90: already in treatment
        order("p6", drr=False, atr=True),  # journey on day -91 (not before) and day 20 (CAU)
        order("p7", kind="LIC"),  # licence: excluded despite a journey on day 5
        order("p8", drr=False, atr=None),  # no requirement: excluded despite a journey on day 5
        order("p9", start=d("2024-07-02")),  # exactly 182 days before the data end: kept, no journey
        order("p10", start=d("2024-07-03")),  # 181 days: left out despite a journey the next day
    ]
    journeys = [
        journey("p1", days(182), "CDF"),
        journey("p2", days(183), "CDF"),
        journey("p3", days(0)),
        journey("p4", days(-1), "CDF"),
        journey("p4", days(10), "DRO"),
        journey("p5", days(-90), "CDF"),
        journey("p6", days(-91), "DRO"),
        journey("p6", days(20), "CAU"),
        journey("p7", days(5), "CDF"),
        journey("p8", days(5), "CDF"),
        journey("p10", d("2024-07-04"), "CDF"),
        journey("other", END, None),
    ]
    sexes_years = [("p1", "M", 1990), ("p2", "M", 1990), ("p3", "F", 1980), ("p4", "F", 1980), ("p5", "M", 1980)]
    sexes_years += [("p6", None, 1990), ("p9", "M", None)]
    people = [{"person_id": p, "sex": s, "birth_year": y} for p, s, y in sexes_years]
    if not completion:
        for row in orders:
            del row["termination_reason"]
        for row in journeys:
            del row["discharge_reason"]
    return {"probation": orders, "treatment": journeys, "person": people}


@pytest.fixture()
def ex(tmp_path):
    return extract(tmp_path, tables(), types={**TYPES, **PERSON})


def run(ex, **params):
    return STUDY.compute(ex, STUDY.resolve(params))


def test_overall_hand_worked(ex):
    row = run(ex).tables["overall"].iloc[0]
    assert row["n"] == 7 and row["people"] == 7  # p1-p6 and p9: no LIC, no order without DRR/ATR, no p10
    assert row["treatment_started"] == 4  # p1 (day 182), p3 (day 0), p4 (day 10), p6 (day 20); not p2 (day 183)
    assert row["treatment_started_share"] == pytest.approx(4 / 7)
    assert row["treatment_started_share_low"] < 4 / 7 < row["treatment_started_share_high"]
    # without treatment.discharge_date agreed, "already in treatment" falls back to a start in the 90 days before
    assert row["in_treatment_before"] == 2  # p4 (day -1), p5 (day -90); not p6 (day -91)
    assert row["in_treatment_before_share"] == pytest.approx(2 / 7)
    assert row["reached_treatment"] == 5  # started in the window (p1, p3, p4, p6) or already in treatment (p4, p5)
    # of the 4 first journeys in the window: p1 CDF and p6 CAU complete; p4 DRO and p3 (missing) do not
    assert row["journey_completed"] == 2
    assert row["journey_completed_share"] == pytest.approx(2 / 4)
    assert row["order_completed"] == 2  # p1, p4 CMP; p2 RVB; missing reasons count as not completed
    assert row["order_completed_share"] == pytest.approx(2 / 7)
    # days to treatment 0, 10, 20, 182, linear interpolation
    assert row["days_median"] == pytest.approx(15)
    assert row["days_q1"] == pytest.approx(7.5)  # 0 + 0.75 * 10
    assert row["days_q3"] == pytest.approx(60.5)  # 20 + 0.25 * 162


def test_by_requirement_type(ex):
    table = run(ex).tables["by_requirement_type"].set_index("requirement_type")
    assert table["n"].to_dict() == {"ATR only": 2, "DRR only": 4, "both": 1}
    assert table["treatment_started"].to_dict() == {"ATR only": 2, "DRR only": 1, "both": 1}
    assert table["journey_completed"].to_dict() == {"ATR only": 1, "DRR only": 1, "both": 0}
    assert table.loc["DRR only", "days_median"] == 182


def test_by_financial_year_sex_and_age(ex):
    out = run(ex)
    fy = out.tables["by_financial_year"].set_index("financial_year")
    assert fy["n"].to_dict() == {"2023-24": 6, "2024-25": 1}  # p9 starts 2 July 2024
    # orders from 1 January 2024, with 182 days' follow-up to 31 December: neither year is whole
    assert fy["partial_period"].to_dict() == {"2023-24": True, "2024-25": True}
    sex = out.tables["by_sex"].set_index("sex")
    assert sex["n"].to_dict() == {"F": 2, "M": 4, "U": 1}
    age = out.tables["by_age_band"].set_index("age_band")
    assert age["n"].to_dict() == {"25-34": 3, "35-44": 3, "unknown": 1}  # age by calendar year at 2024
    assert "by_quarter" not in out.tables


def test_window_parameters_move_the_boundaries(ex):
    row = run(ex, within_days=183).tables["overall"].iloc[0]
    assert row["n"] == 6  # p9 now has too little follow-up
    assert row["treatment_started"] == 5  # p2's day-183 journey now counts
    assert run(ex, before_days=91).tables["overall"].iloc[0]["in_treatment_before"] == 3  # p6's day -91


def test_period_parameters(ex):
    assert run(ex, start="2024-01-02").tables["overall"].iloc[0]["n"] == 1  # p9 only
    assert run(ex, end="2024-06-30").tables["overall"].iloc[0]["n"] == 6


def test_first_journey_in_window_decides_completion(tmp_path):
    ex = extract(
        tmp_path,
        {
            "probation": [order("a"), order("b")],
            "treatment": [journey("a", days(3), None), journey("a", days(50), "CDF"), journey("b", END, "CDF")],
        },
        types=TYPES,
    )
    row = run(ex).tables["overall"].iloc[0]
    assert row["treatment_started"] == 1 and row["journey_completed"] == 0  # day-3 journey still open
    assert row["days_median"] == 3


def test_without_completion_fields(tmp_path):
    ex = extract(tmp_path, tables(completion=False), types={"probation": FLAGS, **PERSON})
    out = run(ex)
    row = out.tables["overall"].iloc[0]
    assert row["treatment_started"] == 4
    assert "journey_completed" not in row and "order_completed" not in row
    # no journey completion, no order completion, a look-back for "already in treatment"
    assert len([n for n in out.notes if "not in the agreement" in n]) == 3
    assert "treatment.discharge_reason" not in ex.used and "probation.termination_reason" not in ex.used


def test_charts_and_fields_used(ex):
    out = run(ex)
    assert set(out.charts) == {"by_financial_year", "by_requirement_type"}
    for chart in out.charts.values():
        chart.to_dict()
    assert ex.used <= set(STUDY.needs) | set(STUDY.optional)
    assert set(STUDY.needs) <= ex.used


def test_every_table_is_aggregate(tmp_path):
    rng = random.Random(3)
    orders, journeys, people = [], [], []
    for i in range(80):
        p = f"p{i}"
        people.append({"person_id": p, "sex": rng.choice("MF"), "birth_year": rng.randint(1960, 2000)})
        start = d("2019-01-01") + dt.timedelta(days=rng.randint(0, 1800))
        orders.append(order(p, rng.choice(["CO", "SSO", "LIC"]), rng.random() < 0.7, rng.random() < 0.4, start, "CMP"))
        if rng.random() < 0.6:
            journeys.append(journey(p, start + dt.timedelta(days=rng.randint(-100, 250)), rng.choice(["CDF", "DRO"])))
    journeys.append(journey("p0", END, None))
    ex = extract(tmp_path, {"probation": orders, "treatment": journeys, "person": people}, types={**TYPES, **PERSON})
    out = run(ex)
    assert out.tables["overall"].iloc[0]["n"] > 20
    for name, table in out.tables.items():
        check_aggregate(name, table, people_in_extract=80)


def test_same_day_records_of_one_person_count_once(tmp_path):
    rows = [order("a", drr=True, atr=False), order("a", drr=False, atr=True), order("b", drr=False, atr=True)]
    ex = extract(tmp_path, {"probation": rows, "treatment": [journey("b", END)]}, types=TYPES)
    table = run(ex).tables["by_requirement_type"].set_index("requirement_type")
    assert table["n"].to_dict() == {"ATR only": 1, "both": 1}  # a's DRR order and ATR order on one day: both


def test_already_in_treatment_means_a_journey_open_on_the_order_start(tmp_path):
    def open_journey(person, start, discharge=None):
        return {"person_id": person, "treatment_start_date": start, "discharge_date": discharge}

    orders = [order(p) for p in ("a", "b", "c", "d", "e", "f")]
    journeys = [
        open_journey("a", days(-400)),  # open for over a year when the order starts: already in treatment
        open_journey("b", days(-30), days(-1)),  # ended the day before: not in treatment on day 0
        open_journey("c", days(-30), days(0)),  # discharged on the order's start day: open on it
        open_journey("d", days(-200), days(50)),  # started long before, still open: in treatment (not a new start)
        open_journey("e", days(0)),  # starts on day 0: a new start, not "already"
        open_journey("other", END),
    ]
    ex = extract(
        tmp_path, {"probation": orders, "treatment": journeys}, types={**TYPES, "treatment": {"discharge_date": "date"}}
    )
    out = run(ex)
    row = out.tables["overall"].iloc[0]
    assert row["n"] == 6
    assert row["in_treatment_before"] == 3  # a, c, d
    assert row["treatment_started"] == 1  # e
    assert row["reached_treatment"] == 4  # a, c, d, e; not b (ended before) nor f (no journey)
    assert row["reached_treatment_share"] == pytest.approx(4 / 6)
    assert not [n for n in out.notes if "discharge_date" in n]
    assert "treatment.discharge_date" in ex.used
