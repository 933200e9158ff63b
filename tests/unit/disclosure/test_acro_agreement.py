"""Our rules under the `sacro` profile flag the same cells, for the same reasons, as ACRO 1.0.2 itself.

An agreement that promises SACRO's rules must get them: ACRO is run on generated row-level data (one
row per person, so its rows are our people), our findings are computed from `CellEvidence` built from
the same rows, and the cells flagged by threshold, zeros, (n, k) dominance, p-ratio and degrees of
freedom must be the same. Each place BOLD deliberately differs has its own test asserting both sides.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pandas as pd
import pytest

from bold.disclosure import rules
from bold.disclosure.evidence import CellEvidence
from bold.disclosure.profiles import profile

acro = pytest.importorskip("acro")

SACRO = profile("sacro")
STANDARD = profile("bold-standard")
ACRO_TO_OURS = {
    "MinimumThresholdCheck": "threshold",
    "PresenceOfZeroCheck": "zeros",
    "NKCheck": "nk-dominance",
    "PPercentCheck": "p-percent",
}


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """One quiet ACRO session per module, working in a temporary folder (ACRO writes files and logs)."""
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("acro"))
    logging.getLogger("acro").setLevel(logging.ERROR)
    try:
        yield acro.ACRO(suppress=False)
    finally:
        os.chdir(before)


def acro_flags(session, make) -> dict[tuple[str, str], set[str]]:
    """Run one ACRO table command and read back which checks it flagged in each cell."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make(session)
    outcome = session.results.get_index(-1).outcome
    flags = {}
    for row in outcome.index:
        for col in outcome.columns:
            label = col[-1] if isinstance(col, tuple) else col
            text = str(outcome.loc[row, col])
            flags[(row, label)] = {ACRO_TO_OURS[c.strip()] for c in text.split(";") if c.strip() in ACRO_TO_OURS}
    return flags


def people_frame(seed: int) -> pd.DataFrame:
    """One row per person: two large random groups, and small groups planted at the rules' boundaries.

    w: 10 people whose two largest values are exactly 90% of their total (dominance fails at exactly k);
    u: 10 people whose other values are exactly 10% of the largest (p-ratio passes at exactly p);
    z: 9 people (below the threshold). w, u and z each sit in one column, so the others are zeros."""
    rng = np.random.default_rng(seed)
    n = 400
    big = pd.DataFrame(
        {
            "area": rng.choice(["x", "y"], n, p=[0.6, 0.4]),
            "sex": rng.choice(["f", "m"], n),
            "cost": rng.gamma(2.0, 50.0, n).round(2),
        }
    )
    big.loc[rng.integers(n), "cost"] = 5e5  # one person whose cost dominates their cell (p-ratio and n, k)
    for _ in range(rng.integers(0, 3)):  # and perhaps a few more, sometimes two in one cell
        big.loc[rng.integers(n), "cost"] = float(rng.choice([1e5, 5e5]))
    planted = pd.DataFrame(
        {
            "area": ["w"] * 10 + ["u"] * 10 + ["z"] * 9,
            "sex": ["m"] * 10 + ["f"] * 10 + ["f"] * 9,
            "cost": [450.0, 450.0] + [12.5] * 8 + [100.0, 10.0] + [1.25] * 8 + list(rng.gamma(2.0, 50.0, 9).round(2)),
        }
    )
    frame = pd.concat([big, planted], ignore_index=True)
    frame["person"] = [f"p{i:05d}" for i in range(len(frame))]
    return frame


def our_flags(frame: pd.DataFrame, rule, prof=SACRO) -> dict[tuple[str, str], set[str]]:
    """Our findings for every cell of area x sex, from evidence built from the person keys."""
    flags = {}
    for area in sorted(frame.area.unique()):
        for sex in sorted(frame.sex.unique()):
            cell = frame[(frame.area == area) & (frame.sex == sex)]
            per_person = cell.groupby("person").cost.sum().to_numpy()
            evidence = CellEvidence(value=float(len(cell)), people=cell.person.nunique(), contributions=per_person)
            flags[(area, sex)] = {f.rule for f in rule(evidence, prof)}
    return flags


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_frequency_tables_flag_the_same_cells_by_threshold_and_zeros(session, seed):
    frame = people_frame(seed)
    theirs = acro_flags(session, lambda s: s.crosstab(frame.area, frame.sex))
    ours = our_flags(frame, rules.check_count)
    assert ours == theirs
    assert ours[("z", "f")] == {"threshold"} and ours[("z", "m")] == {"threshold", "zeros"}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("aggfunc", ["mean", "sum"])
def test_magnitude_tables_flag_the_same_cells_by_threshold_dominance_and_p_ratio(session, seed, aggfunc):
    frame = people_frame(seed)
    theirs = acro_flags(session, lambda s: s.crosstab(frame.area, frame.sex, values=frame.cost, aggfunc=aggfunc))
    ours = our_flags(frame, rules.check_magnitude)
    assert ours == theirs
    assert ours[("w", "m")] == {"nk-dominance"}  # exactly 90%: both fail it
    assert ours[("u", "f")] == {"nk-dominance"}  # p-ratio exactly 10%: both pass it
    assert any("p-percent" in found for found in ours.values())


