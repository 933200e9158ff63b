"""Everyone in treatment and the economic value, on hand-built extracts with answers worked by hand."""

from __future__ import annotations

import pytest

from bold.studies import economics
from bold.studies.builtin import catalogue
from tests.extract_builder import d, extract

DAYS = 365.25
DATE_TYPES = {"treatment": {"discharge_date": "date", "discharge_reason": "varchar", "referral_date": "date"}}


def journey(pid, start, referral=None, discharge=None, reason=None, source="SLF", substance="OPI"):
    return {
        "person_id": pid,
        "referral_source": source,
        "referral_date": d(referral or start),
        "treatment_start_date": d(start),
        "discharge_date": d(discharge) if discharge else None,
        "discharge_reason": reason,
        "substance_group": substance,
    }


def run(x, study_id, **params):
    study = catalogue()[study_id]
    return study.compute(x, study.resolve(params)).tables


@pytest.fixture
def x(tmp_path):
    return extract(
        tmp_path,
        {
            "treatment": [
                journey("wait-21", "2021-01-22", referral="2021-01-01", discharge="2021-06-01", reason="CDF"),
                journey(
                    "wait-22", "2021-01-23", referral="2021-01-01", discharge="2021-02-01", reason="DRO", source="PRI"
                ),
                journey("died-in-treatment", "2021-01-01", discharge="2021-03-01", reason="DIE"),
                journey("open", "2021-02-01"),
            ],
            "hospital": [
                {"person_id": "wait-21", "admission_date": d("2022-01-21"), "admission_method": "21"},  # day 364
                {"person_id": "wait-22", "admission_date": d("2022-01-23"), "admission_method": "22"},  # day 365
                {"person_id": "open", "admission_date": d("2021-03-01"), "admission_method": "11"},  # elective
            ],
            "deaths": [
                {"person_id": "wait-22", "date_of_death": d("2021-02-01"), "drug_related": True},  # day 0 after leaving
                {"person_id": "died-in-treatment", "date_of_death": d("2021-03-01"), "drug_related": True},
                {"person_id": "nobody", "date_of_death": d("2023-06-01"), "drug_related": False},  # the data end
            ],
        },
        DATE_TYPES,
    )


def test_waiting_admissions_and_deaths_after_leaving(x):
    tables = run(x, "everyone-in-treatment")
    waits = tables["start_within_21_days_by_route"].set_index("route")
    assert waits.loc["every other route", ["n", "within_21"]].tolist() == [3, 3]  # day 21 and day 0 count
    assert waits.loc["from prison", ["n", "within_21"]].tolist() == [1, 0]  # day 22 does not
    admitted = tables["emergency_admission_by_route"].set_index("route")
    assert admitted.loc["every other route", ["n", "admitted"]].tolist() == [3, 1]  # day 364 counts; elective not
    assert admitted.loc["from prison", ["n", "admitted"]].tolist() == [1, 0]  # day 365 is outside the year
    after = tables["deaths_after_leaving_by_week"]
    # Leaving treatment: wait-21 (completed, 1 June) and wait-22 (dropped out, 1 Feb, dies that day). The journey
    # ended by death in treatment is not a leaving; the open journey has not ended.
    assert set(after.ending) == {"completed", "other ending"}
    other = after[after.ending == "other ending"].set_index("window")
    assert other.loc["week 1", "events"] == 1 and other.loc["week 1", "person_years"] == pytest.approx(1 / DAYS)
    completed = after[after.ending == "completed"].set_index("window")
    assert completed.events.sum() == 0 and completed.person_years.sum() == pytest.approx(365 / DAYS)
    assert after.n.max() == 1


def test_economic_value_multiplies_counted_outcomes_by_the_model(x):
    tables = run(x, "economic-value", discount_rate=0.0)
    valued = tables["outcomes_valued"].set_index("quantity")
    # Clients in effective treatment (DSCP, each person's latest journey): wait-21 (completed), open (open far
    # longer than 83 days); wait-22 lasted 9 days, died-in-treatment 59 days without completing. Successful
    # completions: latest journeys ending in the period with a completion reason; wait-21 only.
    assert valued.loc["effective_treatment_total", "outcomes"] == 2
    assert valued.loc["successful_completions_total", "outcomes"] == 1
    p = economics.EconomicParameters(discount_rate=0.0)
    assert valued.loc["effective_treatment_total", "value_gbp"] == pytest.approx(2 * 4 * 12_041)
    assert valued.loc["successful_completions_total", "value_gbp"] == pytest.approx(
        economics.value_of_successful_completion(p)
    )


