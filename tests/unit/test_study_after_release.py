"""Continuity of care, deaths and hospital admissions after release, on hand-built extracts with answers
worked by hand (boundary days included)."""

from __future__ import annotations

import math

import pytest

from bold.studies.builtin import catalogue
from tests.extract_builder import d, extract

DAYS = 365.25


def run(x, study_id, **params):
    study = catalogue()[study_id]
    return study.compute(x, study.resolve(params)).tables


def release(pid, date="2021-01-01", need=True, ost=False, prison="P1", reception="2020-10-01"):
    return {
        "person_id": pid,
        "release_date": d(date),
        "reception_date": d(reception),
        "substance_misuse_need": need,
        "ost_at_release": ost,
        "prison": prison,
    }


def test_continuity_counts_days_0_to_21_and_pick_up_to_42(tmp_path):
    x = extract(
        tmp_path,
        {
            "prison": [
                release("day0"),
                release("day21"),
                release("day22"),
                release("day42"),
                release("day43"),
                release("before"),
                release("no-need", need=False),
                release("too-recent", date="2022-05-01"),
            ],
            "treatment": [
                {"person_id": "day0", "treatment_start_date": d("2021-01-01")},
                {"person_id": "day21", "treatment_start_date": d("2021-01-22")},
                {"person_id": "day22", "treatment_start_date": d("2021-01-23")},
                {"person_id": "day42", "treatment_start_date": d("2021-02-12")},
                {"person_id": "day43", "treatment_start_date": d("2021-02-13")},
                {"person_id": "before", "treatment_start_date": d("2020-12-31")},
                {"person_id": "no-need", "treatment_start_date": d("2021-01-02")},
                {"person_id": "too-recent", "treatment_start_date": d("2022-05-02")},
                {"person_id": "nobody", "treatment_start_date": d("2022-06-01")},  # the data end
            ],
        },
    )
    overall = run(x, "continuity-of-care")["overall"].iloc[0]
    # Six releases with a need and 42 days of follow-up; day 0 and day 21 within 21 days; pick-up adds 22 and 42.
    assert (overall.n, overall.treated_21_days, overall.picked_up_42_days) == (6, 2, 4)
    assert overall.treated_21_days_share == pytest.approx(2 / 6)
    assert overall.treated_21_days_share_low < 2 / 6 < overall.treated_21_days_share_high


def test_pick_up_counts_local_referrals_only_as_the_dscp_does(tmp_path):
    def local(pid, area, start=None, journey_area=None):
        row = {**release(pid), "release_local_authority": area}
        journeys = (
            []
            if start is None
            else [{"person_id": pid, "treatment_start_date": d(start), "local_authority": journey_area}]
        )
        return row, journeys

    cases = [
        local("local", "E06000001", "2021-01-20", "E06000001"),  # picked up at home on day 19: counts
        local("elsewhere", "E06000001", "2021-01-20", "E06000002"),  # picked up in another area: non-local, left out
        local("never", "E06000001"),  # not picked up: a local referral that failed
        local("late", "E06000001", "2021-02-13", "E06000001"),  # day 43: not picked up
        local("unknown-area", None, "2021-01-05", "E06000001"),  # released to no known area: left out
    ]
    prison = [r for r, _ in cases]
    treatment = [j for _, js in cases for j in js]
    treatment.append({"person_id": "nobody", "treatment_start_date": d("2022-06-01"), "local_authority": None})
    x = extract(tmp_path, {"prison": prison, "treatment": treatment})
    overall = run(x, "continuity-of-care")["overall"].iloc[0]
    assert (overall.n, overall.pick_up_referrals, overall.picked_up_42_days) == (5, 3, 1)  # local, never, late
    assert overall.picked_up_42_days_share == pytest.approx(1 / 3)
    assert (
        overall.treated_21_days == 3
    )  # continuity of care (OHID) counts a start in any area: local, elsewhere, unknown


@pytest.fixture
def deaths_extract(tmp_path):
    return extract(
        tmp_path,
        {
            "prison": [
                release("dies-day-0", ost=True),
                release("back-day-10"),
                {**release("back-day-10", date="2021-03-01"), "reception_date": d("2021-01-11")},
                release("survives"),
                release("drug-death-day-30"),
            ],
            "deaths": [
                {"person_id": "dies-day-0", "date_of_death": d("2021-01-01"), "drug_related": False},
                {"person_id": "drug-death-day-30", "date_of_death": d("2021-01-31"), "drug_related": True},
                {"person_id": "not-released", "date_of_death": d("2022-06-01"), "drug_related": False},
            ],
            "person": [{"person_id": p, "sex": "M", "birth_year": 1980} for p in ("dies-day-0", "survives")],
        },
    )