def test_pivot_tables_agree_too(session):
    frame = people_frame(4)
    theirs = acro_flags(session, lambda s: s.pivot_table(frame, values="cost", index="area", columns="sex"))
    assert our_flags(frame, rules.check_magnitude) == theirs


def acro_model_status(session, fit) -> tuple[str, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(session)
    record = session.results.get_index(-1)
    return record.status, record.properties["dof"]


@pytest.mark.parametrize("rows", [13, 14, 30])
def test_models_agree_on_residual_degrees_of_freedom(session, rows):
    rng = np.random.default_rng(rows)
    exog = acro.add_constant(pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"]))
    linear = exog @ np.array([1.0, 0.5, -0.5, 0.2]) + rng.normal(size=rows)
    for fit in (
        lambda s: s.ols(linear, exog),
        lambda s: s.logit((linear + rng.normal(size=rows) * 2 > 1).astype(int), exog),
    ):
        status, dof = acro_model_status(session, fit)
        ours = rules.check_model(dof, [], SACRO)
        assert ("fail" if ours else "pass") == status
        assert dof == rows - 4 and (dof < 10) == bool(ours)


# --- where BOLD deliberately differs from ACRO ----------------------------------------------------------


def test_one_negative_value_switches_acro_dominance_off_but_not_ours(session):
    frame = people_frame(5)
    dominated = frame.index[(frame.area == "x") & (frame.sex == "f")]
    frame.loc[dominated[0], "cost"] = 1e7  # cell x/f is dominated by one person
    negative = frame.index[(frame.area == "y") & (frame.sex == "m")]
    frame.loc[negative[0], "cost"] = -20.0  # one refund in another cell
    theirs = acro_flags(session, lambda s: s.crosstab(frame.area, frame.sex, values=frame.cost, aggfunc="sum"))
    assert "nk-dominance" not in theirs[("x", "f")]  # ACRO: dominance "not defined", only the negative cell shown
    assert theirs[("y", "m")] >= {"nk-dominance"}
    ours = our_flags(frame, rules.check_magnitude)
    assert {"nk-dominance", "p-percent"} <= ours[("x", "f")]  # ours: absolute values, the dominated cell fails
    assert "nk-dominance" not in ours[("y", "m")]


def test_acro_applies_the_threshold_to_proportions_under_normalisation_we_to_people(session):
    frame = people_frame(6)
    theirs = acro_flags(session, lambda s: s.crosstab(frame.area, frame.sex, normalize=True))
    assert all("threshold" in found for found in theirs.values())  # every share is below 10
    ours = our_flags(frame, rules.check_count)
    assert "threshold" not in ours[("x", "f")]  # over a hundred people: safe
    assert ours[("z", "f")] == {"threshold"}


def test_acro_passes_a_maximum_of_ten_people_bold_standard_never_does(session):
    frame = people_frame(7)
    theirs = acro_flags(session, lambda s: s.crosstab(frame.area, frame.sex, values=frame.cost, aggfunc="max"))
    assert theirs[("w", "m")] == set()
    cell = frame[(frame.area == "w") & (frame.sex == "m")]
    evidence = CellEvidence(value=cell.cost.max(), people=len(cell), contributions=cell.cost.to_numpy())
    assert rules.check_percentile(evidence, 1.0, SACRO) == []  # the sacro profile keeps ACRO's behaviour
    assert rules.outcome(rules.check_percentile(evidence, 1.0, STANDARD)) == "fail"
    # and for every cell, the sacro profile flags maxima as ACRO does (threshold and zeros only)
    ours = our_flags(frame, lambda e, p: rules.check_percentile(e, 1.0, p))
    assert {k: {"threshold" if r == "percentile" else r for r in v} for k, v in ours.items()} == theirs


def test_acro_recomputes_margins_from_unsuppressed_cells_which_gives_the_suppressed_total_away(tmp_path):
    """With suppression on, ACRO's margins are the sums of the cells it kept, so the grand total falls
    short of the cohort size by exactly what it suppressed. BOLD keeps true margins, judged as counts of
    their own people, and protects the suppressed cells by secondary suppression (disclosure.suppression)."""
    frame = people_frame(8)
    before = os.getcwd()
    os.chdir(tmp_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            suppressing = acro.ACRO(suppress=True)
            published = suppressing.crosstab(frame.area, frame.sex, margins=True)
    finally:
        os.chdir(before)
    suppressed_people = (frame.area == "z").sum()  # z/f (9 people) is the only suppressed non-zero cell
    assert published.loc["All", "All"] == len(frame) - suppressed_people  # the cohort size recovers it
    assert published.loc["z", "All"] == 0 or np.isnan(published.loc["z", "All"])
    true_margin = CellEvidence(value=float(suppressed_people), people=int(suppressed_people))
    assert rules.outcome(rules.check_count(true_margin, SACRO)) == "fail"  # ours judges the margin itself
    whole = CellEvidence(value=float(len(frame)), people=len(frame))
    assert rules.check_count(whole, SACRO) == []
