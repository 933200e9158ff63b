"""The pilot evaluation's pieces, hand-worked: before / gap / after periods at their boundaries, comparison areas
matched on standardised profiles without replacement, and standard errors clustered by person."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bold.studies import statistics as st
from bold.studies.builtin import pilot_evaluation as pe
from bold.studies.evaluation import difference_in_differences, match_areas
from bold.studies.language import Cohort, StudyError
from tests.extract_builder import d, extract

START = d("2020-10-19")


def test_periods_are_18_months_before_and_18_after_a_6_month_gap():
    assert pe.did_periods(START, 18, 6, 18) == [
        ("before", d("2019-04-19"), d("2020-10-18")),
        ("after", d("2021-04-19"), d("2022-10-18")),
    ]
    assert pe.did_periods(d("2020-01-31"), 1, 0, 1) == [  # month ends: a month before 31 January is 31 December
        ("before", d("2019-12-31"), d("2020-01-30")),
        ("after", d("2020-01-31"), d("2020-02-28")),
    ]


def test_each_index_date_falls_in_its_period_and_the_gap_is_left_out(tmp_path):
    dates = {
        "2019-04-18": None,  # a day before the before period
        "2019-04-19": "before",
        "2020-10-18": "before",  # the day before the pilot start
        "2020-10-19": None,  # the pilot start: the gap begins
        "2021-04-18": None,  # the gap's last day
        "2021-04-19": "after",
        "2022-10-18": "after",
        "2022-10-19": None,  # a day after the after period
    }
    rows = [{"person_id": f"p{i}", "release_date": d(day)} for i, day in enumerate(dates)]
    cohort = Cohort(extract(tmp_path, {"prison": rows}), "prison", index="release_date")
    pe.in_periods(cohort, pe.did_periods(START, 18, 6, 18))
    got = cohort.frame(["period"]).assign(day=lambda f: pd.to_datetime(f.index_date).dt.date.astype(str))
    assert dict(zip(got.day, got.period, strict=True)) == {k: v for k, v in dates.items() if v}


def test_matched_areas_are_the_nearest_on_the_standardised_profile():
    # Over P1, P2, A, B, C (D is too small to be a candidate): n has mean 80 and SD sqrt(2200/5) = 20.976, the
    # share mean 0.38 and SD sqrt(0.083/5) = 0.12884. P1 = (0.9535, 0.9314), C = (0.9535, 0.5433): 0.3881 apart;
    # A = (0.4767, 0.9314) is 0.4767 from P1; P2 = (-1.4302, -1.3971), B = (-0.9535, -1.0090): 0.6147 apart.
    profiles = pd.DataFrame(
        {"n": [100, 50, 90, 60, 100, 10], "share": [0.5, 0.2, 0.5, 0.25, 0.45, 0.5]},
        index=["P1", "P2", "A", "B", "C", "D"],
    )
    chosen = match_areas(profiles, ["P1", "P2"], minimum=20)
    assert list(zip(chosen.pilot_area, chosen.area, strict=True)) == [("P1", "C"), ("P2", "B")]
    assert chosen.distance.tolist() == pytest.approx([0.3881, 0.6147], abs=1e-4)
    with pytest.raises(ValueError, match=r"3 candidate comparison areas .* for 2 pilot areas x 2"):
        match_areas(profiles, ["P1", "P2"], per_area=2, minimum=20)
    assert "D" in set(match_areas(profiles, ["P1", "P2"], per_area=2, minimum=10).area)  # 10 units: a candidate


def test_matching_is_without_replacement_ties_going_to_the_first_pilot_area():
    # n: mean 88.8, SD sqrt(1092.8/5) = 14.784; the shares of P1, P2, C and F are equal. C is 2/14.784 = 0.1353
    # from both P1 and P2: P1 takes it (ties by area code), P2 the next nearest, F, 6/14.784 = 0.4059 away.
    profiles = pd.DataFrame(
        {"n": [100, 96, 98, 60, 90], "share": [0.5, 0.5, 0.5, 0.2, 0.5]}, index=["P1", "P2", "C", "E", "F"]
    )
    chosen = match_areas(profiles, ["P1", "P2"])
    assert list(zip(chosen.pilot_area, chosen.area, strict=True)) == [("P1", "C"), ("P2", "F")]
    assert chosen.distance.tolist() == pytest.approx([0.1353, 0.4059], abs=1e-4)
    with pytest.raises(ValueError, match="no units to profile in pilot area"):
        match_areas(profiles, ["P1", "P9"])


def units(people: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pilot, after = rng.random(people) < 0.4, rng.random(people) < 0.5
    y = rng.random(people) < 0.3 + 0.15 * (pilot & after)
    return pd.DataFrame({"person": range(people), "y": y.astype(int), "pilot": pilot, "after": after})


def half_width(result) -> tuple[float, float]:
    raw = result.estimates.set_index("measure").loc["raw DiD (percentage points)"]
    return (result.ci_high - result.ci_low) / 2, (raw.ci_high - raw.ci_low) / 2


def test_clustered_errors_do_not_shrink_when_each_person_is_counted_three_times():
    once = units(1_200)
    thrice = pd.concat([once] * 3, ignore_index=True)
    args = {"outcome": "y", "pilot": "pilot", "after": "after"}
    base = half_width(difference_in_differences(once, **args))
    naive = half_width(difference_in_differences(thrice, **args))
    clustered = half_width(difference_in_differences(thrice, **args, cluster="person"))
    assert naive == pytest.approx([w / np.sqrt(3) for w in base], rel=0.02)  # as if three times the people
    assert clustered == pytest.approx(base, rel=0.02)  # the people there are
    single = half_width(difference_in_differences(once, **args, cluster="person"))
    assert single == pytest.approx(base, rel=0.02)  # one unit per person: robust and model-based agree
    result = difference_in_differences(thrice, **args, cluster="person")
    assert result.effect == pytest.approx(difference_in_differences(once, **args).effect)  # the estimate stays


def test_bad_parameters_are_refused_in_words(tmp_path):
    ext = extract(tmp_path, {"treatment": [{"person_id": "a", "treatment_start_date": d("2023-01-01")}]})
    params = pe.STUDIES[0].resolve({"pilot_areas": "E1", "pilot_start": "2020-10-19"})
    for bad, message in [
        ({"outcome": "happiness"}, "outcome: expected one of continuity, effective_treatment"),
        ({"gap_months": "six"}, "gap_months: expected a whole number"),
        ({"before_months": 0}, "before_months: must be at least 1"),
        ({"pilot_start": "19/10/2020"}, "pilot_start: expected a date"),
        ({"outcome": "effective_treatment"}, "outcome effective_treatment needs treatment.discharge_date"),
    ]:
        with pytest.raises(StudyError, match=message):
            pe.pilot_did(ext, {**params, **bad})
    with pytest.raises(StudyError, match="comparison: expected one of matched, all"):
        pe.choose_comparison(pd.DataFrame(), [], ["E1"], {**params, "comparison": "similar"})


def test_the_data_ending_before_the_after_period_is_an_error(tmp_path):
    ext = extract(tmp_path, {"treatment": [{"person_id": "a", "treatment_start_date": d("2021-04-18")}]})
    params = pe.STUDIES[0].resolve({"pilot_areas": "E1", "pilot_start": "2020-10-19"})
    with pytest.raises(StudyError, match=r"the data end \(2021-04-18\) before the after period starts \(2021-04-19\)"):
        pe.pilot_did(ext, params)


def test_client_periods_are_the_dscps_in_each_period_with_the_journeys_area(tmp_path):
    """Effective treatment units: each client's latest journey crossing into the period (treatment_outcomes.clients
    with the before and after periods as its periods), at least 83 days before the period's end."""
    spans = pe.did_periods(START, 18, 6, 18)  # before 2019-04-19 to 2020-10-18, after 2021-04-19 to 2022-10-18

    def journey(person, start, end=None, reason=None, la="E1"):
        return {"person_id": person, "treatment_start_date": d(start), "discharge_date": end and d(end),
                "discharge_reason": reason, "local_authority": la}  # fmt: skip

    rows = [
        journey("a", "2019-05-01", "2019-06-01", "DRO"),  # before, 31 days: not effective
        journey("b", "2020-11-01", "2021-06-01", "DRO", la="E2"),  # starts in the gap, crosses into after: effective
        journey("c", "2020-07-01", "2021-01-01", "DRO"),  # before (not 83 days by its end: still crosses), not after
        journey("d", "2022-07-28", None),  # 82 days before the after period's end: not counted
        journey("e", "2022-07-27", None),  # 83 days before: counted, open, 83 days long: effective
    ]
    types = {"treatment": {"discharge_date": "date", "discharge_reason": "varchar"}}
    ext = extract(tmp_path, {"treatment": rows}, types)
    params = pe.STUDIES[0].resolve({"pilot_areas": "E1", "pilot_start": str(START)})
    cohort = pe.OUTCOMES["effective_treatment"].units(ext, params, spans)
    got = cohort.frame(["period", "area", "outcome"]).sort_values(["person_id", "period"])
    assert [(r.person_id, r.period, r.area, bool(r.outcome)) for r in got.itertuples()] == [
        ("a", "before", "E1", False),
        ("b", "after", "E2", True),
        ("c", "before", "E1", True),
        ("e", "after", "E1", True),
    ]


