"""participant-outcomes (Justice Data Lab style) on hand-built extracts: who is a participant and at which release,
the window's boundaries, the JDL minimum, and matched differences worked by hand."""

from __future__ import annotations

import math

import pytest

from bold.studies import statistics as st
from bold.studies.builtin import catalogue
from bold.studies.builtin import participant_outcomes as po
from bold.studies.language import StudyError
from tests.extract_builder import d, extract

STUDY = catalogue()["participant-outcomes"]
RELEASE = {"reception_date": d("2020-06-01"), "release_date": d("2021-01-01"), "substance_misuse_need": True}
LATER = {"reception_date": d("2022-05-01"), "release_date": d("2022-06-01"), "substance_misuse_need": False}


def _listed(person: str, day: str, programme: str = "A") -> dict:
    return {"person_id": person, "intervention_date": d(day), "programme": programme}


def _index(tmp_path, prison, participants, **params):
    tmp_path.mkdir(exist_ok=True)
    x = extract(tmp_path, {"prison": prison, "participants": participants})
    cohort = po.releases(x, STUDY.resolve(params))
    po.previous_prison(cohort)
    rows = po.index_releases(cohort.frame(["_listings", "_since_intervention", "previous_prison"]))
    return rows.set_index("person_id")


def test_a_participant_is_indexed_at_the_first_release_on_or_after_the_intervention_within_the_window(tmp_path):
    prison = [
        {"person_id": "a", **RELEASE, "release_date": d("2020-03-01")},  # before the intervention: not the index
        {"person_id": "a", **RELEASE},
        {"person_id": "b", **RELEASE},  # intervention 365 days before: in
        {"person_id": "c", **RELEASE},  # 366 days before: out
        {"person_id": "e", **RELEASE},  # on the day of release: in
        {"person_id": "f", **RELEASE, "release_date": d("2020-02-01")},  # not on the list: its first release
        {"person_id": "f", **RELEASE},
        {"person_id": "g", **RELEASE, "substance_misuse_need": False},  # need_only: not in the cohort
        {"person_id": "z", **LATER},  # data end 2022-06-01: a year of follow-up for a release up to 2021-06-01
    ]
    listed = [
        _listed("a", "2020-12-01"),
        _listed("b", "2020-01-02"),
        _listed("c", "2020-01-01"),
        _listed("e", "2021-01-01"),
        _listed("h", "2020-12-01"),  # on the list, never released: left out
    ]
    rows = _index(tmp_path, prison, listed)
    assert sorted(rows.index) == ["a", "b", "e", "f"]
    assert rows.treated.to_dict() == {"a": 1, "b": 1, "e": 1, "f": 0}
    assert rows.loc["a", "index_date"].date() == d("2021-01-01") and rows.loc["a", "previous_prison"] == "1"
    assert rows.loc["f", "index_date"].date() == d("2020-02-01")
    assert rows.loc["e", "_since_intervention"] == 0 and rows.loc["b", "_since_intervention"] == -365

    wider = _index(tmp_path / "wider", prison, listed, within_days=366, need_only="no")
    assert sorted(wider.index) == ["a", "b", "c", "e", "f", "g"]  # z: released on the data end, no follow-up
    assert wider.loc["c", "treated"] == 1 and wider.loc["g", "treated"] == 0


def _population(participants: int, comparisons: int = 300, back_in: int = 25, treated: int = 40, late: int = 10):
    """``participants`` people on the list released on 2021-01-01, ``back_in`` of them back in prison within the
    year; ``comparisons`` people not on it, all back in. ``treated`` participants start treatment on day 21 and
    ``late`` more on day 22; no comparison does."""
    prison, listed, starts = [], [], []
    for i in range(participants):
        prison.append({"person_id": f"p{i}", **RELEASE})
        listed.append(_listed(f"p{i}", "2020-11-01", "A" if i % 2 == 0 else "B"))
        if i < back_in:
            prison.append({"person_id": f"p{i}", **LATER, "reception_date": d("2021-06-01")})
        if i < treated + late:
            starts.append(
                {"person_id": f"p{i}", "treatment_start_date": d("2021-01-22" if i < treated else "2021-01-23")}
            )
    for i in range(comparisons):
        prison += [
            {"person_id": f"c{i}", **RELEASE},
            {"person_id": f"c{i}", **LATER, "reception_date": d("2021-12-31")},
        ]
    prison.append({"person_id": "z", **LATER})
    return {"prison": prison, "participants": listed, "treatment": starts}


