"""Mental-health contact in the year after leaving treatment, on a hand-built extract with answers worked by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from bold.sources.geography import local_authorities
from bold.studies import statistics as st
from bold.studies.builtin import mh_after_treatment
from bold.studies.language import PARTIAL, StudyError
from tests.extract_builder import d, extract

STUDY = mh_after_treatment.STUDIES[0]
DAY0 = d("2022-01-03")  # financial year 2021-22: most journeys are discharged on it
END = d("2024-06-30")  # the data end: a mental-health referral is made on it
TYPES = {"treatment": {"discharge_date": "date", "discharge_reason": "varchar"}}
LA = local_authorities()["local_authority"].iloc[0]


def days(n: int, date: dt.date = DAY0) -> dt.date:
    return date + dt.timedelta(days=n)


def journey(person, reason, discharge=DAY0, start=None, substance="OPI"):
    return {
        "person_id": person,
        "treatment_start_date": start or days(-100, discharge),
        "discharge_date": discharge,
        "discharge_reason": reason,
        "substance_group": substance,
        "local_authority": LA,
    }


def referral(person, date):
    return {"person_id": person, "referral_date": date}


def tables():
    treatment = [
        journey("c365", "CDF"),  # contact on day 365: counts
        journey("c366", "DRO", substance="ALC"),  # day 366: does not
        journey("c0", "TNC"),  # contact on the discharge day: counts (transferred)
        journey("die", "DIE"),  # died in treatment: left out, whatever follows
        journey("missing", None),  # a discharge date without a reason: kept, reason missing
        journey("before", "TWD", start=days(-200)),  # a referral 365 days before the start: contact before
        journey("before366", "DRO", start=days(-200)),  # 366 days before the start: not
        journey("during", "DRO"),  # a referral while in treatment (day -1 of the discharge): neither
        journey("open", None, discharge=None, start=days(-100)),  # still in treatment: not in the cohort
        journey("late", "DRO", discharge=days(-365, END), substance="NOP"),  # a whole year: in, contact on day 365
        journey("late364", "DRO", discharge=days(-364, END)),  # 364 days of follow-up: left out
        journey("dup", "CAU"),  # recorded twice: one journey, contact on day 100
        journey("dup", "CAU"),
    ]
    mental_health = [
        referral("c365", days(365)),
        referral("c366", days(366)),
        referral("c0", DAY0),
        referral("die", days(10)),
        referral("before", days(-565)),
        referral("before366", days(-566)),
        referral("during", days(-1)),
        referral("late", END),
        referral("late364", days(10, days(-364, END))),
        referral("dup", days(100)),
    ]
    people = sorted({r["person_id"] for r in treatment})
    person = [
        {"person_id": p, "sex": "F" if p == "c0" else "M", "birth_year": 2000 if p == "late" else 1990} for p in people
    ]
    return {"treatment": treatment, "mental_health": mental_health, "person": person}


def run(tmp_path, **params):
    return STUDY.compute(extract(tmp_path, tables(), TYPES), STUDY.resolve(params))


def test_contact_in_the_year_after_discharge_with_its_boundaries(tmp_path):
    result = run(tmp_path).tables
    overall = result["overall"].iloc[0]
    # in: c365, c366, c0, missing, before, before366, during, late, dup (die, open and late364 are not)
    assert (overall.n, overall.people) == (9, 9)
    assert overall.mh_contact == 4  # c365 (day 365), c0 (day 0), late (day 365), dup (day 100)
    assert overall.mh_contact_share == pytest.approx(4 / 9)
    assert overall.mh_contact_share_low < 4 / 9 < overall.mh_contact_share_high
    # days to contact 0, 100, 365, 365: quartiles by linear interpolation
    assert (overall.days_q1, overall.days_median, overall.days_q3) == (75, 232.5, 365)
    assert overall.contact_people == 4


def test_reason_groups_follow_treatment_outcomes_classification(tmp_path):
    reasons = run(tmp_path).tables["by_reason_group"].set_index("reason_group")
    assert reasons[["n", "mh_contact"]].to_dict("index") == {
        "completed": {"n": 2, "mh_contact": 2},  # c365 (CDF), dup (CAU)
        "incomplete": {"n": 5, "mh_contact": 1},  # c366, before, before366, during, late (DRO, TWD)
        "missing": {"n": 1, "mh_contact": 0},
        "transferred": {"n": 1, "mh_contact": 1},  # c0 (TNC)
    }


def test_contact_before_the_journey_start_and_other_breakdowns(tmp_path):
    result = run(tmp_path).tables
    before = result["by_mh_before_start"].set_index("mh_before_start")
    assert before.loc["yes", ["n", "mh_contact"]].tolist() == [1, 0]  # only 'before': day -365 of its start
    assert before.loc["no", ["n", "mh_contact"]].tolist() == [8, 4]
    substance = result["by_substance"].set_index("substance")
    assert substance.loc["alcohol", ["n", "mh_contact"]].tolist() == [1, 0]
    assert substance.loc["non-opiate", ["n", "mh_contact"]].tolist() == [1, 1]
    assert result["by_sex"].set_index("sex").loc["F", ["n", "mh_contact"]].tolist() == [1, 1]
    assert result["by_age_band"].set_index("age_band").loc["18-24", ["n", "mh_contact"]].tolist() == [1, 1]
    assert result["by_region"].n.sum() == 9
    years = result["by_financial_year"].set_index("financial_year")
    assert years.loc["2021-22", ["n", "mh_contact"]].tolist() == [8, 3]
    assert years.loc["2023-24", ["n", "mh_contact"]].tolist() == [1, 1]
    # the data's first discharge is on DAY0: a year of look-back only from 2023-01-03; follow-up to 2023-07-01
    assert years[PARTIAL].to_dict() == {"2021-22": True, "2023-24": True}


def test_the_window_is_a_parameter_and_checked(tmp_path):
    wider = run(tmp_path, within_days=366).tables["overall"].iloc[0]
    assert (wider.n, wider.mh_contact) == (8, 4)  # late has too short a follow-up now; c366 counts
    (tmp_path / "b").mkdir()
    with pytest.raises(StudyError, match="whole numbers of days"):
        run(tmp_path / "b", within_days=0)


def test_every_column_is_typed_and_breakdowns_follow_the_agreement(tmp_path):
    result = run(tmp_path)
    assert {name: st.untyped(t) for name, t in result.tables.items() if st.untyped(t)} == {}
    assert st.declared(result.tables["overall"])["mh_contact_share"] == st.share("mh_contact", "n")
    assert st.declared(result.tables["overall"])["days_median"] == st.percentile(0.5, people="contact_people")
    assert any("no medication" in note for note in result.notes)
    bare = tables()
    bare["treatment"] = [
        {k: v for k, v in row.items() if k not in ("substance_group", "local_authority")} for row in bare["treatment"]
    ]
    del bare["person"]
    (tmp_path / "bare").mkdir()
    result = STUDY.compute(extract(tmp_path / "bare", bare, TYPES), STUDY.resolve({}))
    assert set(result.tables) == {"overall", "by_reason_group", "by_mh_before_start", "by_financial_year"}
    assert result.tables["overall"].mh_contact.iloc[0] == 4
    assert any("treatment.substance_group is not in the agreement" in n for n in result.notes)
