"""Intervention evaluation: DSCP difference-in-differences and Justice Data Lab style propensity matching."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from bold.studies.evaluation import difference_in_differences, propensity_matched

N = 20_000


def assert_aggregate(result, df: pd.DataFrame) -> None:
    """No table may carry a unit's identifier or any input column, and every table has fewer rows than units."""
    for name, table in result.tables().items():
        assert not set(table.columns) & {"id", *df.columns}, name
        assert len(table) < len(df), name


def hand_table() -> pd.DataFrame:
    """Ten units per cell. Events: pilot before 2, pilot after 6, comparison before 3, comparison after 4."""
    rows = []
    for pilot, after, events in [(True, False, 2), (True, True, 6), (False, False, 3), (False, True, 4)]:
        rows += [(pilot, after, int(k < events)) for k in range(10)]
    df = pd.DataFrame(rows, columns=["pilot", "after", "y"])
    return df.assign(id=range(len(df)))


def test_hand_built_raw_and_saturated_model():
    df = hand_table()
    result = difference_in_differences(df, outcome="y", pilot="pilot", after="after")
    # Raw DiD = (a1P - a0P) - (a1C - a0C) = (60% - 20%) - (40% - 30%) = 40 - 10 = 30 percentage points.
    assert result.raw_did == pytest.approx(30.0, abs=1e-9)
    # With no covariates the model is saturated, so it reproduces the cells. Interaction OR =
    # [odds(0.6) / odds(0.2)] / [odds(0.4) / odds(0.3)] = (1.5 / 0.25) / ((2/3) / (3/7)) = 6 / (14/9) = 27/7.
    # Interaction off, the pilot-after odds are odds(0.2) * odds(0.4) / odds(0.3) = (1/4)(2/3)(7/3) = 7/18, i.e. a
    # probability of 7/25 = 28%, so the adjusted DiD is 60 - 28 = 32 percentage points.
    assert result.odds_ratio == pytest.approx(27 / 7, rel=1e-6)
    assert result.effect == pytest.approx(32.0, abs=1e-5)
    assert result.ci_low < result.effect < result.ci_high
    assert (result.n, result.df_resid) == (40, 36)
    cells = result.tables()["cells"]
    assert cells[["group", "period", "n", "events"]].values.tolist() == [
        ["pilot", "before", 10, 2],
        ["pilot", "after", 10, 6],
        ["comparison", "before", 10, 3],
        ["comparison", "after", 10, 4],
    ]
    assert_aggregate(result, df)


def did_data(seed: int, odds_ratio: float) -> tuple[pd.DataFrame, float]:
    """Age band confounds: more young people in the pilot after. A tenth of ages are missing, with their own risk."""
    rng = np.random.default_rng(seed)
    pilot, after = rng.random(N) < 0.4, rng.random(N) < 0.5
    young = rng.random(N) < 0.3 + 0.3 * (pilot & after)
    age = pd.Series(np.where(young, "18-29", rng.choice(["30-44", "45+"], N)), dtype=object)
    age[rng.random(N) < 0.1] = None
    age_effect = age.map({"18-29": 0.8, "30-44": 0.0, "45+": -0.4}).fillna(0.6).to_numpy()
    interaction = np.log(odds_ratio) * (pilot & after)
    eta = -1 + 0.3 * pilot + 0.2 * after + interaction + age_effect
    y = (rng.random(N) < expit(eta)).astype(int)
    cell = pilot & after
    true_effect = 100 * float(np.mean(expit(eta[cell]) - expit(eta[cell] - interaction[cell])))
    sex = pd.Series(rng.choice(["F", "M"], N), dtype=object)
    return pd.DataFrame({"id": range(N), "y": y, "pilot": pilot, "after": after, "age": age, "sex": sex}), true_effect


def test_adjusted_did_recovers_planted_interaction():
    df, truth = did_data(seed=1, odds_ratio=1.8)
    result = difference_in_differences(df, outcome="y", pilot="pilot", after="after", covariates=["age", "sex"])
    assert result.ci_low < truth < result.ci_high
    assert result.or_ci_low < 1.8 < result.or_ci_high
    assert result.raw_did - truth > 3  # the confounder inflates the unadjusted figure
    assert result.p_value < 1e-6
    assert "age=missing" in set(result.tables()["coefficients"]["term"])
    assert result.df_resid == N - 8  # const, pilot, after, pilot:after, 3 age levels besides the reference, sex
    assert_aggregate(result, df)


def test_no_effect_gives_interval_covering_zero():
    df, truth = did_data(seed=2, odds_ratio=1.0)
    result = difference_in_differences(df, outcome="y", pilot="pilot", after="after", covariates=["age"])
    assert truth == 0
    assert result.ci_low < 0 < result.ci_high
    assert result.or_ci_low < 1 < result.or_ci_high