def test_below_the_justice_data_labs_minimum_of_60_participants_it_refuses_without_the_count(tmp_path):
    (tmp_path / "sixty").mkdir()
    x = extract(tmp_path, _population(59))
    with pytest.raises(StudyError, match="fewer than 60 participants") as refused:
        STUDY.compute(x, STUDY.resolve({}))
    assert "59" not in str(refused.value)
    assert STUDY.compute(extract(tmp_path / "sixty", _population(60)), STUDY.resolve({})).tables


def test_the_matched_differences_are_worked_by_hand(tmp_path):
    """100 participants, 25 back in prison; every comparison back in: -75 points, paired SE sqrt(p(1-p) n/(n-1))/sqrt(n)
    with p = 0.75. Treatment: 40 of 100 on day 21 (day 22 does not count), no comparison: +40 points."""
    result = STUDY.compute(extract(tmp_path, _population(100)), STUDY.resolve({}))
    estimates = result.tables["estimates"].set_index(["outcome", "measure"])
    back = estimates.loc[("re-imprisonment within a year", po.MAIN)]
    se = math.sqrt(0.75 * 0.25 * 100 / 99) / 10
    assert back.estimate == pytest.approx(-75.0)
    assert back.ci_low == pytest.approx(-75 - 1.959964 * 100 * se, abs=1e-3) and back.n == 100
    assert back.ci_high == pytest.approx(-75 + 1.959964 * 100 * se, abs=1e-3) and back.p_value < 1e-6
    treat = estimates.loc[("treatment within 21 days", po.MAIN)]
    assert treat.estimate == pytest.approx(40.0)
    groups = result.tables["groups"].set_index(["outcome", "group"])
    assert groups.loc[("re-imprisonment within a year", "treated"), ["n", "events"]].tolist() == [100, 25]
    assert groups.loc[("re-imprisonment within a year", "comparison pool"), ["n", "events"]].tolist() == [300, 300]
    assert groups.loc[("treatment within 21 days", "treated, matched"), ["n", "events"]].tolist() == [100, 40]
    assert result.tables["list"][["n", "people"]].iloc[0].tolist() == [100, 100]
    assert {name: st.untyped(t) for name, t in result.tables.items()} == {name: [] for name in result.tables}
    assert po.DELETE in result.notes and any("bold batch delete-list" in n for n in result.notes)


def test_one_programme_of_the_list_and_bad_parameters(tmp_path):
    x = extract(tmp_path, _population(130))
    result = STUDY.compute(x, STUDY.resolve({"programme": "A"}))  # 65 in programme A, 65 in B
    assert result.tables["list"].n.iloc[0] == 65
    assert result.tables["groups"].set_index("group").loc["treated", "n"].iloc[0] == 65
    with pytest.raises(StudyError, match="fewer than 60"):
        STUDY.compute(x, STUDY.resolve({"programme": "A", "within_days": 60}))  # intervention 61 days before
    for params, message in [
        ({"need_only": "perhaps"}, "need_only: expected yes or no"),
        ({"within_days": "a year"}, "within_days: expected a whole number"),
        ({"within_days": -1}, "expected 0 or more days"),
    ]:
        with pytest.raises(StudyError, match=message):
            STUDY.compute(x, STUDY.resolve(params))
    population = _population(100)
    population["participants"] = [{k: v for k, v in r.items() if k != "programme"} for r in population["participants"]]
    (tmp_path / "narrow").mkdir()
    narrow = extract(tmp_path / "narrow", population)
    with pytest.raises(StudyError, match=r"participants\.programme is not in this project's agreement"):
        STUDY.compute(narrow, STUDY.resolve({"programme": "A"}))
