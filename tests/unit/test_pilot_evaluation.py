"""The pilot evaluation's pieces, hand-worked: before / gap / after periods at their boundaries, comparison areas
matched on standardised profiles without replacement, and standard errors clustered by person."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