def test_deaths_person_time_by_week_worked_by_hand(deaths_extract):
    tables = run(deaths_extract, "deaths-after-release", start="2021-01-01", end="2021-01-01")
    every = tables["all_cause_by_week"].set_index("window")
    # Days at risk: dies on day 0 -> 1 day in week 1 (the day of death counts); back in prison on day 10 -> days
    # 0-9; survives -> days 0-364; dies on day 30 -> days 0-30.
    expected_days = {
        "week 1": 1 + 7 + 7 + 7,
        "week 2": 3 + 7 + 7,
        "weeks 3-4": 14 + 14,
        "weeks 5-12": 56 + 3,
        "weeks 13-52": 281,
    }
    for window, days in expected_days.items():
        assert every.loc[window, "person_years"] == pytest.approx(days / DAYS), window
    assert every.events.to_dict() == {"week 1": 1, "week 2": 0, "weeks 3-4": 0, "weeks 5-12": 1, "weeks 13-52": 0}
    assert every.loc["week 1", "rate"] == pytest.approx(1000 * 1 / (22 / DAYS))
    drug = tables["drug_related_by_week"].set_index("window")
    assert drug.events.to_dict() == {"week 1": 0, "week 2": 0, "weeks 3-4": 0, "weeks 5-12": 1, "weeks 13-52": 0}
    ost = tables["all_cause_first_4_weeks_by_ost"].set_index("ost")
    assert ost.loc["on OST", "events"] == 1 and ost.loc["on OST", "person_years"] == pytest.approx(1 / DAYS)
    assert ost.loc["not on OST", "person_years"] == pytest.approx((10 + 28 + 28) / DAYS)
    ratios = tables["rate_ratios"].set_index("comparison")
    assert math.isnan(ratios.loc["drug-related, weeks 1-2 vs weeks 3-12", "rate_ratio"])  # no deaths in weeks 1-2
    by_sex = tables["all_cause_by_week_and_sex"]
    assert set(by_sex.sex) == {"M", "U"}  # people without a derived sex are kept apart, not dropped


def test_deaths_without_reception_dates_are_not_censored_and_say_so(deaths_extract):
    deaths_extract.agreed["prison"].remove("reception_date")
    study = catalogue()["deaths-after-release"]
    out = study.compute(deaths_extract, study.resolve({"start": "2021-01-01", "end": "2021-01-01"}))
    every = out.tables["all_cause_by_week"].set_index("window")
    assert every.loc["week 2", "person_years"] == pytest.approx((7 + 7 + 7) / DAYS)
    assert any("re-imprisonment" in note for note in out.notes)


def test_hospital_admissions_in_the_year_after_release(tmp_path):
    def admission(pid, date, method="21", diagnosis="F112"):
        return {"person_id": pid, "admission_date": d(date), "admission_method": method, "primary_diagnosis": diagnosis}

    x = extract(
        tmp_path,
        {
            "prison": [release("treated"), release("untreated"), release("quiet")],
            "treatment": [{"person_id": "treated", "treatment_start_date": d("2021-01-06")}],
            "hospital": [
                admission("treated", "2021-01-01"),  # day 0, drugs
                admission("treated", "2021-12-31", diagnosis="T400"),  # day 364, poisoning
                admission("treated", "2022-01-01", diagnosis="J18"),  # day 365: outside the year
                admission("treated", "2021-01-11", method="11", diagnosis="K70"),  # elective: not counted
                admission("untreated", "2021-04-11", diagnosis="j189"),  # respiratory (lower case code)
                admission("other", "2022-06-01", method="11"),  # the data end
            ],
        },
    )
    tables = run(x, "hospital-after-release")
    main = tables["by_continuity"].set_index("continuity")
    yes, no = main.loc["treatment within 21 days"], main.loc["no treatment within 21 days"]
    assert (yes.n, yes.any_emergency, yes.emergency_admissions) == (1, 1, 2)
    assert (no.n, no.any_emergency, no.emergency_admissions) == (2, 1, 1)
    groups = tables["by_diagnosis_group"].set_index(["diagnosis_group", "continuity"]).admitted
    assert groups["drug or alcohol (F10-F19)", "treatment within 21 days"] == 1
    assert groups["injury and poisoning (S, T)", "treatment within 21 days"] == 1
    assert groups["respiratory (J)", "no treatment within 21 days"] == 1
    assert groups["liver and digestive (K)"].sum() == 0
    conditions = tables["distinct_conditions"].set_index(["continuity", "conditions"]).n.to_dict()
    assert conditions == {
        ("no treatment within 21 days", "0"): 1,
        ("no treatment within 21 days", "1"): 1,
        ("treatment within 21 days", "2"): 1,
    }


def test_deaths_by_treatment_at_release_start_at_a_day_21_landmark(tmp_path):
    x = extract(
        tmp_path,
        {
            "prison": [release("treated-dies-day-30"), release("dies-day-10"), release("survives")],
            "treatment": [
                {"person_id": "treated-dies-day-30", "treatment_start_date": d("2021-01-06")},
                {"person_id": "dies-day-10", "treatment_start_date": d("2021-01-08")},  # day 7, but dead by day 21
            ],
            "deaths": [
                {"person_id": "treated-dies-day-30", "date_of_death": d("2021-01-31"), "drug_related": True},
                {"person_id": "dies-day-10", "date_of_death": d("2021-01-11"), "drug_related": True},
                {"person_id": "nobody", "date_of_death": d("2022-06-01"), "drug_related": False},
            ],
        },
    )
    table = run(x, "deaths-after-release")["all_cause_after_day_21_by_continuity"].set_index("continuity")
    # Only releases alive and in the community on day 21 count: the death on day 10 is left out entirely.
    treated, untreated = table.loc["treatment within 21 days"], table.loc["no treatment within 21 days"]
    assert (treated.n, treated.events) == (1, 1) and treated.person_years == pytest.approx(10 / DAYS)  # days 21-30
    assert (untreated.n, untreated.events) == (1, 0) and untreated.person_years == pytest.approx(344 / DAYS)
