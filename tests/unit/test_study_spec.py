"""Analysts' own studies as YAML: compiled to the study language, needs taken from the file, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bold.studies.language import StudyError
from bold.studies.spec import load_spec
from tests.extract_builder import d, extract

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "study-continuity-by-ost.yaml"


def write(tmp_path, **spec) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_the_example_needs_exactly_the_fields_it_names():
    study = load_spec(EXAMPLE)
    assert set(study.needs) == {
        "prison.release_date",
        "prison.substance_misuse_need",
        "prison.ost_at_release",
        "prison.release_local_authority",
        "treatment.treatment_start_date",
        "hospital.admission_date",
        "hospital.admission_method",
        "person.sex",
        "person.birth_year",
    }


def test_a_spec_compiles_to_shares_and_counts_worked_by_hand(tmp_path):
    path = write(
        tmp_path,
        id="my-study",
        title="t",
        cohort={"dataset": "prison", "index": "release_date", "where": {"substance_misuse_need": True}},
        outcomes=[
            {"name": "treated", "first": "treatment.treatment_start_date", "within": [0, 21]},
            {
                "name": "admissions",
                "count": "hospital.admission_date",
                "within": [0, 364],
                "where": {"admission_method": ["21", "22"]},
            },
        ],
        breakdowns=["prison"],
    )
    x = extract(
        tmp_path,
        {
            "prison": [
                {"person_id": "a", "release_date": d("2021-01-01"), "substance_misuse_need": True, "prison": "P1"},
                {"person_id": "b", "release_date": d("2021-01-01"), "substance_misuse_need": True, "prison": "P1"},
                {"person_id": "c", "release_date": d("2021-01-01"), "substance_misuse_need": False, "prison": "P2"},
            ],
            "treatment": [
                {"person_id": "a", "treatment_start_date": d("2021-01-22")},  # day 21
                {"person_id": "b", "treatment_start_date": d("2021-01-23")},  # day 22
            ],
            "hospital": [
                {"person_id": "a", "admission_date": d("2021-02-01"), "admission_method": "21"},
                {"person_id": "a", "admission_date": d("2021-03-01"), "admission_method": "22"},
                {"person_id": "b", "admission_date": d("2021-03-01"), "admission_method": "11"},  # elective
            ],
        },
    )
    study = load_spec(path)
    overall = study.compute(x, study.resolve({})).tables["overall"].iloc[0]
    assert (overall.n, overall.treated, overall.admissions, overall.admissions_any) == (2, 1, 2, 1)
    assert overall.treated_share == pytest.approx(0.5)
    assert x.used == set(study.needs)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"id": "x1x", "title": "t", "cohort": {"dataset": "prison", "index": "release_date"}, "outcomes": []},
            "outcomes",
        ),
        (
            {
                "id": "x1x",
                "title": "t",
                "cohort": {"dataset": "prison", "index": "release_date"},
                "outcomes": [{"name": "o", "first": "deaths.date_of_death", "count": "deaths.date_of_death"}],
            },
            "exactly one of first: or count:",
        ),
        (
            {
                "id": "x1x",
                "title": "t",
                "cohort": {"dataset": "prison", "index": "release_date", "sql": "drop"},
                "outcomes": [{"name": "o", "first": "deaths.date_of_death"}],
            },
            "cohort.sql: not a field of the template",
        ),
    ],
)
def test_bad_specs_are_clear_errors_naming_the_file(tmp_path, spec, message):
    path = write(tmp_path, **spec)
    with pytest.raises(StudyError, match=message) as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_a_region_breakdown_needs_its_local_authority_field(tmp_path):
    path = write(
        tmp_path,
        id="x1x",
        title="t",
        cohort={"dataset": "prison", "index": "release_date"},
        outcomes=[{"name": "o", "first": "deaths.date_of_death"}],
        breakdowns=["region"],
    )
    with pytest.raises(StudyError, match="region_from"):
        load_spec(path)
