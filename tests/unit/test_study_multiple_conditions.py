"""Multiple conditions among prison leavers with and without a substance misuse need, on a hand-built extract with
answers worked by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from bold.disclosure.evidence import for_column
from bold.studies import statistics as st
from bold.studies.builtin import multiple_conditions
from bold.studies.builtin.multiple_conditions import NEED, NO_NEED
from bold.studies.measures import share_comparison
from tests.extract_builder import d, extract

STUDY = multiple_conditions.STUDIES[0]
DAY0 = d("2022-01-03")
END = d("2024-06-30")  # the data end: an admission is on it
TYPES = {"prison": {"substance_misuse_need": "boolean"}}
DRUG, LIVER = "drug or alcohol (F10-F19)", "liver and digestive (K)"


def days(n: int, date: dt.date = DAY0) -> dt.date:
    return date + dt.timedelta(days=n)


def release(person, need, date=DAY0):
    return {"person_id": person, "release_date": date, "substance_misuse_need": need}


def admission(person, day, primary, secondary=None, method="21", since=DAY0):
    return {
        "person_id": person,
        "admission_date": days(day, since),
        "admission_method": method,
        "primary_diagnosis": primary,
        "secondary_diagnosis": secondary,
    }


def tables(secondary: bool = True):
    prison = [
        release("two", True),  # two admissions in two groups: multiple conditions
        release("one2", True),  # one admission whose secondary diagnosis is in another group: two groups
        release("same", True),  # two admissions in one group: one group
        release("d365", True),  # an admission on day 365: outside the year
        release("elective", True),  # an elective admission only: not counted
        release("late", True, days(-365, END)),  # a whole year of follow-up: in
        release("late364", True, days(-364, END)),  # 364 days: left out
        release("three", False),  # three groups ('other' is one): 3+
        release("none", False),  # no admission
        release("again", False),  # first release without a need; the second, with one, does not count
        release("again", True, days(400)),
        release("injury", False),  # one admission, an empty secondary diagnosis: one group
        release("missing", None),  # no flag: kept apart, out of the comparison
    ]
    hospital = [
        admission("two", 10, "F112"),
        admission("two", 200, "K703"),
        admission("one2", 364, "f102", "K703"),  # day 364 counts; codes are compared in upper case
        admission("same", 5, "F112"),
        admission("same", 50, "F142", "F112"),
        admission("d365", 365, "J189"),
        admission("elective", 20, "F112", method="11"),
        admission("late", 365, "F112", since=days(-365, END)),  # day 365 of its release: on the data end
        admission("three", 1, "J189"),
        admission("three", 2, "I214"),
        admission("three", 3, "R074"),
        admission("again", 420, "F112"),
        admission("again", 430, "K703"),
        admission("injury", 0, "T401", ""),
    ]
    if not secondary:
        hospital = [{k: v for k, v in row.items() if k != "secondary_diagnosis"} for row in hospital]
    people = sorted({r["person_id"] for r in prison})
    person = [
        {"person_id": p, "sex": "F" if p == "three" else "M", "birth_year": 1985 if p == "late" else 1990}
        for p in people
    ]
    return {"prison": prison, "hospital": hospital, "person": person}


def run(tmp_path, secondary: bool = True):
    return STUDY.compute(extract(tmp_path, tables(secondary), TYPES), STUDY.resolve({}))


def test_leavers_by_need_with_the_year_boundary_and_first_releases_only(tmp_path):
    need = run(tmp_path).tables["by_need"].set_index("need")
    # need: two, one2, same, d365, elective, late; no need: three, none, again (its first release), injury
    counts = ["n", "people", "any_emergency", "multiple_conditions", "emergency_admissions"]
    assert need.loc[NEED, counts].tolist() == [6, 6, 3, 2, 5]  # two, one2 multiple; same's two admissions
    assert need.loc[NO_NEED, counts].tolist() == [4, 4, 2, 1, 4]  # three multiple; injury one group
    assert need.loc["missing", ["n", "multiple_conditions"]].tolist() == [1, 0]
    assert need.loc[NEED, "multiple_conditions_share"] == pytest.approx(2 / 6)


def test_distinct_condition_groups_count_secondary_diagnoses_when_agreed(tmp_path):
    result = run(tmp_path).tables
    groups = result["distinct_conditions"].set_index("need")
    assert groups[["n", *multiple_conditions.DISTINCT]].to_dict("index") == {
        # need: d365, elective, late none; same one (two admissions in one group); two and one2 (one admission) two
        NEED: {"n": 6, "groups_0": 3, "groups_1": 1, "groups_2": 2, "groups_3_or_more": 0},
        # no need: injury one (an empty secondary diagnosis is no group), three 3+
        NO_NEED: {"n": 4, "groups_0": 2, "groups_1": 1, "groups_2": 0, "groups_3_or_more": 1},
        "missing": {"n": 1, "groups_0": 1, "groups_1": 0, "groups_2": 0, "groups_3_or_more": 0},
    }
    assert groups.loc[NEED, "groups_2_share"] == pytest.approx(2 / 6)
    by_group = result["by_condition_group"].set_index(["condition_group", "need"])
    assert by_group.loc[(DRUG, NEED), "admitted"] == 3
    assert by_group.loc[(LIVER, NEED), "admitted"] == 2
    assert by_group.loc[("other", NO_NEED), "admitted"] == 1
    assert by_group.loc[(DRUG, NO_NEED), "admitted"] == 0  # again's admissions follow its second release
    (tmp_path / "primary").mkdir()
    primary = run(tmp_path / "primary", secondary=False)
    assert primary.tables["by_need"].set_index("need").loc[NEED, "multiple_conditions"] == 1  # one2: one group
    assert any("secondary_diagnosis is not in the agreement" in note for note in primary.notes)


def test_need_against_no_need(tmp_path):
    result = run(tmp_path).tables
    compared = result["comparison"].set_index("measure")
    multiple = compared.loc["multiple_conditions_share"]
    assert multiple.difference_pp == pytest.approx(100 * (2 / 6 - 1 / 4))
    assert multiple.ratio == pytest.approx((2 / 6) / (1 / 4))
    assert multiple.difference_low < multiple.difference_pp < multiple.difference_high
    assert multiple.ratio_low < multiple.ratio < multiple.ratio_high
    assert multiple[["difference_low", "ratio_high", "p_value"]].tolist() == pytest.approx(
        [share_comparison(2, 6, 1, 4)[k] for k in ("difference_low", "ratio_high", "p_value")]
    )
    rate = result["rate_ratio"].iloc[0]
    assert rate.rate_ratio == pytest.approx((5 / 6) / (4 / 4))  # admissions per leaver-year
    assert rate.rate_ratio_low < rate.rate_ratio < rate.rate_ratio_high
    assert [*compared.compared_n, rate.compared_n] == [10, 10, 10]  # both groups, not the missing flag


def test_share_comparison_is_undefined_where_it_cannot_be_computed():
    # Newcomb by hand: Wilson 3/10 is [0.1078, 0.6032], 2/10 [0.0567, 0.5098];
    # low = 0.1 - sqrt((0.3 - 0.1078)^2 + (0.5098 - 0.2)^2) = -0.2646
    assert share_comparison(3, 10, 2, 10)["difference_low"] == pytest.approx(-26.46, abs=0.01)
    empty = share_comparison(0, 10, 2, 10)
    assert empty["difference_pp"] == pytest.approx(-20) and empty["ratio"] != empty["ratio"]  # no ratio of zero
    assert all(v != v for v in share_comparison(1, 0, 2, 10).values())


def test_breakdowns_and_every_column_typed(tmp_path):
    result = run(tmp_path)
    assert {name: st.untyped(t) for name, t in result.tables.items() if st.untyped(t)} == {}
    assert st.declared(result.tables["by_need"])["multiple_conditions_share"] == st.share("multiple_conditions", "n")
    sex = result.tables["by_need_and_sex"].set_index(["need", "sex"])
    assert sex.loc[(NO_NEED, "F"), ["n", "multiple_conditions"]].tolist() == [1, 1]
    assert set(result.tables["by_need_and_age_band"].age_band) == {"25-34", "35-44"}
    bare = tables()
    del bare["person"]
    (tmp_path / "bare").mkdir()
    plain = STUDY.compute(extract(tmp_path / "bare", bare, TYPES), STUDY.resolve({}))
    assert set(plain.tables) == {"by_need", "by_condition_group", "distinct_conditions", "comparison", "rate_ratio"}


def test_no_comparison_without_both_groups(tmp_path):
    only = tables()
    only["prison"] = [r for r in only["prison"] if r["substance_misuse_need"]]
    result = STUDY.compute(extract(tmp_path, only, TYPES), STUDY.resolve({}))
    assert not {"comparison", "rate_ratio"} & set(result.tables)
    assert any("no comparison" in note for note in result.notes)


def test_disclosure_control_finds_the_people_behind_every_condition_group_row(tmp_path):
    x = extract(tmp_path, tables(), TYPES)
    by_group = STUDY.compute(x, STUDY.resolve({})).tables["by_condition_group"]
    cells = for_column(by_group, "admitted", x.evidence)
    assert all(cell is not None for cell in cells)  # one stacked evidence, not one per block matching its own
    row = by_group.index[(by_group.condition_group == DRUG) & (by_group.need == NEED)][0]
    assert (cells[row].value, cells[row].people, set(cells[row].members)) == (3, 3, {"two", "one2", "same"})
