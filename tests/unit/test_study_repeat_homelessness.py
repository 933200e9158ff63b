"""Repeat homelessness within 12 months, on a hand-built extract with answers worked by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from bold.sources.geography import local_authorities
from bold.studies import statistics as st
from bold.studies.builtin import repeat_homelessness
from bold.studies.language import PARTIAL, StudyError
from tests.extract_builder import d, extract

STUDY = repeat_homelessness.STUDIES[0]
DAY0 = d("2022-01-01")  # financial year 2021-22, the first day the data cover
END = d("2024-06-30")  # the data end: an application is made on it
TYPES = {"homelessness": {"support_need_drug": "boolean", "support_need_alcohol": "boolean"}}


def days(n: int, date: dt.date = DAY0) -> dt.date:
    return date + dt.timedelta(days=n)


def application(person, date, drug=False, alcohol=False, duty="PREV"):
    return {
        "person_id": person,
        "application_date": date,
        "duty": duty,
        "support_need_drug": drug,
        "support_need_alcohol": alcohol,
        "local_authority": local_authorities()["local_authority"].iloc[0],
    }


def rows():
    return [
        application("r57", DAY0, drug=True),  # another on day 57: a repeat
        application("r57", days(57), drug=True, duty="RELF"),
        application("r56", DAY0),  # another on day 56: inside the first's 56-day duty, not a repeat
        application("r56", days(56), duty="RELF"),
        application("r365", DAY0, alcohol=True),  # another on day 365 (12 months): a repeat
        application("r365", days(365), alcohol=True),
        application("r366", DAY0),  # day 366: not
        application("r366", days(366)),
        application("once", DAY0, drug=None, alcohol=None),  # no other application; needs missing
        application("dup", DAY0),  # recorded twice on one day: one application, followed on day 100
        application("dup", DAY0),
        application("dup", days(100)),
        application("late", days(-365, END)),  # a whole year of follow-up: in, and its repeat is on day 365
        application("late", END),
        application("late364", days(-364, END)),  # 364 days of follow-up: left out
        application("late364", days(-300, END)),
    ]


def run(tmp_path, **params):
    return STUDY.compute(extract(tmp_path, {"homelessness": rows()}, TYPES), STUDY.resolve(params)).tables


def test_repeat_within_12_months_with_its_boundaries(tmp_path):
    tables = run(tmp_path)
    overall = tables["overall"].iloc[0]
    # applications with a year of follow-up: r57 x2, r56 x2, r365 x2, r366 x2, once, dup x2 (DAY0 once), late
    assert (overall.n, overall.people) == (12, 7)
    assert overall.repeated == 4  # r57, r365 and dup on DAY0, late
    assert overall.repeated_share == pytest.approx(4 / 12)
    need = tables["by_support_need"].set_index("support_need")
    assert need.loc["drug or alcohol", ["n", "repeated"]].tolist() == [4, 2]
    assert need.loc["neither", ["n", "repeated"]].tolist() == [7, 2]
    assert need.loc["missing", ["n", "repeated"]].tolist() == [1, 0]
    assert set(tables["by_duty"].duty) == {"prevention", "relief"}


def test_people_are_counted_once_by_their_first_application(tmp_path):
    people = run(tmp_path)["people_overall"].iloc[0]
    # first applications: r57, r56, r365, r366, once, dup (DAY0) and late; late364's is too recent
    assert (people.n, people.people, people.repeated) == (7, 7, 4)


def test_financial_years_and_partial_flags(tmp_path):
    years = run(tmp_path)["by_financial_year"].set_index("financial_year")
    assert years[PARTIAL].to_dict() == {"2021-22": True, "2022-23": False, "2023-24": True}
    assert years.loc["2021-22", ["n", "repeated"]].tolist() == [8, 3]  # DAY0's six and days 56, 57
    assert years.loc["2022-23", ["n", "repeated"]].tolist() == [3, 0]  # days 100, 365, 366
    assert years.loc["2023-24", ["n", "repeated"]].tolist() == [1, 1]


def test_the_gap_and_the_window_are_parameters_and_checked(tmp_path):
    assert run(tmp_path, gap_days=56)["overall"].repeated.iloc[0] == 5  # r56 now repeats
    (tmp_path / "b").mkdir()
    wider = run(tmp_path / "b", within_days=366)["overall"].iloc[0]
    assert (wider.n, wider.repeated) == (11, 4)  # r366 now repeats; late has too short a follow-up
    (tmp_path / "c").mkdir()
    with pytest.raises(StudyError, match="1 <= gap_days <= within_days"):
        run(tmp_path / "c", gap_days=0)


def test_every_column_is_typed(tmp_path):
    tables = run(tmp_path)
    assert {name: st.untyped(t) for name, t in tables.items() if st.untyped(t)} == {}
    assert st.declared(tables["overall"])["repeated_share"] == st.share("repeated", "n")