def psm_data(seed: int, effect: float = 0.08) -> pd.DataFrame:
    """Treatment and outcome both depend on x1 (with missing values) and x2; treatment adds ``effect`` to the risk."""
    rng = np.random.default_rng(seed)
    x1 = pd.Series(rng.choice(["a", "b", "c", "d"], N, p=[0.4, 0.3, 0.2, 0.1]), dtype=object)
    x1[rng.random(N) < 0.1] = None
    x2 = rng.random(N) < 0.5
    score = x1.map({"a": -1.5, "b": -0.5, "c": 0.5, "d": 1.0}).fillna(0.8).to_numpy()
    treated = rng.random(N) < expit(-1.5 + score + 0.8 * x2)
    risk = 0.15 + 0.15 * (score > 0) + 0.1 * x2 + effect * treated
    y = (rng.random(N) < risk).astype(int)
    return pd.DataFrame({"id": range(N), "t": treated, "y": y, "x1": x1, "x2": x2})


def test_matching_removes_confounding():
    df = psm_data(seed=3)
    result = propensity_matched(df, treated="t", outcome="y", covariates=["x1", "x2"])
    assert result.ci_low < 8 < result.ci_high
    assert result.naive_effect - 8 > 3
    balance = result.tables()["balance"]
    assert balance["imbalanced_before"].any()
    assert (balance["smd_after"].abs() < 0.1).all() and not balance["imbalanced_after"].any()
    assert set(balance["level"]) == {"a", "b", "c", "d", "missing", "False", "True"}
    assert result.n_matched + result.n_unmatched == result.n_treated
    groups = result.tables()["groups"].set_index("group")
    assert groups.loc["treated, matched", "n"] == groups.loc["comparison, matched", "n"] == result.n_matched
    assert_aggregate(result, df)


def test_matching_is_deterministic_for_a_seed():
    df = psm_data(seed=4)
    first, second = (propensity_matched(df, treated="t", outcome="y", covariates=["x1", "x2"], seed=7) for _ in "ab")
    assert first == second  # the scalar fields
    for name, table in first.tables().items():
        pd.testing.assert_frame_equal(table, second.tables()[name])


def test_did_errors():
    df = hand_table()
    with pytest.raises(ValueError, match=r"missing columns: after2, sex"):
        difference_in_differences(df, outcome="y", pilot="pilot", after="after2", covariates=["sex"])
    no_cell = df[~(~df["pilot"] & ~df["after"])]
    with pytest.raises(ValueError, match="comparison-before cell"):
        difference_in_differences(no_cell, outcome="y", pilot="pilot", after="after")
    with pytest.raises(ValueError, match="'y' must hold only 0/1"):
        difference_in_differences(df.assign(y=df["y"].replace(1, 2)), outcome="y", pilot="pilot", after="after")
    with pytest.raises(ValueError, match="'y' must hold only 0/1"):
        difference_in_differences(df.assign(y=df["y"].where(df["id"] > 0)), outcome="y", pilot="pilot", after="after")
    all_events = df.assign(y=np.where(df["pilot"] & df["after"], 1, df["y"]))  # quasi-separation of the interaction
    with pytest.raises(ValueError, match="separation"):
        difference_in_differences(all_events, outcome="y", pilot="pilot", after="after")


def test_psm_errors():
    df = psm_data(seed=5).head(2_000)
    with pytest.raises(ValueError, match="missing columns: x3"):
        propensity_matched(df, treated="t", outcome="y", covariates=["x1", "x3"])
    with pytest.raises(ValueError, match="both treated and untreated"):
        propensity_matched(df.assign(t=True), treated="t", outcome="y", covariates=["x1"])
    with pytest.raises(ValueError, match="'y' must hold only 0/1"):
        propensity_matched(df.assign(y=df["y"] * 3), treated="t", outcome="y", covariates=["x1"])


def test_fast_greedy_matching_equals_the_brute_force_search():
    """Matching through "next free" pointers picks exactly what scanning every free comparison would."""
    from bold.studies.evaluation import _match

    rng = np.random.default_rng(4)
    score = rng.normal(size=3_000)
    treated = rng.random(3_000) < 0.3
    width = 0.05
    order = np.random.default_rng(9)
    order.permutation(np.flatnonzero(~treated))  # the same draws _match makes, in the same order
    expected, used = [], set()
    pool = np.flatnonzero(~treated)
    for i in order.permutation(np.flatnonzero(treated)):
        free = [j for j in pool if j not in used]
        if not free:
            break
        j = min(free, key=lambda j: abs(score[j] - score[i]))
        if abs(score[j] - score[i]) <= width:
            used.add(j)
            expected.append((i, j))
    got_t, got_c = _match(score, treated, width, seed=9)
    assert list(zip(got_t.tolist(), got_c.tolist(), strict=True)) == [(int(a), int(b)) for a, b in expected]


# --- covariate levels a model cannot estimate -----------------------------------------------------------------


