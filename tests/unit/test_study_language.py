"""The study language on hand-built extracts: windows, duplicates, agreement limits, data end, the guard."""

from __future__ import annotations

import pandas as pd
import pytest

from bold.studies.guard import check_aggregate
from bold.studies.language import Cohort, Extract, StudyError, age_band, financial_year
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
