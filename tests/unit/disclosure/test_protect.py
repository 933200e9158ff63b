"""The check on study tables end to end (study language -> evidence -> protect), including the leaks a
red-team exercise found in the aggregate-only guard: each is now caught by disclosure control."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from bold.disclosure.profiles import profile
from bold.disclosure.protect import protect
from bold.studies import statistics
from bold.studies.spec import StudySpec, compile_spec
from tests.extract_builder import extract

STANDARD = profile("bold-standard")
START = dt.date(2021, 1, 4)


def _check(tmp_path, spec: dict, prison: list[dict], treatment: list[dict] | None = None):
    tables = {"prison": prison, "treatment": treatment or [{"person_id": "zz", "treatment_start_date": START}]}
    x = extract(tmp_path, tables)
    study = compile_spec(StudySpec(**spec))
    result = study.compute(x, {})
    kinds = {name: statistics.declared(t) for name, t in result.tables.items()}
    return result, protect(result.tables, kinds, x.evidence, STANDARD)


def _releases(count: int, **extra) -> list[dict]:
    return [{"person_id": f"p{i:03d}", "release_date": START, **extra} for i in range(count)]


def _published(protection, table: str, column: str) -> pd.Series:
    return pd.to_numeric(protection.tables[table][column], errors="coerce")


def test_a_one_row_table_of_one_person_publishes_no_count(tmp_path):
    spec = {
        "id": "one-person",
        "title": "t",
        "cohort": {"dataset": "prison", "index": "release_date"},
        "outcomes": [{"name": "treated", "first": "treatment.treatment_start_date", "within": [0, 21]}],
    }
    result, p = _check(tmp_path, spec, _releases(1))
    assert int(result.tables["overall"].n.iloc[0]) == 1  # the guard let this through as an aggregate
    for column in ("n", "people", "treated", "treated_share", "treated_low", "treated_high"):
        assert _published(p, "overall", column).isna().all(), column


def test_day_by_day_windows_cannot_recover_one_persons_treatment_date(tmp_path):
    """An analyst's YAML study with one outcome per day after release: the one person treated on day 3 would
    show as a 1 in that day's column. Every such cell is suppressed; the zeros go to review."""
    days = [{"name": f"day_{k}", "first": "treatment.treatment_start_date", "within": [k, k]} for k in range(7)]
    spec = {"id": "by-day", "title": "t", "cohort": {"dataset": "prison", "index": "release_date"}, "outcomes": days}
    treated = [{"person_id": "p007", "treatment_start_date": START + dt.timedelta(days=3)}]
    result, p = _check(tmp_path, spec, _releases(40), treated)
    assert int(result.tables["overall"].day_3.iloc[0]) == 1
    published = p.tables["overall"]
    assert pd.isna(published.day_3.iloc[0]) and pd.isna(published.day_3_share.iloc[0])
    assert not any(pd.to_numeric(published[c], errors="coerce").eq(1).any() for c in published.columns)
    assert any(f.rule == "zeros" and f.column == "day_0" for f in p.flags)


def test_a_breakdown_with_most_cells_of_one_person_is_suppressed_and_flagged(tmp_path):
    spec = {
        "id": "by-reception",
        "title": "t",
        "cohort": {"dataset": "prison", "index": "release_date"},
        "outcomes": [{"name": "treated", "first": "treatment.treatment_start_date", "within": [0, 21]}],
        "breakdowns": ["reception_date"],
    }
    prison = [
        {"person_id": f"p{i:03d}", "release_date": START, "reception_date": START - dt.timedelta(days=100 + i)}
        for i in range(20)
    ] + _releases(30, reception_date=START - dt.timedelta(days=50))
    _, p = _check(tmp_path, spec, prison)
    people = _published(p, "by_reception_date", "people")
    assert people.isna().sum() >= 20 and not people.between(1, 9).any()
    assert any(f.rule == "mostly-suppressed" and f.table == "by_reception_date" for f in p.flags)


def test_people_are_counted_not_rows(tmp_path):
    """Fifteen releases of four people: the row count passes a threshold of 10, the people do not."""
    prison = [{"person_id": f"p{i % 4}", "release_date": START + dt.timedelta(days=40 * i)} for i in range(15)]
    spec = {
        "id": "repeat-releases",
        "title": "t",
        "cohort": {"dataset": "prison", "index": "release_date"},
        "outcomes": [{"name": "treated", "first": "treatment.treatment_start_date", "within": [0, 21]}],
    }
    result, p = _check(tmp_path, spec, prison)
    assert int(result.tables["overall"].n.iloc[0]) == 15
    assert _published(p, "overall", "n").isna().all()
    assert any(f.rule == "threshold" and f.column == "n" for f in p.flags)


def test_a_margin_cannot_give_a_suppressed_cell_away(tmp_path):
    """Releases by prison with the overall total: one prison with 4 people would be 'overall minus the rest'.
    Secondary suppression hides another prison, and the attacker's interval for the small one stays wide."""
    prison = [{**r, "prison": "A"} for r in _releases(40)]
    prison += [{"person_id": f"b{i}", "release_date": START, "prison": "B"} for i in range(25)]
    prison += [{"person_id": f"c{i}", "release_date": START, "prison": "C"} for i in range(4)]
    spec = {
        "id": "by-prison",
        "title": "t",
        "cohort": {"dataset": "prison", "index": "release_date"},
        "outcomes": [{"name": "treated", "first": "treatment.treatment_start_date", "within": [0, 21]}],
        "breakdowns": ["prison"],
    }
    _, p = _check(tmp_path, spec, prison)
    n = _published(p, "by_prison", "n")
    assert n.isna().sum() >= 2  # C, and one complement
    small = [i for i in p.intervals if i["table"] == "by_prison" and i["column"] == "n" and i["row"] == 2]
    assert small and small[0]["high"] - small[0]["low"] >= STANDARD.min_people


def test_agreements_name_exactly_the_profiles_that_exist():
    """governance comes before disclosure, so the agreement lists the profile names itself: kept equal here."""
    import typing

    from bold.disclosure.profiles import DEFAULT, PROFILES
    from bold.governance.agreement import Agreement

    field = Agreement.model_fields["disclosure_profile"]
    assert set(typing.get_args(field.annotation)) == set(PROFILES) and field.default == DEFAULT
