"""With links taken from the ground truth (no linkage error), each study recovers the generator's true rates
within its confidence interval, and difference-in-differences recovers the planted pilot effect."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from bold.linkage.truth import write_true_links
from bold.studies import runner
from bold.synth.calibration import PILOT_ODDS_RATIO
from tests.conftest import approved_and_built, ingested

AGREEMENT = Path(__file__).parents[2] / "docs" / "examples" / "bold-questions.yaml"
TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def truly_linked(tmp_path_factory, small_population):
    out, _ = small_population
    ws = ingested(tmp_path_factory.mktemp("truth") / "ws", out)
    write_true_links(ws, out / "truth", by="lin")
    approved_and_built(ws, AGREEMENT, TODAY)
    events = pd.read_parquet(out / "truth" / "events.parquet")
    return ws, out, events, pd.to_datetime(events.date).max()


def run(ws, study, table, **params):
    return runner.run(ws, "bold-questions", study, parameters=params, by="ana", today=TODAY).table(table)


def test_continuity_of_care(truly_linked):
    ws, out, _, _ = truly_linked
    overall = run(ws, "continuity-of-care", "overall").iloc[0]
    truth = pd.read_parquet(out / "truth" / "releases.parquet")
    release = pd.to_datetime(truth.release_date)
    data_end = (release + pd.to_timedelta(truth.days_to_period_end, unit="D")).max()
    cohort = truth[truth.need_flag & (release <= data_end - pd.Timedelta(days=42))]
    assert overall.n == len(cohort)
    true_share = cohort.days_to_treatment.between(0, 21).mean()
    assert overall.treated_21_days_share_low <= true_share <= overall.treated_21_days_share_high
    assert overall.treated_21_days == cohort.days_to_treatment.between(0, 21).sum()  # exactly, with true links


def test_effective_treatment(truly_linked):
    ws, _, events, data_end = truly_linked
    overall = run(ws, "treatment-outcomes", "effective_overall").iloc[0]
    journeys = events[events.event == "treatment_journey"]
    start, end = pd.to_datetime(journeys.date), pd.to_datetime(journeys.end_date)
    effective = (end.notna() & journeys.detail.isin(["CDF", "CAU"])) | ((end.fillna(data_end) - start).dt.days >= 83)
    judged = end.notna() | ((data_end - start).dt.days >= 83)
    assert overall.effective_share_low <= effective[judged].mean() <= overall.effective_share_high


def test_dual_diagnosis(truly_linked):
    ws, _, events, data_end = truly_linked
    overall = run(ws, "dual-diagnosis", "overall").iloc[0]
    journeys = events[events.event == "treatment_journey"][["person_id", "date"]].drop_duplicates()
    journeys = journeys[pd.to_datetime(journeys.date) <= data_end - pd.Timedelta(days=365)]
    referrals = events[events.event == "mental_health_referral"][["person_id", "date"]]
    pairs = journeys.merge(referrals, on="person_id", suffixes=("", "_mh"))
    days = (pd.to_datetime(pairs.date_mh) - pd.to_datetime(pairs.date)).dt.days
    before = pairs[days.between(-365, -1)][["person_id", "date"]].drop_duplicates()
    assert overall.n == len(journeys)
    assert overall.mh_before_share_low <= len(before) / len(journeys) <= overall.mh_before_share_high


def test_the_pilots_planted_effect(truly_linked):
    ws, out, _, _ = truly_linked
    summary = json.loads((out / "truth" / "summary.json").read_text())
    estimates = run(
        ws,
        "pilot-evaluation",
        "estimates",
        pilot_areas=",".join(summary["pilot_local_authorities"]),
        pilot_start=summary["pilot_start"],
    ).set_index("measure")
    odds = estimates.loc[next(m for m in estimates.index if "odds ratio" in m)]
    assert odds.ci_low <= PILOT_ODDS_RATIO <= odds.ci_high
    assert odds.ci_low > 1
