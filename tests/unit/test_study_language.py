"""The study language on hand-built extracts: windows, duplicates, agreement limits, data end, the guard."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

import bold.studies.language as language
from bold.studies.guard import check_aggregate
from bold.studies.language import (
    Cohort,
    Extract,
    StudyError,
    age_at,
    age_band,
    financial_year,
    financial_years,
    partial,
    period_bounds,
)
from tests.extract_builder import d, extract, write_extract


@pytest.fixture
def x(tmp_path):
    return extract(
        tmp_path,
        {
            "prison": [
                {"person_id": "a", "release_date": d("2021-01-01"), "substance_misuse_need": True, "prison": "P1"},
                {"person_id": "a", "release_date": d("2021-01-01"), "substance_misuse_need": True, "prison": "P1"},
                {"person_id": "b", "release_date": d("2021-01-01"), "substance_misuse_need": True, "prison": "P2"},
                {"person_id": "c", "release_date": d("2021-06-30"), "substance_misuse_need": False, "prison": "P2"},
                {"person_id": "d", "release_date": None, "substance_misuse_need": True, "prison": "P1"},
            ],
            "treatment": [
                {"person_id": "a", "treatment_start_date": d("2021-01-22")},  # day 21
                {"person_id": "a", "treatment_start_date": d("2021-01-20")},  # day 19: the first one
                {"person_id": "b", "treatment_start_date": d("2021-01-23")},  # day 22
                {"person_id": "b", "treatment_start_date": d("2020-12-31")},  # day -1
                {"person_id": "c", "treatment_start_date": d("2022-03-01")},
            ],
            "person": [
                {"person_id": "a", "sex": "M", "birth_year": 1990},
                {"person_id": "b", "sex": "F", "birth_year": None},
            ],
        },
    )


def test_a_release_recorded_twice_counts_once_and_missing_index_dates_are_left_out(x):
    cohort = Cohort(x, "prison", "release_date", fields=["prison"])
    table = cohort.summarise()
    assert table.loc[0, "n"] == 3 and table.loc[0, "people"] == 3


def test_first_event_windows_are_inclusive_day_offsets(x):
    cohort = Cohort(x, "prison", "release_date", where=lambda t: t.substance_misuse_need)
    cohort.first_event("days", "treatment", "treatment_start_date", within=(0, 21))
    cohort.last_event("before", "treatment", "treatment_start_date", within=(None, -1))
    cohort.count_events("starts", "treatment", "treatment_start_date", within=(0, 22))
    rows = cohort.frame(["days", "before", "starts"]).set_index("person_id")
    assert rows.loc["a", "days"] == 19 and pd.isna(rows.loc["b", "days"])  # day 22 is outside 0-21
    assert rows.loc["b", "before"] == -1 and pd.isna(rows.loc["a", "before"])
    assert rows.loc["a", "starts"] == 2 and rows.loc["b", "starts"] == 1


def test_fields_outside_the_agreement_are_refused_by_name(tmp_path):
    path = write_extract(
        tmp_path / "e.duckdb", {"prison": [{"person_id": "a", "release_date": d("2021-01-01"), "prison": "P"}]}
    )
    limited = Extract.duckdb(path, {"prison": ["release_date"]})
    with pytest.raises(StudyError, match=r"prison\.prison not in this project's agreement"):
        Cohort(limited, "prison", "release_date", fields=["prison"])
    with pytest.raises(StudyError, match="dataset 'deaths' is not in this project's agreement"):
        limited.table("deaths", ["date_of_death"])
    with pytest.raises(AttributeError):  # a condition cannot reach an unagreed field either
        Cohort(limited, "prison", "release_date", where=lambda t: t.prison == "P")


def test_fields_read_are_recorded_including_those_in_conditions(x):
    Cohort(x, "prison", "release_date", where=lambda t: t.substance_misuse_need)
    assert x.used == {"prison.release_date", "prison.substance_misuse_need"}


def test_data_end_is_the_last_date_in_the_extract(x):
    assert x.data_end == d("2022-03-01")


def test_breakdown_expressions(x):
    cohort = Cohort(x, "prison", "release_date").person(["sex", "birth_year"])
    cohort.derive(age=age_band, fy=financial_year)
    rows = cohort.frame(["age", "fy"]).set_index("person_id")
    assert rows.loc["a", "age"] == "25-34" and rows.loc["b", "age"] == "unknown"
    assert rows.loc["a", "fy"] == "2020-21" and rows.loc["c", "fy"] == "2021-22"


def test_age_at_the_index_date_by_the_mid_year_convention(tmp_path):
    """Only the year of birth is known: everyone is taken to be born on 1 July. A person born in 1990 is 24 on
    30 June 2015 and 25 from 1 July (calendar-year age would say 25 all year), so between two index dates a
    birthday moves them from 18-24 to 25-34."""
    dates = ["2015-01-01", "2015-06-30", "2015-07-01", "2015-12-31", "2008-06-30", "2008-07-01"]
    ex = extract(
        tmp_path,
        {
            "prison": [{"person_id": f"p{i}", "release_date": d(day)} for i, day in enumerate(dates)],
            "person": [{"person_id": f"p{i}", "birth_year": 1990} for i in range(len(dates))],
        },
    )
    cohort = Cohort(ex, "prison", "release_date").person(["birth_year"])
    cohort.derive(age=age_at, band=age_band)
    rows = cohort.frame(["age", "band"]).sort_values("person_id")
    assert rows["age"].tolist() == [24, 24, 25, 25, 17, 18]
    assert rows["band"].tolist() == ["18-24", "18-24", "25-34", "25-34", "under 18", "18-24"]


def test_periods_and_partial_periods():
    assert period_bounds("2017-18", "financial_year") == (d("2017-04-01"), d("2018-03-31"))
    assert period_bounds("2021-Q4", "quarter") == (d("2021-10-01"), d("2021-12-31"))
    assert period_bounds("2024-Q1", "quarter") == (d("2024-01-01"), d("2024-03-31"))
    first, last = d("2018-01-01"), d("2024-12-31")
    assert partial("2017-18", "financial_year", first, last)  # the data start in January
    assert not partial("2018-19", "financial_year", first, last)
    assert partial("2024-25", "financial_year", first, last)  # the data end in December
    assert not partial("2024-Q4", "quarter", first, last) and partial("2025-Q1", "quarter", first, last)
    years = financial_years(first, last)
    assert years[0] == ("2017-18", d("2018-01-01"), d("2018-03-31"))
    assert years[-1] == ("2024-25", d("2024-04-01"), d("2024-12-31"))
    assert len(years) == 8


def test_summaries_by_period_flag_the_partial_ones(x):
    cohort = Cohort(x, "treatment", "treatment_start_date").derive(financial_year=financial_year)
    table = cohort.summarise(["financial_year"])
    # treatment starts run from 31 December 2020 to 1 March 2022 (the data end)
    assert dict(zip(table.financial_year, table.partial_period, strict=True)) == {"2020-21": True, "2021-22": True}
    cohort.until(d("2021-03-31"))  # a measure needing follow-up to the end of 2020-21 (the cohort ends there)
    assert cohort.summarise(["financial_year"]).partial_period.tolist() == [True]


def test_crossing_gives_one_row_per_episode_and_period(tmp_path):
    ex = extract(
        tmp_path,
        {
            "treatment": [
                {"person_id": "a", "treatment_start_date": d("2020-01-01"), "discharge_date": d("2021-06-01")},
                {"person_id": "b", "treatment_start_date": d("2020-06-01"), "discharge_date": d("2020-07-01")},
                {"person_id": "c", "treatment_start_date": d("2021-05-01"), "discharge_date": None},
            ]
        },
    )
    cohort = Cohort(ex, "treatment", "treatment_start_date", fields=["discharge_date"])
    cohort.crossing(financial_years(d("2020-01-01"), d("2022-03-31")), "discharge_date", name="financial_year")
    rows = cohort.frame(["financial_year"]).groupby("person_id").financial_year.apply(sorted).to_dict()
    assert rows == {"a": ["2019-20", "2020-21", "2021-22"], "b": ["2020-21"], "c": ["2021-22"]}


def test_first_event_with_a_matching_field(tmp_path):
    ex = extract(
        tmp_path,
        {
            "prison": [{"person_id": "a", "release_date": d("2021-01-01"), "release_local_authority": "X"}],
            "treatment": [
                {"person_id": "a", "treatment_start_date": d("2021-01-03"), "local_authority": "Y"},
                {"person_id": "a", "treatment_start_date": d("2021-01-09"), "local_authority": "X"},
            ],
        },
    )
    cohort = Cohort(ex, "prison", "release_date", fields=["release_local_authority"])
    cohort.first_event("any", "treatment", "treatment_start_date")
    cohort.first_event("home", "treatment", "treatment_start_date", same={"release_local_authority": "local_authority"})
    assert cohort.frame(["any", "home"]).iloc[0][["any", "home"]].tolist() == [2, 8]


def test_last_event_counts_days_from_another_date_column(tmp_path):
    ex = extract(
        tmp_path,
        {
            "treatment": [
                {
                    "person_id": "a",
                    "treatment_start_date": d("2021-01-01"),
                    "discharge_date": d("2021-06-30"),
                    "la": "X",
                }
            ],
            "mental_health": [
                {"person_id": "a", "referral_date": d("2020-12-31")},  # day -1 of the start, -181 of the discharge
                {"person_id": "a", "referral_date": d("2021-03-01")},  # during the journey
            ],
        },
    )
    cohort = Cohort(ex, "treatment", "discharge_date", fields=["treatment_start_date", "la"])
    cohort.last_event("from_index", "mental_health", "referral_date", within=(-365, -1))
    cohort.last_event("from_start", "mental_health", "referral_date", within=(-365, -1), since="treatment_start_date")
    assert cohort.frame(["from_index", "from_start"]).iloc[0][["from_index", "from_start"]].tolist() == [-121, -1]
    with pytest.raises(StudyError, match="days can only be counted from a date: la is"):
        cohort.last_event("bad", "mental_health", "referral_date", since="la")


def test_missing_extract_is_a_clear_error(tmp_path):
    with pytest.raises(StudyError, match="build the project first"):
        Extract.duckdb(tmp_path / "nothing.duckdb", {})


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        (pd.DataFrame({"person_id": ["a"], "n": [5]}), "person-level column"),
        (pd.DataFrame({"group": ["9f" * 32], "n": [5]}), "shaped like pseudonyms"),
        (pd.DataFrame({"group": ["x", "y"], "share": [0.5, 0.2]}), "no count column"),
        (pd.DataFrame({"group": ["x", "y", "z"], "n": [1, 1, 1]}), "one row per unit"),
        (pd.DataFrame({"group": [str(i) for i in range(12)], "n": [2] * 12}), "rows for 12 people"),
    ],
)
def test_the_guard_refuses_row_level_tables(table, reason):
    with pytest.raises(StudyError, match=reason):
        check_aggregate("t", table, people_in_extract=12)


def test_the_guard_accepts_aggregates():
    check_aggregate("t", pd.DataFrame({"group": ["x", "y"], "n": [40, 3]}), people_in_extract=100)


def test_a_summary_added_up_from_its_evidence_matches_the_engines_own_group_by(x):
    """Counts and whole-number sums come from the people's rows (no second query): the same table as the engine's
    group-by, to the type, with a breakdown group that is missing (no prison recorded), a flag that is missing
    for some rows, a sum of nothing (missing, not 0) and an empty cohort (n and people 0)."""

    def summaries(extract):
        cohort = Cohort(extract, "prison", "release_date", fields=["prison", "substance_misuse_need"])
        cohort.first_event("days", "treatment", "treatment_start_date", within=(0, 21))
        cohort.derive(treated=lambda t: t.days.notnull(), prison=lambda t: t.prison.nullif("P2"))
        cohort.derive(late=lambda t: ibis.ifelse(t.treated, t.days > 20, ibis.null("boolean")))
        sums = {
            "treated": lambda t: t.treated.cast("int64").sum(),
            "late": lambda t: t.late.cast("int64").sum(),
            "rows": lambda t: t.count(),
        }
        tables = [cohort.summarise(), cohort.summarise(["prison"], **sums), cohort.summarise(**sums)]
        cohort.keep(lambda t: t.index_date > d("2030-01-01"))
        return [*tables, cohort.summarise(**sums), cohort.summarise(["prison"], **sums)]

    added_up = summaries(x)
    engine, language._additive = language._additive, lambda measure: False
    try:
        grouped = summaries(x)
    finally:
        language._additive = engine
    for mine, theirs in zip(added_up, grouped, strict=True):
        pd.testing.assert_frame_equal(mine, theirs, check_dtype=True)
    by_prison = added_up[1].set_index("prison", drop=False)
    assert by_prison.loc["P1", "n"] == 1 and by_prison.loc["P1", "treated"] == 1  # a's release, treated on day 19
    assert pd.isna(by_prison["prison"].iloc[-1]) and by_prison["n"].iloc[-1] == 2  # b and c, prison P2 made missing
    assert added_up[2].loc[0, "late"] == 0 and added_up[3].loc[0, "n"] == 0 and pd.isna(added_up[3].loc[0, "late"])
    assert added_up[3].loc[0, "people"] == 0 and added_up[4].empty