def test_each_areas_profile_counts_its_before_units_and_every_column_is_declared():
    rows = pd.DataFrame(
        {
            "person_id": ["p1", "p1", "p2", "p3", "p4", "p5"],
            "area": ["E1", "E1", "E1", "E2", "E2", "E2"],
            "after": [False, False, True, False, False, False],
            "outcome": [1, 0, 1, 1, 1, 0],
            "sex": ["F", "F", "M", None, "F", "M"],
            "no_fixed_abode": [True, None, True, False, True, False],
        }
    )
    table = pe.profiles(rows, ["sex", "no_fixed_abode"])
    e1, e2 = table.loc["E1"], table.loc["E2"]
    assert (e1.n, e1.people, e1.events, e1.sex_f, e1.no_fixed_abode_true) == (2, 1, 1, 2, 1)  # after left out
    assert (e2.n, e2.people, e2.events, e2.sex_f, e2.no_fixed_abode_true) == (3, 3, 2, 1, 1)  # missing: not at it
    assert e2.outcome_share == pytest.approx(2 / 3) and e1.no_fixed_abode_true_share == 0.5
    params = pe.STUDIES[0].resolve({"pilot_areas": "E1", "pilot_start": str(START), "comparison": "all"})
    _, listed, note = pe.choose_comparison(rows, ["sex", "no_fixed_abode"], ["E1"], params)
    assert list(zip(listed.area, listed.role, strict=True)) == [("E2", "comparison"), ("E1", "pilot")]
    assert st.untyped(listed) == [] and "every other area" in note
