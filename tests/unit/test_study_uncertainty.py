"""Linkage uncertainty, hand-worked: the main measure at each threshold by the same study code, the words when the
spread is wide, extracts made before the variants, and the other clusterings kept out of every table."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from bold.disclosure.profiles import profile
from bold.disclosure.protect import protect
from bold.studies import statistics, uncertainty
from bold.studies.builtin import catalogue
from bold.studies.guard import check_no_keys
from bold.studies.language import Extract, StudyError

START = dt.date(2021, 1, 4)
CONTINUITY = catalogue()["continuity-of-care"]


def _extract(
    tmp_path, treated: dict[str, int], releases: int = 200, variants: bool = True, recall: str | None = None
) -> Extract:
    """``releases`` people released with a need; ``treated[threshold]`` of them have a treatment start on day 5
    as that threshold links the records (the same treatment records, linked to the releases' people or not);
    ``recall``: the extract's ``linkage_recall`` (JSON), as a build after a linkage report records it."""
    prison = pd.DataFrame(
        {
            "person_id": [f"p{i:03d}" for i in range(releases)],
            "release_date": [START] * releases,
            "substance_misuse_need": [True] * releases,
            "prison": ["HMP A"] * releases,
        }
    )
    most = max(treated.values())
    treatment = pd.DataFrame({"treatment_start_date": [START + dt.timedelta(days=5)] * most})
    for threshold in ("high", "medium", "low"):  # record i links to release person i only at thresholds counting it
        treatment[f"person_id_{threshold}"] = [
            f"p{i:03d}" if i < treated[threshold] else f"t{i:03d}" for i in range(most)
        ]
    treatment["person_id"] = treatment["person_id_medium"]
    late = {"person_id": "zz", "treatment_start_date": START + dt.timedelta(days=400)}
    treatment = pd.concat([treatment, pd.DataFrame([{**late, **{f"person_id_{t}": "zz" for t in treated}}])])
    for threshold in ("high", "medium", "low"):
        prison[f"person_id_{threshold}"] = prison["person_id"]
    if not variants:
        prison = prison[[c for c in prison.columns if not c.startswith("person_id_")]]
        treatment = treatment[[c for c in treatment.columns if not c.startswith("person_id_")]]
    path = tmp_path / "extract.duckdb"
    con = duckdb.connect(str(path))
    for name, frame in (("prison", prison), ("treatment", treatment)):
        con.register("frame", frame)
        con.execute(f"create table {name} as select * from frame")
        con.unregister("frame")
    con.execute(
        "create table about as select 'p' as project, '' as built_at, 7 as linkage_run, 'medium' as threshold, "
        """'{"prison": [1], "treatment": [2]}' as linkage_batches, '{"high": 0.99, "medium": 0.9, "low": 0.5}'
        as linkage_thresholds, ? as linkage_recall""",
        [recall],
    )
    con.close()
    agreed = {
        "prison": ["release_date", "substance_misuse_need", "prison"],
        "treatment": ["treatment_start_date"],
    }
    return Extract.duckdb(path, agreed)


def _run(x: Extract):
    params = CONTINUITY.resolve({})
    result = CONTINUITY.compute(x, params)
    linkage = uncertainty.add(CONTINUITY, x, params, result)
    return result, linkage


def test_the_main_measure_at_every_threshold_beside_the_chosen_one(tmp_path):
    x = _extract(tmp_path, {"high": 40, "medium": 60, "low": 80})
    result, linkage = _run(x)
    table = result.tables[uncertainty.TABLE]
    assert list(table.threshold) == ["high", "medium", "low"]
    assert list(table.chosen) == ["no", "yes", "no"]
    assert list(table.treated_21_days) == [40, 60, 80] and list(table.n) == [200] * 3
    assert table.treated_21_days_share.tolist() == pytest.approx([0.2, 0.3, 0.4])
    # the chosen row is the study's own overall figure, interval included
    overall = result.tables["overall"].iloc[0]
    chosen = table[table.chosen == "yes"].iloc[0]
    assert (chosen.treated_21_days_share_low, chosen.treated_21_days_share_high) == (
        overall.treated_21_days_share_low,
        overall.treated_21_days_share_high,
    )
    assert linkage == {
        "run": 7,
        "threshold": "medium",
        "batches": {"prison": [1], "treatment": [2]},
        "thresholds": {"high": 0.99, "medium": 0.9, "low": 0.5},
        "variants": ["high", "medium", "low"],
        "recall": None,
    }
    assert any("no recall between prison to treatment was recorded" in n for n in result.notes)
    # 0.2 to 0.4 is wider than the chosen threshold's interval (about 0.24 to 0.37): said in words, no figures
    words = [n for n in result.notes if n.startswith("Linkage uncertainty")]
    assert len(words) == 1 and "more than its 95% confidence interval" in words[0]
    figures = words[0].replace("treated_21_days_share", "").replace("95%", "")
    assert not any(ch.isdigit() for ch in figures)


def test_a_spread_inside_the_interval_is_not_called_wide(tmp_path):
    result, _ = _run(_extract(tmp_path, {"high": 58, "medium": 60, "low": 61}))
    assert result.tables[uncertainty.TABLE].treated_21_days.tolist() == [58, 60, 61]
    assert not any(n.startswith("Linkage uncertainty") for n in result.notes)


def test_the_variants_carry_evidence_and_close_thresholds_go_to_the_checkers(tmp_path):
    x = _extract(tmp_path, {"high": 57, "medium": 60, "low": 80})
    result, _ = _run(x)
    kinds = {name: statistics.declared(t) for name, t in result.tables.items()}
    p = protect(result.tables, kinds, x.evidence, profile("bold-standard"))
    flags = [f for f in p.flags if f.table == uncertainty.TABLE]
    assert not [f for f in flags if f.rule in ("no-evidence", "no-type")]  # people counted at each threshold
    close = {(f.row, f.column) for f in flags if f.rule == "threshold-differencing"}
    assert close == {(0, "treated_21_days"), (1, "treated_21_days")}  # 57 and 60 differ by 3; 80 stands apart
    assert all(f.outcome == "review" for f in flags if f.rule == "threshold-differencing")
    published = pd.to_numeric(p.tables[uncertainty.TABLE].treated_21_days, errors="coerce")
    assert published.notna().all()  # the checkers decide; the spread is what the table is for


def test_the_missed_match_correction_divides_each_thresholds_share_by_its_recall_into_the_outcomes_source(tmp_path):
    recall = (
        '{"estimated_from": "a gold standard", "thresholds": {"medium": {"prison|treatment": 0.75}, '
        '"high": {"prison|treatment": 0.5}, "low": {"treatment|prison": 0.9}}}'
    )
    x = _extract(tmp_path, {"high": 40, "medium": 60, "low": 80}, recall=recall)
    result, _ = _run(x)
    table = result.tables[uncertainty.TABLE].set_index("threshold")
    chosen = table.loc["medium"]
    assert chosen.linkage_recall == 0.75
    assert chosen.treated_21_days_share_corrected == pytest.approx(0.3 / 0.75)  # 60 of 200, over 0.75
    assert chosen.treated_21_days_share_corrected_high == pytest.approx(chosen.treated_21_days_share_high / 0.75)
    assert table.loc["high"].treated_21_days_share_corrected == pytest.approx(0.2 / 0.5)  # its own recall
    assert pd.isna(table.loc["low"].treated_21_days_share_corrected)  # recall only the other way round: none
    words = next(n for n in result.notes if n.startswith("Missed-match correction (an estimate"))
    assert "a gold standard" in words and "at random" in words
    kinds = {name: statistics.declared(t) for name, t in result.tables.items()}
    p = protect(result.tables, kinds, x.evidence, profile("bold-standard"))
    assert not [f for f in p.flags if f.table == uncertainty.TABLE and f.rule in ("no-evidence", "no-type")]


def test_a_correction_is_capped_at_everyone(tmp_path):
    recall = '{"estimated_from": "a gold standard", "thresholds": {"medium": {"prison|treatment": 0.2}}}'
    result, _ = _run(_extract(tmp_path, {"high": 40, "medium": 60, "low": 80}, recall=recall))
    table = result.tables[uncertainty.TABLE]
    assert table.treated_21_days_share_corrected.max() == 1.0  # 0.3 / 0.2 would be 1.5


def test_an_extract_built_before_the_variants_still_runs_and_says_so(tmp_path):
    x = _extract(tmp_path, {"high": 60, "medium": 60, "low": 60}, variants=False)
    result, linkage = _run(x)
    assert uncertainty.TABLE not in result.tables
    assert linkage["variants"] == [] and linkage["threshold"] == "medium"
    assert any("built before extracts carried every linkage threshold" in n for n in result.notes)
    with pytest.raises(StudyError, match="carries no clustering"):
        x.at("high")


def test_the_other_clusterings_are_inputs_never_fields(tmp_path):
    x = _extract(tmp_path, {"high": 40, "medium": 60, "low": 80})
    with pytest.raises(StudyError, match="not in this project's agreement"):
        x.table("prison", ["person_id_high"])
    assert "person_id_low" not in x.at("high").table("treatment", ["treatment_start_date"]).columns
    with pytest.raises(StudyError, match="person-level column"):
        check_no_keys("sneaky", pd.DataFrame({"person_id_low": ["a"], "n": [20]}))
