"""The pathway after release, on a hand-built extract with answers worked by hand (ties, days 90 and 91, the
release day), and the merging of small flows."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import vl_convert

from bold.disclosure.profiles import BOLD_STANDARD
from bold.studies.builtin import flows, pathway_after_release
from bold.studies.language import PERSON, StudyError
from tests.extract_builder import d, extract

STUDY = pathway_after_release.STUDIES[0]
DAY0 = d("2021-01-01")
END = d("2022-06-01")  # the data end: a treatment start of someone never released


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def release(pid, date=DAY0, received=None):
    """A custodial spell released on ``date`` (``None``: still inside), received 100 days before unless given."""
    received = received or date - dt.timedelta(days=100)
    return {"person_id": pid, "release_date": date, "reception_date": received, "substance_misuse_need": True}


PEOPLE = ("tie", "tie2", "day90", "day91", "prison0", "prison1", "death", "before", "four")


def tables(without=(), order_type=True):
    prison = [release(p) for p in PEOPLE]
    prison += [release("recent", d("2022-04-01"))]  # 61 days before the data end: left out
    prison += [release("prison0", None, received=DAY0)]  # received on the release day: not re-imprisonment
    prison += [release("prison1", None, received=day(1))]  # received on day 1: re-imprisonment
    events = {
        "treatment": [("tie", 5), ("day90", 90), ("day91", 91), ("death", 2), ("before", -1), ("four", 1)],
        # tie2's licence on the release day is the release's own supervision, not a probation order reached
        "probation": [("tie", 5, "CO"), ("four", 2, "SSO"), ("tie2", 0, "LIC")],
        "mental_health": [("tie2", 3), ("four", 3)],
        "homelessness": [("four", 4)],
        "hospital": [("tie", 20), ("tie2", 3), ("recent", 1)],
        "deaths": [("death", 10)],
    }
    fields = {s.dataset: s.field for s in pathway_after_release.SERVICES if s.dataset != "prison"}
    out = {"prison": prison}
    for dataset, rows in events.items():
        if dataset not in without:
            out[dataset] = [{"person_id": p, fields[dataset]: day(n), **kind(rest)} for p, n, *rest in rows]
    if not order_type:
        out["probation"] = [{k: v for k, v in r.items() if k != "order_type"} for r in out["probation"]]
    out["treatment"].append({"person_id": "nobody", "treatment_start_date": END})
    out["person"] = [{"person_id": p, "sex": "F" if p == "tie" else "M"} for p in (*PEOPLE, "recent")]
    return out


def kind(rest: list) -> dict:
    return {"order_type": rest[0]} if rest else {}


def run(tmp_path, without=(), order_type=True, **params):
    return STUDY.compute(extract(tmp_path, tables(without, order_type)), STUDY.resolve(params))


def by(table, column, value="n"):
    return table.set_index(column)[value].to_dict()


def test_first_service_breaks_ties_by_the_fixed_order_and_counts_day_90_not_91(tmp_path):
    result = run(tmp_path).tables
    first = result["first_service"]
    # tie: treatment and probation on day 5, treatment first; tie2: mental health and hospital on day 3, mental
    # health first; day 90 counts, day 91 does not; a reception on the release day is not re-imprisonment
    assert by(first, "first_service", "first") == {
        "community treatment": 4,  # tie, day90, death, four
        "probation order": 0,
        "mental-health referral": 1,  # tie2
        "homelessness application": 0,
        "hospital admission": 0,
        "re-imprisonment": 1,  # prison1
        "death": 0,
        "none within 90 days": 3,  # day91, prison0, before
    }
    assert set(first.n) == {9} and first["first"].sum() == 9  # every release has one first step
    overall = result["overall"].iloc[0]
    assert (overall.n, overall.first_treatment) == (9, 4)
    assert overall.first_treatment_share == pytest.approx(4 / 9)
    assert overall.first_treatment_share_low < 4 / 9 < overall.first_treatment_share_high
    assert by(result["by_sex"], "sex", "first_treatment") == {"F": 1, "M": 3}


def test_reached_within_the_window_with_days_quartiles(tmp_path):
    reached = run(tmp_path).tables["reached"].set_index("service")
    assert reached.reached.to_dict() == {
        "community treatment": 4,
        "probation order": 2,
        "mental-health referral": 2,
        "homelessness application": 1,  # four's fourth service: reached, though not one of its three steps
        "hospital admission": 2,
        "re-imprisonment": 1,
        "death": 1,
    }
    treatment = reached.loc["community treatment"]
    # days 1, 2, 5, 90: linear interpolation
    assert (treatment.days_q1, treatment.days_median, treatment.days_q3) == (1.75, 3.5, 26.25)
    assert treatment.reached_people == 4


def test_a_longer_window_counts_day_91(tmp_path):
    first = run(tmp_path, days=91).tables["first_service"]
    assert by(first, "first_service", "first")["community treatment"] == 5
    assert "none within 91 days" in set(first.first_service)


def test_steps_and_days_between_them(tmp_path):
    steps = run(tmp_path).tables["steps"].set_index("step")
    assert steps.reached.to_dict() == {"step 1": 6, "step 2": 4, "step 3": 2}
    # step 2: tie 0 (probation on the treatment day), tie2 0 (hospital), death 8, four 1
    assert steps.loc["step 2", "days_median"] == 0.5
    # step 3: tie 15 (hospital after probation), four 1 (mental health after probation)
    assert steps.loc["step 3", "days_median"] == 8


def test_small_flows_merge_into_other_and_totals_are_unchanged(tmp_path):
    result = run(tmp_path, min_flow=2).tables
    table = result["flows"]
    paths = {tuple(r[list(pathway_after_release.STEPS)]): r.n for _, r in table.iterrows()}
    assert paths == {
        ("community treatment", "probation order", "other"): 2,  # tie (hospital), four (mental health)
        ("community treatment", "other", "no further service"): 2,  # day90 (none), death (death)
        ("other", "other", "no further service"): 2,  # tie2 (mental health, hospital), prison1 (none)
        ("none within 90 days", "no further service", "no further service"): 3,
    }
    assert table.people.min() >= 2 and table.n.sum() == 9
    (tmp_path / "unmerged").mkdir()
    unmerged = run(tmp_path / "unmerged", min_flow=1).tables["flows"]
    assert len(unmerged) == 7 and unmerged.n.sum() == 9  # the seven distinct pathways


def test_merge_counts_people_and_grows_other_until_it_meets_the_minimum():
    rows = [("x", f"x{i}") for i in range(12)] + [("y", f"y{i}") for i in range(11)] + [("z", "z0")] * 3
    frame = pd.DataFrame(rows, columns=["step_1", PERSON])
    merged = flows.merge_small(frame, ["step_1"], 10)
    # z (1 person, 3 rows) is too small; other = z alone is too small, so y (the smaller of x and y) joins it
    assert merged.step_1.value_counts().to_dict() == {"other": 14, "x": 12}
    frame.loc[frame.step_1 == "y", "step_1"] = "z"  # z: 12 people now, x 12: nothing small
    assert flows.merge_small(frame, ["step_1"], 10).step_1.value_counts().to_dict() == {"x": 12, "z": 14}


def test_merge_within_each_earlier_step_leaves_every_flow_at_the_minimum():
    rows = [("a", "b", f"p{i}") for i in range(25)] + [("a", "c", f"q{i}") for i in range(4)]
    rows += [("d", "b", f"r{i}") for i in range(3)] + [("e", "b", f"s{i}") for i in range(8)]
    frame = pd.DataFrame(rows, columns=["step_1", "step_2", PERSON])
    merged = flows.merge_small(frame, ["step_1", "step_2"], 10)
    counts = merged.groupby(["step_1", "step_2"])[PERSON].nunique()
    # step 1: d (3) and e (8) merge, other 11; within a: c (4) alone is too small, so b joins it
    assert counts.to_dict() == {("a", "other"): 29, ("other", "b"): 11}
    assert counts.sum() == len(frame)


def test_a_service_outside_the_agreement_is_left_out_and_noted(tmp_path):
    result = run(tmp_path, without=("deaths", "homelessness"))
    first = result.tables["first_service"]
    assert "death" not in set(first.first_service) and "homelessness application" not in set(first.first_service)
    # four: treatment, probation, mental health as before; death's second step is now none
    assert by(result.tables["reached"], "service", "reached")["mental-health referral"] == 2
    assert any(n.startswith("deaths.date_of_death is not in the agreement") for n in result.notes)
    assert any(n.startswith("homelessness.application_date is not in") for n in result.notes)


def test_licences_count_as_probation_only_when_the_order_type_is_not_agreed(tmp_path):
    result = run(tmp_path, order_type=False)
    first = by(result.tables["first_service"], "first_service", "first")
    assert (first["probation order"], first["mental-health referral"]) == (1, 0)  # tie2's licence on day 0
    assert any(n.startswith("probation.order_type is not in the agreement") for n in result.notes)


def test_the_flow_chart_draws_the_flows_table_alone_and_renders(tmp_path):
    result = run(tmp_path, min_flow=1)
    spec = json.loads(result.charts["flows"].to_json())
    assert len(spec["datasets"]) == 1  # only the flows table: disclosure control redraws it from its protected copy
    (records,) = spec["datasets"].values()
    assert len(records) == len(result.tables["flows"])
    assert "<svg" in vl_convert.vegalite_to_svg(json.dumps(spec))


def test_the_default_flow_minimum_is_the_standard_profiles_threshold():
    assert STUDY.parameters["min_flow"] == BOLD_STANDARD.min_people


@pytest.mark.parametrize("params", [{"days": 0}, {"min_flow": 0}, {"days": "90"}, {"min_flow": 2.5}])
def test_bad_parameters_are_refused_in_words(tmp_path, params):
    with pytest.raises(StudyError, match="whole numbers"):
        run(tmp_path, **params)
