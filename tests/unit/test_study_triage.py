"""Referral to triage within 21 days and within six weeks, on a hand-built extract with answers worked by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from bold.sources.geography import local_authorities
from bold.studies import statistics as st
from bold.studies.builtin import triage
from bold.studies.language import PARTIAL
from tests.extract_builder import d, extract

STUDY = triage.STUDIES[0]
DAY0 = d("2023-01-01")  # financial year 2022-23
END = d("2024-06-30")  # the data end: a treatment starts on it
TYPES = {"treatment": {"triage_date": "date"}}


def days(n: int, date: dt.date = DAY0) -> dt.date:
    return date + dt.timedelta(days=n)


def referral(person, triage_day, source="SLF", referred=DAY0, start=None, substance="OPI"):
    la = local_authorities()["local_authority"].iloc[0]
    return {
        "person_id": person,
        "referral_date": referred,
        "triage_date": None if triage_day is None else days(triage_day, referred),
        "treatment_start_date": start or days(60, referred),
        "referral_source": source,
        "substance_group": substance,
        "local_authority": la,
    }


def rows():
    return [
        referral("t0", 0),  # triaged on the day of referral: both
        referral("t21", 21, source="PRI"),  # day 21 counts for 21 days
        referral("t22", 22, source="PRB"),  # day 22 does not; within six weeks
        referral("t42", 42),  # day 42 counts for six weeks
        referral("t43", 43, source="GP"),  # day 43: neither
        referral("none", None),  # no triage date: not triaged
        referral("early", -1, source="PRI"),  # triage before referral: a recording error, not triaged
        referral("dup", 30),  # the same referral on two journeys counts once, with the earlier triage (day 10)
        referral("dup", 10),
        referral("late42", 3, referred=days(-42, END), start=END),  # 42 days of follow-up: in
        referral("late41", 3, referred=days(-41, END), start=END),  # 41 days: left out
        referral("x", 0, referred=days(-200, END), start=END),  # the data end
    ]


def run(tmp_path, **params):
    return STUDY.compute(extract(tmp_path, {"treatment": rows()}, TYPES), STUDY.resolve(params)).tables


def test_triage_within_21_days_and_six_weeks_with_their_boundaries(tmp_path):
    tables = run(tmp_path)
    overall = tables["overall"].iloc[0]
    # in: t0, t21, t22, t42, t43, none, early, dup, late42, x (late41 has 41 days of follow-up only)
    assert (overall.n, overall.people) == (10, 10)
    assert overall.triaged_21_days == 5  # t0, t21, dup (day 10), late42, x
    assert overall.triaged_42_days == 7  # and t22, t42
    assert (overall.no_triage_date, overall.triage_before_referral) == (1, 1)
    assert overall.triaged_21_days_share == pytest.approx(0.5)
    assert overall.triaged_21_days_share_low < 0.5 < overall.triaged_21_days_share_high
    route = tables["by_route"].set_index("route")
    assert route.loc["criminal justice", ["n", "triaged_21_days", "triaged_42_days"]].tolist() == [3, 1, 2]
    assert route.loc["every other route", ["n", "triaged_21_days", "triaged_42_days"]].tolist() == [7, 4, 5]
    assert tables["by_referral"].set_index("referral").loc["GP", ["n", "triaged_42_days"]].tolist() == [1, 0]


def test_financial_years_are_flagged_partial_where_the_data_or_the_follow_up_cut_them(tmp_path):
    years = run(tmp_path)["by_financial_year"].set_index("financial_year")
    # 2022-23: the data start on 1 January 2023; 2024-25: referrals need 42 days before the data end
    assert years[PARTIAL].to_dict() == {"2022-23": True, "2023-24": False, "2024-25": True}
    assert years.loc["2022-23", ["n", "triaged_21_days", "triaged_42_days"]].tolist() == [8, 3, 5]
    assert years.loc["2023-24", ["n", "triaged_21_days"]].tolist() == [1, 1]
    (tmp_path / "again").mkdir()
    assert set(run(tmp_path / "again")["by_route_financial_year"].route) == {"criminal justice", "every other route"}


def test_the_windows_are_parameters(tmp_path):
    overall = run(tmp_path, within_days=22, six_week_days=43)["overall"].iloc[0]
    assert overall.n == 9  # late42 now has less than 43 days of follow-up: left out
    # t22 and t43 now count; late42 (triaged on day 3) has left the cohort
    assert (overall.triaged_21_days, overall.triaged_42_days) == (5, 7)


def test_every_column_is_typed_and_breakdowns_follow_the_agreement(tmp_path):
    tables = run(tmp_path)
    assert {name: st.untyped(t) for name, t in tables.items() if st.untyped(t)} == {}
    assert st.declared(tables["overall"])["triaged_42_days_share"] == st.share("triaged_42_days", "n")
    bare = [{k: r[k] for k in ("person_id", "referral_date", "triage_date", "treatment_start_date")} for r in rows()]
    (tmp_path / "bare").mkdir()
    result = STUDY.compute(extract(tmp_path / "bare", {"treatment": bare}, TYPES), STUDY.resolve({}))
    assert set(result.tables) == {"overall", "by_financial_year", "by_quarter"}
    assert result.tables["overall"].triaged_21_days.iloc[0] == 5
    assert any("treatment.referral_source is not in the agreement" in n for n in result.notes)