def sparse_table(seed: int = 3, n: int = 600) -> pd.DataFrame:
    """A DiD table with a covariate ``area`` of two big levels; level 'c' (12 units) all have the outcome and 'd'
    and 'e' (6 units each) are too few alone but mixed together."""
    rng = np.random.default_rng(seed)
    pilot, after = rng.random(n) < 0.5, rng.random(n) < 0.5
    y = (rng.random(n) < expit(-0.5 + 0.8 * (pilot & after))).astype(int)
    area = np.where(rng.random(n) < 0.6, "a", "b").astype(object)
    area[:12], y[:12] = "c", 1
    area[12:18], y[12:18] = "d", [0, 1, 0, 1, 0, 0]
    area[18:24], y[18:24] = "e", [1, 0, 0, 1, 1, 0]
    return pd.DataFrame({"y": y, "pilot": pilot, "after": after, "area": area})


def test_a_level_where_everyone_has_the_outcome_is_merged_and_the_note_says_so():
    df = sparse_table().query("area != 'd' and area != 'e'")  # 'c' alone is unfit: it joins the most common level
    result = difference_in_differences(df, outcome="y", pilot="pilot", after="after", covariates=["area"])
    assert result.notes == (
        "area: level 'c' merged into its most common level, 'a' (too few people (fewer than 10) or all or none of "
        "them had the outcome).",
    )  # the reason, never which of the two applied nor a count: notes are not checked for disclosure
    assert set(result.tables()["coefficients"]["term"]) == {"const", "pilot", "after", "pilot:after", "area=b"}
    # the same model as merging by hand: the estimate is the fitted one
    by_hand = df.assign(area=df["area"].replace({"c": "a"}))
    expected = difference_in_differences(by_hand, outcome="y", pilot="pilot", after="after", covariates=["area"])
    assert expected.notes == ()
    assert result.effect == pytest.approx(expected.effect) and np.isfinite([result.ci_low, result.ci_high]).all()
    assert result.df_resid == expected.df_resid == len(df) - 5


def test_unfit_levels_that_can_be_estimated_together_are_pooled():
    df = sparse_table()
    result = difference_in_differences(df, outcome="y", pilot="pilot", after="after", covariates=["area"])
    (note,) = result.notes
    assert note.startswith("area: levels 'c', 'd', 'e' merged into one level (too few people (fewer than 10)")
    assert re.findall(r"\d+", note) == ["10"]
    assert "area=c + d + e" in set(result.tables()["coefficients"]["term"])
    by_hand = df.assign(area=df["area"].replace({"d": "c", "e": "c"}))
    expected = difference_in_differences(by_hand, outcome="y", pilot="pilot", after="after", covariates=["area"])
    assert result.effect == pytest.approx(expected.effect)


def test_a_covariate_that_separates_the_outcome_is_left_out_and_said():
    df = sparse_table()
    result = difference_in_differences(
        df.assign(flag=df["y"]), outcome="y", pilot="pilot", after="after", covariates=["area", "flag"]
    )
    assert result.notes[-1].startswith("flag left out of the model: levels '0', '1' had too few people")
    without = difference_in_differences(df, outcome="y", pilot="pilot", after="after", covariates=["area"])
    assert result.effect == pytest.approx(without.effect)


def test_a_covariate_duplicating_another_is_left_out_after_the_fit_fails():
    df = sparse_table().query("area in ['a', 'b']")
    result = difference_in_differences(
        df.assign(copy=df["area"]), outcome="y", pilot="pilot", after="after", covariates=["area", "copy"]
    )
    assert result.notes == (
        "copy left out of the model: with it the model could not be fitted (a combination of levels separates the "
        "outcome, or levels duplicate each other).",
    )
    without = difference_in_differences(df, outcome="y", pilot="pilot", after="after", covariates=["area"])
    assert result.effect == pytest.approx(without.effect)


def test_when_the_exposure_itself_separates_the_clear_error_remains():
    df = sparse_table()
    all_events = df.assign(y=np.where(df["pilot"] & df["after"], 1, df["y"]))
    with pytest.raises(ValueError, match="logistic regression failed: check for perfect separation"):
        difference_in_differences(all_events, outcome="y", pilot="pilot", after="after", covariates=["area"])


def test_the_propensity_score_leaves_out_a_covariate_that_decides_treatment():
    df = psm_data(seed=5).head(2_000)
    result = propensity_matched(df.assign(x3=df["t"]), treated="t", outcome="y", covariates=["x1", "x3"])
    assert result.notes == (
        "x3 left out of the model: levels 'False', 'True' had too few people (fewer than 10) or all or none of "
        "them were treated, and without them it does not vary.",
    )
    without = propensity_matched(df, treated="t", outcome="y", covariates=["x1"])
    assert (result.effect, result.n_matched) == (without.effect, without.n_matched)
    assert {"x1", "x3"} <= set(result.tables()["balance"]["covariate"])  # balance still shows what was asked