def test_economic_value_uprated_with_the_dscp_sensitivity_beside_it(x):
    from bold.studies.language import StudyError

    study = catalogue()["economic-value"]
    result = study.compute(x, study.resolve({"uprate_factor": 1.5, "uprate_to_year": 2024}))
    valued = result.tables["outcomes_valued"].set_index("quantity")
    assert set(valued.prices) == {"2024 prices"}
    p = economics.EconomicParameters()
    assert valued.loc["effective_treatment_total", "value_gbp"] == pytest.approx(
        2 * 1.5 * economics.value_of_effective_treatment(p)
    )
    sensitivity = result.reference["sensitivity"].set_index("scenario")
    assert sensitivity.loc["adjustment phase", "published_2012_gbp"] == 189_684
    assert sensitivity.loc["base case", "value_of_successful_completion"] == pytest.approx(
        1.5 * economics.value_of_successful_completion(p)
    )
    assert any("Uprated from 2012 to 2024 prices" in note for note in result.notes)
    shown = result.reference["parameters"].set_index("name")
    assert shown.loc["uprate_factor", "value"] == 1.5 and "programme_cost" not in shown.index  # what it takes
    with pytest.raises(StudyError, match="economic-value has no parameter programme_cost"):
        study.resolve({"programme_cost": 100})  # gross values of outcomes have no programme to set a cost against
    with pytest.raises(StudyError, match=r"uprate_factor=1\.5 and uprate_to_year=None go together"):
        study.compute(x, study.resolve({"uprate_factor": 1.5}))


def test_the_matched_comparison_needs_the_justice_data_labs_minimum(tmp_path):
    from bold.studies.language import StudyError

    releases = [
        {
            "person_id": f"p{i}",
            "release_date": d("2021-01-01"),
            "reception_date": d("2020-06-01"),
            "substance_misuse_need": True,
        }
        for i in range(30)
    ]
    starts = [{"person_id": f"p{i}", "treatment_start_date": d("2021-01-10")} for i in range(20)]
    starts.append({"person_id": "nobody", "treatment_start_date": d("2023-01-01")})
    x = extract(tmp_path, {"prison": releases, "treatment": starts})
    with pytest.raises(StudyError, match="fewer than 60 participants: the Justice Data Lab needs at least 60"):
        run(x, "treatment-impact")


def test_the_matched_comparison_merges_a_sparse_level_and_says_so_in_its_notes(tmp_path):
    """Three people with two earlier releases are too few for a level of their own in the propensity score."""
    release = {"reception_date": d("2020-06-01"), "substance_misuse_need": True}
    releases = [{"person_id": f"p{i}", "release_date": d("2021-01-01"), **release} for i in range(200)]
    earlier = {"reception_date": d("2018-06-01"), "substance_misuse_need": False}  # not index events, but counted
    for i in range(150, 200):  # one earlier release each; the last three two
        years = (2019, 2020) if i >= 197 else (2020,)
        releases += [{"person_id": f"p{i}", "release_date": d(f"{y}-01-01"), **earlier} for y in years]
    back = {"reception_date": d("2021-06-01"), "release_date": d("2022-06-01"), "substance_misuse_need": False}
    releases += [{"person_id": f"p{i}", **back} for i in range(0, 200, 3)]  # back in prison within a year
    starts = [{"person_id": f"p{i}", "treatment_start_date": d("2021-01-10")} for i in range(0, 200, 2)]
    x = extract(tmp_path, {"prison": releases, "treatment": starts})
    study = catalogue()["treatment-impact"]
    result = study.compute(x, study.resolve({}))
    assert (
        "previous_prison: level '2+' merged into its most common level, '0' (too few people (fewer than 10) or all "
        "or none of them were treated)." in result.notes
    )
    assert result.tables["estimates"]["estimate"].notna().all()
